"""Quits nginx, then keeps its worker busy: t/websocket.t's W15 blocks.

Usage: quit_then_block.py PORT SERVROOT PATH

A request to PATH (an inline app that holds the nginx thread) is begun on
a connection opened before the quit, so the quit does not close it as
idle; once the worker logged the quit's start, the request is completed.
The worker is then busy while its shutdown timers expire: they run in
one pass over the timers when it is free again.
"""
import os
import signal
import socket
import sys
import time


def main() -> None:
    port, servroot, path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    log = os.path.join(servroot, "logs", "error.log")
    start = os.path.getsize(log)
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET %s HTTP/1.1\r\n" % path.encode())
    with open(os.path.join(servroot, "logs", "nginx.pid")) as f:
        os.kill(int(f.read()), signal.SIGQUIT)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with open(log, "rb") as f:
            f.seek(start)
            if b"gracefully shutting down" in f.read():
                break
        time.sleep(0.002)
    else:
        sys.exit("the worker never logged the quit")
    s.sendall(b"Host: localhost\r\n\r\n")
    s.settimeout(10)
    try:
        while s.recv(65536):
            pass
    except OSError:
        pass


if __name__ == "__main__":
    main()
