"""The FastAPI hello app of make bench."""
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

app = FastAPI()


@app.get("/{path:path}", response_class=PlainTextResponse)
async def hello(path: str) -> str:
    return "Hello, world!\n"
