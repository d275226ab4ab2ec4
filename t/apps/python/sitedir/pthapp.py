"""An app whose dependency is reachable only through a .pth file of its
asgi_python_path directory, as in a virtual environment (t/python.t)."""
import pthmod


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": pthmod.GREETING})
