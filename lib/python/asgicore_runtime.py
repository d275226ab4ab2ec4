"""The asyncio side of asgicore's Python runtime (first slice).

Runs on the runtime's own thread inside the nginx worker: an event loop
(uvloop when importable) that serves one ASGI 3 application. The library
reaches it through `_asgicore` (built into the runtime's shared object):
start and notify callbacks arrive from `_asgicore.dispatch()`, which the
loop calls when the wake-up eventfd is readable.
"""

import asyncio
import importlib
import os
import sys
import traceback

import _asgicore


class ClientDisconnected(OSError):
    """send() after the client went away (ASGI spec 2.4)."""


_loop = None
_apps = {}      # app index -> the ASGI callable, or the text of its load error
_scopes = {}


class _Scope:
    __slots__ = ("h", "task", "receive_waiter", "send_waiter", "cancelled")

    def __init__(self, h):
        self.h = h
        self.task = None
        self.receive_waiter = None
        self.send_waiter = None
        self.cancelled = False

    async def receive(self):
        while True:
            event = _asgicore.receive(self.h)
            if event is not None:
                kind, body, more = event
                if kind == _asgicore.EVENT_DISCONNECT:
                    return {"type": "http.disconnect"}
                return {"type": "http.request", "body": body,
                        "more_body": bool(more)}
            # Nothing yet: RECEIVE_READY wakes this waiter. A cancelled
            # receive just stops waiting; no event is lost (R10).
            self.receive_waiter = _loop.create_future()
            try:
                await self.receive_waiter
            finally:
                self.receive_waiter = None

    async def send(self, message):
        kind = message["type"]
        if kind == "http.response.start":
            rc = _asgicore.send_start(self.h, int(message["status"]),
                                      [(bytes(n), bytes(v)) for n, v in
                                       message.get("headers", ())],
                                      bool(message.get("trailers", False)))
        elif kind == "http.response.body":
            rc = _asgicore.send_body(self.h, bytes(message.get("body", b"")),
                                     bool(message.get("more_body", False)))
        else:
            raise RuntimeError("unexpected ASGI message type %r" % kind)
        if rc == _asgicore.PENDING:
            self.send_waiter = _loop.create_future()
            try:
                rc = await self.send_waiter
            finally:
                self.send_waiter = None
        if rc == _asgicore.ERR_DISCONNECTED:
            raise ClientDisconnected("the client disconnected")
        if rc < 0:
            raise RuntimeError("ASGI send failed (%d)" % rc)


async def _run(st, app, scope):
    failed, message = False, None
    try:
        await app(scope, st.receive, st.send)
    except asyncio.CancelledError:
        if not st.cancelled:
            failed, message = True, "cancelled"
    except ClientDisconnected:
        pass  # not an application error (S3)
    except BaseException:
        failed, message = True, traceback.format_exc().rstrip()
    finally:
        _scopes.pop(st.h, None)
        _asgicore.finish(st.h, failed, message)


def _app(index):
    app = _apps.get(index)
    if app is None:
        ref, path = _asgicore.app_config(index)
        try:
            app = _load_app(ref, path)
        except BaseException:
            app = ("cannot load the ASGI app %r:\n%s"
                   % (ref, traceback.format_exc().rstrip()))
            print(app, file=sys.stderr, flush=True)
        _apps[index] = app
    return app


def _on_start(h, index):
    app = _app(index)
    if isinstance(app, str):
        # the app failed to import: each request gets a 500 and the
        # reason, the worker keeps serving
        _asgicore.finish(h, True, app)
        return
    info = _asgicore.scope_info(h)
    scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.4"}}
    scope.update(info)
    st = _Scope(h)
    _scopes[h] = st
    st.task = _loop.create_task(_run(st, app, scope))


def _on_notify(h, event, status):
    st = _scopes.get(h)
    if st is None:
        return
    if event == _asgicore.RECEIVE_READY:
        w = st.receive_waiter
        if w is not None and not w.done():
            w.set_result(None)
    elif event == _asgicore.SEND_READY:
        w = st.send_waiter
        if w is not None and not w.done():
            w.set_result(status)
    elif event == _asgicore.CANCEL:
        st.cancelled = True
        st.task.cancel()


def _on_wake():
    if _asgicore.stopping():
        _loop.stop()
        return
    _asgicore.dispatch()


def _load_app(ref, path):
    for d in reversed([p for p in path.split(":") if p]):
        sys.path.insert(0, d)
    module_name, _, attr = ref.partition(":")
    obj = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def serve():
    global _loop
    try:
        import uvloop
        _loop = uvloop.new_event_loop()
    except ImportError:
        _loop = asyncio.new_event_loop()
    asyncio.set_event_loop(_loop)
    _asgicore.set_handlers(_on_start, _on_notify)
    _loop.add_reader(_asgicore.wake_fd(), _on_wake)
    _on_wake()  # anything queued before the loop ran
    _loop.run_forever()
