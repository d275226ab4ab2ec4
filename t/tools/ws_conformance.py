"""WebSocket conformance cases after the Autobahn testsuite's sections 1-7
and 9-10, run against an echo endpoint (every text or binary message sent
back as it came). Client frames are built here byte by byte, so that
malformed ones can be sent; the server's frames are decoded by
python3-wsproto's client-side decoder, which fails on anything a server
may not send (a masked frame, a close code that must not go on the wire,
bad UTF-8 in text).

    ws_conformance.py PORT PATH [-v] [-only REGEX]

Prints the pass count of each section, then every failure, then a total.
A case passes as Autobahn's "OK" (strict), or "NON-STRICT" where Autobahn
allows it (listed): messages echoed exactly, pongs
with the ping's payload, a violation failed with the RFC's close code
(1002, or 1007 for bad UTF-8) as soon as the offending byte arrived, and
every connection closed cleanly by the server after the close handshake.
"""
import base64
import hashlib
import os
import re
import socket
import struct
import sys
import time

from wsproto.frame_protocol import FrameProtocol, Opcode, ParseFailed

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TEXT, BINARY, CLOSE, PING, PONG, CONT = 1, 2, 8, 9, 10, 0


class Failure(Exception):
    pass


class NonStrict(Exception):
    """Autobahn's NON-STRICT: a violation failed the connection before the
    echo of the valid message that came just before it (both arrived
    together; the RFC fails the connection at once)."""


def frame(opcode, payload=b"", fin=True, rsv=0, masked=True, length=None):
    """One client frame; `length` may lie about the payload's length."""
    n = len(payload) if length is None else length
    out = bytearray([(0x80 if fin else 0) | (rsv << 4) | opcode])
    m = 0x80 if masked else 0
    if n < 126:
        out.append(m | n)
    elif n < 65536:
        out += bytes([m | 126]) + struct.pack("!H", n)
    else:
        out += bytes([m | 127]) + struct.pack("!Q", n)
    if not masked:
        return bytes(out) + payload
    key = os.urandom(4)
    out += key
    if payload:
        # XOR in bulk: big payloads (section 9) would be slow byte-wise
        k = int.from_bytes(key * ((len(payload) + 3) // 4), "big")
        k >>= 8 * ((4 - len(payload) % 4) % 4)
        masked_int = int.from_bytes(payload, "big") ^ k
        out += masked_int.to_bytes(len(payload), "big")
    return bytes(out)


def close_payload(code, reason=b""):
    return struct.pack("!H", code) + reason


class Conn:
    def __init__(self, port, path):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        key = base64.b64encode(os.urandom(16))
        self.sock.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\n"
                          b"Host: localhost\r\nUpgrade: websocket\r\n"
                          b"Connection: Upgrade\r\nSec-WebSocket-Key: " +
                          key + b"\r\nSec-WebSocket-Version: 13\r\n\r\n")
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise Failure("no handshake answer")
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101 "):
            raise Failure("handshake: " + head.split(b"\r\n")[0].decode())
        accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
        fields = dict(line.split(b":", 1) for line in head.split(b"\r\n")[1:])
        got = {k.strip().lower(): v.strip() for k, v in fields.items()}
        if got.get(b"sec-websocket-accept") != accept:
            raise Failure("wrong Sec-WebSocket-Accept %r for %r: %r"
                          % (got.get(b"sec-websocket-accept"), key, accept))
        self.proto = FrameProtocol(client=True, extensions=[])
        self.frames = []
        self.eof = False
        if rest:
            self.feed(rest)

    def feed(self, data):
        self.proto.receive_bytes(data)
        try:
            for f in self.proto.received_frames():
                self.frames.append(f)
        except ParseFailed as e:
            raise Failure("the server sent an invalid frame: %s" % e)

    def send(self, data, chunk=None, pause=0.0):
        if chunk is None:
            self.sock.sendall(data)
            return
        for i in range(0, len(data), chunk):
            self.sock.sendall(data[i:i + chunk])
            if pause:
                time.sleep(pause)

    def next_frame(self, timeout=10.0):
        end = time.monotonic() + timeout
        while not self.frames:
            if self.eof:
                return None
            left = end - time.monotonic()
            if left <= 0:
                raise Failure("timed out waiting for a frame")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(1 << 20)
            except socket.timeout:
                raise Failure("timed out waiting for a frame")
            except ConnectionResetError:
                raise Failure("connection reset by the server")
            if not chunk:
                self.eof = True
                return None
            self.feed(chunk)
        return self.frames.pop(0)

    def next_frame_peek(self):
        f = self.next_frame()
        if f is not None:
            self.frames.insert(0, f)
        return f is not None

    def message(self):
        """The next whole data message (pongs skipped): (opcode, bytes)."""
        parts, opcode = [], None
        while True:
            f = self.next_frame()
            if f is None:
                raise Failure("the connection ended before a message")
            if f.opcode == Opcode.PONG:
                continue
            if f.opcode == Opcode.CLOSE:
                raise Failure("close %r instead of a message" % (f.payload,))
            if f.opcode != Opcode.CONTINUATION:
                opcode = f.opcode
            p = f.payload
            parts.append(p.encode() if isinstance(p, str) else bytes(p))
            if f.message_finished:
                return int(opcode), b"".join(parts)

    def expect_echo(self, opcode, payload):
        got_op, got = self.message()
        if got_op != opcode or got != payload:
            raise Failure("echo: %s of %d bytes, expected %s of %d" % (
                got_op, len(got), opcode, len(payload)))

    def expect_pong(self, payload):
        f = self.next_frame()
        if f is None or f.opcode != Opcode.PONG:
            raise Failure("expected a pong, got %r" % (f,))
        if bytes(f.payload) != payload:
            raise Failure("pong payload differs")

    def expect_fail(self, codes=(1002,)):
        """The server fails the connection: its close frame with one of
        `codes`, nothing before it but pongs, then the end."""
        while True:
            f = self.next_frame()
            if f is None:
                raise Failure("connection dropped without a close frame")
            if f.opcode == Opcode.PONG:
                continue
            if f.opcode != Opcode.CLOSE:
                raise Failure("expected a close, got %s" % f.opcode.name)
            code = int(f.payload[0])
            if code not in codes:
                raise Failure("closed with %d, expected %s" % (code, codes))
            break
        self.expect_end()

    def expect_end(self):
        self.sock.settimeout(10)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return
                # after its close the server may not send anything
                self.feed(chunk)
                if self.frames:
                    raise Failure("a frame after the close: %r"
                                  % (self.frames[0],))
        except ConnectionResetError:
            raise Failure("the server reset the connection after closing")
        except socket.timeout:
            raise Failure("the server did not close the connection")

    def close_clean(self, code=1000, reason=b""):
        """The client closes: the server echoes the code, then closes."""
        self.send(frame(CLOSE, close_payload(code, reason)))
        self.expect_close_echo(code)

    def expect_close_echo(self, code):
        while True:
            f = self.next_frame()
            if f is None:
                raise Failure("connection dropped instead of a close echo")
            if f.opcode in (Opcode.PONG,):
                continue
            if f.opcode != Opcode.CLOSE:
                raise Failure("expected the close echo, got %s"
                              % f.opcode.name)
            got = int(f.payload[0])
            if got != code:
                raise Failure("close echoed with %d, expected %d"
                              % (got, code))
            break
        self.expect_end()


CASES = []


def case(section, name):
    def register(fn):
        CASES.append((section, name, fn))
        return fn
    return register


def add(section, name, fn):
    CASES.append((section, name, fn))


SECTIONS = {1: "framing", 2: "pings and pongs", 3: "reserved bits",
            4: "opcodes", 5: "fragmentation", 6: "UTF-8 handling",
            7: "close handling", 9: "limits and performance",
            10: "miscellaneous"}


def payload_of(n, text):
    if text:
        return (b"*" * n)
    return bytes(i % 256 for i in range(n))


# 1: framing: text and binary of the lengths around each header size
for kind, sub in ((TEXT, 1), (BINARY, 2)):
    for i, n in enumerate((0, 125, 126, 127, 128, 65535, 65536)):
        def run(c, kind=kind, n=n):
            p = payload_of(n, kind == TEXT)
            c.send(frame(kind, p))
            c.expect_echo(kind, p)
            c.close_clean()
        add(1, "1.%d.%d %s of %d bytes" % (sub, i + 1, "text" if kind == TEXT
                                          else "binary", n), run)

    def run_chopped(c, kind=kind):
        p = payload_of(65536, kind == TEXT)
        c.send(frame(kind, p), chunk=997)
        c.expect_echo(kind, p)
        c.close_clean()
    add(1, "1.%d.8 65536 bytes sent in chops of 997" % sub, run_chopped)


# 2: pings and pongs
def ping_case(payload, chunk=None):
    def run(c):
        c.send(frame(PING, payload), chunk=chunk)
        c.expect_pong(payload)
        c.close_clean()
    return run


add(2, "2.1 ping without payload", ping_case(b""))
add(2, "2.2 ping with a text payload", ping_case(b"Hello, world!"))
add(2, "2.3 ping with a binary payload", ping_case(bytes([0, 0xff, 0xfe, 0xfd,
                                                         0xfc, 0xfb, 0, 0xff])))
add(2, "2.4 ping with 125 bytes", ping_case(b"\xfe" * 125))


@case(2, "2.5 ping with 126 bytes fails")
def _(c):
    c.send(frame(PING, b"\xfe" * 126))
    c.expect_fail()


add(2, "2.6 ping with 125 bytes sent byte by byte",
    ping_case(b"\xfe" * 125, chunk=1))


@case(2, "2.7 an unsolicited pong without payload is ignored")
def _(c):
    c.send(frame(PONG))
    c.close_clean()


@case(2, "2.8 an unsolicited pong with payload is ignored")
def _(c):
    c.send(frame(PONG, b"unsolicited pong payload"))
    c.close_clean()


@case(2, "2.9 an unsolicited pong, then a ping: one pong")
def _(c):
    c.send(frame(PONG, b"unsolicited pong payload") +
           frame(PING, b"ping payload"))
    c.expect_pong(b"ping payload")
    c.close_clean()


def ten_pings(chunk):
    def run(c):
        for i in range(10):
            c.send(frame(PING, b"payload-%d" % i), chunk=chunk)
        for i in range(10):
            c.expect_pong(b"payload-%d" % i)
        c.close_clean()
    return run


add(2, "2.10 ten pings: ten pongs in order", ten_pings(None))
add(2, "2.11 ten pings byte by byte", ten_pings(1))


# 3: reserved bits, on frames of every kind; what came before is answered
def echo_or_fail(c, payload):
    """The echo, then the failure; or, non-strict, the failure at once."""
    if c.frames or c.next_frame_peek():
        f = c.frames[0]
        if f.opcode == Opcode.CLOSE:
            c.expect_fail()
            raise NonStrict()
    c.expect_echo(TEXT, payload)
    c.expect_fail()


def rsv_case(rsv, before, bad, chunk=None):
    def run(c):
        if before:
            c.send(frame(TEXT, b"Hello, world!"), chunk=chunk)
        c.send(bad(rsv), chunk=chunk)
        c.send(frame(PING, b""), chunk=chunk)
        if before:
            echo_or_fail(c, b"Hello, world!")
        else:
            c.expect_fail()
    return run


add(3, "3.1 text with RSV1", rsv_case(4, False,
                                      lambda r: frame(TEXT, b"x", rsv=r)))
add(3, "3.2 text, then text with RSV2, then ping",
    rsv_case(2, True, lambda r: frame(TEXT, b"x", rsv=r)))
add(3, "3.3 the same frame by frame, RSV3",
    rsv_case(3, True, lambda r: frame(TEXT, b"x", rsv=r)))
add(3, "3.4 the same byte by byte, RSV4",
    rsv_case(4, True, lambda r: frame(TEXT, b"x", rsv=r), chunk=1))
add(3, "3.5 binary with RSV5",
    rsv_case(5, False, lambda r: frame(BINARY, b"\x00\xff", rsv=r)))
add(3, "3.6 ping with RSV6",
    rsv_case(6, False, lambda r: frame(PING, b"p", rsv=r)))
add(3, "3.7 close with RSV7",
    rsv_case(7, False, lambda r: frame(CLOSE, close_payload(1000), rsv=r)))


# 4: reserved opcodes
def opcode_case(op, payload, around, chunk=None):
    def run(c):
        if around:
            c.send(frame(TEXT, b"Hello, world!"), chunk=chunk)
        c.send(frame(op, payload), chunk=chunk)
        if around:
            c.send(frame(PING), chunk=chunk)
            echo_or_fail(c, b"Hello, world!")
        else:
            c.expect_fail()
    return run


for base, sub in ((3, 1), (11, 2)):
    add(4, "4.%d.1 opcode %d" % (sub, base), opcode_case(base, b"", False))
    add(4, "4.%d.2 opcode %d with payload" % (sub, base + 1),
        opcode_case(base + 1, b"reserved", False))
    add(4, "4.%d.3 text, opcode %d, ping" % (sub, base + 2),
        opcode_case(base + 2, b"", True))
    add(4, "4.%d.4 text, opcode %d with payload, ping" % (sub, base + 3),
        opcode_case(base + 3, b"reserved", True))
    add(4, "4.%d.5 the same byte by byte, opcode %d" % (sub, base + 4),
        opcode_case(base + 4, b"reserved", True, chunk=1))


# 5: fragmentation
@case(5, "5.1 a ping in two fragments fails")
def _(c):
    c.send(frame(PING, b"frag-1", fin=False) + frame(CONT, b"frag-2"))
    c.expect_fail()


@case(5, "5.2 a pong in two fragments fails")
def _(c):
    c.send(frame(PONG, b"frag-1", fin=False) + frame(CONT, b"frag-2"))
    c.expect_fail()


def fragmented(ping_inside, chunk=None, pause=0.0):
    def run(c):
        c.send(frame(TEXT, b"fragment1", fin=False), chunk=chunk, pause=pause)
        if ping_inside:
            c.send(frame(PING, b"ping inside"), chunk=chunk, pause=pause)
        c.send(frame(CONT, b"fragment2"), chunk=chunk, pause=pause)
        if ping_inside:
            c.expect_pong(b"ping inside")
        c.expect_echo(TEXT, b"fragment1fragment2")
        c.close_clean()
    return run


add(5, "5.3 text in two fragments", fragmented(False))
add(5, "5.4 the same byte by byte", fragmented(False, chunk=1))
add(5, "5.5 the same with pauses", fragmented(False, chunk=1, pause=0.001))
add(5, "5.6 text in two fragments, a ping between", fragmented(True))
add(5, "5.7 the same byte by byte", fragmented(True, chunk=1))
add(5, "5.8 the same with pauses", fragmented(True, chunk=1, pause=0.001))


def bad_continuation(frames, chunk=None):
    def run(c):
        c.send(b"".join(frames), chunk=chunk)
        c.expect_fail()
    return run


add(5, "5.9 a continuation (FIN) that starts nothing",
    bad_continuation([frame(CONT, b"non-continuation"),
                      frame(TEXT, b"text")]))
add(5, "5.10 the same byte by byte",
    bad_continuation([frame(CONT, b"non-continuation"),
                      frame(TEXT, b"text")], chunk=1))
add(5, "5.11 a continuation (no FIN) that starts nothing",
    bad_continuation([frame(CONT, b"non-continuation", fin=False),
                      frame(TEXT, b"text")]))
add(5, "5.12 the same byte by byte",
    bad_continuation([frame(CONT, b"non-continuation", fin=False),
                      frame(TEXT, b"text")], chunk=1))
add(5, "5.13 a continuation (no FIN) then its end, unstarted",
    bad_continuation([frame(CONT, b"fragment1", fin=False),
                      frame(CONT, b"fragment2")]))
add(5, "5.14 the same byte by byte",
    bad_continuation([frame(CONT, b"fragment1", fin=False),
                      frame(CONT, b"fragment2")], chunk=1))
add(5, "5.15 a message, then a continuation that starts nothing",
    bad_continuation([frame(TEXT, b"fragment1", fin=False),
                      frame(CONT, b"fragment2"),
                      frame(CONT, b"fragment3", fin=False),
                      frame(TEXT, b"fragment4")]))
add(5, "5.16 unstarted continuations, repeated",
    bad_continuation([frame(CONT, b"fragment1", fin=False),
                      frame(TEXT, b"fragment2", fin=False),
                      frame(CONT, b"fragment3")] * 2))
add(5, "5.17 the same with FIN on the first",
    bad_continuation([frame(CONT, b"fragment1"),
                      frame(TEXT, b"fragment2", fin=False),
                      frame(CONT, b"fragment3")] * 2))
add(5, "5.18 a text frame inside a fragmented message",
    bad_continuation([frame(TEXT, b"fragment1", fin=False),
                      frame(TEXT, b"fragment2")]))


def five_fragments(c, chunk=None):
    parts = [b"fragment%d" % i for i in range(1, 6)]
    for i, p in enumerate(parts):
        op = TEXT if i == 0 else CONT
        c.send(frame(op, p, fin=i == 4), chunk=chunk)
        if i in (1, 3):
            c.send(frame(PING, b"pongme %d!" % i), chunk=chunk)
            c.expect_pong(b"pongme %d!" % i)
        time.sleep(0.05)
    c.expect_echo(TEXT, b"".join(parts))
    c.close_clean()


add(5, "5.19 text in five fragments, pings between, pauses",
    lambda c: five_fragments(c))
add(5, "5.20 the same byte by byte", lambda c: five_fragments(c, chunk=1))


# 6: UTF-8 handling
VALID = [b"", b"Hello-\xc2\xb5@\xc3\x9f\xc3\xb6\xc3\xa4\xc3\xbc\xc3\xa0\xc3"
         b"\xa1-UTF-8!!", b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5",
         # the first and the last sequence of each length
         b"\x00", b"\xc2\x80", b"\xe0\xa0\x80", b"\xf0\x90\x80\x80",
         b"\x7f", b"\xdf\xbf", b"\xef\xbf\xbf", b"\xf4\x8f\xbf\xbf",
         # boundaries
         b"\xed\x9f\xbf", b"\xee\x80\x80", b"\xef\xbf\xbd",
         # noncharacters are valid UTF-8
         b"\xef\xbf\xbe", b"\xef\xb7\x90", b"\xf0\x9f\xbf\xbf",
         b"\xf3\xbf\xbf\xbe"]
INVALID = [
    # beyond U+10FFFF, and the old 5- and 6-byte forms
    b"\xf4\x90\x80\x80", b"\xf8\x88\x80\x80\x80", b"\xfc\x84\x80\x80\x80\x80",
    # unexpected continuation bytes
    b"\x80", b"\xbf", b"\x80\xbf", b"\x80\xbf\x80",
    # lonely start bytes, each followed by a space
    b"\xc0 ", b"\xdf ", b"\xe0 ", b"\xef ", b"\xf0 ", b"\xf7 ",
    # sequences with their last byte missing
    b"\xc2", b"\xe0\xa0", b"\xf0\x90\x80", b"\xdf", b"\xef\xbf",
    b"\xf4\x8f\xbf",
    # impossible bytes
    b"\xfe", b"\xff", b"\xfe\xfe\xff\xff",
    # overlong forms of "/" and of the largest overlongs
    b"\xc0\xaf", b"\xe0\x80\xaf", b"\xf0\x80\x80\xaf", b"\xc1\xbf",
    b"\xe0\x9f\xbf", b"\xf0\x8f\xbf\xbf", b"\xc0\x80", b"\xe0\x80\x80",
    # UTF-16 surrogates, alone and paired
    b"\xed\xa0\x80", b"\xed\xad\xbf", b"\xed\xae\x80", b"\xed\xbf\xbf",
    b"\xed\xa0\x80\xed\xb0\x80", b"\xed\xaf\xbf\xed\xbf\xbf",
    # valid text around an invalid byte
    b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited",
]


def utf8_valid(text, how):
    def run(c):
        if how == "whole":
            c.send(frame(TEXT, text))
        elif how == "fragments":
            # one fragment per byte, splitting every character
            if not text:
                c.send(frame(TEXT, b"", fin=False) + frame(CONT, b""))
            for i, b in enumerate(text):
                c.send(frame(TEXT if i == 0 else CONT, bytes([b]),
                             fin=i == len(text) - 1))
        else:
            c.send(frame(TEXT, text), chunk=1)
        c.expect_echo(TEXT, text)
        c.close_clean()
    return run


def utf8_invalid(text, how):
    def run(c):
        if how == "whole":
            c.send(frame(TEXT, text))
        elif how == "fragments":
            for i, b in enumerate(text):
                c.send(frame(TEXT if i == 0 else CONT, bytes([b]),
                             fin=i == len(text) - 1))
        else:
            c.send(frame(TEXT, text), chunk=1)
        c.expect_fail((1007,))
    return run


n = 0
for text in VALID:
    for how in ("whole", "fragments", "bytes"):
        n += 1
        add(6, "6.v.%d valid %s (%s)" % (n, text[:12].hex() or "empty",
                                          how), utf8_valid(text, how))
n = 0
for text in INVALID:
    for how in ("whole", "fragments", "bytes"):
        n += 1
        add(6, "6.i.%d invalid %s (%s)" % (n, text[:12].hex(), how),
            utf8_invalid(text, how))


def fail_fast(good, bad):
    """6.4: the connection fails on the fragment holding the bad byte,
    before the message's end (never sent) could arrive."""
    def run(c):
        c.send(frame(TEXT, good, fin=False))
        time.sleep(0.05)
        c.send(frame(CONT, bad, fin=False))
        c.expect_fail((1007,))
    return run


add(6, "6.4.1 fail fast: the bad fragment of a message",
    fail_fast(b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5",
              b"\xf4\x90\x80\x80"))
add(6, "6.4.2 fail fast: a bad byte after a valid start",
    fail_fast(b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4",
              b"\x90"))


@case(6, "6.4.3 fail fast inside a frame: the bad byte, the rest unsent")
def _(c):
    head = frame(TEXT, b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"
                 b"\xf4\x90\x80\x80edited", masked=False, length=100)
    # an unmasked head would fail for another reason: mask it by hand
    key = b"\x00\x00\x00\x00"
    data = bytes([head[0], 0x80 | head[1]]) + key + head[2:]
    c.send(data)
    c.expect_fail((1007,))


@case(6, "6.1.3 empty fragments around a non-empty one")
def _(c):
    c.send(frame(TEXT, b"", fin=False) + frame(CONT, b"middle frame payload",
                                                fin=False) + frame(CONT, b""))
    c.expect_echo(TEXT, b"middle frame payload")
    c.close_clean()


# 7: close handling
@case(7, "7.1.1 echo, then a clean close")
def _(c):
    c.send(frame(TEXT, b"Hello World!"))
    c.expect_echo(TEXT, b"Hello World!")
    c.close_clean()


@case(7, "7.1.2 a second close is ignored")
def _(c):
    c.send(frame(CLOSE, close_payload(1000)) + frame(CLOSE,
                                                      close_payload(1000)))
    c.expect_close_echo(1000)


@case(7, "7.1.3 a ping after the close is not answered")
def _(c):
    c.send(frame(CLOSE, close_payload(1000)) + frame(PING, b"Hello"))
    c.expect_close_echo(1000)


@case(7, "7.1.4 a message after the close is not echoed")
def _(c):
    c.send(frame(CLOSE, close_payload(1000)) + frame(TEXT, b"Hello"))
    c.expect_close_echo(1000)


@case(7, "7.1.5 a message's end after the close is not echoed")
def _(c):
    c.send(frame(TEXT, b"fragment1", fin=False) +
           frame(CLOSE, close_payload(1000)) + frame(CONT, b"fragment2"))
    c.expect_close_echo(1000)


@case(7, "7.1.6 a large message, a ping and the close at once")
def _(c):
    big = b"BAsd7&jh23" * 26214
    c.send(frame(TEXT, big) + frame(CLOSE, close_payload(1000)) +
           frame(PING, b"Hello"))
    # the echo may or may not make it before the close: both are right
    while True:
        f = c.next_frame()
        if f is None:
            raise Failure("dropped without a close")
        if f.opcode == Opcode.CLOSE:
            if int(f.payload[0]) != 1000:
                raise Failure("closed with %s" % (f.payload,))
            break
        if f.opcode == Opcode.PONG:
            raise Failure("a pong for a ping after the close")
    c.expect_end()


@case(7, "7.3.1 a close without payload: echoed without a code")
def _(c):
    c.send(frame(CLOSE))
    f = c.next_frame()
    if f is None or f.opcode != Opcode.CLOSE:
        raise Failure("no close echo")
    if int(f.payload[0]) not in (1000, 1005):  # wsproto: empty is 1005
        raise Failure("echoed %s" % (f.payload,))
    c.expect_end()


@case(7, "7.3.2 a close with one byte fails")
def _(c):
    c.send(frame(CLOSE, b"\x03"))
    c.expect_fail()


@case(7, "7.3.3 a close with 1000")
def _(c):
    c.close_clean(1000)


@case(7, "7.3.4 a close with 1000 and a reason")
def _(c):
    c.close_clean(1000, b"Hello World!")


@case(7, "7.3.5 a close with 1000 and a 123-byte reason")
def _(c):
    c.close_clean(1000, b"*" * 123)


@case(7, "7.3.6 a close with 1000 and a 124-byte reason fails")
def _(c):
    c.send(frame(CLOSE, close_payload(1000, b"*" * 124)))
    c.expect_fail()


@case(7, "7.5.1 a close reason that is not UTF-8 fails")
def _(c):
    c.send(frame(CLOSE, close_payload(1000, b"\xce\xba\xe1\xbd\xb9\xcf\x83"
                                              b"\xce\xbc\xce\xb5\xed\xa0\x80"
                                              b"edited")))
    c.expect_fail((1002, 1007))


for i, code in enumerate((1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010,
                          1011, 3000, 3999, 4000, 4999)):
    add(7, "7.7.%d close code %d is echoed" % (i + 1, code),
        lambda c, code=code: c.close_clean(code))

for i, code in enumerate((0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000,
                          2999)):
    def run(c, code=code):
        c.send(frame(CLOSE, close_payload(code)))
        c.expect_fail()
    add(7, "7.9.%d close code %d fails" % (i + 1, code), run)

for i, code in enumerate((5000, 65535)):
    def run(c, code=code):
        c.send(frame(CLOSE, close_payload(code)))
        c.expect_fail()
    add(7, "7.13.%d close code %d fails" % (i + 1, code), run)


# 9: limits and performance (the server runs with a 16 MiB message limit)
SIZES = (65536, 262144, 1 << 20, 4 << 20, 8 << 20, 16 << 20)


def big_message(kind, size, fragment=None, chunk=None):
    def run(c):
        p = payload_of(size, kind == TEXT)
        if fragment:
            data = b"".join(frame(kind if i == 0 else CONT,
                                  p[i:i + fragment],
                                  fin=i + fragment >= size)
                            for i in range(0, size, fragment))
        else:
            data = frame(kind, p)
        c.sock.settimeout(60)
        c.send(data, chunk=chunk)
        c.expect_echo(kind, p)
        c.close_clean()
    return run


for kind, sub in ((TEXT, 1), (BINARY, 2)):
    for i, size in enumerate(SIZES):
        add(9, "9.%d.%d %s of %d bytes" % (sub, i + 1,
                                          "text" if kind == TEXT else
                                          "binary", size),
            big_message(kind, size))
for kind, sub in ((TEXT, 3), (BINARY, 4)):
    for i, fragment in enumerate((64, 256, 1024, 4096, 16384, 65536, 262144,
                                  1 << 20, 4 << 20)):
        add(9, "9.%d.%d 4 MiB in fragments of %d" % (sub, i + 1, fragment),
            big_message(kind, 4 << 20, fragment=fragment))
for kind, sub in ((TEXT, 5), (BINARY, 6)):
    for i, chunk in enumerate((64, 128, 256, 512, 1024, 2048)):
        add(9, "9.%d.%d 1 MiB sent in chops of %d" % (sub, i + 1, chunk),
            big_message(kind, 1 << 20, chunk=chunk))


def round_trips(kind, size):
    def run(c):
        p = payload_of(size, kind == TEXT)
        for _ in range(1000):
            c.send(frame(kind, p))
            c.expect_echo(kind, p)
        c.close_clean()
    return run


for kind, sub in ((TEXT, 7), (BINARY, 8)):
    for i, size in enumerate((0, 16, 64, 256, 1024, 4096)):
        add(9, "9.%d.%d 1000 round trips of %d bytes" % (sub, i + 1, size),
            round_trips(kind, size))


# 10: miscellaneous
@case(10, "10.1.1 65536 bytes in fragments of 1300")
def _(c):
    big_message(TEXT, 65536, fragment=1300)(c)


def main():
    port, path = int(sys.argv[1]), sys.argv[2]
    verbose = "-v" in sys.argv
    only = None
    if "-only" in sys.argv:
        only = re.compile(sys.argv[sys.argv.index("-only") + 1])
    results = {}
    failures = []
    non_strict = []
    started = time.monotonic()
    for section, name, fn in CASES:
        if only and not only.search(name):
            continue
        t = time.monotonic()
        try:
            c = Conn(port, path)
            try:
                fn(c)
            finally:
                c.sock.close()
            ok = True
        except NonStrict:
            ok = True
            non_strict.append(name.split()[0])
        except (Failure, OSError) as e:
            ok = False
            failures.append("%s: %s" % (name, e))
        results.setdefault(section, []).append(ok)
        if verbose:
            print("%-60s %s %.3f s" % (name, "ok" if ok else "FAILED",
                                       time.monotonic() - t))
    for section in sorted(results):
        r = results[section]
        print("section %d (%s): %d of %d passed" % (
            section, SECTIONS[section], sum(r), len(r)))
    if non_strict:
        print("non-strict (failed before echoing the message just before "
              "the violation): " + ", ".join(non_strict))
    for f in failures:
        print("FAILED " + f)
    total = sum(len(r) for r in results.values())
    passed = sum(sum(r) for r in results.values())
    print("conformance: %d of %d cases passed" % (passed, total))
    if verbose:
        print("%.1f s" % (time.monotonic() - started))
    sys.exit(0 if passed == total else 1)


if __name__ == "__main__":
    main()
