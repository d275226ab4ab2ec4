"""Raw ASGI 3 test app for t/python.t. ASGI_RECORD (passed with nginx's
`env` directive) names a file where it records what happened after the
client left."""
import asyncio
import gc
import logging
import os
import sys


def record(line):
    path = os.environ.get("ASGI_RECORD")
    if path:
        with open(path, "a") as f:
            f.write(line + "\n")


async def body_of(receive):
    body = b""
    while True:
        m = await receive()
        if m["type"] == "http.disconnect":
            raise OSError("client left mid-body")
        body += m.get("body", b"")
        if not m.get("more_body"):
            return body


async def respond(send, status, body, headers=()):
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain")] + list(headers)})
    await send({"type": "http.response.body", "body": body})


def _query(scope):
    pairs = scope["query_string"].decode().split("&")
    return dict(p.split("=", 1) for p in pairs if "=" in p)


def _policy(number):
    return {os.SCHED_OTHER: "other", os.SCHED_BATCH: "batch"}.get(
        number, str(number))


async def app(scope, receive, send):
    kind = scope["path"].rsplit("/", 1)[-1]
    if scope["path"].startswith("/py/stream"):
        kind = "chunks"  # the storm's name for it
    if kind == "hello":
        await respond(send, 200, b"Hello from Python\n")
    elif kind == "scope":
        text = "%s %s %s %s %s %r %s %s\n" % (
            scope["asgi"]["version"], scope["asgi"]["spec_version"],
            ",".join(sorted(scope.get("extensions", {}))),
            scope["http_version"], scope["method"], scope["query_string"],
            scope["path"], dict(scope["headers"]).get(b"host", b"").decode())
        await respond(send, 200, text.encode())
    elif kind == "sendop":
        # send()'s result behaves as the coroutine of an `async def` does
        checks = []
        body = "http.response.body"
        op = send({"type": "http.response.start", "status": 200,
                   "headers": [(b"content-type", b"text/plain")]})
        checks.append("coroutine" if asyncio.iscoroutine(op) else "other")
        await asyncio.create_task(op)
        send({"type": body, "body": b"never-awaited ", "more_body": True})
        closed = send({"type": body, "body": b"closed ", "more_body": True})
        closed.close()
        thrown = send({"type": body, "body": b"thrown ", "more_body": True})
        try:
            thrown.throw(ValueError("into a new one"))
        except ValueError as e:
            checks.append("throw:%s" % e)
        await asyncio.gather(send({"type": body, "body": b"a",
                                   "more_body": True}),
                             send({"type": body, "body": b"b",
                                   "more_body": True}))
        once = send({"type": body, "body": b"c", "more_body": True})
        await once
        try:
            await once
        except RuntimeError as e:
            checks.append("again:%s" % e)
        try:
            await send({"type": "bogus"})
        except RuntimeError as e:
            checks.append("bad:%s" % e)
        await send(message={"type": body,
                            "body": (" " + " ".join(checks)).encode()})
    elif kind == "receiveop":
        # receive()'s result behaves as the coroutine of an `async def` does
        checks = []
        op = receive()
        checks.append("coroutine" if asyncio.iscoroutine(op) else "other")
        message = await asyncio.create_task(op)
        checks.append("%s:%r:%s" % (message["type"], message["body"],
                                    message["more_body"]))
        closed = receive()
        closed.close()
        receive()  # never awaited
        thrown = receive()
        try:
            thrown.throw(ValueError("into a new one"))
        except ValueError as e:
            checks.append("throw:%s" % e)
        try:
            receive(1)
        except TypeError:
            checks.append("args:TypeError")
        await respond(send, 200, " ".join(checks).encode())
    elif kind == "sendop-edges":
        # what an outside attack found different from an async def's
        import warnings
        import weakref
        checks = []
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            # dropped at once: the warning is an exception, reported as
            # unraisable, and nothing crashes
            send({"type": "http.response.start", "status": 500,
                  "headers": []})
        checks.append("iscoroutinefunction:%s" % (
            asyncio.iscoroutinefunction(send)
            and asyncio.iscoroutinefunction(receive)))
        checks.append("names:%s,%s" % (send.__name__, receive.__qualname__))
        op = send({"type": "http.response.start", "status": 200,
                   "headers": [(b"content-type", b"text/plain")]})
        ref = weakref.ref(op)
        await op
        for args in ((ValueError("late"),), ()):
            try:
                op.throw(*args)
            except (RuntimeError, TypeError) as e:
                checks.append("%s:%s" % (type(e).__name__, e))

        class Reenter:
            # a truth test that calls back into the running send
            def __bool__(self):
                for call in (lambda: again.send(None), again.close,
                             lambda: again.throw(KeyError)):
                    try:
                        call()
                    except ValueError as e:
                        checks.append("reenter:%s" % e)
                return True
        again = send({"type": "http.response.body", "body": b"body ",
                      "more_body": Reenter()})
        await again
        del op
        checks.append("weakref:%s" % (ref() is None))
        await send({"type": "http.response.body",
                    "body": " ".join(checks).encode()})
    elif kind == "addrs":
        # and whether the scope's dicts are each request's own
        fresh = "mutated" not in scope and "mutated" not in scope["asgi"]
        line = "%s %s %r %r %s\n" % (
            scope["method"], scope["http_version"], scope["server"],
            scope["client"], "fresh" if fresh else "stale")
        scope["asgi"]["mutated"] = scope["mutated"] = True
        scope["method"] = scope["http_version"] = "mutated"
        await respond(send, 200, line.encode())
    elif kind == "foreign-loop":
        # sends from a thread that runs an event loop of its own; each
        # chunk waits for the test to have read the one before (a gate
        # file), so a chunk held back by the runtime never arrives
        gate = os.environ["ASGI_RECORD"] + ".go"

        def in_thread():
            import time

            async def sends():
                await send({"type": "http.response.start", "status": 200,
                            "headers": [(b"content-type", b"text/plain")]})
                for i, word in enumerate((b"one\n", b"two\n")):
                    await send({"type": "http.response.body", "body": word,
                                "more_body": True})
                    deadline = time.monotonic() + 10
                    while not os.path.exists("%s.%d" % (gate, i)) and \
                            time.monotonic() < deadline:
                        time.sleep(0.01)
                await send({"type": "http.response.body", "body": b"three\n"})
            asyncio.run(sends())
        await asyncio.get_running_loop().run_in_executor(None, in_thread)
    elif kind == "gc-off":
        gc.disable()  # only reference counting frees what requests leave
        await respond(send, 200, b"off\n")
    elif kind == "scopes-alive":
        # the runtime's per-request objects still in memory, this one's
        # included
        alive = sum(1 for o in gc.get_objects()
                    if type(o).__name__ == "_Scope")
        gc.enable()
        await respond(send, 200, b"%d\n" % alive)
    elif kind == "task":
        task = asyncio.current_task()
        await respond(send, 200, ("%s %s\n" % (type(task).__name__,
                                              task.get_name())).encode())
    elif kind == "paths":
        text = "%s %s %r\n" % (scope["root_path"], scope["path"],
                                scope["raw_path"])
        await respond(send, 200, text.encode())
    elif kind == "echo":
        await respond(send, 200, await body_of(receive))
    elif kind == "stream":
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain")]})
        for i in range(3):
            await send({"type": "http.response.body",
                        "body": b"part %d\n" % i, "more_body": True})
            await asyncio.sleep(0.02)
        await send({"type": "http.response.body", "body": b""})
    elif kind in ("cleanup", "ignore"):
        await body_of(receive)
        m = await receive()  # waits while the client stays (R6)
        record("%s %s" % (m["type"], kind))
        if kind == "ignore":
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                record("cancelled " + kind)
                # P9: nginx finalized the request (499) by now
                logging.getLogger("rawapp").warning(
                    "cleaning up after the cancel")
                raise
        try:
            await send({"type": "http.response.start", "status": 200,
                        "headers": []})
        except OSError as e:
            record("send raised %s %s" % (type(e).__name__, kind))
    elif kind == "wait":
        # the storm's contract: "waited\n" after ms milliseconds
        ms = int(_query(scope).get("ms", "0"))
        await body_of(receive)
        await asyncio.sleep(ms / 1000)
        await respond(send, 200, b"waited\n")
    elif kind == "readsizes":
        # a slow reader of an upload: nginx reads a full buffer while it
        # pauses; answers whether the largest http.request body it got is
        # above min and at most max (a loaded machine may deliver less than
        # a full buffer, never more), or its size
        q = _query(scope)
        low, high = int(q.get("min", "0")), int(q.get("max", "0"))
        pause = float(q.get("pause", "0.2"))
        largest = 0
        while True:
            message = await receive()
            largest = max(largest, len(message.get("body", b"")))
            if not message.get("more_body"):
                break
            await asyncio.sleep(pause)  # the client's bytes pile up meanwhile
        if low < largest <= high:
            await respond(send, 200, b"largest in (%d, %d]\n" % (low, high))
        else:
            await respond(send, 200, b"largest %d\n" % largest)
    elif kind == "chunks":
        # the storm's /stream contract: n chunks "chunk i\n", ms apart
        q = _query(scope)
        n, ms = int(q.get("n", "5")), int(q.get("ms", "0"))
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain")]})
        for i in range(n):
            await send({"type": "http.response.body",
                        "body": b"chunk %d\n" % i, "more_body": i + 1 < n})
            if ms and i + 1 < n:
                await asyncio.sleep(ms / 1000)
    elif kind == "genstream":
        # A generator-fed stream, as frameworks write them: the client
        # leaves while the generator waits at its yield, send() raises, and
        # the exception ends up in a reference cycle with this frame (as
        # task groups keep exceptions). The generator's finally must still
        # run promptly, not at some later garbage collection.
        async def ticks():
            try:
                while True:
                    yield b"tick\n"
            finally:
                record("generator closed")
        body = ticks()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain")]})
        try:
            async for chunk in body:
                await send({"type": "http.response.body", "body": chunk,
                            "more_body": True})
                await asyncio.sleep(0.01)
        except OSError as e:
            kept = e  # noqa: F841 (the cycle: frame -> e -> traceback -> frame)
            raise
    elif kind == "log":
        # logging, print() and sys.stderr all reach nginx's error log
        log = logging.getLogger("rawapp")
        log.warning("warned from %s", "python")
        print("printed to stdout")
        print("written to stderr", file=sys.stderr)
        try:
            1 / 0
        except ZeroDivisionError:
            log.exception("it failed")
        await asyncio.to_thread(log.warning, "from a thread")
        # an app that configures logging itself uses the runtime's handler
        from asgicore_runtime import NginxLogHandler
        own = logging.getLogger("configured")
        if not own.handlers:
            own.addHandler(NginxLogHandler())
            own.setLevel(logging.INFO)
            own.propagate = False
        own.info("kept its level")
        await respond(send, 200, b"logged\n")
    elif kind == "r10":
        # R10: cancelling a pending receive() reaches the caller, and loses
        # nothing: the next receive() still reports the disconnect
        await body_of(receive)
        pending = asyncio.ensure_future(receive())
        await asyncio.sleep(0.01)  # now it waits
        pending.cancel()
        try:
            await pending
            record("receive returned")
        except asyncio.CancelledError:
            record("receive cancelled")
        try:
            await asyncio.wait_for(receive(), 0.01)
        except asyncio.TimeoutError:
            record("receive timed out")
        await send({"type": "http.response.start", "status": 200,
                    "headers": []})
        await send({"type": "http.response.body", "body": b"waiting\n",
                    "more_body": True})
        m = await receive()
        record("then " + m["type"])
    elif kind == "r10send":
        # a send() that waits for a client that does not read, cancelled
        await body_of(receive)
        await send({"type": "http.response.start", "status": 200,
                    "headers": []})
        chunk = b"x" * (1 << 20)
        try:
            for _ in range(1000):
                await asyncio.wait_for(
                    send({"type": "http.response.body", "body": chunk,
                          "more_body": True}), 0.2)
            record("send never waited")
        except asyncio.TimeoutError:
            record("send cancelled")
        m = await receive()
        record("then " + m["type"])
    elif kind == "badsend":
        # S2-style misuse from Python: a clear exception in the app, which
        # is an app error (500, logged); the worker serves on
        case = _query(scope).get("case")
        if case == "header":
            await send({"type": "http.response.start", "status": 200,
                        "headers": [("content-type", "text/plain")]})
        elif case == "type":
            await send({"type": "http.response.bogus"})
        elif case == "notdict":
            await send([("type", "http.response.start")])
        elif case == "status":
            await send({"type": "http.response.start", "status": "200"})
        elif case == "bigstatus":
            await send({"type": "http.response.start", "status": 10 ** 20})
        elif case == "order":
            await send({"type": "http.response.body", "body": b"early"})
    elif kind == "trailers":
        await body_of(receive)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain")],
                    "trailers": True})
        await send({"type": "http.response.body", "body": b"with trailers\n"})
        await send({"type": "http.response.trailers",
                    "headers": [(b"x-checksum", b"abc")]})
    elif kind == "big":
        # S5: a large response to a client that does not read: send()
        # waits, memory stays bounded
        await body_of(receive)
        size = int(_query(scope).get("size", "1048576"))
        chunk = b"x" * 65536
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", b"%d" % size)]})
        sent = 0
        try:
            while sent < size:
                n = min(len(chunk), size - sent)
                sent += n
                await send({"type": "http.response.body",
                            "body": chunk[:n] if n < len(chunk) else chunk,
                            "more_body": sent < size})
        except OSError:
            record("disconnected big after %d MB" % (sent >> 20))
            raise
    elif kind == "signal":
        import signal
        try:
            signal.signal(signal.SIGTERM, lambda *a: None)
            text = b"handler set\n"
        except ValueError as e:
            text = b"refused: %s\n" % str(e).encode()
        try:  # the event loop's way (uvloop would set it process-wide)
            asyncio.get_running_loop().add_signal_handler(
                signal.SIGTERM, lambda: None)
            text += b"loop handler set\n"
        except RuntimeError as e:
            text += b"loop refused: %s\n" % str(e).encode()
        import uvloop
        for make in uvloop.new_event_loop, asyncio.SelectorEventLoop:
            own = make()  # a loop of the app's own
            try:
                own.add_signal_handler(signal.SIGQUIT, lambda: None)
                text += b"own loop handler set\n"
            except RuntimeError:
                text += b"own loop refused\n"
            finally:
                own.close()
        await respond(send, 200, text)
    elif kind == "groupafter":
        # a task group's child stops with an OSError at the disconnect: the
        # exception group that ends the app is the client's 499 too
        await body_of(receive)

        async def child():
            m = await receive()
            raise OSError("child saw " + m["type"])
        async with asyncio.TaskGroup() as tg:
            tg.create_task(child())
    elif kind == "bugafter":
        # a real bug that happens to run after the client left is still
        # an application error
        await body_of(receive)
        m = await receive()
        {}["missing " + m["type"]]
    elif kind == "block":
        # a bug that blocks the worker's event loop (a synchronous sleep)
        import time
        await body_of(receive)
        record("blocking")
        time.sleep(float(_query(scope).get("s", "30")))
        await respond(send, 200, b"unblocked\n")
    elif kind == "exitloop":
        # a bug that raises SystemExit from a plain loop callback
        asyncio.get_running_loop().call_soon(sys.exit, 3)
        await respond(send, 200, b"exiting from a callback\n")
    elif kind == "stoploop":
        # a bug that stops the runtime's event loop
        asyncio.get_running_loop().stop()
        await respond(send, 200, b"stopping the loop\n")
    elif kind == "noresponse":
        await body_of(receive)
        return  # B2: returns without responding
    elif kind == "halfresponse":
        await body_of(receive)
        await send({"type": "http.response.start", "status": 200,
                    "headers": []})
        # more than the library buffers: send() returns once nginx has it
        await send({"type": "http.response.body",
                    "body": b"partial\n" + b"p" * 70000, "more_body": True})
        return  # B2: returns before the end of its response
    elif kind == "children":
        # processes the app starts have no signal blocked
        import subprocess
        import time

        def blocked(pid):
            # once the child runs `sleep` (exec'd, after any fork hooks)
            for _ in range(500):
                with open("/proc/%d/cmdline" % pid, "rb") as f:
                    if f.read().startswith(b"sleep"):
                        break
                time.sleep(0.002)
            with open("/proc/%d/status" % pid) as f:
                mask = [line.split()[1] for line in f
                        if line.startswith("SigBlk")][0]
            # and the default scheduling policy, not the runtime's
            return "%s/%s" % (mask, _policy(os.sched_getscheduler(pid)))
        results = ["runtime=" + _policy(os.sched_getscheduler(0))]
        p = subprocess.Popen(["sleep", "30"])
        results.append("popen=" + blocked(p.pid))
        p.kill()
        p.wait()
        p = await asyncio.create_subprocess_exec("sleep", "30")
        results.append("asyncio=" + blocked(p.pid))
        p.kill()
        await p.wait()
        pid = os.fork()
        if pid == 0:
            os.execvp("sleep", ["sleep", "30"])
        results.append("fork=" + blocked(pid))
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        pid = os.posix_spawnp("sleep", ["sleep", "30"], os.environ)
        results.append("posix_spawn=" + blocked(pid))
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        # and the app, not nginx, reaps them: exit statuses arrive intact
        codes = [subprocess.run(["sh", "-c", "exit %d" % (i % 7 + 1)]).returncode
                 for i in range(20)]
        results.append("statuses=" + ("ok" if codes == [i % 7 + 1 for i in
                                                         range(20)]
                                      else repr(codes)))
        out = os.environ.get("ASGI_RECORD", "/tmp/x") + ".system"
        os.system("grep SigBlk /proc/self/status > %s; python3 -c 'import "
                  "os; print(os.sched_getscheduler(0))' >> %s" % (out, out))
        with open(out) as f:
            words = f.read().split()
            results.append("system=%s/%s" % (words[1],
                                              _policy(int(words[2]))))
        await respond(send, 200, (" ".join(results) + "\n").encode())
    elif kind == "late":
        # L6: a task that outlives its request calls receive() or send()
        # after the app returned (and after nginx released the scope)
        op = _query(scope).get("op", "receive")
        wait = float(_query(scope).get("wait", "0.5"))

        async def later():
            await asyncio.sleep(wait)
            try:
                if op == "receive":
                    m = await receive()
                    record("late receive %s %s" % (
                        m["type"], m.get("body", b"")[:40]))
                else:
                    await send({"type": "http.response.body",
                                "body": b"late bytes"})
                    record("late send returned")
            except Exception as e:
                record("late %s raised %s %s" % (op, type(e).__name__, e))
        asyncio.ensure_future(later())
        if op == "send-after-leave":
            await receive()
            await receive()  # the client leaves
            return
        await body_of(receive)
        await respond(send, 200, b"answered\n")
    elif kind == "listeners":
        # R11: two receive() calls wait at once (a disconnect listener
        # beside the app's own reader); the client leaves
        await body_of(receive)
        await send({"type": "http.response.start", "status": 200,
                    "headers": []})
        await send({"type": "http.response.body", "body": b"waiting\n",
                    "more_body": True})
        a, b = await asyncio.gather(receive(), receive())
        record("listeners %s %s" % (a["type"], b["type"]))
    elif scope["path"].startswith("/utf8/"):
        # R12: the decoded path is printable, loggable and encodable
        path = scope["path"]
        print("path is", path)
        logging.getLogger("rawapp").warning("path %s", path)
        await respond(send, 200, path.encode("utf-8") + b" " +
                      scope["raw_path"])
    elif kind == "onemsg":
        # S8: a one-message response larger than nginx can write at once;
        # send() must return once it has been written
        size = int(_query(scope).get("size", "5000000"))
        await body_of(receive)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", b"%d" % size)]})
        try:
            await send({"type": "http.response.body", "body": b"y" * size})
            record("onemsg sent %d" % size)
        except OSError as e:
            record("onemsg raised %s" % type(e).__name__)
            raise
    elif kind == "length":
        # S6: a body that breaks the content-length the app declared
        q = _query(scope)
        declared, parts = q["cl"], q.get("parts", "").split(",")
        gap = float(q.get("gap", "0.05"))
        await body_of(receive)
        headers = [(b"content-length", v.encode())
                   for v in declared.split("+")]
        await send({"type": "http.response.start", "status": 200,
                    "headers": headers})
        try:
            for i, part in enumerate(parts):
                if i:
                    await asyncio.sleep(gap)  # the head is on its way
                await send({"type": "http.response.body",
                            "body": part.encode(),
                            "more_body": i + 1 < len(parts)})
            record("length sent all")
        except RuntimeError:
            record("length raised RuntimeError")
            raise
    elif kind == "status":
        # S7: any status, a body with it
        code = int(_query(scope).get("code", "200"))
        await body_of(receive)
        await send({"type": "http.response.start", "status": code,
                    "headers": [(b"content-length", b"5")]})
        await send({"type": "http.response.body", "body": b"hello"})
    elif kind == "header":
        # S4: a header value with a control byte
        value = bytes([int(_query(scope).get("byte", "1"))])
        await body_of(receive)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"x-v", b"a" + value + b"z")]})
        await send({"type": "http.response.body", "body": b"sent"})
    elif kind == "hopbyhop":
        # S4: hop-by-hop headers are the server's: a body that would read
        # as a second response if the app's framing were believed
        await body_of(receive)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"transfer-encoding", b"chunked"),
                                (b"connection", b"keep-alive"),
                                (b"keep-alive", b"timeout=99"),
                                (b"upgrade", b"h2c")]})
        await send({"type": "http.response.body",
                    "body": b"0\r\n\r\nHTTP/1.1 200 OK\r\n"
                            b"Content-Length: 7\r\n\r\nFORGED!"})
    elif kind == "closeconn":
        # an app that asks the server to close the connection after this
        await body_of(receive)
        value = _query(scope).get("v", "Close").encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"connection", value)]})
        await send({"type": "http.response.body", "body": b"bye\n"})
    elif kind == "h2fields":
        # fields HTTP/2 forbids in a response or its trailers, and a
        # content-length given twice: the server keeps the stream valid
        await body_of(receive)
        trailers = ("http.response.trailers" in scope.get("extensions", {})
                    and _query(scope).get("trailers") == "1")
        length = [] if trailers else [(b"content-length", b"5")] * 2
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"proxy-connection", b"keep-alive"),
                                (b"te", b"gzip")] + length,
                    "trailers": trailers})
        await send({"type": "http.response.body", "body": b"hello"})
        if trailers:
            await send({"type": "http.response.trailers",
                        "headers": [(b"content-length", b"5"),
                                    (b"te", b"gzip"),
                                    (b"x-checksum", b"abc")]})
    elif kind == "startfail":
        # item 10: http.response.start, then a failure before any body
        await body_of(receive)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain")]})
        if _query(scope).get("how") == "return":
            return
        raise ValueError("failed after http.response.start")
    elif kind == "sse":
        # item 11: the head goes out before the first event
        await body_of(receive)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/event-stream")]})
        await asyncio.sleep(float(_query(scope).get("s", "1")))
        await send({"type": "http.response.body", "body": b"data: 1\n\n"})
    elif kind == "early":
        # item 8: an answer without reading the upload
        await send({"type": "http.response.start", "status": 401,
                    "headers": [(b"content-length", b"7")]})
        await send({"type": "http.response.body", "body": b"denied\n"})
    elif kind == "upload":
        # reads the body after a pause, answers its length (item 12; L7
        # when the client leaves during the pause)
        try:
            await asyncio.sleep(float(_query(scope).get("s", "0")))
        except asyncio.CancelledError:
            record("upload cancelled while paused")
            raise
        body = await body_of(receive)
        await respond(send, 200, b"%d\n" % len(body))
    elif kind == "deep":
        # P2: an exception under a deep stack (as frameworks make them)
        # (two functions in turn: Python collapses a run of identical
        # frames)
        def deep_a(n):
            if n == 0:
                raise ValueError("deep failure at the bottom")
            return deep_b(n - 1)

        def deep_b(n):
            return deep_a(n - 1)
        deep_a(int(_query(scope).get("n", "80")))
    elif kind == "utf8mode":
        # P1: the interpreter behaves as python3 in a UTF-8 locale
        import locale
        import subprocess
        import tempfile
        d = tempfile.mkdtemp()
        name = os.path.join(d, "caf\u00e9-\u65e5\u672c.txt")
        with open(name, "w") as f:
            f.write("\u00e9t\u00e9\n")
        with open(name) as f:
            text = f.read()
        size = os.stat(name).st_size
        out = subprocess.run(["echo", "\u00e9"], capture_output=True,
                             text=True).stdout
        result = "utf8_mode=%d fs=%s preferred=%s read=%s size=%d sub=%s" % (
            sys.flags.utf8_mode, sys.getfilesystemencoding(),
            locale.getpreferredencoding(False), text.strip(), size,
            out.strip())
        await respond(send, 200, result.encode())
    elif kind == "grow":
        # S5: a stream whose chunks keep growing holds one chunk, not the
        # sum of them
        q = _query(scope)
        n, step = int(q.get("n", "400")), int(q.get("step", "500"))
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain")]})
        for i in range(n):
            await send({"type": "http.response.body",
                        "body": b"g" * (5000 + step * i), "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    elif kind == "cancelsend":
        # a send() whose caller stops waiting: its data stays queued and
        # the next send() follows it
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain")]})
        try:
            await asyncio.wait_for(send({"type": "http.response.body",
                                         "body": b"y" * 4000000,
                                         "more_body": True}), 0.001)
            record("cancelsend: the send did not wait")
        except asyncio.TimeoutError:
            record("cancelsend: the send was cancelled")
        await send({"type": "http.response.body", "body": b"END\n"})
    elif kind == "concsend":
        # two tasks send body parts at once: each waits its turn
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain")]})

        async def part(c):
            for _ in range(20):
                await send({"type": "http.response.body",
                            "body": c * 100000, "more_body": True})
        await asyncio.gather(part(b"a"), part(b"b"))
        await send({"type": "http.response.body", "body": b"END\n"})
    elif kind == "origin":
        # asgi_scheme and the realip module: what a proxied app sees
        await respond(send, 200, ("%s %s\n" % (scope["scheme"],
                                               scope["client"][0])).encode())
    elif kind == "locale":
        import locale
        await respond(send, 200,
                      (locale.setlocale(locale.LC_ALL, "") + "\n").encode())
    elif kind == "raiseodd":
        # an exception whose text UTF-8 cannot carry as is
        raise ValueError("before\0after " + os.fsdecode(b"name-\xff"))
    elif kind == "forkterm":
        # a forked child is stopped by SIGTERM, as under python3
        import signal
        import time
        pid = os.fork()
        if pid == 0:
            time.sleep(3)
            os._exit(0)
        start = time.monotonic()
        os.kill(pid, signal.SIGTERM)
        _, status = os.waitpid(pid, 0)
        text = "signaled=%s sig=%s fast=%s\n" % (
            os.WIFSIGNALED(status),
            os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
            time.monotonic() - start < 1)
        await respond(send, 200, text.encode())
    elif kind == "partial":
        # a partial line ends with its request, not in another's entry
        print("partial line of its own", end="")
        await respond(send, 200, b"printed\n")
    elif kind == "progress":
        # progress-bar output: bounded, not quadratic
        import time
        start = time.monotonic()
        for i in range(4000):
            sys.stderr.write("\rprogress %d " % i + "#" * 1000)
        await respond(send, 200, ("fast=%s\n" % (time.monotonic() - start
                                                < 2)).encode())
    elif kind == "stdoutbuf":
        sys.stdout.reconfigure(line_buffering=True)
        sys.stdout.buffer.write(b"written as bytes\n")
        sys.stdout.flush()
        await respond(send, 200, ("%s %s %s\n" % (
            sys.stdout.encoding, sys.stdout.isatty(),
            sys.stderr.name)).encode())
    elif kind == "executable":
        import subprocess
        out = subprocess.run([sys.executable, "-c", "print('ok')"],
                             capture_output=True, text=True).stdout.strip()
        await respond(send, 200, ("%s %s\n" % (sys.executable, out)).encode())
    elif kind == "settz":
        # P5: what Django does with its TIME_ZONE
        import time
        os.environ["TZ"] = "Etc/GMT-14"
        time.tzset()
        logging.getLogger("rawapp").warning("logged after the app's tzset")
        await respond(send, 200, ("TZ=%s\n" % os.environ["TZ"]).encode())
    elif kind == "dispatched":
        record("dispatched")
        await respond(send, 200, b"dispatched\n")
    elif kind == "raise":
        raise ValueError("the Python test app raised")
    else:
        await respond(send, 404, b"no such test\n")
