"""Lifespan test apps for t/lifespan.t."""
import logging
import os


def record(line):
    path = os.environ.get("ASGI_RECORD")
    if path:
        with open(path, "a") as f:
            f.write(line + "\n")


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            m = await receive()
            if m["type"] == "lifespan.startup":
                scope["state"]["pool"] = "ready"
                record("startup")
                await send({"type": "lifespan.startup.complete"})
            elif m["type"] == "lifespan.shutdown":
                record("shutdown")
                logging.getLogger("lifeapp").warning("closing the pool")
                await send({"type": "lifespan.shutdown.complete"})
                return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body",
                "body": ("pool=%s\n" % scope.get("state", {}).get("pool"))
                .encode()})


async def failing(scope, receive, send):
    if scope["type"] == "lifespan":
        await receive()
        await send({"type": "lifespan.startup.failed",
                    "message": "the database is unreachable"})
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"should not run\n"})


async def failing_odd(scope, receive, send):
    """A lifespan failure whose message holds a lone surrogate."""
    if scope["type"] == "lifespan":
        await receive()
        await send({"type": "lifespan.startup.failed",
                    "message": "no db at " + os.fsdecode(b"/srv/\xff")})
        return
