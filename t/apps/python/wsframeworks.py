"""Starlette and FastAPI WebSocket endpoints for t/websocket.t, written as
their documentation shows. ASGI_RECORD names a file where they record the
disconnects they see."""
import os
from typing import Optional

from fastapi import FastAPI, WebSocket as FastWebSocket
from fastapi import WebSocketDisconnect as FastDisconnect
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect


def record(line: str) -> None:
    path = os.environ.get("ASGI_RECORD")
    if path:
        with open(path, "a") as f:
            f.write(line + "\n")


async def star_echo(websocket: WebSocket) -> None:
    await websocket.accept()
    try:
        while True:
            text = await websocket.receive_text()
            await websocket.send_text("starlette: " + text)
    except WebSocketDisconnect as e:
        record("starlette disconnect %s" % e.code)


async def star_deny(websocket: WebSocket) -> None:
    await websocket.close(code=1008)


async def star_close(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_json({"bye": True})
    await websocket.close(code=4003, reason="policy")


star = Starlette(routes=[WebSocketRoute("/ws/star/echo", star_echo),
                         WebSocketRoute("/ws/star/deny", star_deny),
                         WebSocketRoute("/ws/star/close", star_close)])

fast = FastAPI()


@fast.websocket("/ws/fast/{room}")
async def fast_room(websocket: FastWebSocket, room: str,
                    token: Optional[str] = None) -> None:
    await websocket.accept()
    await websocket.send_json({"room": room, "token": token})
    try:
        while True:
            data = await websocket.receive_json()
            if data.get("fail"):
                raise RuntimeError("the endpoint failed on purpose")
            await websocket.send_json({"echo": data})
    except FastDisconnect as e:
        record("fastapi disconnect %s" % e.code)


@fast.get("/ws/fast/{room}")
async def fast_http(room: str) -> dict:
    return {"http": room}
