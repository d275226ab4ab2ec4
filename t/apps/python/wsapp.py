"""Raw ASGI 3 WebSocket test app for t/websocket.t. The last part of the
path picks the behaviour; ASGI_RECORD names a file where it records what
the app saw (disconnect codes, exceptions, cancels)."""
import asyncio
import os


def record(line):
    path = os.environ.get("ASGI_RECORD")
    if path:
        with open(path, "a") as f:
            f.write(line + "\n")


async def echo_until_disconnect(receive, send, kind):
    while True:
        m = await receive()
        if m["type"] == "websocket.disconnect":
            record("disconnect %s %r %s" % (m["code"], m.get("reason", ""),
                                            kind))
            return m
        if m["type"] != "websocket.receive":
            continue
        if m.get("text") is not None:
            await send({"type": "websocket.send", "text": m["text"]})
        else:
            await send({"type": "websocket.send", "bytes": m["bytes"]})


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return  # no lifespan: lifespan auto goes on without it
    kind = scope["path"].rsplit("/", 1)[-1]
    if scope["type"] != "websocket":
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body",
                    "body": b"plain HTTP " + scope["type"].encode() + b"\n"})
        return
    first = await receive()
    assert first["type"] == "websocket.connect", first
    if kind == "scope":
        await send({"type": "websocket.accept"})
        keys = ",".join(sorted(k for k in scope if k != "state"))
        await send({"type": "websocket.send", "text": "%s %s %s %s %s %s %r" % (
            scope["asgi"]["spec_version"], scope["scheme"],
            scope["http_version"], scope["path"], scope["query_string"],
            sorted(scope["extensions"]), scope["subprotocols"])})
        await send({"type": "websocket.send", "text": keys})
        await echo_until_disconnect(receive, send, kind)
    elif kind == "echo":
        await send({"type": "websocket.accept"})
        await echo_until_disconnect(receive, send, kind)
    elif kind == "deny":
        await send({"type": "websocket.close"})
        record("denied")
    elif kind == "denial":
        await send({"type": "websocket.http.response.start", "status": 401,
                    "headers": [(b"content-type", b"text/plain"),
                                (b"content-length", b"13"),
                                (b"www-authenticate", b"Bearer")]})
        await send({"type": "websocket.http.response.body",
                    "body": b"who are you?\n"})
    elif kind == "subprotocol":
        offered = scope["subprotocols"]
        await send({"type": "websocket.accept",
                    "subprotocol": offered[-1] if offered else None,
                    "headers": [(b"x-chosen", b"yes")]})
        await echo_until_disconnect(receive, send, kind)
    elif kind == "badsubprotocol":
        try:
            await send({"type": "websocket.accept", "subprotocol": "nope"})
        except RuntimeError as e:
            record("accept refused: %s" % e)
            raise
    elif kind == "return":
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": "bye"})
    elif kind == "raise":
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": "about to fail"})
        raise ValueError("the app failed on purpose")
    elif kind == "close":
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": "hi"})
        await send({"type": "websocket.close", "code": 4000,
                    "reason": "done here"})
        m = await receive()
        record("after close %s %s" % (m["type"], m.get("code")))
        try:
            await send({"type": "websocket.send", "text": "late"})
        except OSError as e:
            record("send after close raised %s" % type(e).__name__)
    elif kind == "linger":
        # W11: told of the disconnect, then the grace period and a cancel
        await send({"type": "websocket.accept"})
        await echo_until_disconnect(receive, send, kind)
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            record("cancelled linger")
            raise
    elif kind == "sendafter":
        await send({"type": "websocket.accept"})
        await echo_until_disconnect(receive, send, kind)
        try:
            await send({"type": "websocket.send", "text": "too late"})
        except OSError as e:
            record("send raised %s %s" % (type(e).__name__,
                                          isinstance(e, OSError)))
    elif kind == "flood":
        # W12: a client that does not read makes send() wait
        await send({"type": "websocket.accept"})
        chunk = b"x" * 65536
        sent = 0
        try:
            while True:
                await send({"type": "websocket.send", "bytes": chunk})
                sent += 1
        except OSError as e:
            record("flood stopped after %s %s" % (
                "few" if sent < 100 else "many", type(e).__name__))
    elif kind == "deaf":
        # W13: accepts and never receives
        await send({"type": "websocket.accept"})
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            record("cancelled deaf")
            raise
    elif kind == "count":
        # a counter pushed to the client until it leaves
        await send({"type": "websocket.accept"})
        n = 0
        listener = asyncio.ensure_future(receive())
        while not listener.done():
            n += 1
            await send({"type": "websocket.send", "text": str(n)})
            await asyncio.wait([listener], timeout=0.05)
        m = listener.result()
        record("counter stopped %s" % m.get("code"))
    elif kind == "collect":
        # W6: accepts late, then receives what came meanwhile, in order
        await asyncio.sleep(0.3)
        await send({"type": "websocket.accept"})
        got = []
        while True:
            m = await receive()
            if m["type"] == "websocket.disconnect":
                record("collected %s then %s" % (",".join(got), m["code"]))
                return
            got.append(m.get("text") or "%d bytes" % len(m["bytes"]))
    elif kind == "killmid":
        # the app dies while a large message is still being written to a
        # slow client: the frame goes out whole, then the 1011
        await send({"type": "websocket.accept"})
        asyncio.ensure_future(send({"type": "websocket.send",
                                    "bytes": b"z" * (8 << 20)}))
        await asyncio.sleep(0.2)
        raise RuntimeError("killed mid-message")
    elif kind == "acceptongo":
        # accepts once the file "go" exists in the server's directory
        go = os.path.join(os.path.dirname(os.environ["ASGI_RECORD"]), "go")
        record("waiting to accept")
        while not os.path.exists(go):
            await asyncio.sleep(0.01)
        await send({"type": "websocket.accept"})
        await echo_until_disconnect(receive, send, kind)
    elif kind == "slowaccept":
        await asyncio.sleep(0.3)
        await send({"type": "websocket.accept"})
        await echo_until_disconnect(receive, send, kind)
    else:
        await send({"type": "websocket.close", "code": 1000})
