// libFuzzer target for a WebSocket connection after its 101 (lib/ws_session):
// the input is a program of client bytes (raw, or frames built from
// fields), app calls (receive, send, close), time and a lost connection,
// over small limits. After every step it checks the session's promises:
// the output is well-formed server frames, unmasked, with at most one close
// frame and nothing after it, whose code may go on the wire; the app gets
// at most one disconnect, last, with a code the client sent, 1005 or 1006;
// the phase only moves forward; sends after the close are refused; the
// undelivered bytes stay bounded while paused; no deadline is left in the
// past after expire.
#include "ws_session.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

using namespace asgicore;
using namespace asgicore::ws;

namespace {

[[noreturn]] void broken(const char *what)
{
    std::fprintf(stderr, "broken promise: %s\n", what);
    std::abort();
}

void check(bool ok, const char *what)
{
    if (!ok)
        broken(what);
}

struct Reader {
    const uint8_t *p, *end;
    bool empty() const { return p >= end; }
    uint8_t byte() { return p < end ? *p++ : 0; }
    std::string bytes(size_t n)
    {
        n = std::min<size_t>(n, end - p);
        std::string s(reinterpret_cast<const char *>(p), n);
        p += n;
        return s;
    }
};

// The server's output so far, parsed frame by frame.
struct OutputCheck {
    bool closed = false;  // a close frame went out
    std::string pending;

    void take(std::string &out)
    {
        pending += out;
        out.clear();
        for (;;) {
            if (pending.size() < 2)
                return;
            auto *b = reinterpret_cast<const uint8_t *>(pending.data());
            size_t len = b[1] & 0x7f, head = 2;
            if (len == 126) {
                if (pending.size() < 4)
                    return;
                len = (size_t(b[2]) << 8) | b[3];
                head = 4;
            } else if (len == 127) {
                if (pending.size() < 10)
                    return;
                len = 0;
                for (int i = 2; i < 10; i++)
                    len = (len << 8) | b[i];
                head = 10;
            }
            if (pending.size() < head + len)
                return;
            uint8_t op = b[0] & 0x0f;
            check(b[0] & 0x80, "a fragmented server frame");
            check(!(b[0] & 0x70), "reserved bits in a server frame");
            check(!(b[1] & 0x80), "a masked server frame");
            check(op == op_text || op == op_binary || op == op_close ||
                      op == op_ping || op == op_pong,
                  "a server frame with a bad opcode");
            check(!closed, "a frame after the server's close frame");
            if (op & 0x08)
                check(len <= 125, "a server control frame over 125 bytes");
            if (op == op_close) {
                closed = true;
                check(len != 1, "a close frame of one byte");
                if (len >= 2) {
                    unsigned code = (unsigned(b[head]) << 8) | b[head + 1];
                    check(close_code_valid_on_wire(code),
                          "a close code that may not go on the wire");
                }
            }
            pending.erase(0, head + len);
        }
    }
};

std::string client_frame(Reader &r)
{
    uint8_t flags = r.byte();
    uint8_t op = flags & 0x0f;
    bool fin = !(flags & 0x10);
    uint8_t rsv = (flags & 0x20) ? (r.byte() & 7) : 0;
    bool masked = !(flags & 0x40);
    size_t n = r.byte();
    if (flags & 0x80)
        n = n * 8;  // past 125 and 255
    std::string payload = r.bytes(n);
    if ((op == op_close) && payload.size() >= 2 && (flags & 0x20)) {
        static const unsigned codes[] = {1000, 1001, 1005, 1006, 1015,
                                         999,  3000, 4999, 5000, 1012};
        unsigned c = codes[r.byte() % 10];
        payload[0] = static_cast<char>(c >> 8);
        payload[1] = static_cast<char>(c);
    }
    std::string f;
    f.push_back(static_cast<char>((fin ? 0x80 : 0) | (rsv << 4) | op));
    uint8_t m = masked ? 0x80 : 0;
    n = payload.size();
    if (n < 126) {
        f.push_back(static_cast<char>(m | n));
    } else {
        f.push_back(static_cast<char>(m | 126));
        f.push_back(static_cast<char>(n >> 8));
        f.push_back(static_cast<char>(n));
    }
    uint8_t key[4] = {r.byte(), r.byte(), r.byte(), r.byte()};
    if (masked)
        f.append(reinterpret_cast<char *>(key), 4);
    for (size_t i = 0; i < n; i++)
        f.push_back(static_cast<char>(payload[i] ^ (masked ? key[i & 3] : 0)));
    return f;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Reader r{data, data + size};
    Settings settings;
    settings.max_message = 64 + r.byte() * 4;
    settings.read_buffer_limit = 16 + r.byte() * 4;
    settings.ping_interval_ns = r.byte() % 4 * 1000;
    settings.close_timeout_ns = 1 + r.byte() * 100;
    asgicore_time now = 0;
    Session s(settings, now);
    OutputCheck out;
    bool got_disconnect = false;
    unsigned client_code = 0;  // a close code the client sent
    int phase = 0;
    while (!r.empty()) {
        switch (r.byte() % 9) {
        case 0: {
            std::string raw = r.bytes(r.byte());
            if (raw.size() >= 8)
                client_code = 1;  // raw bytes may hold a close frame too
            s.feed(raw.data(), raw.size(), now);
            break;
        }
        case 1:
        case 2: {
            std::string f = client_frame(r);
            if ((static_cast<uint8_t>(f[0]) & 0x0f) == op_close &&
                f.size() >= 8)
                client_code = 1;  // some code from the client
            // fed in two pieces
            size_t cut = f.empty() ? 0 : r.byte() % f.size();
            s.feed(f.data(), cut, now);
            s.feed(f.data() + cut, f.size() - cut, now);
            break;
        }
        case 3: {
            Event e;
            bool resume;
            bool had = s.take_event(e, &resume);
            if (had) {
                check(!got_disconnect, "an event after the disconnect");
                if (e.kind == Event::disconnect) {
                    got_disconnect = true;
                    check(e.code == close_no_status ||
                              e.code == close_abnormal ||
                              e.code == close_protocol_error ||
                              e.code == close_invalid_data ||
                              e.code == close_too_big ||
                              (client_code && close_code_valid_on_wire(e.code)),
                          "a disconnect code nobody gave");
                    check(!s.has_event(), "an event queued after the "
                                          "disconnect");
                }
            }
            break;
        }
        case 4: {
            bool text = r.byte() & 1;
            std::string m = r.bytes(r.byte());
            int rc = s.send(text, m.data(), m.size());
            if (s.phase() != Phase::open)
                check(rc == ASGICORE_ERR_DISCONNECTED,
                      "a send after the close was taken");
            check(rc == ASGICORE_OK || rc == ASGICORE_ERR_DISCONNECTED ||
                      rc == ASGICORE_ERR_INVALID,
                  "a send result not documented");
            break;
        }
        case 5: {
            static const unsigned codes[] = {1000, 1001, 1005, 1006, 1015,
                                             3000, 4000, 999,  1011, 2000};
            unsigned code = codes[r.byte() % 10];
            std::string reason = r.bytes(r.byte() % 130);
            bool was_open = s.phase() == Phase::open;
            int rc = s.close(code, reason, now);
            if (rc == ASGICORE_OK)
                check(was_open, "a close taken when not open");
            break;
        }
        case 6:
            now += r.byte() * 50;
            s.expire(now);
            check(s.deadline() > now, "a deadline left in the past");
            break;
        case 7:
            s.lost();
            check(s.phase() == Phase::closed, "lost but not closed");
            break;
        case 8: now += r.byte(); break;
        }
        out.take(s.output());
        int p = static_cast<int>(s.phase());
        check(p >= phase, "the phase went backwards");
        phase = p;
        if (s.paused())
            check(s.phase() != Phase::closed || s.has_event(),
                  "paused with nothing to deliver");
    }
    return 0;
}
