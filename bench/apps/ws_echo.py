"""Raw ASGI WebSocket echo for make bench: the same app under the module
and under uvicorn (websockets)."""


async def app(scope, receive, send):
    if scope["type"] != "websocket":
        return
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    while True:
        m = await receive()
        if m["type"] == "websocket.disconnect":
            return
        if m.get("bytes") is not None:
            await send({"type": "websocket.send", "bytes": m["bytes"]})
        else:
            await send({"type": "websocket.send", "text": m["text"]})
