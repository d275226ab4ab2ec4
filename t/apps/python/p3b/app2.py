"""P3: an app importing its own helpers module."""
import helpers


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body",
                "body": ("app2 uses %s\n" % helpers.WHO).encode()})
