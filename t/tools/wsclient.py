"""A scripted WebSocket client on a raw socket, for t/websocket.t.

    wsclient.py PORT PATH [-H 'Name: value'] [-show name] STEP...

Opens the handshake (printing the status line and the headers named by
-show), then runs the steps in order, printing what it receives:

    text S | binary N      send a masked message (binary: N bytes 0..255)
    frame FIN OP HEX [unmasked] [rsv]    send one frame as given
    raw HEX                send bytes as they are
    close [CODE [REASON]]  send a close frame (no CODE: an empty one)
    ping S                 send a ping
    recv                   print the next frame from the server
    recvall                print frames until the server closes
    eof                    wait until the server closes the connection
    drop | rst             leave (FIN, or a reset)
    half                   shut down writing (FIN), reading on
    sleep S                wait S seconds
    noread S               send 256 KiB messages for S seconds, reading
                           none

Each line is flushed as printed: a test may watch the output file.
"""
import os
import socket
import struct
import sys
import time


def frame(fin, opcode, payload, masked=True, rsv=0):
    head = bytes([(0x80 if fin else 0) | (rsv << 4) | opcode])
    n = len(payload)
    mask_bit = 0x80 if masked else 0
    if n < 126:
        head += bytes([mask_bit | n])
    elif n < 65536:
        head += bytes([mask_bit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([mask_bit | 127]) + struct.pack("!Q", n)
    if not masked:
        return head + payload
    key = os.urandom(4)
    body = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return head + key + body


class Conn:
    def __init__(self, sock, buffered):
        self.sock = sock
        self.buf = buffered

    def need(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_frame(self):
        b0, b1 = self.need(2)
        if b1 & 0x80:
            raise ValueError("a masked frame from the server")
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self.need(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self.need(8))[0]
        return b0 & 0x80, b0 & 0x70, b0 & 0x0F, self.need(n)


def describe(fin, rsv, op, payload):
    if rsv:
        return "bad frame with rsv bits"
    if op == 1:
        return "text%s: %s" % ("" if fin else " (more)",
                               payload.decode("utf-8", "replace"))
    if op == 2:
        return "binary%s: %d bytes" % ("" if fin else " (more)", len(payload))
    if op == 0:
        return "continuation: %d bytes" % len(payload)
    if op == 8:
        if not payload:
            return "close (no code)"
        code = struct.unpack("!H", payload[:2])[0]
        return "close %d %r" % (code, payload[2:].decode("utf-8", "replace"))
    if op == 9:
        return "ping %r" % payload.decode("utf-8", "replace")
    if op == 10:
        return "pong %r" % payload.decode("utf-8", "replace")
    return "opcode %d" % op


def handshake(port, path, headers, show):
    sock = socket.create_connection(("127.0.0.1", port), timeout=20)
    lines = ["GET %s HTTP/1.1" % path, "Host: localhost",
             "Upgrade: websocket", "Connection: Upgrade",
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
             "Sec-WebSocket-Version: 13"]
    names = {h.split(":", 1)[0].lower() for h in headers}
    lines = [line for line in lines
             if line.split(":", 1)[0].lower() not in names] + headers
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    head_lines = head.decode("latin-1").split("\r\n")
    print(head_lines[0])
    got = {}
    for line in head_lines[1:]:
        name, _, value = line.partition(":")
        got.setdefault(name.strip().lower(), []).append(value.strip())
    for name in show:
        for value in got.get(name.lower(), ["(none)"]):
            print("%s: %s" % (name, value))
    if " 101 " not in head_lines[0] + " ":
        length = int(got.get("content-length", ["0"])[0])
        while len(rest) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
        sys.stdout.write(rest.decode("utf-8", "replace"))
        sys.exit(0)
    return Conn(sock, rest)


def main():
    args = sys.argv[1:]
    port, path = int(args[0]), args[1]
    args = args[2:]
    headers, show = [], []
    while args and args[0] in ("-H", "-show"):
        (headers if args[0] == "-H" else show).append(args[1])
        args = args[2:]
    c = handshake(port, path, headers, show)
    sys.stdout.flush()
    for step in args:
        word, _, rest = step.partition(" ")
        try:
            if word == "text":
                c.sock.sendall(frame(1, 1, rest.encode()))
            elif word == "binary":
                c.sock.sendall(frame(1, 2, bytes(i % 256
                                                 for i in range(int(rest)))))
            elif word == "frame":
                parts = rest.split()
                fin, op = int(parts[0]), int(parts[1])
                payload = bytes.fromhex(parts[2]) if len(parts) > 2 and \
                    parts[2] != "-" else b""
                c.sock.sendall(frame(fin, op, payload,
                                     masked="unmasked" not in parts,
                                     rsv=4 if "rsv" in parts else 0))
            elif word == "raw":
                c.sock.sendall(bytes.fromhex(rest))
            elif word == "close":
                parts = rest.split(" ", 1)
                payload = b""
                if parts[0]:
                    payload = struct.pack("!H", int(parts[0]))
                    if len(parts) > 1:
                        payload += parts[1].encode()
                c.sock.sendall(frame(1, 8, payload))
            elif word == "ping":
                c.sock.sendall(frame(1, 9, rest.encode()))
            elif word == "recv":
                print(describe(*c.read_frame()))
            elif word == "recvall":
                while True:
                    f = c.read_frame()
                    print(describe(*f))
                    if f[2] == 8:
                        break
            elif word == "eof":
                c.sock.settimeout(30)
                extra = c.buf + c.sock.recv(65536)
                while extra:
                    print("unexpected %d bytes" % len(extra))
                    extra = c.sock.recv(65536)
                print("eof")
            elif word == "drop":
                c.sock.close()
                print("dropped")
                return
            elif word == "half":
                c.sock.shutdown(socket.SHUT_WR)
                print("half-closed")
            elif word == "rst":
                c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                  struct.pack("ii", 1, 0))
                c.sock.close()
                print("reset")
                return
            elif word == "sleep":
                time.sleep(float(rest))
            elif word == "noread":
                c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                c.sock.settimeout(0.2)
                end = time.monotonic() + float(rest)
                big = frame(1, 2, b"y" * (256 << 10))
                sent = 0
                while time.monotonic() < end:
                    try:
                        sent += c.sock.send(big[sent % len(big):])
                    except socket.timeout:
                        pass
                # unpaused, loopback takes gigabytes in a second
                print("sent %s" % ("over 64 MiB" if sent > (64 << 20)
                                   else "under 64 MiB"))
            else:
                raise SystemExit("unknown step %r" % step)
        except EOFError:
            print("eof during %s" % word)
            return
        except ConnectionResetError:
            print("reset during %s" % word)
            return
        except socket.timeout:
            print("timeout during %s" % word)
            return
        sys.stdout.flush()


if __name__ == "__main__":
    main()
