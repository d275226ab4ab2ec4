#!/usr/bin/python3
"""Writes the seed corpus of t/fuzz (corpus/*.bin): the sequences of the
unit tests (t/unit), as programs of program.cpp. Each op is its byte and
its arguments, in the order program.cpp reads them."""
import os
import sys

OPEN, FEED, DISC, READY, WMODE, ADV, PROC, REL, DISP, RECV, START, BODY, \
    TRAIL, FIN, HOLD, DROP, LOG, STATE, BATCH = range(19)

# open flags: 1 ignore abort, 2 body on demand, 4 client gone, 8 threaded,
# 16 HEAD; grace in the top bits: 0 default, 64 none, 128 100 ms, 192 1 s
THREADED, HEAD, ON_DEMAND, GONE, IGNORE = 8, 16, 2, 4, 1
GRACE0, GRACE100 = 64, 128
# status indexes: 0 200, 1 204, 2 205, 3 304, 4 100, 5 101, 9 999, 10 1000
# header picks: index + 16 * count (0 content-type, 1 cl 5, 2 cl 0,
# 3 "5, 5", 4 cl 6, 5 cl x, 6 tab, 7 CRLF, 8 control, 9 bad name)


def op(*b):
    return bytes(b)


def open_(slot=0, flags=0, path=0):
    return op(OPEN, slot, flags, path)


def feed(n, more, slot=0):
    return op(FEED, n, more, slot)


def start(status=0, headers=16, trailers=0, who=0):
    return op(START, status, headers, trailers, who)


def body(n, more, who=0):
    return op(BODY, n, more, who)


def respond(who=0):
    return start(who=who) + body(2, 0, who)


HDR = op(100, 0)  # body_buffer_limit 164, send_buffer_limit 0

SEEDS = {
    "get_inline": HDR + open_() + feed(0, 0) + op(RECV, 0) + respond()
    + op(FIN, 0, 0) + op(PROC) + op(REL, 0),
    "get_threaded": HDR + open_(flags=THREADED) + op(DISP) + feed(0, 0)
    + op(DISP, RECV, 0) + respond() + op(FIN, 0, 0) + op(PROC, DISP)
    + op(REL, 0),
    "body_chunks_and_backpressure": op(20, 4) + open_() + feed(100, 1)
    + feed(100, 1) + op(RECV, 0, RECV, 0) + op(PROC) + feed(10, 0)
    + op(RECV, 0) + respond() + op(FIN, 0, 0) + op(REL, 0),
    "disconnect_grace_cancel": HDR + open_(flags=GRACE100) + feed(50, 1)
    + op(DISC, 1, 0) + op(RECV, 0, RECV, 0) + op(ADV, 4) + op(FIN, 1, 0)
    + op(REL, 0),
    "disconnect_cleanup_within_grace": HDR + open_(flags=GRACE100)
    + feed(0, 0) + op(RECV, 0, RECV, 0) + op(DISC, 2, 0) + op(RECV, 0)
    + op(FIN, 0, 0) + op(ADV, 10) + op(REL, 0),
    "slow_client": HDR + open_() + feed(0, 0) + op(WMODE, 1, 0) + start()
    + body(7, 1) + op(PROC) + body(7, 1) + op(READY, 0) + body(7, 0)
    + op(READY, 0) + op(FIN, 0, 0) + op(REL, 0),
    "write_error": HDR + open_() + feed(0, 0) + op(WMODE, 2, 0) + start()
    + body(7, 1) + body(3, 0) + op(FIN, 0, 0) + op(REL, 0),
    "late_calls_on_a_held_scope": HDR + open_(flags=THREADED) + op(DISP)
    + op(HOLD, 0) + feed(0, 0) + op(DISP) + respond() + op(FIN, 0, 0)
    + op(PROC) + op(REL, 0) + op(RECV, 0) + body(4, 0) + op(FIN, 1, 0)
    + op(DROP, 0),
    "content_length_long_short_bad": HDR + open_() + feed(0, 0)
    + start(headers=16 + 1) + op(PROC) + body(7, 0) + op(FIN, 1, 0)
    + op(REL, 0) + open_(1) + feed(0, 0, 1) + start(headers=16 + 4)
    + body(2, 0) + op(FIN, 0, 0) + op(REL, 1) + open_(2) + feed(0, 0, 2)
    + start(headers=32 + 4) + op(FIN, 1, 0) + op(REL, 2),
    "bodyless_statuses": HDR + open_() + feed(0, 0) + start(status=2)
    + body(5, 0) + op(FIN, 0, 0) + op(REL, 0) + open_(flags=HEAD)
    + feed(0, 0) + start(headers=16 + 1) + body(5, 0) + op(FIN, 0, 0)
    + op(REL, 0),
    "final_1xx_and_bad_headers": HDR + open_() + feed(0, 0) + start(status=4)
    + op(FIN, 1, 0) + op(REL, 0) + open_() + feed(0, 0) + start(headers=16 + 7)
    + op(FIN, 1, 0) + op(REL, 0),
    "client_gone_before_open": HDR + open_(flags=GONE | THREADED)
    + op(DISP, PROC) + op(REL, 0),
    "body_on_demand": HDR + open_(flags=ON_DEMAND) + feed(10, 1)
    + op(RECV, 0) + op(PROC) + feed(10, 0) + op(RECV, 0) + respond()
    + op(FIN, 0, 0) + op(REL, 0),
    "abandoned_then_cancelled": HDR + open_(flags=GRACE100 | THREADED)
    + op(DISP) + feed(0, 0) + op(REL, 0) + op(DISP) + op(ADV, 4) + op(DISP)
    + op(RECV, 0) + op(FIN, 1, 0),
    "ignore_client_abort": HDR + open_(flags=IGNORE) + feed(0, 0)
    + op(DISC, 1, 0) + respond() + op(FIN, 0, 0) + op(REL, 0),
    "trailers": HDR + open_() + feed(0, 0) + start(trailers=1) + body(3, 0)
    + op(TRAIL, 0, 6, 0) + op(FIN, 0, 0) + op(REL, 0),
    "two_scopes_two_apps": HDR + open_(0) + open_(1, THREADED) + feed(0, 0, 0)
    + feed(5, 0, 1) + op(DISP) + respond(0) + op(DISC, 5, 1) + op(DISP)
    + op(FIN, 0, 0) + op(FIN, 0, 0) + op(PROC) + op(REL, 0, REL, 1),
    "logs_states_batches": HDR + open_(flags=THREADED) + op(DISP)
    + op(BATCH) + op(LOG, 1, 1, 1, 0) + op(STATE, 1) + respond()
    + op(BATCH) + op(LOG, 3, 1, 1, 0) + op(FIN, 0, 0) + op(PROC)
    + op(REL, 0) + op(STATE, 2),
    "release_in_flight": HDR + open_() + feed(40, 1) + op(WMODE, 1, 0)
    + start() + body(5, 1) + op(REL, 0) + body(5, 0) + op(FIN, 0, 0),
    "timeout_reason": HDR + open_(flags=GRACE0) + feed(10, 1)
    + op(DISC, 7, 0) + op(RECV, 0) + op(FIN, 0, 0) + op(REL, 0),
}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "corpus")
    os.makedirs(out, exist_ok=True)
    for name, program in SEEDS.items():
        with open(os.path.join(out, name + ".bin"), "wb") as f:
            f.write(program)
    print("%d seeds in %s" % (len(SEEDS), out))


if __name__ == "__main__":
    main()
