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
    if scope["path"] == "/keys":
        # each request gets its own copy of the state: what one adds, the
        # next does not see
        state = scope.get("state")
        body = ("keys=%s\n" % (sorted(state) if state is not None else None))
        if state is not None:
            state["seen"] = True
        await send({"type": "http.response.start", "status": 200,
                     "headers": []})
        await send({"type": "http.response.body", "body": body.encode()})
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


async def with_task_factory(scope, receive, send):
    """Sets a task factory on the loop at startup (as aiomonitor or an
    eager factory would): the server's request tasks come from it too."""
    if scope["type"] == "lifespan":
        import asyncio

        class FactoryTask(asyncio.Task):
            pass

        def make(loop, coro, **kwargs):
            return FactoryTask(coro, loop=loop, **kwargs)

        asyncio.get_running_loop().set_task_factory(make)
        await receive()
        await send({"type": "lifespan.startup.complete"})
        await receive()
        await send({"type": "lifespan.shutdown.complete"})
        return
    import asyncio
    task = asyncio.current_task()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body",
                "body": ("%s %s\n" % (type(task).__name__,
                                      task.get_name())).encode()})


async def gated(scope, receive, send):
    """Its startup waits until the file ASGI_RECORD.go exists (the test
    opens the gate when it has seen what it waits for)."""
    if scope["type"] == "lifespan":
        import asyncio
        while True:
            m = await receive()
            if m["type"] == "lifespan.startup":
                while not os.path.exists(os.environ["ASGI_RECORD"] + ".go"):
                    await asyncio.sleep(0.02)
                record("startup")
                await send({"type": "lifespan.startup.complete"})
            elif m["type"] == "lifespan.shutdown":
                record("shutdown")
                await send({"type": "lifespan.shutdown.complete"})
                return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"started\n"})
