"""make bench: time from the client closing its socket to the app's
receive() returning http.disconnect, for one server.

usage: disconnect_latency.py PORT PREFIX COUNT
Prints "p50_us p99_us samples". Each request waits for the app's first
chunk (so the app is inside receive()), notes CLOCK_MONOTONIC and closes;
the app notes the clock when receive() returns; /collect pairs them up."""
import json
import socket
import sys
import time

port, prefix, count = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
closed = {}
for i in range(count):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET %s/wait?%d HTTP/1.1\r\nHost: bench\r\n\r\n"
              % (prefix.encode(), i))
    got = b""
    while b"ready" not in got:
        chunk = s.recv(4096)
        if not chunk:
            sys.exit("the server closed before the first chunk")
        got += chunk
    closed[str(i)] = time.monotonic()
    s.close()
    time.sleep(0.005)  # let the server settle: one disconnect at a time
time.sleep(0.2)
s = socket.create_connection(("127.0.0.1", port))
s.sendall(b"GET %s/collect HTTP/1.0\r\nHost: bench\r\n\r\n" % prefix.encode())
reply = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    reply += chunk
seen = json.loads(reply.split(b"\r\n\r\n", 1)[1])
lat = sorted((seen[k] - closed[k]) * 1e6 for k in closed if k in seen)
if len(lat) < count * 0.95:
    sys.exit("only %d of %d disconnects reached the app" % (len(lat), count))
print("%.0f %.0f %d" % (lat[len(lat) // 2], lat[min(len(lat) - 1,
                                                     int(len(lat) * 0.99))],
                        len(lat)))
