"""asgi_status?format=prometheus read by a strict parser of the Prometheus
text exposition format (0.0.4), its figures compared with the JSON form.

    prom_check.py PORT PATH N   sends N requests to PATH, then checks
"""
import json
import time
import re
import sys
import urllib.request

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(r"(%s)(\{%s(?:,%s)*\})? (\S+)$" % (NAME, LABEL, LABEL))
HELP = re.compile(r"# HELP (%s) (.*)$" % NAME)
TYPE = re.compile(r"# TYPE (%s) (counter|gauge|histogram|summary|untyped)$"
                  % NAME)


def parse(text):
    """{(name, labels): value}; raises ValueError on any grammar error."""
    if not text.endswith("\n"):
        raise ValueError("no final line feed")
    samples, typed, helped, seen, current = {}, {}, set(), set(), None
    for n, line in enumerate(text[:-1].split("\n"), 1):
        m = HELP.match(line)
        if m:
            if m.group(1) in helped:
                raise ValueError("line %d: a second HELP" % n)
            helped.add(m.group(1))
            continue
        m = TYPE.match(line)
        if m:
            if m.group(1) in typed or m.group(1) in seen:
                raise ValueError("line %d: TYPE twice or after samples" % n)
            typed[m.group(1)] = m.group(2)
            continue
        if line.startswith("#"):
            raise ValueError("line %d: a comment that is neither" % n)
        m = SAMPLE.match(line)
        if not m:
            raise ValueError("line %d: not a sample: %r" % (n, line))
        name, labels, value = m.groups()
        if name != current and name in seen:
            raise ValueError("line %d: %s's samples are not together"
                             % (n, name))
        if name not in typed:
            raise ValueError("line %d: %s has no TYPE" % (n, name))
        if typed[name] == "counter" and not name.endswith("_total"):
            raise ValueError("line %d: a counter not named _total" % n)
        current = name
        seen.add(name)
        float(value)
        key = (name, labels or "")
        if key in samples:
            raise ValueError("line %d: a sample twice" % n)
        samples[key] = float(value)
    return samples


def get(port, path):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path)) as r:
        return r.headers.get("Content-Type"), r.read().decode()


def main():
    port, path, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    for _ in range(n):
        get(port, path)
    # a response reaches the client before its scope is released (and,
    # under Apache, before the child's status slot says so): wait for the
    # figures to settle, then take both formats
    deadline = time.monotonic() + 10
    while json.loads(get(port, "/_asgi_status?format=json")[1])["live"]:
        if time.monotonic() > deadline:
            break
        time.sleep(0.01)
    ctype, text = get(port, "/_asgi_status?format=prometheus")
    _, body = get(port, "/_asgi_status?format=json")
    figures = json.loads(body)
    samples = parse(text)
    want = {
        ("asgi_requests_total", '{outcome="complete"}'):
            figures["completed"],
        ("asgi_requests_total", '{outcome="client_disconnected"}'):
            figures["disconnected"],
        ("asgi_requests_total", '{outcome="app_error"}'):
            figures["app_errors"],
        ("asgi_opened_total", ""): figures["opened"],
        ("asgi_live_scopes", ""): figures["live"],
        ("asgi_cancels_total", ""): figures["cancelled"],
        ("asgi_workers", ""): len(figures["workers"]),
    }
    for reason, count in figures["disconnects"].items():
        want[("asgi_disconnects_total", '{reason="%s"}' % reason)] = count
    for app in figures["apps"]:
        for state, count in app["workers"].items():
            want[("asgi_app_workers", '{app="%s",state="%s"}'
                  % (app["app"], state))] = count
    for key, value in want.items():
        if samples.get(key) != value:
            print("%s%s is %s, the JSON says %s"
                  % (key[0], key[1], samples.get(key), value))
            return 1
    states = [k[1] for k in samples if k[0] == "asgi_app_state"]
    print("content type:", ctype)
    print("%d samples, grammar ok, figures agree with the JSON; "
          "completed %d" % (len(samples), figures["completed"]))
    print("app states:", " ".join(sorted(states)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
