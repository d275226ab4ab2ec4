#!/usr/bin/python3
"""R12, differentially: random byte strings, percent-encoded in a request
path; the app answers scope["path"], which must equal what Python (and
uvicorn, through urllib.parse.unquote) decodes from the same bytes.

    utf8_paths.py PORT COUNT
"""
import http.client
import random
import sys
import urllib.parse

# Bytes nginx passes through its path normalization unchanged: no '/',
# '.', '%', '?', '#', controls or spaces once decoded. High bytes, UTF-8
# lead and continuation bytes and letters, so that valid and invalid
# sequences of every length mix.
ALPHABET = (list(range(0x80, 0x100)) * 3 + list(b"abcXYZ019-_~")
            + [0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80,
               0xed, 0xa0, 0xf4, 0x90, 0xc0, 0xaf])


def fetch(port, raw):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", raw.decode("ascii"))
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, body


def main():
    port, count = int(sys.argv[1]), int(sys.argv[2])
    rng = random.Random(12)
    good = 0
    for _ in range(count):
        raw_bytes = bytes(rng.choice(ALPHABET)
                          for _ in range(rng.randint(1, 12)))
        raw = b"/utf8/" + urllib.parse.quote_from_bytes(
            raw_bytes, safe="").encode()
        status, body = fetch(port, raw)
        expected = urllib.parse.unquote(raw.decode(), errors="replace")
        got_path, _, got_raw = body.partition(b" ")
        if status == 200 and got_path == expected.encode() \
                and got_raw == raw:
            good += 1
        else:
            print("differs:", raw, status, got_path, expected.encode())
    print("%d of %d paths as Python decodes them" % (good, count))


if __name__ == "__main__":
    sys.exit(main())
