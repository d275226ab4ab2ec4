#!/usr/bin/python3
"""Raw-socket clients for t/safety.t: what a plain request cannot do.

    probe.py late PORT OP        L6: a task outlives GET /late?op=OP while
                                 another client's POST is in flight
    probe.py pipeline PORT A B   two requests on one connection, pipelined
    probe.py readsome PORT PATH N  reads N bytes of the response, then
                                 closes
    probe.py upload PORT PATH N fin|rst  sends the head and N body bytes
                                 of a larger upload, then closes
    probe.py expect PORT PATH N  an upload with "Expect: 100-continue"
    probe.py fin PORT PATH K     K requests, each sent with its FIN
    probe.py head PORT PATH      when the status line and the body come
    probe.py reuse PORT PATH N   an N-byte upload, then a second request on
                                 the same connection

Each prints what a test compares, one fact per line.
"""
import socket
import sys
import time


def connect(port):
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(10)
    return s


def read_all(s, limit=10.0):
    data = b""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            chunk = s.recv(65536)
        except (socket.timeout, ConnectionResetError):
            break
        if not chunk:
            break
        data += chunk
    return data


def read_response(s):
    """One HTTP/1.1 response: (status, headers, body, rest of the bytes)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            return None, {}, b"", data
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    if "content-length" in headers:
        n = int(headers["content-length"])
        while len(rest) < n:
            chunk = s.recv(65536)
            if not chunk:
                break
            rest += chunk
        return status, headers, rest[:n], rest[n:]
    if headers.get("transfer-encoding") == "chunked":
        body = b""
        while True:
            while b"\r\n" not in rest:
                chunk = s.recv(65536)
                if not chunk:
                    return status, headers, body, b""
                rest += chunk
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            while len(rest) < size + 2:
                chunk = s.recv(65536)
                if not chunk:
                    return status, headers, body + rest, b""
                rest += chunk
            body += rest[:size]
            rest = rest[size + 2:]
            if size == 0:
                return status, headers, body, rest
    return status, headers, rest + read_all(s), b""


def late(port, op):
    a = connect(port)
    a.sendall(b"GET /late?op=%s&wait=0.5 HTTP/1.1\r\nHost: x\r\n"
              b"Connection: close\r\n\r\n" % op.encode())
    status, _, body, _ = read_response(a)
    print(status, body.decode().strip())
    a.close()
    # Another client's upload, in flight while the late task calls.
    body = b"".join(b"%06d:" % i for i in range(3000))
    b = connect(port)
    b.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
              b"Content-Length: %d\r\n\r\n" % len(body) + body[:10000])
    time.sleep(0.8)
    b.sendall(body[10000:])
    status, _, echoed, _ = read_response(b)
    print(status, "posted body intact" if echoed == body
          else "posted body LOST (%d of %d bytes)" % (len(echoed), len(body)))


def pipeline(port, first, second):
    """What a keep-alive client sees: the first response as its head
    frames it, then whatever else the connection carries."""
    s = connect(port)
    s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n"
              b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
              % (first.encode(), second.encode()))
    start = time.monotonic()
    s.settimeout(0.2)
    data = b""
    while time.monotonic() - start < 5:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            continue
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    elapsed = time.monotonic() - start
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = [int(l.split(":")[1]) for l in lines
              if l.lower().startswith("content-length:")]
    n = length[0] if length else len(rest)
    print("first", lines[0], "body", rest[:n])
    print("then", "closed" if elapsed < 4 else "hung")
    print("after it", rest[n:][:60])


def responses(port, first, second):
    """Two pipelined requests, each response read as its own head frames
    it: the second must be the second request's answer."""
    s = connect(port)
    s.settimeout(5)
    s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n"
              b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
              % (first.encode(), second.encode()))
    rest = b""
    for _ in range(2):
        status, headers, body, rest = read_response(_Prefixed(s, rest))
        print(status, body)


class _Prefixed:
    """A socket whose first recv() returns bytes read before."""

    def __init__(self, sock, data):
        self.sock, self.data = sock, data

    def recv(self, n):
        if self.data:
            data, self.data = self.data, b""
            return data
        return self.sock.recv(n)


def readsome(port, path, n):
    s = connect(port)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
              % path.encode())
    got = 0
    while got < n:
        chunk = s.recv(min(4096, n - got))
        if not chunk:
            break
        got += len(chunk)
    time.sleep(0.2)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
    s.close()
    print("read", got >= n)


def upload(port, path, n, how):
    s = connect(port)
    s.sendall(b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
              % (path.encode(), n * 4))
    s.setblocking(False)
    sent, chunk = 0, b"u" * 65536
    deadline = time.monotonic() + 2
    while sent < n and time.monotonic() < deadline:
        try:
            sent += s.send(chunk[:n - sent])
        except BlockingIOError:
            time.sleep(0.01)
    time.sleep(0.3)
    # Reading is paused now; a little more body and the FIN fit in the
    # window (a FIN behind more than the window can take would wait for the
    # body to be read: TCP delivers it in order).
    s.setblocking(True)
    s.sendall(b"u" * 10000)
    if how == "rst":
        # what a client whose data is stuck behind a full window can do;
        # its FIN would wait behind that data
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                     b"\1\0\0\0\0\0\0\0")
    s.close()
    print("sent part of the upload")


def dechunk(data):
    body = b""
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        body += data[:size]
        data = data[size + 2:]
    return body


def expect(port, path, n):
    s = connect(port)
    start = time.monotonic()
    s.sendall(b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n"
              b"Expect: 100-continue\r\nConnection: close\r\n\r\n"
              % (path.encode(), n))
    s.settimeout(3)
    try:
        first = s.recv(65536)
    except socket.timeout:
        first = b""
    waited = time.monotonic() - start
    if first.startswith(b"HTTP/1.1 100 Continue\r\n\r\n"):
        print("100 Continue after %s" % ("0.4 s or more" if waited >= 0.4
                                         else "less than 0.4 s"))
        s.settimeout(10)
        s.sendall(b"b" * n)
        rest = first[len(b"HTTP/1.1 100 Continue\r\n\r\n"):]
        data = rest + read_all(s)
    else:
        print("no 100 Continue")
        data = first + read_all(s)
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    if "transfer-encoding: chunked" in head.decode("latin-1").lower():
        body = dechunk(body)
    print(lines[0])
    print("connection:", [l.split(":", 1)[1].strip() for l in lines
                          if l.lower().startswith("connection:")])
    print("body", body.decode().strip())


def fin(port, path, k):
    for _ in range(k):
        s = connect(port)
        # the request and the FIN in one segment: "a FIN that came with
        # the request" (corked, the kernel sends them together)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
        s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path.encode())
        s.shutdown(socket.SHUT_WR)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 0)
        read_all(s, 5.0)
        s.close()
    print("sent", k)


def head(port, path):
    s = connect(port)
    start = time.monotonic()
    s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
              % path.encode())
    data = b""
    head_at = body_at = None
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
        if head_at is None and b"\r\n\r\n" in data:
            head_at = time.monotonic() - start
        if b"data: 1" in data:
            body_at = time.monotonic() - start
            break
    print(data.split(b"\r\n")[0].decode())
    print("head before the event:", head_at is not None and body_at is not None
          and body_at - head_at > 0.5)


def reuse(port, path, n):
    s = connect(port)
    s.sendall(b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
              % (path.encode(), n))
    s.setblocking(False)
    body, sent = b"r" * n, 0
    deadline = time.monotonic() + 5
    data = b""
    while time.monotonic() < deadline and b"\r\n\r\n" not in data:
        try:
            if sent < n:
                sent += s.send(body[sent:sent + 65536])
        except (BlockingIOError, BrokenPipeError, ConnectionResetError):
            pass
        try:
            data += s.recv(65536)
        except BlockingIOError:
            time.sleep(0.005)
        except ConnectionResetError:
            break
    s.setblocking(True)
    s.settimeout(5)
    head = data.split(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
    print(head[0])
    conn = [l.split(":", 1)[1].strip().lower() for l in head
            if l.lower().startswith("connection:")]
    print("connection:", conn)
    # A client that believes a keep-alive answer sends its next request.
    try:
        s.sendall(b"GET /hello HTTP/1.1\r\nHost: x\r\n"
                  b"Connection: close\r\n\r\n")
        rest = read_all(s, 3.0)
        ok = b"Hello from Python" in rest
    except OSError:
        ok = False
    print("next request on it:", "answered" if ok else
          "not answered" if conn != ["close"] else "not sent (close)")


def main():
    cmd, port = sys.argv[1], int(sys.argv[2])
    args = sys.argv[3:]
    if cmd == "late":
        late(port, args[0])
    elif cmd == "pipeline":
        pipeline(port, args[0], args[1])
    elif cmd == "responses":
        responses(port, args[0], args[1])
    elif cmd == "readsome":
        readsome(port, args[0], int(args[1]))
    elif cmd == "upload":
        upload(port, args[0], int(args[1]), args[2])
    elif cmd == "expect":
        expect(port, args[0], int(args[1]))
    elif cmd == "fin":
        fin(port, args[0], int(args[1]))
    elif cmd == "head":
        head(port, args[0])
    elif cmd == "reuse":
        reuse(port, args[0], int(args[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
