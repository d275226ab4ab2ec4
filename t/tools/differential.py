#!/usr/bin/python3
"""Differential tests against uvicorn: the same raw HTTP/1.1
exchanges go to an app under the module and under uvicorn (Debian's,
h11); what each app observed (t/apps/python/observe.py answers it as JSON)
and what each client got are compared. Every difference must be on the
allow-list below, with its reason (docs/python.md explains them).

    differential.py MODULE_PORT APPS_DIR MODULE_RECORD
(MODULE_RECORD: the file the module's app records early closes in.)
Prints one line per unexplained difference, then a summary.
"""
import json
import os
import socket
import subprocess
import sys
import time

CRLF = b"\r\n"


def req(line, headers=(), body=b"", host=True):
    head = line + CRLF
    if host:
        head += b"Host: example.test" + CRLF
    for h in headers:
        head += h + CRLF
    return head + b"Connection: close" + CRLF + CRLF + body


def chunked(*parts):
    out = b""
    for p in parts:
        out += b"%x\r\n%s\r\n" % (len(p), p)
    return out + b"0\r\n\r\n"


# name -> (app, raw bytes, {field: reason} of allowed differences)
NORMALIZED = "nginx normalizes the path (// merged, . and .. resolved, " \
    "%2F decoded); raw_path is the same"
CORPUS = [
    ("get root", "raw", req(b"GET / HTTP/1.1"), {}),
    ("path and query", "raw", req(b"GET /a/b/c?x=1&y=2&x=3 HTTP/1.1"), {}),
    ("escapes and UTF-8", "raw",
     req(b"GET /%7Euser/caf%C3%A9/%E2%82%AC?q=%20a+b HTTP/1.1"), {}),
    ("invalid UTF-8", "raw", req(b"GET /x/%FF%C3/%ED%A0%80 HTTP/1.1"), {}),
    ("raw UTF-8 bytes", "raw", req("GET /d\u00e9j\u00e0 HTTP/1.1".encode()),
     {"status": "nginx takes unescaped UTF-8 bytes in the request target "
                "(browsers send them escaped); h11 refuses them (400)"}),
    ("double slashes", "raw", req(b"GET //a//b HTTP/1.1"),
     {"path": NORMALIZED}),
    ("dot segments", "raw", req(b"GET /a/./b/../c HTTP/1.1"),
     {"path": NORMALIZED}),
    ("encoded slash", "raw", req(b"GET /a%2Fb HTTP/1.1"), {}),
    ("empty query", "raw", req(b"GET /q? HTTP/1.1"), {}),
    ("query only escapes", "raw", req(b"GET /q?a=%26%3D&b=%ZZ HTTP/1.1"),
     {}),
    ("post length", "raw",
     req(b"POST /p HTTP/1.1", [b"Content-Length: 10"], b"0123456789"), {}),
    ("post chunked", "raw",
     req(b"POST /p HTTP/1.1", [b"Transfer-Encoding: chunked"],
         chunked(b"hello ", b"world")), {}),
    ("post empty", "raw", req(b"PUT /p HTTP/1.1", [b"Content-Length: 0"]), {}),
    ("post large", "raw",
     req(b"POST /p HTTP/1.1", [b"Content-Length: 300000"], b"z" * 300000),
     {}),
    ("expect 100-continue", "raw",
     req(b"POST /p HTTP/1.1", [b"Content-Length: 5",
                              b"Expect: 100-continue"], b"abcde"), {}),
    ("delete and options", "raw", req(b"DELETE /thing/1 HTTP/1.1"), {}),
    ("patch", "raw",
     req(b"PATCH /thing/1 HTTP/1.1", [b"Content-Length: 2"], b"{}"), {}),
    ("duplicate headers", "raw",
     req(b"GET / HTTP/1.1", [b"X-A: 1", b"X-A: 2", b"x-b: "]), {}),
    ("header case", "raw", req(b"GET / HTTP/1.1", [b"X-MiXeD: VaLuE"]), {}),
    ("header with underscore", "raw",
     req(b"GET / HTTP/1.1", [b"X_Forwarded: 1"]),
     {"headers": "nginx drops header names with underscores unless "
                 "underscores_in_headers on"}),
    ("long header", "raw",
     req(b"GET / HTTP/1.1", [b"Cookie: " + b"c" * 6000]), {}),
    ("http/1.0 without host", "raw",
     req(b"GET /ten HTTP/1.0", host=False), {}),
    ("absolute form", "raw",
     req(b"GET http://example.test/abs?x=1 HTTP/1.1"),
     {"path": "nginx takes the path of an absolute-form target; uvicorn "
              "(h11) keeps the whole URL",
      "raw_path": "the same"}),
    ("lowercase method", "raw", req(b"get / HTTP/1.1"),
     {"status": "nginx refuses a method that is not upper case (400)"}),
    ("content-length and chunked", "raw",
     req(b"POST /p HTTP/1.1", [b"Content-Length: 5",
                              b"Transfer-Encoding: chunked"],
         chunked(b"abc")),
     {"status": "nginx refuses both framings at once (400), as RFC 9112 "
                "allows; h11 reads the chunked body"}),
    ("starlette path and query", "star",
     req(b"GET /s/caf%C3%A9?a=1&a=2&b=%20 HTTP/1.1"), {}),
    ("starlette form post", "star",
     req(b"POST /form HTTP/1.1",
         [b"Content-Type: application/x-www-form-urlencoded",
          b"Content-Length: 7"], b"a=1&b=2"), {}),
    ("starlette chunked", "star",
     req(b"PUT /up HTTP/1.1", [b"Transfer-Encoding: chunked"],
         chunked(b"x" * 1000, b"y" * 10)), {}),
    ("fastapi path", "fast", req(b"GET /items/%E2%9C%93?q=1 HTTP/1.1"), {}),
    ("fastapi post", "fast",
     req(b"POST /items HTTP/1.1", [b"Content-Length: 3"], b"abc"), {}),
]

# Under Apache httpd (ASGI_SERVER=apache, the harness's backend): what
# Apache's HTTP parser does differently, and allowed the same way.
if os.environ.get("ASGI_SERVER") == "apache":
    _APACHE = {
        "duplicate headers": {
            "headers": "Apache merges a repeated request header into one, "
                       "comma-separated (RFC 9110 5.3 makes them the same)"},
        "content-length and chunked": {
            "headers": "Apache drops the Content-Length of a chunked "
                       "request (RFC 9112 6.3), where h11 keeps it"},
    }
    CORPUS = [(name, app, raw, dict(allowed, **_APACHE.get(name, {})))
              for name, app, raw, allowed in CORPUS]

PIPELINED = b"".join([
    b"GET /one HTTP/1.1\r\nHost: x\r\n\r\n",
    b"POST /two HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
    b"GET /three HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
])


def exchange(port, data, timeout=10):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(data)
    out = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    s.close()
    return out


def responses(raw):
    """(status, body) of each response in `raw`."""
    found = []
    while raw:
        head, sep, rest = raw.partition(b"\r\n\r\n")
        if not sep:
            break
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(b":")
            headers[k.strip().lower()] = v.strip()
        if status == 100:
            raw = rest
            continue
        if b"content-length" in headers:
            n = int(headers[b"content-length"])
            body, raw = rest[:n], rest[n:]
        elif headers.get(b"transfer-encoding") == b"chunked":
            body = b""
            while True:
                size_line, _, rest = rest.partition(b"\r\n")
                size = int(size_line.split(b";")[0] or b"0", 16)
                if size == 0:
                    rest = rest.partition(b"\r\n")[2]
                    break
                body += rest[:size]
                rest = rest[size + 2:]
            raw = rest
        else:
            body, raw = rest, b""
        found.append((status, body))
    return found


def observed(body):
    try:
        value = json.loads(body)
    except ValueError:
        return None
    if isinstance(value, dict):
        value.pop("server_port", None)  # two servers, two ports
        if "headers" in value:
            # the connection's own header differs in case only
            value["headers"] = [h for h in value["headers"]
                                if h[0] != "connection"]
    return value


def compare(a, b):
    """Fields that differ between two observations."""
    if a is None or b is None or not isinstance(a, dict):
        return [] if a == b else ["body"]
    return sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))


# Clients that leave mid-body: what the app saw (observe.py records it)
EARLY = [
    ("early close mid-body",
     b"POST /e HTTP/1.1\r\nHost: x\r\nX-Case: length\r\n"
     b"Content-Length: 100\r\n\r\n0123456789"),
    ("early close mid-chunks",
     b"POST /e HTTP/1.1\r\nHost: x\r\nX-Case: chunks\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n"),
]


def early(port, data):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(data)
    time.sleep(0.3)
    s.close()


def recorded(path, case):
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            with open(path) as f:
                for line in f:
                    entry = json.loads(line)
                    if entry["case"] == case:
                        return entry
        except OSError:
            pass
        time.sleep(0.05)
    return None


def start_uvicorn(apps_dir, app, port, record):
    p = subprocess.Popen(
        ["/usr/bin/python3", "-m", "uvicorn", "observe:" + app,
         "--app-dir", apps_dir, "--host", "127.0.0.1", "--port", str(port),
         "--http", "h11", "--loop", "asyncio", "--log-level", "error",
         "--no-access-log"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env=dict(os.environ, OBSERVE_RECORD=record))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return p
        except OSError:
            time.sleep(0.05)
    p.kill()
    raise SystemExit("uvicorn did not start")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main():
    module_port, apps_dir, module_record = \
        int(sys.argv[1]), sys.argv[2], sys.argv[3]
    port = free_port()
    uvicorn_record = module_record + ".uvicorn"
    uvicorn = start_uvicorn(apps_dir, "app", port, uvicorn_record)
    try:
        unexplained = allowed = same = 0
        cases = list(CORPUS) + [("pipelined", "raw", PIPELINED, {})]
        for name, app, data, allow in cases:
            if app != "raw":  # observe:app picks the framework by header
                data = data.replace(b"\r\n", b"\r\nX-Observe: %s\r\n"
                                    % app.encode(), 1)
            got_m = responses(exchange(module_port, data))
            got_u = responses(exchange(port, data))
            diffs = []
            if [s for s, _ in got_m] != [s for s, _ in got_u]:
                diffs.append("status")
            else:
                for (_, bm), (_, bu) in zip(got_m, got_u):
                    diffs += compare(observed(bm), observed(bu))
            diffs = sorted(set(diffs))
            if not diffs:
                same += 1
                continue
            surprise = [d for d in diffs if d not in allow]
            if surprise:
                unexplained += 1
                print("UNEXPLAINED %s: %s\n  module:  %r\n  uvicorn: %r"
                      % (name, ", ".join(surprise),
                         [(s, observed(b)) for s, b in got_m],
                         [(s, observed(b)) for s, b in got_u]))
            else:
                allowed += 1
                print("allowed %s: %s" % (name, "; ".join(
                    "%s (%s)" % (d, allow[d]) for d in diffs)))
        for name, data in EARLY:
            case = data.split(b"X-Case: ")[1].split(b"\r\n")[0].decode()
            early(module_port, data)
            early(port, data)
            m = recorded(module_record, case)
            u = recorded(uvicorn_record, case)
            if m is not None and m == u:
                same += 1
            else:
                unexplained += 1
                print("UNEXPLAINED %s:\n  module:  %r\n  uvicorn: %r"
                      % (name, m, u))
        print("%d exchanges: %d the same, %d allowed differences, %d "
              "unexplained" % (len(cases) + len(EARLY), same, allowed,
                               unexplained))
    finally:
        uvicorn.terminate()
        uvicorn.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
