"""The raw ASGI hello app of make bench: the same code under the module
and under uvicorn."""


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"),
                            (b"content-length", b"14")]})
    await send({"type": "http.response.body", "body": b"Hello, world!\n"})
