#!/usr/bin/python3
"""HTTP/2 client for the t/ suites (Debian's python3-h2), for what curl
cannot do: reset one stream of several, or drop a connection that carries
several streams.

    h2client.py PORT rst-one PATH_RESET PATH_KEEP...
        opens one stream per path; after 0.2 s resets the first with
        RST_STREAM(CANCEL); prints "<path> <status> <body>" for the others
    h2client.py PORT drop PATH...
        opens one stream per path; after 0.2 s closes the connection
    h2client.py PORT get PATH...
        one stream per path, with the protocol's default 65,535-byte
        window; prints "<path> <status> <body length> ended|reset"
"""
import socket
import sys
import time

import h2.config
import h2.connection
import h2.events
import h2.errors


def main():
    port, mode, paths = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
    sock = socket.create_connection(("127.0.0.1", port))
    conn = h2.connection.H2Connection(
        config=h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    streams = {}
    for path in paths:
        sid = conn.get_next_available_stream_id()
        conn.send_headers(sid, [(":method", "GET"), (":path", path),
                                (":scheme", "http"),
                                (":authority", "localhost")],
                          end_stream=True)
        streams[sid] = {"path": path, "status": None, "body": b"",
                        "ended": False}
    sock.sendall(conn.data_to_send())

    reset_at = time.monotonic() + 0.2 if mode != "get" else None
    first = min(streams)
    if mode == "rst-one":
        streams[first]["ended"] = True
    sock.settimeout(0.05)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if reset_at and time.monotonic() >= reset_at:
            reset_at = None
            if mode == "drop":
                sock.close()
                return 0
            conn.reset_stream(first, h2.errors.ErrorCodes.CANCEL)
            sock.sendall(conn.data_to_send())
        if all(s["ended"] for s in streams.values()) and reset_at is None:
            break
        try:
            data = sock.recv(65536)
        except socket.timeout:
            continue
        if not data:
            break
        for ev in conn.receive_data(data):
            sid = getattr(ev, "stream_id", None)
            if isinstance(ev, h2.events.ResponseReceived):
                streams[sid]["status"] = dict(ev.headers)[b":status"].decode()
            elif isinstance(ev, h2.events.DataReceived):
                streams[sid]["body"] += ev.data
                conn.acknowledge_received_data(ev.flow_controlled_length, sid)
            elif isinstance(ev, h2.events.StreamEnded):
                streams[sid]["ended"] = True
            elif isinstance(ev, h2.events.StreamReset):
                streams[sid]["ended"] = True
                streams[sid]["reset"] = True
        out = conn.data_to_send()
        if out:
            sock.sendall(out)
    for sid in sorted(streams):
        if mode == "rst-one" and sid == first:
            continue
        s = streams[sid]
        if mode == "get":
            print(s["path"], s["status"], len(s["body"]),
                  "reset" if s.get("reset") else
                  "ended" if s["ended"] else "unfinished")
            continue
        print(s["path"], s["status"], s["body"].decode().strip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
