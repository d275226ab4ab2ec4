"""asgi_status across worker processes (t/status.t): the server's totals
equal the requests sent, with the workers' own figures adding up to them,
before and after a reload that a request in flight outlives, and after a
worker is killed. Prints one line per check; any failure exits 1.

usage: fleet_check.py PORT SERVROOT WORKERS [failed-reload]
(failed-reload: a reload that cannot bind a port leaves the running
workers current)
"""
import json
import os
import signal
import socket
import struct
import sys
import threading
import time
import urllib.request
from typing import Any, Callable, Dict

Status = Dict[str, Any]
RELOAD = signal.SIGHUP
FIELDS = ("live", "opened", "completed", "disconnected", "cancelled",
          "app_errors", "not_dispatched", "running_apps", "abandoned")


def get(port: int, path: str) -> str:
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path),
                                timeout=30) as r:
        return r.read().decode()


def status(port: int) -> Status:
    return json.loads(get(port, "/_asgi_status?format=json"))


def await_status(port: int, what: str, ok: Callable[[Status], bool],
                 deadline: float = 30) -> Status:
    end = time.monotonic() + deadline
    while True:
        s = status(port)
        if ok(s):
            return s
        if time.monotonic() > end:
            print("not ok: %s; the status says %s" % (what, json.dumps(s)))
            sys.exit(1)
        time.sleep(0.05)


def totals(s: Status, **want: int) -> bool:
    return all(s[k] == v for k, v in want.items())


def add_up(s: Status) -> bool:
    """The gauges are the sum of the workers' (exited workers' totals
    stay in the counters, so those are at least the sum)."""
    for f in FIELDS:
        workers = sum(w[f] for w in s["workers"])
        if f in ("live", "running_apps"):
            if s[f] != workers:
                return False
        elif s[f] < workers:
            return False
    return True


def failed_reload(port: int, servroot: str, nworkers: int,
                  master: int) -> int:
    await_status(port, "%d workers report" % nworkers,
                 lambda s: len(s["workers"]) == nworkers)
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    conf = os.path.join(servroot, "conf/nginx.conf")
    text = open(conf).read()
    first = "listen 127.0.0.1:%d;" % port
    open(conf, "w").write(text.replace(
        first, "%s listen 127.0.0.1:%d;" % (first, taken.getsockname()[1]),
        1))
    log = os.path.join(servroot, "logs/error.log")
    os.kill(master, signal.SIGHUP)
    end = time.monotonic() + 30
    while "bind() to 127.0.0.1:%d failed" % taken.getsockname()[1] \
            not in open(log, errors="replace").read():
        if time.monotonic() > end:
            print("not ok: the reload did not fail")
            return 1
        time.sleep(0.05)
    print("ok the reload failed: bind() to the taken port")
    open(conf, "w").write(text)
    # the old configuration runs on: its workers stay current
    time.sleep(0.5)
    s = await_status(port, "the workers are still current",
                     lambda s: len(s["workers"]) == nworkers
                     and all(w["current"] for w in s["workers"])
                     and s["apps"][0]["workers"]["ready"] == nworkers)
    print("ok %d workers, all of the running configuration; %s ready in %d"
          % (len(s["workers"]), s["apps"][0]["app"],
             s["apps"][0]["workers"]["ready"]))
    return 0


def main() -> int:
    port, servroot, nworkers = (int(sys.argv[1]), sys.argv[2],
                                int(sys.argv[3]))
    global RELOAD
    apache = os.path.exists(os.path.join(servroot, "logs/httpd.pid"))
    master = int(open(os.path.join(
        servroot, "logs/httpd.pid" if apache else "logs/nginx.pid")).read())
    # Apache's graceful restart is nginx's reload
    RELOAD = signal.SIGUSR1 if apache else signal.SIGHUP
    if sys.argv[4:] == ["failed-reload"]:
        return failed_reload(port, servroot, nworkers, master)

    s = await_status(port, "%d workers report" % nworkers,
                     lambda s: len(s["workers"]) == nworkers
                     and all(w["current"] for w in s["workers"]))
    print("ok %d workers report, all of the running configuration"
          % len(s["workers"]))

    for i in range(40):
        assert get(port, "/py/hello") == "Hello from Python\n"
    # three clients that leave with a reset while their app waits
    for i in range(3):
        c = socket.create_connection(("127.0.0.1", port))
        c.sendall(b"GET /py/wait?ms=3000 HTTP/1.1\r\nHost: t\r\n\r\n")
        await_status(port, "the request is opened",
                     lambda s, n=41 + i: s["opened"] == n)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                     struct.pack("ii", 1, 0))
        c.close()
    # (the app ignores the disconnect: cancelled after the grace period,
    # or disconnected when it had not started)
    s = await_status(port, "43 requests counted: 40 complete, 3 left",
                     lambda s: totals(s, opened=43, completed=40, live=0)
                     and s["disconnected"] + s["cancelled"] == 3
                     and sum(s["disconnects"].values()) == 3)
    served = sum(1 for w in s["workers"] if w["opened"])
    if not add_up(s):
        print("not ok: the workers' figures do not add up: %s" % s)
        return 1
    print("ok totals: opened 43 = completed 40 + disconnected or cancelled "
          "3 (clients left: %s), live 0; %d workers served them and add up"
          % (", ".join("%s %d" % kv for kv in s["disconnects"].items()
                       if kv[1]), served))

    # a request in flight while the server reloads: its old worker keeps
    # it, shown as exiting, then leaves no live count behind
    answer: Dict[str, str] = {}
    flight = threading.Thread(
        target=lambda: answer.update(body=get(port, "/py/wait?ms=1500")))
    flight.start()
    await_status(port, "the request in flight is live",
                 lambda s: s["live"] == 1)
    os.kill(master, RELOAD)
    s = await_status(port, "an exiting worker holds the request",
                     lambda s: any(not w["current"] and w["live"] == 1
                                   for w in s["workers"]), deadline=10)
    print("ok after the reload an exiting worker holds the live request")
    flight.join()
    if answer.get("body") != "waited\n":
        print("not ok: the request in flight got %r" % answer.get("body"))
        return 1
    s = await_status(port, "the old workers are gone, totals kept",
                     lambda s: len(s["workers"]) == nworkers
                     and all(w["current"] for w in s["workers"])
                     and totals(s, opened=44, completed=41, live=0,
                                running_apps=0))
    print("ok reloaded: %d new workers; opened 44, completed 41, live 0"
          % len(s["workers"]))

    for i in range(20):
        assert get(port, "/py/hello") == "Hello from Python\n"
    s = await_status(port, "20 more after the reload",
                     lambda s: totals(s, opened=64, completed=61, live=0))
    if not add_up(s):
        print("not ok: the workers' figures do not add up: %s" % s)
        return 1
    print("ok 20 more: opened 64, completed 61")

    # a worker killed outright: its totals stay, its slot is freed
    victim = max(s["workers"], key=lambda w: w["opened"])["pid"]
    os.kill(victim, signal.SIGKILL)
    s = await_status(port, "the killed worker is replaced",
                     lambda s: len(s["workers"]) == nworkers
                     and victim not in [w["pid"] for w in s["workers"]]
                     and totals(s, opened=64, completed=61, live=0))
    print("ok a killed worker's requests stay counted: opened 64, "
          "completed 61, %d workers" % len(s["workers"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
