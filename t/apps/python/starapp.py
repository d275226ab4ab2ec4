"""Starlette and FastAPI test apps for t/frameworks.t."""
import asyncio
import os

from fastapi import BackgroundTasks, FastAPI
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.responses import PlainTextResponse, StreamingResponse
from starlette.routing import Route


def record(line):
    path = os.environ.get("ASGI_RECORD")
    if path:
        with open(path, "a") as f:
            f.write(line + "\n")


async def hello(request):
    return PlainTextResponse("Hello from Starlette\n")


async def echo(request):
    return PlainTextResponse(await request.body())


async def ticks(request):
    async def gen():
        try:
            for i in range(1000):
                yield "tick %d\n" % i
                await asyncio.sleep(0.02)
        finally:
            record("stream stopped")
    return StreamingResponse(gen(), media_type="text/plain")


async def flood(request):
    # A stream faster than the client reads: when the client leaves, send()
    # is waiting and raises, and Starlette leaves this generator suspended
    # in a reference cycle; its finally must still run soon.
    async def gen():
        chunk = "x" * 65536
        try:
            while True:
                yield chunk
                await asyncio.sleep(0)
        finally:
            record("flood stopped")
    return StreamingResponse(gen(), media_type="text/plain")


async def watch(request):
    # polls request.is_disconnected() as Starlette apps do
    for _ in range(500):
        if await request.is_disconnected():
            record("is_disconnected true")
            return PlainTextResponse("gone\n")
        await asyncio.sleep(0.01)
    return PlainTextResponse("timeout\n")


async def background(request):
    # S8: a one-message response larger than nginx writes at once, with a
    # background task that runs once it was sent
    async def after():
        record("background ran")
    size = int(request.query_params.get("size", "400000"))
    return PlainTextResponse("b" * size, background=BackgroundTask(after))


star = Starlette(routes=[
    Route("/s/hello", hello),
    Route("/s/echo", echo, methods=["POST"]),
    Route("/s/ticks", ticks),
    Route("/s/flood", flood),
    Route("/s/watch", watch),
    Route("/s/background", background),
])

api = FastAPI()


@api.get("/f/items/{item_id}")
async def item(item_id: int, q: str = ""):
    return {"item_id": item_id, "q": q}


# An HTTP middleware, as most FastAPI apps have one: Starlette sends the
# response's last (empty) message only after the background tasks ended.
api_mw = FastAPI()


@api_mw.middleware("http")
async def add_header(request, call_next):
    response = await call_next(request)
    response.headers["x-mw"] = "1"
    return response


async def mw_task(tag: str) -> None:
    try:
        await asyncio.sleep(0.6)  # longer than the test's grace period
        record("mw background ran " + tag)
    except asyncio.CancelledError:
        record("mw background cancelled " + tag)
        raise


@api_mw.post("/m/signup")
async def signup(tasks: BackgroundTasks, tag: str):
    tasks.add_task(mw_task, tag)
    return {"ok": tag}
