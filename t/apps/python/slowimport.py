"""An app whose import takes a while (P8): its worker shows it loading."""
import time

time.sleep(1.5)


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"imported\n"})
