"""The Python demo served by `make run`: a plain ASGI 3 app inside nginx
(127.0.0.1:8080) and inside Apache httpd (127.0.0.1:8082).

    /           a page explaining what to try
    /clock      streams the time once a second until the browser tab closes:
                receive() returns http.disconnect and the stream stops at once
    /slow       a "query" that takes 10 s; close the tab before that and the
                app rolls back inside the grace period (3 s), then ends
    /stubborn   the same query, but the app ignores the disconnect: it is
                cancelled (asyncio.CancelledError) when the grace period ends
    /counter    a WebSocket: a counter the page shows live and can bump;
                when the page closes it, the terminal shows the close code

Watch the terminal running `make run`: the access log line of each request
shows its status (499 when you left) and $asgi_outcome; the app's `logging`
lines appear in nginx's error log with the request they belong to.
"""
import asyncio
import logging
import time

try:  # the server asgicore runs in; the page names it
    from _asgicore import server as _server
    SERVER = _server()
except ImportError:
    SERVER = "nginx"
MODULE = "mod_asgi" if SERVER.startswith("Apache") else "ngx_http_asgi_module"

log = logging.getLogger("demo")
log.setLevel(logging.INFO)  # its lines go to nginx's error log as they are

PAGE = b"""<!doctype html><html><head><meta charset=utf-8>
<title>asgicore demo</title><style>body{font-family:sans-serif;max-width:44em;
margin:2em auto;line-height:1.5}code{background:#eee;padding:0 .2em}
pre{background:#f4f4f4;padding:.5em;min-height:3em}</style></head><body>
<h1>A Python ASGI app inside @SERVER@</h1>
<p>This page comes from <code>docs/examples/demo_app.py</code>, a plain ASGI 3
app that @SERVER@ runs itself through <code>@MODULE@</code> and
<code>libasgicore</code>: no gunicorn or uvicorn behind a proxy. What the
library adds is what happens when the client goes away: the app receives
<code>http.disconnect</code>, has a grace period to clean up, and is
cancelled only after it.</p>
<ul>
<li><a href="/clock" target="_blank">/clock</a> streams the time. Close that
tab: the app stops at once, and the terminal shows <code>499
client_disconnected</code>.</li>
<li><a href="/slow" target="_blank">/slow</a> runs a 10 s "query". Close the
tab early: the app sees the disconnect, rolls back for 1 s inside the 3 s
grace period and ends cleanly.</li>
<li><a href="/stubborn" target="_blank">/stubborn</a> runs the same query but
ignores the disconnect: 3 s after you leave it is cancelled
(<code>499 cancelled_after_grace</code>).</li>
<li><a href="/asgi_status" target="_blank">/asgi_status</a> shows the
module's counters.</li>
</ul>
<p>The clock, live in this page:</p><pre id=clock></pre>
<p>A WebSocket (<code>/counter</code>, through nginx: mod_asgi does not
take WebSockets yet): the app counts, the button bumps the
count, and closing the socket (the second button, or this tab: 1001) shows
its close code in the terminal.</p>
<pre id=counter>connecting...</pre>
<button id=bump>+100</button> <button id=close>close with 4000</button>
<script>
const ws = new WebSocket(`ws://${location.host}/counter`);
const counter = document.getElementById("counter");
ws.onmessage = e => { counter.textContent = e.data; };
ws.onclose = e => { counter.textContent += `  (closed: ${e.code})`; };
document.getElementById("bump").onclick = () => ws.send("+100");
document.getElementById("close").onclick = () => ws.close(4000, "bye");
</script>
<script>
fetch("/clock").then(async r => {
  const reader = r.body.getReader(), dec = new TextDecoder();
  const out = document.getElementById("clock");
  for (;;) {
    const {value, done} = await reader.read();
    if (done) break;
    out.textContent = dec.decode(value).trim();
  }
});
</script>
</body></html>
"""


async def read_body(receive):
    body = b""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ConnectionError("the client left while sending its body")
        body += message.get("body", b"")
        if not message.get("more_body"):
            return body


async def respond(send, status, body, content_type=b"text/plain"):
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", content_type),
                            (b"content-length", b"%d" % len(body))]})
    await send({"type": "http.response.body", "body": body})


async def clock(receive, send):
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"cache-control", b"no-store")]})
    left = asyncio.ensure_future(receive())  # returns http.disconnect
    ticks = 0
    while not left.done():
        now = time.strftime("%H:%M:%S")
        await send({"type": "http.response.body",
                    "body": ("%s\n" % now).encode(), "more_body": True})
        ticks += 1
        await asyncio.wait([left], timeout=1)
    log.info("clock stopped after %d ticks: %s", ticks, left.result()["type"])


async def query(receive, send, stubborn):
    work = asyncio.ensure_future(asyncio.sleep(10, result=b"42 rows\n"))
    left = asyncio.ensure_future(receive())
    try:
        if stubborn:
            await work  # never looks at `left`: cancelled after the grace
        else:
            await asyncio.wait([work, left],
                               return_when=asyncio.FIRST_COMPLETED)
        if work.done():
            left.cancel()
            await respond(send, 200, work.result())
            return
        work.cancel()
        log.warning("client left mid-query: rolling back")
        await asyncio.sleep(1)  # the rollback, inside the grace period
        log.warning("rolled back cleanly")
    except asyncio.CancelledError:
        log.warning("cancelled after the grace period: the app ignored the "
                    "disconnect")
        raise


async def counter(receive, send):
    """A WebSocket: counts every half second; "+100" from the page bumps
    the count; the close code the page sends (or 1001 when the tab closes)
    ends it."""
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    count = 0
    incoming = asyncio.ensure_future(receive())
    while True:
        await asyncio.wait([incoming], timeout=0.5)
        if incoming.done():
            message = incoming.result()
            if message["type"] == "websocket.disconnect":
                log.info("WebSocket closed by the client: code %d %s",
                         message["code"], message.get("reason") or "")
                return
            if message.get("text") == "+100":
                count += 100
            incoming = asyncio.ensure_future(receive())
        count += 1
        await send({"type": "websocket.send", "text": str(count)})


async def app(scope, receive, send):
    if scope["type"] == "websocket":
        if scope["path"] == "/counter":
            await counter(receive, send)
        else:
            await send({"type": "websocket.close"})  # 403
        return
    if scope["type"] != "http":
        return  # no lifespan needs
    path = scope["path"]
    await read_body(receive)
    if path == "/":
        page = PAGE.replace(b"@SERVER@", SERVER.encode()).replace(
            b"@MODULE@", MODULE.encode())
        await respond(send, 200, page, b"text/html; charset=utf-8")
    elif path == "/clock":
        await clock(receive, send)
    elif path in ("/slow", "/stubborn"):
        await query(receive, send, path == "/stubborn")
    else:
        await respond(send, 404, b"not found\n")
