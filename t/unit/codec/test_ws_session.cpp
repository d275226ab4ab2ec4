// A WebSocket connection after its 101 (lib/ws_session), below the public
// header, with a manual clock: the close handshake both ways and its
// timeout, disconnect codes, violations, pings and keepalive, the pause
// while the app does not receive.
extern "C" {
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
}

#include "frames.hpp"
#include "ws_session.hpp"

#include <string>

using namespace asgicore;
using namespace asgicore::ws;

namespace {

constexpr uint64_t ms = 1'000'000;

Settings settings(size_t buffer = 1 << 20, uint64_t ping = 20'000 * ms)
{
    Settings s;
    s.max_message = 1000;
    s.read_buffer_limit = buffer;
    s.ping_interval_ns = ping;
    s.close_timeout_ns = 5'000 * ms;
    return s;
}

bool feed(Session &s, const std::string &bytes, asgicore_time now)
{
    return s.feed(bytes.data(), bytes.size(), now);
}

// The app's events, one line each.
std::string events(Session &s)
{
    std::string log;
    Event e;
    bool resume;
    while (s.take_event(e, &resume)) {
        if (e.kind == Event::message)
            log += (e.text ? "text " : "binary ") + e.payload + "\n";
        else
            log +=
                "disconnect " + std::to_string(e.code) + " " + e.payload + "\n";
    }
    return log;
}

std::string take_output(Session &s)
{
    std::string out;
    out.swap(s.output());
    return out;
}

std::string server_close(unsigned code, const char *reason = "")
{
    std::string f;
    encode_close(f, code, reason, std::char_traits<char>::length(reason));
    return f;
}

/* W5, W6, W7: a client close after messages */
void W5_W6_W7_a_client_close_after_messages(void **)
{
    Session s(settings(), 0);
    feed(s,
         client_frame(op_text, "one") + client_frame(op_binary, "two") +
             client_frame(op_close, close_payload(4000, "bye")) +
             client_frame(op_text, "after the close"),
         1);
    // W6: every message before the close frame, then the disconnect
    assert_string_equal(events(s).c_str(),
                        "text one\nbinary two\ndisconnect 4000 bye\n");
    // W7: echoed at once, with the client's code
    assert_true(take_output(s) == server_close(4000));
    assert_true(s.phase() == Phase::closed);
    // W10: a send after the close is refused, nothing written
    assert_int_equal(s.send(true, "late", 4), ASGICORE_ERR_DISCONNECTED);
    assert_int_equal(s.close(1000, "", 2), ASGICORE_ERR_DISCONNECTED);
    assert_true(s.output().empty());
    assert_int_equal(s.deadline(), ASGICORE_TIME_NEVER);
}

/* W5: a close without a code is 1005 and never sent */
void W5_a_close_without_a_code_is_1005_and_never_sent(void **)
{
    Session s(settings(), 0);
    feed(s, client_frame(op_close, ""), 1);
    assert_string_equal(events(s).c_str(), "disconnect 1005 \n");
    assert_true(take_output(s) == std::string("\x88\x00", 2));
}

/* W5: a lost connection is 1006 after what arrived */
void W5_a_lost_connection_is_1006_after_what_arrived(void **)
{
    Session s(settings(), 0);
    feed(s, client_frame(op_text, "a") + client_frame(op_text, "b"), 1);
    s.lost();
    assert_string_equal(events(s).c_str(),
                        "text a\ntext b\ndisconnect 1006 \n");
    assert_true(s.output().empty());  // 1006 never on the wire
    assert_true(s.phase() == Phase::closed);
}

/* W7: an app close waits for the reply */
void W7_an_app_close_waits_for_the_reply(void **)
{
    Session s(settings(), 0);
    assert_int_equal(s.close(1000, "done", 10 * ms), ASGICORE_OK);
    assert_true(take_output(s) == server_close(1000, "done"));
    assert_true(s.phase() == Phase::closing);
    assert_int_equal(s.deadline(), 5'010 * ms);
    // reading goes on: data is dropped, pings not answered
    feed(s, client_frame(op_text, "late") + client_frame(op_ping, "p"),
         20 * ms);
    assert_string_equal(events(s).c_str(), "");
    assert_true(s.output().empty());
    assert_int_equal(s.send(false, "x", 1), ASGICORE_ERR_DISCONNECTED);
    // the reply ends it with the client's code
    feed(s, client_frame(op_close, close_payload(1000)), 30 * ms);
    assert_string_equal(events(s).c_str(), "disconnect 1000 \n");
    assert_true(s.phase() == Phase::closed);
    assert_true(s.output().empty());  // no second close frame
}

/* W7: no reply within the close timeout */
void W7_no_reply_within_the_close_timeout(void **)
{
    Session s(settings(), 0);
    s.close(3001, "", 0);
    take_output(s);
    s.expire(4'999 * ms);
    assert_true(s.phase() == Phase::closing);
    s.expire(5'000 * ms);
    assert_true(s.phase() == Phase::closed);
    assert_string_equal(events(s).c_str(), "disconnect 1006 \n");
}

/* W5: the app may not send reserved codes */
void W5_the_app_may_not_send_reserved_codes(void **)
{
    Session s(settings(), 0);
    for (unsigned code : {0u, 999u, 1004u, 1005u, 1006u, 1015u, 2000u, 5000u})
        assert_int_equal(s.close(code, "", 0), ASGICORE_ERR_INVALID);
    assert_int_equal(s.close(1000, std::string(124, 'r'), 0),
                     ASGICORE_ERR_INVALID);
    assert_int_equal(s.close(1000, "\xff", 0), ASGICORE_ERR_INVALID);
    assert_true(s.output().empty());
    assert_true(s.phase() == Phase::open);
    assert_int_equal(s.close(4999, std::string(123, 'r'), 0), ASGICORE_OK);
}

/* W8: violations close with their code */
void W8_violations_close_with_their_code(void **)
{
    struct {
        std::string bytes;
        unsigned code;
    } cases[] = {
        {client_frame(op_text, "\xc3\x28"), 1007},
        {client_frame(op_text, "x", true, 0, 0, false), 1002},
        {client_frame(op_binary, std::string(1001, 'x')), 1009},
        {client_frame(op_close, close_payload(1005)), 1002},
    };
    for (auto &c : cases) {
        Session s(settings(), 0);
        feed(s, client_frame(op_text, "first") + c.bytes, 1);
        std::string ev = events(s);
        assert_int_equal(
            ev.find("text first\ndisconnect " + std::to_string(c.code) + " "),
            0);
        assert_true(take_output(s) == server_close(c.code));
        assert_true(s.phase() == Phase::closed);
    }
}

/* W9: a ping gets its payload back */
void W9_a_ping_gets_its_payload_back(void **)
{
    Session s(settings(), 0);
    feed(s, client_frame(op_ping, "hello?"), 1);
    std::string pong;
    encode_frame(pong, op_pong, "hello?", 6);
    assert_true(take_output(s) == pong);
    assert_string_equal(events(s).c_str(), "");
}

/* W9: an idle connection is pinged then lost */
void W9_an_idle_connection_is_pinged_then_lost(void **)
{
    Session s(settings(1 << 20, 1000 * ms), 0);
    assert_int_equal(s.deadline(), 1000 * ms);
    s.expire(999 * ms);
    assert_true(s.output().empty());
    s.expire(1000 * ms);
    std::string out = take_output(s);
    assert_int_equal(static_cast<uint8_t>(out[0]), 0x89);  // a ping
    assert_int_equal(s.deadline(), 2000 * ms);
    // any byte from the client answers
    feed(s, client_frame(op_pong, out.substr(2)), 1500 * ms);
    assert_int_equal(s.deadline(), 2500 * ms);
    s.expire(2500 * ms);
    take_output(s);  // the second ping
    s.expire(3499 * ms);
    assert_true(s.phase() == Phase::open);
    s.expire(3500 * ms);  // unanswered for the interval
    assert_true(s.phase() == Phase::closed);
    assert_string_equal(events(s).c_str(), "disconnect 1006 \n");
    assert_true(s.output().empty());
}

/* W13: a paused reader stops reading; its pings go on without a pong
 * timeout (a client that closed its socket answers one with a reset) */
void W13_a_paused_reader_stops_reading_and_pings_without_a_deadline(void **)
{
    // a limit one message reaches (each counts its payload and a fixed
    // cost): paused after each, the rest stays raw
    Session s(settings(10, 1000 * ms), 0);
    bool paused =
        feed(s,
             client_frame(op_text, "aaaaaa") + client_frame(op_text, "bbbbbb") +
                 client_frame(op_text, "cccccc"),
             1);
    assert_true(paused);
    // W9: a ping each interval while paused, none of them a deadline
    assert_int_equal(s.deadline(), 1000 * ms + 1);
    s.expire(1000 * ms + 1);
    std::string out = take_output(s);
    assert_int_equal(static_cast<uint8_t>(out[0]), 0x89);
    assert_int_equal(s.deadline(), 2000 * ms + 1);
    s.expire(2000 * ms + 1);
    assert_int_equal(static_cast<uint8_t>(take_output(s)[0]), 0x89);
    s.expire(60'000 * ms);
    take_output(s);
    assert_true(s.phase() == Phase::open);
    Event e;
    bool resume;
    const char *want[] = {"aaaaaa", "bbbbbb", "cccccc"};
    for (int i = 0; i < 3; i++) {
        assert_true(s.take_event(e, &resume));
        assert_string_equal(e.payload.c_str(), want[i]);
        // the next message decoded from what was kept: paused again, until
        // nothing raw is left and the host may read again
        assert_int_equal(resume, i == 2);
        assert_int_equal(s.paused(), i < 2);
    }
    // the keepalive starts again from the resume
    assert_int_equal(s.deadline(), 61'000 * ms);
}

/* W4: app messages are frames */
void W4_app_messages_are_frames(void **)
{
    Session s(settings(), 0);
    assert_int_equal(s.send(true, "caf\xc3\xa9", 5), ASGICORE_OK);
    assert_int_equal(s.send(false, "\x00\xff", 2), ASGICORE_OK);
    assert_int_equal(s.send(true, "\xc3", 1), ASGICORE_ERR_INVALID);
    std::string want;
    encode_frame(want, op_text, "caf\xc3\xa9", 5);
    encode_frame(want, op_binary, "\x00\xff", 2);
    assert_true(take_output(s) == want);
}

}  // namespace

int main()
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(W5_W6_W7_a_client_close_after_messages),
        cmocka_unit_test(W5_a_close_without_a_code_is_1005_and_never_sent),
        cmocka_unit_test(W5_a_lost_connection_is_1006_after_what_arrived),
        cmocka_unit_test(W7_an_app_close_waits_for_the_reply),
        cmocka_unit_test(W7_no_reply_within_the_close_timeout),
        cmocka_unit_test(W5_the_app_may_not_send_reserved_codes),
        cmocka_unit_test(W8_violations_close_with_their_code),
        cmocka_unit_test(W9_a_ping_gets_its_payload_back),
        cmocka_unit_test(W9_an_idle_connection_is_pinged_then_lost),
        cmocka_unit_test(
            W13_a_paused_reader_stops_reading_and_pings_without_a_deadline),
        cmocka_unit_test(W4_app_messages_are_frames),
    };
    return cmocka_run_group_tests_name("ws session", tests, nullptr, nullptr);
}
