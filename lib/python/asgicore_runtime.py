"""The asyncio side of asgicore's Python runtime.

Runs on the runtime's own thread inside the nginx worker: an event loop
(uvloop when importable) that serves the worker's ASGI 3 applications. The
library reaches it through `_asgicore` (built into the runtime's shared
object): start and notify callbacks arrive from `_asgicore.dispatch()`,
which the loop calls when the wake-up eventfd is readable.
"""

from __future__ import annotations

import asyncio
import builtins
import collections.abc
import contextvars
import gc
import importlib
import io
import logging
import os
import signal
import site
import sys
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Optional

import _asgicore


class ClientDisconnected(OSError):
    """send() after the client went away (ASGI spec 2.4), or after the
    WebSocket closed (W10)."""


_DISCONNECTS = ("http.disconnect", "websocket.disconnect")


Message = dict[str, Any]
Scope = dict[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Message]],
                    Callable[[Message], Awaitable[None]]], Awaitable[None]]


@dataclass
class _LoadedApp:
    """An app as this worker loaded it: the ASGI callable, or why there is
    none (each of its requests then answers 500 with the reason)."""
    app: Optional[ASGIApp]
    error: str = ""
    task_name: str = "asgi"  # its requests' tasks: "Task-N" costs a format
    # What a request learns of the lifespan startup. While it runs, or once
    # it failed, `startup` is its _Lifespan and each request looks there;
    # once it succeeded, `state` is what each request gets a copy of. Both
    # None: no lifespan, nothing to look at (a lookup and three calls per
    # request otherwise).
    startup: Optional["_Lifespan"] = None
    state: Optional[dict[str, Any]] = None
    lifespan_mode: str = "auto"  # its location's asgi_lifespan


@dataclass
class _Runtime:
    """The runtime's state: one per process, used on the loop's thread."""
    loop: Optional[asyncio.AbstractEventLoop] = None
    apps: dict[int, _LoadedApp] = field(default_factory=dict)
    lifespans: dict[int, "_Lifespan"] = field(default_factory=dict)
    # id(app object) -> its _Lifespan: one per distinct app object (P7)
    lifespan_of: dict[int, "_Lifespan"] = field(default_factory=dict)
    scopes: dict[object, "_Scope"] = field(default_factory=dict)
    collect_handle: Optional[asyncio.TimerHandle] = None
    collected_at: float = 0.0
    stopping: bool = False
    # top-level module name -> the app that imported it (P3)
    imported_by: dict[str, str] = field(default_factory=dict)
    # (app, DJANGO_SETTINGS_MODULE) once an app set it; and as nginx's
    # environment passed it
    django: Optional[tuple[str, str]] = None
    environ_django: Optional[str] = None
    tz_noted: set[str] = field(default_factory=set)


_rt = _Runtime()




# ------------------------------------------------------------ logging
#
# Python's logging (as its last-resort handler, so apps that configure
# logging keep their own handlers), sys.stderr and sys.stdout all go to
# nginx's error log, through the library so the lines are written on the
# nginx thread in nginx's format, at nginx's level, and with the request
# (client, request line) when they come from a request's task.

_current = contextvars.ContextVar("asgicore_scope", default=None)


def _log(level: int, text: object, st: Optional[_Scope] = None) -> None:
    if st is None:
        st = _current.get()
    # The request goes along from any thread that runs in its context
    # (asyncio.to_thread and asgiref's sync_to_async copy it): its handle
    # is held, and once the app finished the line goes without it.
    _asgicore.log(st.index if st else 0, st.h if st else None, level,
                  str(text))


def _level_of(levelno: int) -> int:
    if levelno >= logging.ERROR:
        return _asgicore.LOG_ERROR
    if levelno >= logging.WARNING:
        return _asgicore.LOG_WARN
    if levelno >= logging.INFO:
        return _asgicore.LOG_INFO
    return _asgicore.LOG_DEBUG


class HostLogHandler(logging.Handler):
    """A logging handler that writes to the host's log (nginx's error
    log), with the request. Installed as logging.lastResort; an app may
    also add it to its own loggers."""

    def __init__(self, level: int = logging.NOTSET) -> None:
        super().__init__(level)
        self.setFormatter(logging.Formatter("%(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            _log(_level_of(record.levelno), self.format(record))
        except Exception:
            self.handleError(record)


# the name it had before the runtime served hosts other than nginx
NginxLogHandler = HostLogHandler


class _LogStream(io.TextIOBase):
    """sys.stderr / sys.stdout: each complete line (or the lines of one
    write) becomes one error-log entry, with the request that wrote it. A
    partial line waits for its end, but not across requests, not past
    flush() or the end of its request, and not beyond 8 KiB."""

    _LIMIT = 8192

    def __init__(self, level: int, fd: int, name: str) -> None:
        self.level = level
        self.fd = fd
        self._name = name
        self.pending: list[str] = []  # parts of a partial line
        self.pending_len = 0
        self.pending_st: Optional[_Scope] = None  # who wrote it
        self.buffer = _LogBuffer(self)

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def write(self, text: str) -> int:
        text = str(text)
        st = _current.get()
        if self.pending and st is not self.pending_st:
            self.flush()
        head, sep, tail = text.rpartition("\n")
        if sep:
            self.pending.append(head)
            line = "".join(self.pending)
            self.pending, self.pending_len = [], 0
            if line:
                _log(self.level, line, st)
        if tail:
            self.pending.append(tail)
            self.pending_len += len(tail)
            self.pending_st = st
            _partial_lines.add(self)
            if self.pending_len > self._LIMIT:
                self.flush()
        return len(text)

    def flush(self) -> None:
        if self.pending:
            line = "".join(self.pending)
            st = self.pending_st
            self.pending, self.pending_len, self.pending_st = [], 0, None
            _partial_lines.discard(self)
            _log(self.level, line, st)

    def fileno(self) -> int:
        return self.fd

    def reconfigure(self, **kwargs: Any) -> None:
        pass  # always UTF-8, line by line

    @property
    def encoding(self) -> str:
        return "utf-8"

    @property
    def errors(self) -> str:
        return "backslashreplace"

    @property
    def line_buffering(self) -> bool:
        return True

    @property
    def name(self) -> str:
        return self._name


# The streams holding a partial line: a request's end flushes its own (the
# common case, none, costs one test).
_partial_lines: set[_LogStream] = set()


class _LogBuffer(io.RawIOBase):
    """sys.stdout.buffer: bytes written there are logged as text."""

    def __init__(self, stream: _LogStream) -> None:
        self.stream = stream

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.stream.write(bytes(data).decode("utf-8", "backslashreplace"))
        return len(data)

    def flush(self) -> None:
        self.stream.flush()


_real_signal = signal.signal
# the signals nginx handles in its workers (SIGPIPE stays ignored, as
# python3 ignores it)
_HOST_SIGNALS = tuple(getattr(signal, name) for name in (
    "SIGHUP", "SIGINT", "SIGQUIT", "SIGTERM", "SIGALRM", "SIGUSR1",
    "SIGUSR2", "SIGWINCH", "SIGIO", "SIGCHLD", "SIGSYS")
    if hasattr(signal, name))


def _signal_refusal(signalnum: int) -> str:
    return ("signal handlers belong to %s, which runs this process "
            "(asgicore): not setting one for signal %s"
            % (_asgicore.server(), int(signalnum)))


def _refuse_signal_handler(signalnum: int, handler: Any) -> Any:
    # Python takes the interpreter's thread for the main one, so it would
    # let an app replace nginx's handlers for the whole worker process.
    # ValueError is what it raises off the main thread, which libraries
    # already expect.
    raise ValueError(_signal_refusal(signalnum))


def _refuse_loop_signal_handler(self: Any, sig: int, callback: Any,
                                *args: Any) -> None:
    # An event loop would install a process-wide handler (uvloop even off
    # Python's main thread), swallowing the signals nginx's worker handles.
    # RuntimeError is what asyncio raises off the main thread.
    raise RuntimeError(_signal_refusal(sig))


def _refuse_loop_signal_handlers() -> None:
    """Every event loop class an app can make refuses add_signal_handler():
    the worker's, and any loop of its own (uvloop's and asyncio's)."""
    import asyncio.unix_events
    classes: list[type] = [asyncio.unix_events._UnixSelectorEventLoop]
    try:
        import uvloop
        classes.append(uvloop.Loop)
    except ImportError:
        pass
    for cls in classes:
        setattr(cls, "add_signal_handler", _refuse_loop_signal_handler)


def _let_children_have_signals() -> None:
    """The runtime's threads block every signal, so that the worker's reach
    the nginx thread; processes an app starts must not inherit that mask
    (a subprocess could not be stopped with SIGTERM). Each way Python
    starts one gets an empty mask in the child."""
    import _posixsubprocess
    import subprocess

    def unblocked(start: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            old = signal.pthread_sigmask(signal.SIG_SETMASK, ())
            batch = _sched_normal()
            try:
                return start(*args, **kwargs)
            finally:
                if batch:
                    _sched_batch()
                signal.pthread_sigmask(signal.SIG_SETMASK, old)
        return call

    _posixsubprocess.fork_exec = unblocked(_posixsubprocess.fork_exec)
    if getattr(subprocess, "_fork_exec", None) is not None:
        subprocess._fork_exec = unblocked(subprocess._fork_exec)
    os.system = unblocked(os.system)
    for name in ("posix_spawn", "posix_spawnp"):
        spawn = getattr(os, name, None)
        if spawn is not None:
            def with_mask(*args: Any, _spawn: Any = spawn,
                          **kwargs: Any) -> Any:
                kwargs.setdefault("setsigmask", ())
                if _BATCH:
                    kwargs.setdefault("scheduler",
                                      (os.SCHED_OTHER, os.sched_param(0)))
                return _spawn(*args, **kwargs)
            setattr(os, name, with_mask)
    # A process forked by the app (os.fork, multiprocessing's fork) is a
    # copy of the nginx worker: it keeps nginx's signal handlers, so
    # SIGTERM would not stop it. It gets what a python3 child would have.
    real_signal = _real_signal

    def child() -> None:
        # the runtime's threads block every signal: one sent at once stays
        # pending until the dispositions are python3's
        for sig in _HOST_SIGNALS:
            try:
                real_signal(sig, signal.SIG_DFL)
            except (OSError, ValueError):
                pass
        signal.signal = real_signal
        signal.pthread_sigmask(signal.SIG_SETMASK, ())
        _sched_normal()
    os.register_at_fork(after_in_child=child)


# The runtime's thread runs with SCHED_BATCH, set before Python started
# (asgi_python.c, set_batch_policy: why, and how a seccomp filter is
# respected). Threads the app starts inherit it; processes it starts get
# the default policy back.
_BATCH = bool(_asgicore.SCHED_BATCH_SET)


def _sched_batch() -> None:
    try:
        os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
    except OSError:
        pass


def _sched_normal() -> bool:
    """Back to the default policy; whether it was SCHED_BATCH."""
    if not _BATCH:
        return False  # never set: nothing to undo, no call made
    try:
        if os.sched_getscheduler(0) != os.SCHED_BATCH:
            return False
        os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
        return True
    except OSError:
        return False


def _install_logging() -> None:
    # Loggers' levels decide (the root logger's default is WARNING); an app
    # that sets a logger to INFO sees those lines without more set-up.
    logging.lastResort = HostLogHandler()
    sys.stderr = _LogStream(_asgicore.LOG_ERROR, 2, "<stderr>")
    sys.stdout = _LogStream(_asgicore.LOG_INFO, 1, "<stdout>")


class _Scope:
    """One request as the app sees it. `h` holds the library's scope for
    as long as anything refers to it (a task may outlive its request: its
    calls are then refused, never sent to another request, L6)."""

    __slots__ = ("h", "index", "task", "receive_waiters", "send_waiters",
                 "send_pending", "cancelled", "client_left")

    def __init__(self, h: object, index: int) -> None:
        self.h = h
        self.index = index
        self.task: Optional[asyncio.Task] = None
        # made by the first wait: most requests never wait
        self.receive_waiters: Optional[list[asyncio.Future]] = None
        self.send_waiters: Optional[list[asyncio.Future]] = None
        self.send_pending = False  # a PENDING send awaits SEND_READY
        self.cancelled = False
        self.client_left = False  # the app was told: disconnect or send error

    async def receive(self) -> Message:
        while True:
            message = _receive(self.h)
            if message is not None:
                if message["type"] in _DISCONNECTS:
                    self.client_left = True
                return message
            # Nothing yet: RECEIVE_READY wakes every waiter (R11: a
            # disconnect listener beside the app's own reader); each asks
            # again. A cancelled receive just stops waiting; no event is
            # lost (R10).
            waiter = _rt.loop.create_future()
            if self.receive_waiters is None:
                self.receive_waiters = []
            self.receive_waiters.append(waiter)
            try:
                await waiter
            finally:
                self.receive_waiters.remove(waiter)

    def wake_receivers(self) -> None:
        for w in self.receive_waiters or ():
            if not w.done():
                w.set_result(None)

    def send_ready(self, status: int) -> None:
        self.send_pending = False
        for w in self.send_waiters or ():
            if not w.done():
                w.set_result(status)

    def wake_all(self) -> None:
        """The app finished the request: no notification follows, so
        calls still waiting (from tasks that outlive it) ask again, and are
        answered as calls after the end are."""
        if self.receive_waiters:
            self.wake_receivers()
        self.send_pending = False
        if self.send_waiters:
            self.send_ready(_OK)  # the library has taken its data

    async def _drained(self) -> int:
        """Waits for SEND_READY: the library took the pending send's data
        (or the client left). Cancelling the wait cancels only the wait."""
        waiter = _rt.loop.create_future()
        if self.send_waiters is None:
            self.send_waiters = []
        self.send_waiters.append(waiter)
        try:
            return await waiter
        finally:
            self.send_waiters.remove(waiter)

    async def send(self, message: Message) -> None:
        _start_batch()
        # A send whose caller stopped waiting (cancelled: its data stays
        # queued), or another task's, is still pending in the library:
        # this one follows it instead of failing as "busy".
        while self.send_pending:
            await self._drained()
        rc = _send(self.h, message)
        if rc != 0:
            await self._sent(rc, message)

    async def _sent(self, rc: int, message: Message) -> None:
        """What follows a send the library did not just take (the app's
        Sender comes here from C too)."""
        if rc == _PENDING:
            self.send_pending = True
            rc = await self._drained()
            if rc == 0:
                return
        if rc == _ERR_DISCONNECTED:
            self.client_left = True
            raise ClientDisconnected("the client disconnected")
        if rc == _ERR_FINISHED:
            raise RuntimeError("ASGI send of %r after the app finished the "
                               "request (from a task that outlived it?)"
                               % (message.get("type"),))
        if rc < 0:
            raise RuntimeError("ASGI send of %r failed: %s (the error log "
                               "says why)" % (message.get("type"),
                                              _asgicore.strerror(rc)))


# Responses sent during one turn of the loop wake nginx once, at the start
# of the next turn, instead of once each (asgi_python.c: the batch).
_start_batch = _asgicore.start_batch


_receive = _asgicore.receive
_send = _asgicore.send
# The app's send and receive: their coroutines run the common case in C
# (asgi_python.c); registered so that asyncio takes them as coroutines
# (create_task).
_sender = _asgicore.sender
_receiver = _asgicore.receiver
collections.abc.Coroutine.register(_asgicore.SendOp)
_PENDING = _asgicore.PENDING
_OK = _asgicore.OK
_ERR_DISCONNECTED = _asgicore.ERR_DISCONNECTED
_ERR_FINISHED = _asgicore.ERR_FINISHED


class _Lifespan:
    """The lifespan protocol of one app: startup before its first request,
    shutdown when the worker exits. One app object may serve locations
    with asgi_lifespan on and auto: each reads the outcome its own way
    (_outcome)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.raised = False  # before its startup ended: auto, no lifespan
        self.state: dict[str, Any] = {}
        self.events: asyncio.Queue[Message] = asyncio.Queue()
        self.started = _rt.loop.create_future()   # True, False or None
        self.stopped = _rt.loop.create_future()
        self.error: Optional[str] = None
        self.task = _rt.loop.create_task(self.run())

    async def receive(self) -> Message:
        return await self.events.get()

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "lifespan.startup.complete":
            _settle(self.started, True)
        elif kind == "lifespan.startup.failed":
            self.error = message.get("message", "")
            _settle(self.started, False)
        elif kind in ("lifespan.shutdown.complete",
                      "lifespan.shutdown.failed"):
            if kind.endswith("failed"):
                _log(_asgicore.LOG_ERROR, "ASGI lifespan shutdown failed: %s"
                     % message.get("message", ""))
            _settle(self.stopped, True)

    async def run(self) -> None:
        scope = {"type": "lifespan", "state": self.state,
                 "asgi": {"version": "3.0", "spec_version": "2.0"}}
        await self.events.put({"type": "lifespan.startup"})
        try:
            await self.app(scope, self.receive, self.send)
        except BaseException:
            if not self.started.done():
                e = sys.exc_info()[1]
                self.error = "%s\n%s" % (_summary(e),
                                         traceback.format_exc().rstrip())
                self.raised = True
                _settle(self.started, None)
            else:
                _log(_asgicore.LOG_ERROR, "ASGI lifespan task failed:\n%s"
                     % traceback.format_exc().rstrip())
        finally:
            _settle(self.started, None)
            _settle(self.stopped, True)

    async def shutdown(self, timeout: float) -> None:
        if self.started.done() and self.started.result() and \
                not self.stopped.done():
            await self.events.put({"type": "lifespan.shutdown"})
            try:
                await asyncio.wait_for(asyncio.shield(self.stopped), timeout)
            except asyncio.TimeoutError:
                _log(_asgicore.LOG_WARN,
                     "ASGI lifespan shutdown did not finish in %.1f s"
                     % timeout)


def _settle(future: asyncio.Future, value: Any) -> None:
    if not future.done():
        future.set_result(value)


def _outcome(lifespan: _Lifespan, mode: str,
             started: Optional[bool]) -> Optional[bool]:
    """The startup's outcome for a location in `mode`: True (its state
    goes to requests), None (no lifespan) or False (failed: 503). An app
    that raised before its startup ended has no lifespan support under
    auto, and failed under on."""
    if started is None and lifespan.raised and mode == "on":
        return False
    return started


async def _run(st: _Scope, loaded: _LoadedApp, scope: Scope) -> None:
    failed, message = False, None
    _current.set(st)  # this task's context: its log lines carry the request
    try:
        lifespan = loaded.startup
        if lifespan is not None:
            started = lifespan.started
            # shielded: a request cancelled while startup runs (its client
            # left) must not cancel the app's startup for every request
            ok = _outcome(lifespan, loaded.lifespan_mode,
                          started.result() if started.done()
                          else await asyncio.shield(started))
            if ok is False:
                # startup failed: this app answers 503 in this worker
                prefix = "websocket.http" if scope["type"] == "websocket" \
                    else "http"
                await st.send({"type": prefix + ".response.start",
                               "status": 503,
                               "headers": [(b"content-type", b"text/plain")]})
                await st.send({"type": prefix + ".response.body",
                               "body": b"Service Unavailable\n"})
                return
            if ok:
                scope["state"] = lifespan.state.copy()
        elif loaded.state is not None:
            scope["state"] = loaded.state.copy()
        await loaded.app(scope, _receiver(st, st.h), _sender(st, st.h))
    except asyncio.CancelledError:
        if not st.cancelled:
            failed, message = True, "cancelled"
    except ClientDisconnected:
        pass  # not an application error (S3)
    except BaseException as e:
        if st.client_left and _stops_for_disconnect(e):
            # The app's own way of stopping once told the client left (an
            # upload cut short: Starlette's ClientDisconnect, an OSError):
            # the outcome is the client's 499, not an application error.
            _log(_asgicore.LOG_INFO, "app stopped after the client "
                 "disconnected: %s: %s" % (type(e).__name__, e), st)
        else:
            # P2: the exception itself first, then how it came about
            failed, message = True, "%s\n%s" % (
                _summary(e), traceback.format_exc().rstrip())
    finally:
        if _partial_lines:
            for stream in tuple(_partial_lines):
                if stream.pending_st is st:
                    stream.flush()
        del _rt.scopes[st.h]
        if st.client_left or st.cancelled:
            _collect_soon()
        _start_batch()
        _asgicore.finish(st.h, failed, message)
        if st.receive_waiters or st.send_waiters:
            st.wake_all()
        else:
            st.send_pending = False
        # The task's context holds st (_current) and st held the task: a
        # cycle that kept every request's scope (and its library memory)
        # until a garbage collection freed them by the hundred.
        st.task = None


def _summary(exc: BaseException) -> str:
    """The exception's last line as a traceback ends with it."""
    return traceback.format_exception_only(type(exc), exc)[-1].rstrip()


# Python 3.11+; an empty tuple matches nothing on older ones
_ExceptionGroup = getattr(builtins, "BaseExceptionGroup", ())


def _stops_for_disconnect(exc: BaseException) -> bool:
    """Whether an exception is how apps and frameworks stop once they learn
    that the client left: an OSError (ClientDisconnected, ConnectionError)
    or an exception named ClientDisconnect (Starlette's), also inside an
    exception group (task groups)."""
    if isinstance(exc, _ExceptionGroup):
        return all(_stops_for_disconnect(e) for e in exc.exceptions)
    return isinstance(exc, OSError) or \
        type(exc).__name__ == "ClientDisconnect"


# Objects of a request whose client left often end in reference cycles:
# its exception's traceback holds the frames that raised it, and Starlette's
# StreamingResponse keeps its unfinished body generator in one once send()
# raised. Their `finally` blocks and context managers would run at some
# later garbage collection: whenever the worker next allocates enough, or
# never in an idle one. A collection soon after such a request, at most one
# a second, bounds that delay.
_COLLECT_DELAY = 0.05
_COLLECT_INTERVAL = 1.0


def _collect_soon() -> None:
    if _rt.collect_handle is not None:
        return
    wait = max(_COLLECT_DELAY,
               _rt.collected_at + _COLLECT_INTERVAL - time.monotonic())
    _rt.collect_handle = _rt.loop.call_later(wait, _collect)


def _collect() -> None:
    _rt.collect_handle = None
    _rt.collected_at = time.monotonic()
    gc.collect()




def _app(index: int) -> _LoadedApp:
    loaded = _rt.apps.get(index)
    if loaded is not None:
        return loaded
    ref, path, lifespan = _asgicore.app_config(index)
    began = time.monotonic()
    try:
        loaded = _LoadedApp(_load_app(ref, path), task_name="asgi " + ref)
    except BaseException as e:
        # P6: the whole story once, at start-up; each request then gets a
        # 500 and a short line pointing at it
        _log(_asgicore.LOG_ERROR, "cannot load the ASGI app %r: %s\n%s"
             % (ref, _summary(e), traceback.format_exc().rstrip()))
        loaded = _LoadedApp(None, "the ASGI app %r could not be imported "
                            "when this worker started (%s; the traceback "
                            "was logged then)" % (ref, _summary(e)))
        _asgicore.set_state(index, _asgicore.APP_FAILED,
                            "import failed: %s" % _summary(e))
    _rt.apps[index] = loaded
    app = loaded.app
    if app is None:
        return loaded
    if lifespan == "off":
        _report_ready(ref, index, began, None)
        return loaded
    shared = _rt.lifespan_of.get(id(app))
    if shared is None:
        shared = _rt.lifespan_of[id(app)] = _Lifespan(app)
    _rt.lifespans[index] = shared
    loaded.startup = shared
    loaded.lifespan_mode = lifespan
    shared.started.add_done_callback(
        lambda f, ref=ref, index=index, mode=lifespan: _report_ready(
            ref, index, began, _outcome(shared, mode, f.result())))
    return loaded


def _report_ready(ref: str, index: int, began: float,
                  started: Optional[bool]) -> None:
    """P8: one line when an app can serve, or why it cannot; asgi_status
    shows the same."""
    if started is False:
        error = str(_rt.lifespans[index].error)
        _log(_asgicore.LOG_ERROR, "ASGI lifespan startup of %r failed; it "
             "answers 503 in this worker: %s" % (ref, error))
        _asgicore.set_state(index, _asgicore.APP_FAILED,
                            "lifespan startup failed: %s"
                            % (error.splitlines() or [""])[0])
        return
    loaded = _rt.apps[index]
    if started:
        loaded.state = _rt.lifespans[index].state
    loaded.startup = None  # requests stop looking
    ms = (time.monotonic() - began) * 1000
    _log(_asgicore.LOG_INFO, "ASGI app %r ready in %.0f ms%s" % (
        ref, ms, " (with its lifespan startup)" if started else ""))
    _asgicore.set_state(index, _asgicore.APP_READY, "")


def _on_start(h: object, index: int, scope: Scope) -> None:
    loaded = _rt.apps.get(index) or _app(index)
    if loaded.app is None:
        # the app failed to import: each request gets a 500 and the
        # reason, the worker keeps serving
        _asgicore.finish(h, True, loaded.error)
        return
    if scope["type"] == "websocket":
        scope["subprotocols"] = _subprotocols(scope["headers"])
    st = _rt.scopes[h] = _Scope(h, index)
    coro = _run(st, loaded, scope)
    loop = _rt.loop
    if loop.get_task_factory() is None:
        # asyncio's Task directly, named after the app: create_task would
        # format a new "Task-N" per request
        st.task = asyncio.tasks.Task(coro, loop=loop, name=loaded.task_name)
    else:
        task = loop.create_task(coro, name=loaded.task_name)
        if not task.done():  # an eager factory may have run it to its end
            st.task = task


def _subprotocols(headers: list[tuple[bytes, bytes]]) -> list[str]:
    """The client's offer, in order, from every Sec-WebSocket-Protocol."""
    offered: list[str] = []
    for name, value in headers:
        if name == b"sec-websocket-protocol":
            offered += [p.strip() for p in value.decode("latin-1").split(",")
                        if p.strip()]
    return offered


def _on_notify(h: object, event: int, status: int) -> None:
    st = _rt.scopes.get(h)
    if st is None:
        return
    if event == _asgicore.RECEIVE_READY:
        st.wake_receivers()
    elif event == _asgicore.SEND_READY:
        st.send_ready(status)
    elif event == _asgicore.CANCEL:
        st.cancelled = True
        st.task.cancel()




def _on_wake() -> None:
    if _asgicore.stopping():
        if not _rt.stopping:
            _rt.stopping = True
            _rt.loop.create_task(_shutdown())
        return
    _asgicore.dispatch()


async def _shutdown() -> None:
    # lifespan shutdown, bounded by worker_shutdown_timeout (or 10 s)
    timeout = _asgicore.shutdown_timeout()
    await asyncio.gather(*(lifespan.shutdown(timeout)
                           for lifespan in _rt.lifespans.values()))
    _rt.loop.stop()


# ------------------------------------------------------------ importing apps
#
# One interpreter serves every app of a worker: they share sys.path,
# sys.modules and the process's environment. What would make one app run
# another's code is refused at start-up (P3); a virtual environment named
# by asgi_python_path orders sys.path as its own python does (P4).



def _venv_root(d: str) -> Optional[str]:
    """The virtual environment whose site-packages `d` is, or None."""
    d = os.path.normpath(os.path.abspath(d))
    lib = os.path.dirname(d)
    if os.path.basename(d) != "site-packages" or \
            not os.path.basename(lib).startswith("python"):
        return None
    root = os.path.dirname(os.path.dirname(lib))
    return root if os.path.isfile(os.path.join(root, "pyvenv.cfg")) else None


def _add_venv(d: str, root: str) -> None:
    """A venv's python puts its site-packages, and what its .pth files add
    (editable installs), before the base installation's site directories
    (Debian's dist-packages), and runs as the venv's interpreter."""
    before = set(sys.path)
    site.addsitedir(d)
    added = [p for p in sys.path if p not in before]
    for p in added:
        sys.path.remove(p)
    system = set(site.getsitepackages())
    at = next((i for i, p in enumerate(sys.path) if p in system),
              len(sys.path))
    sys.path[at:at] = added
    sys.prefix = sys.exec_prefix = root
    python = os.path.join(root, "bin", "python")
    if os.path.exists(python):
        sys.executable = python
        spawn = sys.modules.get("multiprocessing.spawn")
        if spawn is not None:
            spawn.set_executable(python)


def _origin(module: Any) -> Optional[str]:
    where = getattr(module, "__file__", None)
    if where is None:
        paths = list(getattr(module, "__path__", None) or ())
        where = paths[0] if paths else None
    return where


def _own_modules(dirs: list[str]) -> dict[str, str]:
    """The top-level modules `dirs` hold: name -> file (a .py module, or
    a regular package's __init__.py; namespace packages span directories
    and are left out)."""
    found = {}
    for d in dirs:
        try:
            entries = os.listdir(d)
        except OSError:
            continue
        for entry in entries:
            path = os.path.join(d, entry)
            if entry.endswith(".py"):
                name = entry[:-3]
            elif os.path.isfile(os.path.join(path, "__init__.py")):
                name, path = entry, os.path.join(path, "__init__.py")
            else:
                continue
            if name.isidentifier():
                found.setdefault(name, path)
    return found


def _shadowed(dirs: list[str]) -> dict[str, tuple[Any, str, str]]:
    """P3: modules another app already imported from elsewhere that this
    app's directories hold too: under python3 alone, it would import its
    own copy."""
    shadowed = {}
    for name, path in _own_modules(dirs).items():
        loaded = sys.modules.get(name)
        had = _origin(loaded) if loaded is not None else None
        if had is not None and \
                os.path.realpath(had) != os.path.realpath(path):
            shadowed[name] = (loaded, had, path)
    return shadowed


def _refuse_shadowing(ref: str, dirs: list[str], module_name: str) -> Any:
    """Imports the app with the modules it would shadow set aside: if it
    imports one of them, it would silently run the other app's copy in
    this worker, so it is refused, naming both apps."""
    shadowed = _shadowed(dirs)
    saved = {}
    for name in shadowed:
        for key in [k for k in sys.modules
                    if k == name or k.startswith(name + ".")]:
            saved[key] = sys.modules.pop(key)
    try:
        module = _import_django_aware(ref, module_name)
        wanted = [name for name in shadowed if name in sys.modules]
    finally:
        for name in shadowed:
            for key in [k for k in sys.modules
                        if k == name or k.startswith(name + ".")]:
                del sys.modules[key]
        sys.modules.update(saved)
    if wanted:
        name = wanted[0]
        owner = _rt.imported_by.get(name)
        raise ImportError(
            "the ASGI app %r would import the module %r from %s, but %s "
            "imported it from %s first: the Python apps of one %s "
            "process share sys.modules, so %r would run the other's code. "
            "Rename one of the modules, or serve the apps from two %s "
            "instances"
            % (ref, name, shadowed[name][2], "the ASGI app %r" % owner
               if owner else "the worker", shadowed[name][1],
               _asgicore.server(), ref, _asgicore.server()))
    return module


def _import_django_aware(ref: str, module_name: str) -> Any:
    """Django's settings are process-wide: a second project that sets
    another DJANGO_SETTINGS_MODULE would run with the first one's."""
    key = "DJANGO_SETTINGS_MODULE"
    previous = os.environ.get(key)
    set_by_app = _rt.django is not None and previous != _rt.environ_django
    if set_by_app:
        del os.environ[key]  # let this app say what it wants
    try:
        module = importlib.import_module(module_name)
    finally:
        wanted = os.environ.get(key)
        if set_by_app:
            os.environ[key] = previous
    if set_by_app and wanted is not None and wanted != previous:
        raise ImportError(
            "the ASGI app %r sets DJANGO_SETTINGS_MODULE to %r, but the "
            "ASGI app %r set it to %r first: Django's settings are "
            "process-wide, so %r would run with the other's. Serve the two "
            "projects from two %s instances"
            % (ref, wanted, _rt.django[0], _rt.django[1], ref,
               _asgicore.server()))
    if _rt.django is None and wanted is not None and \
            wanted != _rt.environ_django:
        _rt.django = (ref, wanted)
    return module


def _load_app(ref: str, path: str) -> ASGIApp:
    dirs = [p for p in path.split("\n") if p]
    plain = [d for d in dirs if _venv_root(d) is None]
    for d in reversed(plain):
        if d not in sys.path:
            sys.path.insert(0, d)
    # .pth files too (editable installs use them); the directories stay at
    # the front.
    for d in plain:
        site.addsitedir(d)
    for d in dirs:
        root = _venv_root(d)
        if root is not None:
            _add_venv(d, root)
    module_name, _, attr = ref.partition(":")
    before = set(sys.modules)
    obj = _refuse_shadowing(ref, dirs, module_name)
    # which app brought in each top-level module (for P3's error)
    for name in set(sys.modules) - before:
        if "." not in name:
            _rt.imported_by.setdefault(name, ref)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


# ------------------------------------------------------------ process state



def _keep_host_clock() -> None:
    """P5: the C library's time zone is process-wide, and nginx's own log
    and $time_local timestamps use it. A TZ an app sets (Django sets its
    TIME_ZONE so) stays in Python's os.environ and never reaches the C
    library, so time.tzset() changes nothing for nginx."""
    real_putenv, real_unsetenv = os.putenv, os.unsetenv

    def is_tz(key: object) -> bool:
        return key in ("TZ", b"TZ")

    def putenv(key: Any, value: Any) -> None:
        if not is_tz(key):
            return real_putenv(key, value)
        text = value.decode() if isinstance(value, bytes) else value
        if text not in _rt.tz_noted:
            _rt.tz_noted.add(text)
            _log(_asgicore.LOG_INFO, "an app set TZ=%s: %s's clock and "
                 "the C library's local time stay in the process's zone "
                 "(zoneinfo and zone-aware datetimes follow the app's)"
                 % (text, _asgicore.server()))

    def unsetenv(key: Any) -> None:
        if not is_tz(key):
            return real_unsetenv(key)

    os.putenv = putenv
    os.unsetenv = unsetenv


def _executable() -> None:
    """A real interpreter for subprocess and multiprocessing (embedded,
    sys.executable would be nginx or nothing); a venv's replaces it."""
    python = os.path.join(sys.base_exec_prefix, "bin", "python3")
    if os.path.exists(python):
        sys.executable = python


def serve() -> None:
    _executable()
    _rt.environ_django = os.environ.get("DJANGO_SETTINGS_MODULE")
    try:
        import uvloop
        _rt.loop = uvloop.new_event_loop()
        loop_name = "uvloop " + uvloop.__version__
    except ImportError:
        _rt.loop = asyncio.new_event_loop()
        loop_name = "asyncio"
    asyncio.set_event_loop(_rt.loop)
    _install_logging()
    _log(_asgicore.LOG_INFO, "Python %s runtime started, event loop: %s"
         % (sys.version.split()[0], loop_name))
    signal.signal = _refuse_signal_handler
    _refuse_loop_signal_handlers()
    _let_children_have_signals()
    _keep_host_clock()
    _asgicore.set_handlers(_on_start, _on_notify, _rt.loop.call_soon)
    _rt.loop.add_reader(_asgicore.wake_fd(), _on_wake)
    # lifespan startup of every app, before its first request; nothing
    # one app does stops the others
    for index in range(_asgicore.app_count()):
        try:
            _app(index)
        except BaseException:
            _log(_asgicore.LOG_ERROR, "loading app %d failed:\n%s"
                 % (index, traceback.format_exc().rstrip()))
    _on_wake()  # anything queued before the loop ran
    while True:
        try:
            _rt.loop.run_forever()
        except BaseException:
            # SystemExit or another escape from a callback outside any
            # request's task: the worker serves on
            if not _rt.stopping:
                _log(_asgicore.LOG_ERROR, "the event loop stopped on an "
                     "exception; it runs again:\n%s"
                     % traceback.format_exc().rstrip())
                continue
        if _rt.stopping:
            break
        # an app called loop.stop(): the worker serves on
        _log(_asgicore.LOG_ERROR, "an app stopped the event loop "
             "(loop.stop()); it runs again")
    _asgicore.end_batch()  # the loop may have stopped before the batch's end
