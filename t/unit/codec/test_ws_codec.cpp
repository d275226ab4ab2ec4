// The WebSocket frame codec and opening handshake (lib/ws_*), below the
// public header: every frame stream split at every byte offset, every
// violation with its close code, and random frame streams compared with
// libwslay's decoder as an independent oracle.
extern "C" {
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
}

#include "frames.hpp"
#include "ws_frame.hpp"
#include "ws_handshake.hpp"

#include <wslay/wslay.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

using namespace asgicore;
using namespace asgicore::ws;

namespace {

// What a decoder reported, as text: one line per event.
std::string decode_all(const std::string &bytes, size_t max,
                       const std::vector<size_t> &cuts)
{
    Decoder d(max);
    std::string log;
    size_t from = 0;
    std::vector<size_t> ends = cuts;
    ends.push_back(bytes.size());
    bool over = false;
    for (size_t to : ends) {
        auto *p = reinterpret_cast<const uint8_t *>(bytes.data()) + from;
        auto *end = reinterpret_cast<const uint8_t *>(bytes.data()) + to;
        while (!over) {
            Frame f;
            Decoded r = d.next(&p, end, f);
            if (r == Decoded::need_more) {
                assert_true(p == end);
                break;
            }
            switch (r) {
            case Decoded::message:
                log += (f.text ? "text " : "binary ") + f.payload + "\n";
                break;
            case Decoded::ping: log += "ping " + f.payload + "\n"; break;
            case Decoded::pong: log += "pong " + f.payload + "\n"; break;
            case Decoded::close:
                log += "close " + std::to_string(f.close_code) + " " +
                       f.payload + "\n";
                over = true;
                break;
            default:
                log += "violation " + std::to_string(f.close_code) + "\n";
                over = true;
                break;
            }
        }
        from = to;
    }
    return log;
}

void same_at_every_split(const std::string &bytes, size_t max, const char *want)
{
    assert_string_equal(decode_all(bytes, max, {}).c_str(), want);
    for (size_t cut = 1; cut < bytes.size(); cut++)
        assert_string_equal(decode_all(bytes, max, {cut}).c_str(), want);
    std::vector<size_t> each;
    for (size_t i = 1; i < bytes.size(); i++)
        each.push_back(i);
    assert_string_equal(decode_all(bytes, max, each).c_str(), want);
}

/* W4: frames decode the same split at every offset */
void W4_frames_decode_the_same_split_at_every_offset(void **)
{
    std::string s;
    // RFC 6455 section 5.7: a masked "Hello"
    s += std::string("\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11);
    // a fragmented text message with a ping between its fragments
    s += client_frame(op_text, "Hel", false);
    s += client_frame(op_ping, "are you there");
    s += client_frame(op_continuation, "", false);
    s += client_frame(op_continuation, "lo \xc3", false);
    s += client_frame(op_continuation, "\xa9t\xc3\xa9");
    s += client_frame(op_binary, std::string(300, 'b'));  // 16-bit length
    s += client_frame(op_pong, "");
    s += client_frame(op_binary, "");
    s += client_frame(op_close, close_payload(1000, "bye"));
    s += client_frame(op_text, "after the close: never read");
    std::string want = "text Hello\nping are you there\ntext Hello \xc3\xa9t"
                       "\xc3\xa9\nbinary " +
                       std::string(300, 'b') +
                       "\npong \nbinary \nclose 1000 bye\n";
    same_at_every_split(s, 1 << 20, want.c_str());
}

/* W4: a 64 bit length frame */
void W4_a_64_bit_length_frame(void **)
{
    std::string big(70000, 'x');
    std::string s = client_frame(op_binary, big);
    assert_int_equal(static_cast<uint8_t>(s[1]), 0x80 | 127);
    assert_string_equal(decode_all(s, 1 << 20, {5, 9, 14, 100}).c_str(),
                        ("binary " + big + "\n").c_str());
}

struct Violation {
    const char *name;
    std::string bytes;
    unsigned code;
};

/* W8: violations close with the rfc code */
void W8_violations_close_with_the_rfc_code(void **)
{
    const Violation cases[] = {
        {"rsv1", client_frame(op_text, "x", true, 1, 4), 1002},
        {"rsv3", client_frame(op_binary, "x", true, 1, 1), 1002},
        {"opcode 3", client_frame(3, "x"), 1002},
        {"opcode 11", client_frame(11, ""), 1002},
        {"unmasked", client_frame(op_text, "x", true, 0, 0, false), 1002},
        {"ping of 126", client_frame(op_ping, std::string(126, 'p')), 1002},
        {"fragmented ping", client_frame(op_ping, "p", false), 1002},
        {"lone continuation", client_frame(op_continuation, "x"), 1002},
        {"text inside a message",
         client_frame(op_text, "a", false) + client_frame(op_text, "b"), 1002},
        {"close of 1 byte", client_frame(op_close, "\x03"), 1002},
        {"close code 999", client_frame(op_close, close_payload(999)), 1002},
        {"close code 1004", client_frame(op_close, close_payload(1004)), 1002},
        {"close code 1005", client_frame(op_close, close_payload(1005)), 1002},
        {"close code 1006", client_frame(op_close, close_payload(1006)), 1002},
        {"close code 1015", client_frame(op_close, close_payload(1015)), 1002},
        {"close code 2999", client_frame(op_close, close_payload(2999)), 1002},
        {"close code 5000", client_frame(op_close, close_payload(5000)), 1002},
        {"close reason not UTF-8",
         client_frame(op_close, close_payload(1000, "\xff")), 1002},
        {"text not UTF-8", client_frame(op_text, "ok \xc0\xaf"), 1007},
        {"text ends inside a character", client_frame(op_text, "\xe2\x82"),
         1007},
        {"surrogate", client_frame(op_text, "\xed\xa0\x80"), 1007},
        {"fragments end inside a character",
         client_frame(op_text, "\xe2", false) +
             client_frame(op_continuation, "\x82"),
         1007},
        {"over the limit", client_frame(op_binary, std::string(101, 'x')),
         1009},
        {"fragments over the limit",
         client_frame(op_binary, std::string(60, 'x'), false) +
             client_frame(op_continuation, std::string(41, 'x')),
         1009},
    };
    for (const Violation &v : cases) {
        std::string want = "violation " + std::to_string(v.code) + "\n";
        std::string got =
            decode_all(v.bytes + client_frame(op_text, "more"), 100, {});
        if (got != want)
            fail_msg("%s: got %s", v.name, got.c_str());
        same_at_every_split(v.bytes, 100, want.c_str());
    }
}

/* W8: the size limit is judged on the declared length */
void W8_the_size_limit_is_judged_on_the_declared_length(void **)
{
    // only the header of a frame declaring 2^40 bytes: refused before any
    // payload byte came (and before anything was allocated for it)
    std::string head("\x82\xff\x00\x00\x01\x00\x00\x00\x00\x00\x01\x02\x03\x04",
                     14);
    assert_string_equal(decode_all(head, 1 << 20, {}).c_str(),
                        "violation 1009\n");
    // a length with its top bit set
    std::string top("\x82\xff\x80\x00\x00\x00\x00\x00\x00\x00\x01\x02\x03\x04",
                    14);
    assert_string_equal(decode_all(top, 1 << 20, {}).c_str(),
                        "violation 1002\n");
}

/* W8: invalid utf8 fails fast */
void W8_invalid_utf8_fails_fast(void **)
{
    // a 1000-byte text frame whose fourth byte is invalid: refused once
    // that byte arrived, not when the frame ends
    std::string payload(1000, 'a');
    payload[3] = '\xff';
    std::string s = client_frame(op_text, payload);
    Decoder d(1 << 20);
    auto *p = reinterpret_cast<const uint8_t *>(s.data());
    auto *end = p + 8 + 4;  // header, mask, "aaa", the bad byte
    Frame f;
    assert_int_equal(static_cast<int>(d.next(&p, end, f)),
                     static_cast<int>(Decoded::violation));
    assert_int_equal(f.close_code, 1007);
}

/* W5: close frames */
void W5_close_frames(void **)
{
    assert_string_equal(decode_all(client_frame(op_close, ""), 100, {}).c_str(),
                        "close 1005 \n");
    assert_string_equal(
        decode_all(client_frame(op_close, close_payload(4999, "caf\xc3\xa9")),
                   100, {})
            .c_str(),
        "close 4999 caf\xc3\xa9\n");
    for (unsigned code : {1000u, 1001u, 1002u, 1003u, 1007u, 1008u, 1009u,
                          1010u, 1011u, 1012u, 1013u, 1014u, 3000u, 4000u})
        assert_string_equal(
            decode_all(client_frame(op_close, close_payload(code)), 100, {})
                .c_str(),
            ("close " + std::to_string(code) + " \n").c_str());
}

/* W4: encoded frames decode back */
void W4_encoded_frames_decode_back(void **)
{
    for (size_t n : {0, 1, 125, 126, 65535, 65536, 100000}) {
        std::string payload(n, 'z');
        std::string out;
        encode_frame(out, op_binary, payload.data(), payload.size());
        size_t head = n < 126 ? 2 : n <= 0xffff ? 4 : 10;
        assert_int_equal(out.size(), head + n);
        assert_int_equal(static_cast<uint8_t>(out[0]), 0x82);
        // a server frame is not masked: mask it as a client would to
        // decode it with the server's decoder
        std::string masked = client_frame(op_binary, payload);
        assert_memory_equal(out.data() + head, payload.data(), n);
        assert_string_equal(decode_all(masked, 1 << 20, {}).c_str(),
                            ("binary " + payload + "\n").c_str());
    }
    std::string c;
    encode_close(c, 1000, "done", 4);
    assert_int_equal(c.size(), 8);
    assert_memory_equal(c.data(),
                        "\x88\x06\x03\xe8"
                        "done",
                        8);
    std::string none;
    encode_close(none, close_no_status, nullptr, 0);
    assert_int_equal(none.size(), 2);
    assert_memory_equal(none.data(), "\x88\x00", 2);
}

std::vector<HeaderView>
headers_of(std::initializer_list<std::pair<const char *, const char *>> list)
{
    std::vector<HeaderView> h;
    for (auto &kv : list)
        h.push_back({kv.first, kv.second});
    return h;
}

/* W1: the handshake is validated */
void W1_the_handshake_is_validated(void **)
{
    assert_string_equal(accept_key("dGhlIHNhbXBsZSBub25jZQ==").c_str(),
                        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    auto good = headers_of({{"host", "example"},
                            {"upgrade", "WebSocket"},
                            {"connection", "keep-alive, Upgrade"},
                            {"sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="},
                            {"sec-websocket-version", "13"},
                            {"sec-websocket-protocol", "chat, superchat"},
                            {"sec-websocket-protocol", " v2 ,,"}});
    Handshake h = check_handshake("GET", "1.1", good);
    assert_int_equal(h.status, 0);
    assert_string_equal(h.accept.c_str(), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert_int_equal(h.subprotocols.size(), 3);
    assert_string_equal(h.subprotocols[2].c_str(), "v2");

    assert_int_equal(check_handshake("POST", "1.1", good).status, 400);
    assert_int_equal(check_handshake("GET", "1.0", good).status, 400);
    assert_int_equal(check_handshake("GET", "2", good).status, 400);

    struct Case {
        const char *name, *value;
        int status;
    } cases[] = {
        {"upgrade", "h2c", 400},
        {"connection", "close", 400},
        {"connection", "upgraded", 400},
        {"sec-websocket-version", "8", 426},
        {"sec-websocket-version", "13, 8", 426},
        {"sec-websocket-key", "short==", 400},
        {"sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=A", 400},
        {"sec-websocket-key", "dGhlIHNhbXBsZSBub25j*Q==", 400},
    };
    for (const Case &c : cases) {
        std::vector<HeaderView> h2;
        for (const HeaderView &hv : good)
            if (hv.name != c.name)
                h2.push_back(hv);
        h2.push_back({c.name, c.value});
        int got = check_handshake("GET", "1.1", h2).status;
        if (got != c.status)
            fail_msg("%s: %s gave %d", c.name, c.value, got);
        // and without the header at all
        h2.pop_back();
        if (check_handshake("GET", "1.1", h2).status == 0)
            fail_msg("without %s the handshake passed", c.name);
    }
    std::vector<HeaderView> two_keys = good;
    two_keys.push_back({"sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="});
    assert_int_equal(check_handshake("GET", "1.1", two_keys).status, 400);

    assert_true(has_token("a, b ,\tUpgrade", "upgrade"));
    assert_false(has_token("upgrade-insecure", "upgrade"));
    assert_false(has_token("", "upgrade"));
}

// ---- the oracle: libwslay's event-based server decoder

struct WslayRun {
    const std::string *bytes;
    size_t at = 0;
    std::string log;
    std::string sent;  // what wslay wrote back: pongs, its close frame
};

ssize_t wslay_send(wslay_event_context_ptr, const uint8_t *data, size_t len,
                   int, void *user)
{
    static_cast<WslayRun *>(user)->sent.append(
        reinterpret_cast<const char *>(data), len);
    return static_cast<ssize_t>(len);
}

// The code of the close frame wslay sent: 1005 for one without a code, 0
// if none.
unsigned sent_close_code(const std::string &sent)
{
    size_t at = 0;
    while (at + 2 <= sent.size()) {
        auto op = static_cast<uint8_t>(sent[at]) & 0x0f;
        size_t len = static_cast<uint8_t>(sent[at + 1]) & 0x7f, head = 2;
        if (len == 126) {
            len = (size_t(uint8_t(sent[at + 2])) << 8) | uint8_t(sent[at + 3]);
            head = 4;
        }
        if (op == op_close)
            return len >= 2 ? (unsigned(uint8_t(sent[at + 2])) << 8) |
                                  uint8_t(sent[at + 3])
                            : 1005;
        at += head + len;
    }
    return 0;
}

ssize_t wslay_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int,
                   void *user)
{
    auto *run = static_cast<WslayRun *>(user);
    size_t n = std::min(len, run->bytes->size() - run->at);
    if (n == 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    std::memcpy(buf, run->bytes->data() + run->at, n);
    run->at += n;
    return static_cast<ssize_t>(n);
}

void wslay_msg(wslay_event_context_ptr, const wslay_event_on_msg_recv_arg *a,
               void *user)
{
    auto *run = static_cast<WslayRun *>(user);
    std::string payload(reinterpret_cast<const char *>(a->msg), a->msg_length);
    switch (a->opcode) {
    case WSLAY_TEXT_FRAME: run->log += "text " + payload + "\n"; break;
    case WSLAY_BINARY_FRAME: run->log += "binary " + payload + "\n"; break;
    case WSLAY_PING: run->log += "ping " + payload + "\n"; break;
    case WSLAY_PONG: run->log += "pong " + payload + "\n"; break;
    case WSLAY_CONNECTION_CLOSE:
        run->log += "close " +
                    std::to_string(a->status_code ? a->status_code : 1005) +
                    " " + (payload.size() > 2 ? payload.substr(2) : "") + "\n";
        break;
    }
}

std::string wslay_decode(const std::string &bytes, size_t max)
{
    WslayRun run;
    run.bytes = &bytes;
    wslay_event_callbacks cb = {};
    cb.recv_callback = wslay_recv;
    cb.send_callback = wslay_send;
    cb.on_msg_recv_callback = wslay_msg;
    wslay_event_context_ptr ctx;
    assert_int_equal(wslay_event_context_server_init(&ctx, &cb, &run), 0);
    wslay_event_config_set_max_recv_msg_length(ctx, max);
    while (run.at < bytes.size() && wslay_event_want_read(ctx)) {
        if (wslay_event_recv(ctx) != 0)
            break;
    }
    wslay_event_send(ctx);
    unsigned code = sent_close_code(run.sent);
    // For some violations (a control frame over 125 bytes) wslay fails the
    // connection with a close frame without a code: that is a 1002.
    if (code == 1005)
        code = 1002;
    if (!wslay_event_get_close_received(ctx) && code)
        run.log += "violation " + std::to_string(code) + "\n";
    wslay_event_context_free(ctx);
    return run.log;
}

std::string random_payload(std::mt19937 &rng, size_t max, bool text)
{
    static const char *pieces[] = {
        "a", "Z", " ", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80"};
    std::string s;
    size_t n = rng() % max;
    while (s.size() < n) {
        if (text)
            s += pieces[rng() % 6];
        else
            s.push_back(static_cast<char>(rng()));
    }
    return s;
}

// A random client stream: messages, some fragmented, control frames
// between fragments, now and then one violation or a close.
std::string random_stream(std::mt19937 &rng)
{
    std::string s;
    int frames = 1 + rng() % 12;
    for (int i = 0; i < frames; i++) {
        uint32_t mask = rng();
        switch (rng() % 10) {
        case 0:
            s += client_frame(op_ping, random_payload(rng, 126, false), true,
                              mask);
            break;
        case 1:
            s += client_frame(op_pong, random_payload(rng, 126, false), true,
                              mask);
            break;
        case 2: {  // fragmented, with a ping inside
            bool text = rng() % 2;
            std::string a = random_payload(rng, 300, text);
            std::string b = random_payload(rng, 300, text);
            s += client_frame(text ? op_text : op_binary, a, false, mask);
            s += client_frame(op_ping, "", true, mask);
            s += client_frame(op_continuation, b, true, mask);
            break;
        }
        case 3: {  // a violation (both decoders give the same code)
            static const unsigned codes[] = {1000, 1001, 1003, 1008, 1011,
                                             3000, 4999, 999,  1004, 1005,
                                             1006, 2000, 5000};
            switch (rng() % 7) {
            case 0:
                s += client_frame(op_text, "x", true, mask, 1 + rng() % 7);
                break;
            case 1: s += client_frame(3 + rng() % 5, "x", true, mask); break;
            case 2: s += client_frame(op_continuation, "x", true, mask); break;
            case 3:
                s += client_frame(op_ping, std::string(126, 'p'), true, mask);
                break;
            case 4: s += client_frame(op_text, "\xc3\x28", true, mask); break;
            case 5:
                s +=
                    client_frame(op_binary, std::string(5000, 'x'), true, mask);
                break;
            default:
                s += client_frame(op_close,
                                  close_payload(codes[rng() % 13], "bye"), true,
                                  mask);
                break;
            }
            return s;
        }
        default: {
            bool text = rng() % 2;
            s += client_frame(text ? op_text : op_binary,
                              random_payload(rng, 2000, text), true, mask);
        }
        }
    }
    if (rng() % 2)
        s += client_frame(op_close, "", true, rng());
    return s;
}

/* W4: random streams decode as wslay decodes them */
void W4_random_streams_decode_as_wslay_decodes_them(void **)
{
    std::mt19937 rng(20261130);
    size_t events = 0, violations = 0;
    for (int i = 0; i < 3000; i++) {
        std::string s = random_stream(rng);
        std::vector<size_t> cuts;
        for (size_t at = rng() % 50 + 1; at < s.size(); at += rng() % 700 + 1)
            cuts.push_back(at);
        std::string ours = decode_all(s, 4096, cuts);
        std::string theirs = wslay_decode(s, 4096);
        if (ours != theirs)
            fail_msg("stream %d: we decoded\n%s\nwslay decoded\n%s", i,
                     ours.c_str(), theirs.c_str());
        for (char c : ours)
            events += c == '\n';
        violations += ours.find("violation") != std::string::npos;
    }
    print_message("3000 random streams: %zu events, %zu violations, the "
                  "same as wslay's\n",
                  events, violations);
}

}  // namespace

int main()
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(W4_frames_decode_the_same_split_at_every_offset),
        cmocka_unit_test(W4_a_64_bit_length_frame),
        cmocka_unit_test(W8_violations_close_with_the_rfc_code),
        cmocka_unit_test(W8_the_size_limit_is_judged_on_the_declared_length),
        cmocka_unit_test(W8_invalid_utf8_fails_fast),
        cmocka_unit_test(W5_close_frames),
        cmocka_unit_test(W4_encoded_frames_decode_back),
        cmocka_unit_test(W1_the_handshake_is_validated),
        cmocka_unit_test(W4_random_streams_decode_as_wslay_decodes_them),
    };
    return cmocka_run_group_tests_name("ws codec", tests, nullptr, nullptr);
}
