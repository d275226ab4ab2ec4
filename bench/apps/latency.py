"""The disconnect-latency app of make bench, the same code under the module
and under uvicorn. /wait?KEY answers with a first chunk, then awaits
receive(); when that returns http.disconnect it notes time.monotonic()
(CLOCK_MONOTONIC, comparable across processes) under KEY. /collect returns
and forgets the notes as JSON."""
import json
import time

_seen = {}


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    if scope["path"].endswith("/collect"):
        body = json.dumps(_seen).encode()
        _seen.clear()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", b"%d" % len(body))]})
        await send({"type": "http.response.body", "body": body})
        return
    key = scope["query_string"].decode()
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ready\n",
                "more_body": True})
    message = await receive()
    if message["type"] == "http.disconnect":
        _seen[key] = time.monotonic()
