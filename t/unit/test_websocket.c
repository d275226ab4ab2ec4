/* The websocket scope through the public header (W1-W16), with the fake
 * host and a manual clock: the handshake and its answers, messages both
 * ways, close codes, grace and cancel, backpressure, the pause. */
#include "fake_host.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    fake_host fh;
    fake_app fa;
    fake_req req;
} ws_state;

static int ws_setup(void **st)
{
    static ws_state s;
    memset(&s, 0, sizeof s);
    fake_host_init(&s.fh, NULL);
    fake_app_init(&s.fh, &s.fa, ASGICORE_APP_INLINE | ASGICORE_APP_WEBSOCKET);
    *st = &s;
    return 0;
}

static int ws_teardown(void **st)
{
    ws_state *s = *st;
    if (s->req.scope && !s->req.released)
        fake_release(&s->fh, &s->req);
    fake_pump(&s->fh);
    /* W16: the counters balance for websocket scopes too */
    asgicore_counters c = fake_counters(&s->fh);
    assert_int_equal(c.live, 0);
    assert_int_equal(c.opened,
                     c.completed + c.disconnected + c.cancelled + c.app_errors);
    fake_host_fini(&s->fh);
    return 0;
}

/* A masked client frame into buf; returns its length. */
static size_t client_frame(unsigned char *buf, int opcode, const char *payload,
                           size_t len)
{
    static const unsigned char mask[4] = {0x37, 0xfa, 0x21, 0x3d};
    size_t n = 0;
    buf[n++] = (unsigned char)(0x80 | opcode);
    if (len < 126) {
        buf[n++] = (unsigned char)(0x80 | len);
    } else {
        buf[n++] = 0x80 | 126;
        buf[n++] = (unsigned char)(len >> 8);
        buf[n++] = (unsigned char)len;
    }
    memcpy(buf + n, mask, 4);
    n += 4;
    for (size_t i = 0; i < len; i++)
        buf[n + i] = (unsigned char)(payload[i] ^ mask[i & 3]);
    return n + len;
}

static int feed(fake_host *fh, fake_req *req, int opcode, const char *payload,
                size_t len)
{
    unsigned char buf[1024];
    size_t n = client_frame(buf, opcode, payload, len);
    return asgicore_scope_feed_raw(req->scope, buf, n, fh->now);
}

static asgicore_event_v2 receive_ok(asgicore_scope *scope)
{
    asgicore_event_v2 ev;
    assert_int_equal(asgicore_receive_versioned(scope, ASGICORE_EVENT_V2, &ev),
                     ASGICORE_OK);
    return ev;
}

static void expect_pending_v2(asgicore_scope *scope)
{
    asgicore_event_v2 ev;
    assert_int_equal(asgicore_receive_versioned(scope, ASGICORE_EVENT_V2, &ev),
                     ASGICORE_PENDING);
}

static void connect_and_accept(ws_state *s)
{
    fake_open_ws(&s->fh, &s->fa, &s->req, NULL, NULL, NULL);
    asgicore_event_v2 ev = receive_ok(s->req.scope);
    assert_int_equal(ev.type, ASGICORE_EVENT_WEBSOCKET_CONNECT);
    assert_int_equal(s->req.head_writes, 0); /* W1: nothing before accept */
    assert_int_equal(asgicore_websocket_accept(s->req.scope, NULL, NULL, 0),
                     ASGICORE_OK);
    fake_pump(&s->fh);
    assert_int_equal(s->req.status, 101);
}

/* W1: an invalid handshake never reaches the app */
static void W1_an_invalid_handshake_never_reaches_the_app(void **st)
{
    ws_state *s = *st;
    fake_open_ws(&s->fh, &s->fa, &s->req, "sec-websocket-version", "8", NULL);
    fake_pump(&s->fh);
    assert_int_equal(s->fa.starts, 0);
    assert_int_equal(s->req.status, 426);
    assert_non_null(strstr(s->req.headers, "sec-websocket-version: 13\n"));
    assert_int_equal(s->req.done_calls, 1);
    fake_release(&s->fh, &s->req);

    fake_open_ws(&s->fh, &s->fa, &s->req, "sec-websocket-key", "short", NULL);
    fake_pump(&s->fh);
    assert_int_equal(s->fa.starts, 0);
    assert_int_equal(s->req.status, 400);
    assert_true(fake_logged(&s->fh, "WebSocket handshake refused with 400"));
    fake_release(&s->fh, &s->req);

    /* 16 bytes have one base64 form: the last character's unused bits
     * are zero ("...ZQ==", not "...ZR==") */
    fake_open_ws(&s->fh, &s->fa, &s->req, "sec-websocket-key",
                 "dGhlIHNhbXBsZSBub25jZR==", NULL);
    fake_pump(&s->fh);
    assert_int_equal(s->fa.starts, 0);
    assert_int_equal(s->req.status, 400);
    fake_release(&s->fh, &s->req);

    /* a body would be read as frames after the 101 */
    fake_open_ws(&s->fh, &s->fa, &s->req, "content-length", "12", NULL);
    fake_pump(&s->fh);
    assert_int_equal(s->fa.starts, 0);
    assert_int_equal(s->req.status, 400);
    assert_true(fake_logged(&s->fh, "a request body"));
    fake_release(&s->fh, &s->req);
    fake_open_ws(&s->fh, &s->fa, &s->req, "transfer-encoding", "chunked", NULL);
    fake_pump(&s->fh);
    assert_int_equal(s->fa.starts, 0);
    assert_int_equal(s->req.status, 400);
    fake_release(&s->fh, &s->req);
    fake_open_ws(&s->fh, &s->fa, &s->req, "content-length", "0", NULL);
    fake_pump(&s->fh);
    assert_int_equal(s->fa.starts, 1); /* no body: fine */
}

/* W1: connect first and the 101 on accept */
static void W1_connect_first_and_the_101_on_accept(void **st)
{
    ws_state *s = *st;
    connect_and_accept(s);
    assert_non_null(strstr(s->req.headers, "upgrade: websocket\n"));
    assert_non_null(strstr(s->req.headers, "sec-websocket-accept: "
                                           "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\n"));
    /* version 1 of receive is for HTTP scopes */
    asgicore_event ev1;
    assert_int_equal(asgicore_receive(s->req.scope, &ev1), ASGICORE_ERR_STATE);
    asgicore_finish(s->req.scope, 0, NULL);
    fake_pump(&s->fh);
}

/* W2: close before accept is a 403 */
static void W2_close_before_accept_is_a_403(void **st)
{
    ws_state *s = *st;
    fake_open_ws(&s->fh, &s->fa, &s->req, NULL, NULL, NULL);
    receive_ok(s->req.scope);
    assert_int_equal(asgicore_websocket_close(s->req.scope, 1000, NULL, 0),
                     ASGICORE_OK);
    fake_pump(&s->fh);
    assert_int_equal(s->req.status, 403);
    assert_int_equal(s->req.done_calls, 1);
    assert_int_equal(s->req.outcome, ASGICORE_OUTCOME_COMPLETE);
    asgicore_finish(s->req.scope, 0, NULL);
}

/* W2: the denial response */
static void W2_the_denial_response(void **st)
{
    ws_state *s = *st;
    fake_open_ws(&s->fh, &s->fa, &s->req, NULL, NULL, NULL);
    receive_ok(s->req.scope);
    assert_int_equal(asgicore_send_start(s->req.scope, 401, NULL, 0, 0),
                     ASGICORE_OK);
    assert_int_equal(asgicore_send_body(s->req.scope, "no", 2, 0), ASGICORE_OK);
    fake_pump(&s->fh);
    assert_int_equal(s->req.status, 401);
    assert_int_equal(s->req.body_len, 2);
    /* an accept after it is an app error */
    assert_int_equal(asgicore_websocket_accept(s->req.scope, NULL, NULL, 0),
                     ASGICORE_ERR_PROTOCOL);
    asgicore_finish(s->req.scope, 0, NULL);
}

/* W3: the subprotocol must be offered */
static void W3_the_subprotocol_must_be_offered(void **st)
{
    ws_state *s = *st;
    fake_open_ws(&s->fh, &s->fa, &s->req, "sec-websocket-protocol",
                 "chat, superchat", NULL);
    receive_ok(s->req.scope);
    asgicore_str other = {"other", 5};
    assert_int_equal(asgicore_websocket_accept(s->req.scope, &other, NULL, 0),
                     ASGICORE_ERR_BAD_HEADER);
    asgicore_finish(s->req.scope, 0, NULL);
    fake_pump(&s->fh);
    assert_int_equal(s->req.status, 500); /* the app error before accept */
    fake_release(&s->fh, &s->req);

    fake_open_ws(&s->fh, &s->fa, &s->req, "sec-websocket-protocol",
                 "chat, superchat", NULL);
    receive_ok(s->req.scope);
    asgicore_str chat = {"superchat", 9};
    asgicore_header h = {{"x-app", 5}, {"yes", 3}};
    assert_int_equal(asgicore_websocket_accept(s->req.scope, &chat, &h, 1),
                     ASGICORE_OK);
    fake_pump(&s->fh);
    assert_non_null(
        strstr(s->req.headers, "sec-websocket-protocol: superchat\n"));
    assert_non_null(strstr(s->req.headers, "x-app: yes\n"));
    asgicore_finish(s->req.scope, 0, NULL);
    fake_pump(&s->fh);
}

/* W4: messages both ways */
static void W4_messages_both_ways(void **st)
{
    ws_state *s = *st;
    connect_and_accept(s);
    asgicore_event_v2 ev;
    assert_int_equal(
        asgicore_receive_versioned(s->req.scope, ASGICORE_EVENT_V2, &ev),
        ASGICORE_PENDING);
    assert_int_equal(feed(&s->fh, &s->req, 1, "hello", 5), ASGICORE_OK);
    fake_pump(&s->fh);
    assert_int_equal(s->fa.notifications[ASGICORE_NOTIFY_RECEIVE_READY], 1);
    ev = receive_ok(s->req.scope);
    assert_int_equal(ev.type, ASGICORE_EVENT_WEBSOCKET_RECEIVE);
    assert_int_equal(ev.text, 1);
    assert_int_equal(ev.len, 5);
    assert_memory_equal(ev.data, "hello", 5);
    assert_int_equal(asgicore_websocket_send(s->req.scope, 0, "\x01\x02", 2),
                     ASGICORE_OK);
    fake_pump(&s->fh);
    assert_int_equal(s->req.raw_len, 4);
    assert_memory_equal(s->req.raw, "\x82\x02\x01\x02", 4);
    asgicore_finish(s->req.scope, 0, NULL);
    fake_pump(&s->fh);
}

/* W5, W7: a client close is echoed with its code */
static void W5_W7_a_client_close_is_echoed_with_its_code(void **st)
{
    ws_state *s = *st;
    connect_and_accept(s);
    assert_int_equal(feed(&s->fh, &s->req, 1, "last", 4), ASGICORE_OK);
    assert_int_equal(feed(&s->fh, &s->req, 8,
                          "\x0f\xa0"
                          "bye",
                          5),
                     ASGICORE_OK);
    fake_pump(&s->fh);
    /* W6: the message before the close frame comes first */
    asgicore_event_v2 ev = receive_ok(s->req.scope);
    assert_int_equal(ev.type, ASGICORE_EVENT_WEBSOCKET_RECEIVE);
    ev = receive_ok(s->req.scope);
    assert_int_equal(ev.type, ASGICORE_EVENT_WEBSOCKET_DISCONNECT);
    assert_int_equal(ev.code, 4000);
    assert_int_equal(ev.len, 3);
    /* W7: echoed at once; the host may close: done, complete */
    assert_int_equal(s->req.raw_len, 4);
    assert_memory_equal(s->req.raw, "\x88\x02\x0f\xa0", 4);
    assert_int_equal(s->req.done_calls, 1);
    assert_int_equal(s->req.outcome, ASGICORE_OUTCOME_COMPLETE);
    /* W10: a send after the close is refused, not an app error */
    assert_int_equal(asgicore_websocket_send(s->req.scope, 1, "x", 1),
                     ASGICORE_ERR_DISCONNECTED);
    asgicore_finish(s->req.scope, 0, NULL);
    fake_pump(&s->fh);
    assert_int_equal(fake_counters(&s->fh).app_errors, 0);
}

/* W5: a lost connection is 1006 */
static void W5_a_lost_connection_is_1006(void **st)
{
    ws_state *s = *st;
    connect_and_accept(s);
    assert_int_equal(asgicore_scope_disconnect(
                         s->req.scope, ASGICORE_DISCONNECT_RESET, s->fh.now),
                     ASGICORE_OK);
    fake_pump(&s->fh);
    asgicore_event_v2 ev = receive_ok(s->req.scope);
    assert_int_equal(ev.type, ASGICORE_EVENT_WEBSOCKET_DISCONNECT);
    assert_int_equal(ev.code, 1006);
    assert_int_equal(s->req.raw_len, 0); /* never on the wire */
    asgicore_finish(s->req.scope, 0, NULL);
    fake_pump(&s->fh);
    assert_int_equal(s->req.outcome, ASGICORE_OUTCOME_CLIENT_DISCONNECTED);
}

/* W7, W14: an app that returns closes with 1000 */
static void W7_W14_an_app_that_returns_closes_with_1000(void **st)
{
    ws_state *s = *st;
    connect_and_accept(s);
    asgicore_finish(s->req.scope, 0, NULL);
    fake_pump(&s->fh);
    assert_int_equal(s->req.raw_len, 4);
    assert_memory_equal(s->req.raw, "\x88\x02\x03\xe8", 4);
    /* W7: the host waits for the reply, up to the close timeout, counted
     * from the host's time (the app's call had none: the library asks at
     * once) */
    assert_int_equal(s->fh.timer, 0);
    fake_advance(&s->fh, 0);
    fake_advance(&s->fh, 5 * SEC - 1);
    fake_pump(&s->fh);
    assert_int_equal(s->req.done_calls, 0);
    fake_advance(&s->fh, 1);
    fake_pump(&s->fh);
    assert_int_equal(s->req.done_calls, 1);
    /* the client never answered: not a clean close */
    assert_int_equal(s->req.outcome, ASGICORE_OUTCOME_CLIENT_DISCONNECTED);
}

/* W14: an app that fails closes with 1011 */
static void W14_an_app_that_fails_closes_with_1011(void **st)
{
    ws_state *s = *st;
    connect_and_accept(s);
    asgicore_finish(s->req.scope, 1, "boom");
    fake_pump(&s->fh);
    assert_memory_equal(s->req.raw, "\x88\x02\x03\xf3", 4);
    assert_true(fake_logged(&s->fh, "app failed: boom"));
    /* the reply ends it */
    assert_int_equal(feed(&s->fh, &s->req, 8, "\x03\xf3", 2), ASGICORE_OK);
    fake_pump(&s->fh);
    assert_int_equal(s->req.done_calls, 1);
    assert_int_equal(s->req.outcome, ASGICORE_OUTCOME_APP_ERROR);
}

/* W11: grace then one cancel */
static void W11_grace_then_one_cancel(void **st)
{
    ws_state *s = *st;
    connect_and_accept(s);
    feed(&s->fh, &s->req, 8, "\x03\xe8", 2);
    fake_pump(&s->fh);
    fake_advance(&s->fh, 3 * SEC - 1);
    assert_int_equal(s->fa.notifications[ASGICORE_NOTIFY_CANCEL], 0);
    fake_advance(&s->fh, 1);
    fake_pump(&s->fh);
    assert_int_equal(s->fa.notifications[ASGICORE_NOTIFY_CANCEL], 1);
    fake_advance(&s->fh, 10 * SEC);
    fake_pump(&s->fh);
    assert_int_equal(s->fa.notifications[ASGICORE_NOTIFY_CANCEL], 1);
    asgicore_finish(s->req.scope, 1, "cancelled");
    fake_pump(&s->fh);
}

/* W12: a backlogged host makes send wait */
static void W12_a_backlogged_host_makes_send_wait(void **st)
{
    ws_state *s = *st;
    connect_and_accept(s);
    s->req.write_result = ASGICORE_PENDING;
    assert_int_equal(asgicore_websocket_send(s->req.scope, 1, "a", 1),
                     ASGICORE_OK);
    fake_pump(&s->fh);
    assert_int_equal(asgicore_websocket_send(s->req.scope, 1, "b", 1),
                     ASGICORE_PENDING);
    assert_int_equal(asgicore_websocket_send(s->req.scope, 1, "c", 1),
                     ASGICORE_ERR_BUSY);
    /* a drop releases the waiting send at once */
    asgicore_scope_disconnect(s->req.scope, ASGICORE_DISCONNECT_RESET,
                              s->fh.now);
    fake_pump(&s->fh);
    assert_int_equal(s->fa.notifications[ASGICORE_NOTIFY_SEND_READY], 1);
    assert_int_equal(s->fa.last_status, ASGICORE_ERR_DISCONNECTED);
    asgicore_finish(s->req.scope, 0, NULL);
    fake_pump(&s->fh);
}

/* W13: an app that does not receive pauses reading */
static void W13_an_app_that_does_not_receive_pauses_reading(void **st)
{
    ws_state *s = *st;
    asgicore_scope_info limits;
    memset(&limits, 0, sizeof limits);
    limits.websocket_max_message = 1024;
    fake_open_ws(&s->fh, &s->fa, &s->req, NULL, NULL, &limits);
    receive_ok(s->req.scope);
    asgicore_websocket_accept(s->req.scope, NULL, NULL, 0);
    fake_pump(&s->fh);
    /* empty messages count too: the pause comes before 1024 of them */
    int rc = ASGICORE_OK, fed = 0;
    while (rc == ASGICORE_OK && fed < 1024) {
        rc = feed(&s->fh, &s->req, 2, "", 0);
        fed++;
    }
    assert_int_equal(rc, ASGICORE_PENDING);
    assert_in_range(fed, 2, 64);
    receive_ok(s->req.scope);
    fake_pump(&s->fh);
    assert_int_equal(s->req.resumes, 1);
    asgicore_finish(s->req.scope, 0, NULL);
    fake_pump(&s->fh);
}

/* W9, W13: a paused connection whose host is backlogged past the ping
 * interval: the probe waits for the host, and the timer is not due again at
 * once (handle_expiry looped forever on it) */
static void W13_a_paused_backlogged_connection_past_the_interval(void **st)
{
    ws_state *s = *st;
    asgicore_scope_info limits;
    memset(&limits, 0, sizeof limits);
    limits.websocket_max_message = 1024;
    limits.websocket_ping_interval_ns = (int64_t)SEC;
    fake_open_ws(&s->fh, &s->fa, &s->req, NULL, NULL, &limits);
    receive_ok(s->req.scope);
    asgicore_websocket_accept(s->req.scope, NULL, NULL, 0);
    fake_pump(&s->fh);
    int rc = ASGICORE_OK, fed = 0;
    while (rc == ASGICORE_OK && fed < 1024) {
        rc = feed(&s->fh, &s->req, 2, "", 0);
        fed++;
    }
    assert_int_equal(rc, ASGICORE_PENDING); /* paused */
    s->req.write_result = ASGICORE_PENDING; /* and the client reads nothing */
    assert_int_equal(asgicore_websocket_send(s->req.scope, 0, "big", 3),
                     ASGICORE_OK);
    fake_pump(&s->fh);
    size_t written = s->req.raw_len;
    alarm(10); /* a regression spins inside the next call */
    fake_advance(&s->fh, 3 * SEC);
    fake_pump(&s->fh);
    alarm(0);
    assert_true(asgicore_ctx_get_expiry(s->fh.ctx) > s->fh.now);
    assert_int_equal(s->req.raw_len, written); /* no probe behind the backlog */
    assert_int_equal(s->req.done_calls, 0);
    /* the host drains: the probe follows an interval later */
    s->req.write_result = ASGICORE_OK;
    asgicore_scope_write_ready(s->req.scope);
    fake_pump(&s->fh);
    fake_advance(&s->fh, SEC);
    fake_pump(&s->fh);
    assert_true(s->req.raw_len > written);
    assert_int_equal((unsigned char)s->req.raw[s->req.raw_len - 6], 0x89);
    asgicore_finish(s->req.scope, 0, NULL);
    fake_pump(&s->fh);
}

/* W6: messages before the close come first */
static void W6_messages_before_the_close_come_first(void **st)
{
    ws_state *s = *st;
    connect_and_accept(s);
    unsigned char buf[256];
    size_t n = client_frame(buf, 1, "one", 3);
    n += client_frame(buf + n, 2, "two", 3);
    n += client_frame(buf + n, 8, "\x03\xe8", 2);
    n += client_frame(buf + n, 1, "after", 5);
    assert_int_equal(asgicore_scope_feed_raw(s->req.scope, buf, n, s->fh.now),
                     ASGICORE_OK);
    fake_pump(&s->fh);
    assert_int_equal(receive_ok(s->req.scope).type,
                     ASGICORE_EVENT_WEBSOCKET_RECEIVE);
    asgicore_event_v2 ev = receive_ok(s->req.scope);
    assert_int_equal(ev.type, ASGICORE_EVENT_WEBSOCKET_RECEIVE);
    assert_int_equal(ev.text, 0);
    ev = receive_ok(s->req.scope);
    assert_int_equal(ev.type, ASGICORE_EVENT_WEBSOCKET_DISCONNECT);
    assert_int_equal(ev.code, 1000);
    /* every receive after it says it again */
    assert_int_equal(receive_ok(s->req.scope).code, 1000);
    asgicore_finish(s->req.scope, 0, NULL);
    fake_pump(&s->fh);
}

/* W8: a violation closes with its code */
static void W8_a_violation_closes_with_its_code(void **st)
{
    ws_state *s = *st;
    connect_and_accept(s);
    /* an unmasked frame */
    assert_int_equal(
        asgicore_scope_feed_raw(s->req.scope, "\x81\x01x", 3, s->fh.now),
        ASGICORE_OK);
    fake_pump(&s->fh);
    assert_int_equal(s->req.raw_len, 4);
    assert_memory_equal(s->req.raw, "\x88\x02\x03\xea", 4);
    asgicore_event_v2 ev = receive_ok(s->req.scope);
    assert_int_equal(ev.code, 1002);
    assert_int_equal(s->req.done_calls, 1);
    asgicore_finish(s->req.scope, 0, NULL);
    fake_pump(&s->fh);
}

/* W9: pings answered and an idle client lost */
static void W9_pings_answered_and_an_idle_client_lost(void **st)
{
    ws_state *s = *st;
    asgicore_scope_info limits;
    memset(&limits, 0, sizeof limits);
    limits.websocket_ping_interval_ns = (int64_t)SEC;
    fake_open_ws(&s->fh, &s->fa, &s->req, NULL, NULL, &limits);
    receive_ok(s->req.scope);
    asgicore_websocket_accept(s->req.scope, NULL, NULL, 0);
    fake_pump(&s->fh);
    feed(&s->fh, &s->req, 9, "ab", 2);
    fake_pump(&s->fh);
    assert_memory_equal(s->req.raw,
                        "\x8a\x02"
                        "ab",
                        4);
    fake_advance(&s->fh, SEC);
    fake_pump(&s->fh);
    assert_int_equal(s->req.raw_len, 4 + 6); /* our ping */
    assert_int_equal((unsigned char)s->req.raw[4], 0x89);
    fake_advance(&s->fh, SEC);
    fake_pump(&s->fh);
    asgicore_event_v2 ev = receive_ok(s->req.scope);
    assert_int_equal(ev.type, ASGICORE_EVENT_WEBSOCKET_DISCONNECT);
    assert_int_equal(ev.code, 1006);
    asgicore_finish(s->req.scope, 0, NULL);
    fake_pump(&s->fh);
    assert_int_equal(s->req.outcome, ASGICORE_OUTCOME_CLIENT_DISCONNECTED);
}

/* W10: a send after the close is not an app error */
static void W10_a_send_after_the_close_is_not_an_app_error(void **st)
{
    ws_state *s = *st;
    connect_and_accept(s);
    assert_int_equal(asgicore_websocket_close(s->req.scope, 1000, "bye", 3),
                     ASGICORE_OK);
    assert_int_equal(asgicore_websocket_send(s->req.scope, 1, "x", 1),
                     ASGICORE_ERR_DISCONNECTED);
    assert_int_equal(asgicore_websocket_close(s->req.scope, 1000, NULL, 0),
                     ASGICORE_ERR_DISCONNECTED);
    /* an invalid code is an app error */
    fake_req other;
    fake_open_ws(&s->fh, &s->fa, &other, NULL, NULL, NULL);
    receive_ok(other.scope);
    asgicore_websocket_accept(other.scope, NULL, NULL, 0);
    assert_int_equal(asgicore_websocket_close(other.scope, 1006, NULL, 0),
                     ASGICORE_ERR_INVALID);
    asgicore_finish(other.scope, 0, NULL);
    fake_pump(&s->fh);
    fake_release(&s->fh, &other);
    asgicore_finish(s->req.scope, 0, NULL);
    fake_pump(&s->fh);
    asgicore_counters c = fake_counters(&s->fh);
    assert_int_equal(c.app_errors, 1);
}

/* W16: counters balance for every end */
static void W16_counters_balance_for_every_end(void **st)
{
    ws_state *s = *st;
    fake_req reqs[3];
    for (int i = 0; i < 3; i++) {
        fake_open_ws(&s->fh, &s->fa, &reqs[i], NULL, NULL, NULL);
        receive_ok(reqs[i].scope);
        asgicore_websocket_accept(reqs[i].scope, NULL, NULL, 0);
    }
    fake_pump(&s->fh);
    feed(&s->fh, &reqs[0], 8, "\x03\xe8", 2); /* a clean close */
    asgicore_scope_disconnect(reqs[1].scope, ASGICORE_DISCONNECT_RESET,
                              s->fh.now);      /* lost */
    asgicore_finish(reqs[2].scope, 1, "boom"); /* failed */
    feed(&s->fh, &reqs[2], 8, "\x03\xf3", 2);
    asgicore_finish(reqs[0].scope, 0, NULL);
    asgicore_finish(reqs[1].scope, 0, NULL);
    fake_pump(&s->fh);
    for (int i = 0; i < 3; i++)
        fake_release(&s->fh, &reqs[i]);
    fake_pump(&s->fh);
    asgicore_counters c = fake_counters(&s->fh);
    assert_int_equal(c.opened, 3);
    assert_int_equal(c.completed, 1);
    assert_int_equal(c.disconnected, 1);
    assert_int_equal(c.app_errors, 1);
    assert_int_equal(c.live, 0);
    assert_int_equal(c.running_apps, 0);
}

/* W11: a release while open tells the app */
static void W11_a_release_while_open_tells_the_app(void **st)
{
    ws_state *s = *st;
    connect_and_accept(s);
    asgicore_event_v2 ev;
    assert_int_equal(
        asgicore_receive_versioned(s->req.scope, ASGICORE_EVENT_V2, &ev),
        ASGICORE_PENDING);
    fake_release(&s->fh, &s->req);
    fake_pump(&s->fh);
    assert_int_equal(s->fa.notifications[ASGICORE_NOTIFY_RECEIVE_READY], 1);
    ev = receive_ok(s->req.scope);
    assert_int_equal(ev.type, ASGICORE_EVENT_WEBSOCKET_DISCONNECT);
    assert_int_equal(ev.code, 1006);
    fake_advance(&s->fh, 3 * SEC);
    fake_pump(&s->fh);
    assert_int_equal(s->fa.notifications[ASGICORE_NOTIFY_CANCEL], 1);
    asgicore_finish(s->req.scope, 1, "cancelled");
    fake_pump(&s->fh);
    assert_int_equal(fake_counters(&s->fh).abandoned, 1);
}

/* W13: a client that reads no pongs is not read */
static void W13_a_client_that_reads_no_pongs_is_not_read(void **st)
{
    ws_state *s = *st;
    connect_and_accept(s);
    s->req.write_result = ASGICORE_PENDING; /* the client reads nothing */
    char ping[125];
    memset(ping, 'p', sizeof ping);
    int rc = ASGICORE_OK, fed = 0;
    while (rc == ASGICORE_OK && fed < 10000) {
        rc = feed(&s->fh, &s->req, 9, ping, sizeof ping);
        fed++;
    }
    fake_pump(&s->fh);
    /* stopped once the pongs held exceed the send buffer (64 KiB) */
    assert_int_equal(rc, ASGICORE_PENDING);
    assert_in_range(fed, 64 * 1024 / 127, 64 * 1024 / 127 + 2);
    assert_int_equal(s->req.resumes, 0);
    s->req.write_result = ASGICORE_OK;
    assert_int_equal(asgicore_scope_write_ready(s->req.scope), ASGICORE_OK);
    fake_pump(&s->fh);
    assert_int_equal(s->req.resumes, 1); /* drained: read again */
    asgicore_finish(s->req.scope, 0, NULL);
    fake_pump(&s->fh);
}

/* An inline app that receives as soon as it is told: it lifts the pause
 * inside feed_raw's own call. */
static void receive_when_ready(fake_app *fa, asgicore_scope *scope, int event,
                               int status)
{
    (void)fa;
    (void)status;
    asgicore_event_v2 ev;
    if (event == ASGICORE_NOTIFY_RECEIVE_READY)
        while (asgicore_receive_versioned(scope, ASGICORE_EVENT_V2, &ev) ==
                   ASGICORE_OK &&
               ev.type == ASGICORE_EVENT_WEBSOCKET_RECEIVE)
            ;
}

/* W13: no resume before the pending it answers */
static void W13_no_resume_before_the_pending_it_answers(void **st)
{
    ws_state *s = *st;
    asgicore_scope_info limits;
    memset(&limits, 0, sizeof limits);
    limits.websocket_max_message = 10;
    fake_open_ws(&s->fh, &s->fa, &s->req, NULL, NULL, &limits);
    receive_ok(s->req.scope);
    asgicore_websocket_accept(s->req.scope, NULL, NULL, 0);
    fake_pump(&s->fh);
    s->fa.on_notify = receive_when_ready;
    asgicore_event_v2 ev;
    assert_int_equal(
        asgicore_receive_versioned(s->req.scope, ASGICORE_EVENT_V2, &ev),
        ASGICORE_PENDING);
    /* the app took it inside the call: no pause is left to answer */
    assert_int_equal(feed(&s->fh, &s->req, 2, "0123456789", 10), ASGICORE_OK);
    fake_pump(&s->fh);
    s->fa.on_notify = NULL;
    asgicore_finish(s->req.scope, 0, NULL);
    fake_pump(&s->fh);
}

/* W5: a failed write is a lost connection */
static void W5_a_failed_write_is_a_lost_connection(void **st)
{
    ws_state *s = *st;
    connect_and_accept(s);
    s->req.write_result = -1;
    asgicore_websocket_send(s->req.scope, 1, "x", 1);
    fake_pump(&s->fh);
    asgicore_event_v2 ev = receive_ok(s->req.scope);
    assert_int_equal(ev.type, ASGICORE_EVENT_WEBSOCKET_DISCONNECT);
    assert_int_equal(ev.code, 1006);
    asgicore_finish(s->req.scope, 0, NULL);
    fake_pump(&s->fh);
    assert_int_equal(s->req.outcome, ASGICORE_OUTCOME_CLIENT_DISCONNECTED);
}

/* W9: the keepalive counts from the hosts time */
static void W9_the_keepalive_counts_from_the_hosts_time(void **st)
{
    ws_state *s = *st;
    /* a fresh context: no host call has passed a time yet */
    connect_and_accept(s);
    fake_advance(&s->fh, 0); /* the library asked for the host's time */
    fake_advance(&s->fh, 20 * SEC - 1);
    fake_pump(&s->fh);
    assert_int_equal(s->req.raw_len, 0); /* no ping yet */
    fake_advance(&s->fh, 1);
    fake_pump(&s->fh);
    assert_int_equal((unsigned char)s->req.raw[0], 0x89);
    asgicore_finish(s->req.scope, 0, NULL);
    fake_pump(&s->fh);
}

/* W14: an app error on an open connection closes with 1011 */
static void W14_an_app_error_on_an_open_connection_closes_with_1011(void **st)
{
    ws_state *s = *st;
    connect_and_accept(s);
    assert_int_equal(asgicore_websocket_send(s->req.scope, 1, "\xc3", 1),
                     ASGICORE_ERR_INVALID);
    fake_pump(&s->fh);
    assert_int_equal(s->req.raw_len, 4);
    assert_memory_equal(s->req.raw, "\x88\x02\x03\xf3", 4);
    asgicore_finish(s->req.scope, 0, NULL);
    fake_pump(&s->fh);
    assert_int_equal(s->req.raw_len, 4); /* no second close frame */
}

static void
W7_an_app_that_finishes_while_paused_still_reads_the_reply(void **st)
{
    ws_state *s = *st;
    asgicore_scope_info limits;
    memset(&limits, 0, sizeof limits);
    limits.websocket_max_message = 64;
    fake_open_ws(&s->fh, &s->fa, &s->req, NULL, NULL, &limits);
    receive_ok(s->req.scope);
    asgicore_websocket_accept(s->req.scope, NULL, NULL, 0);
    fake_pump(&s->fh);
    while (feed(&s->fh, &s->req, 2, "0123456789", 10) == ASGICORE_OK)
        ;
    asgicore_finish(s->req.scope, 0, NULL);
    fake_pump(&s->fh);
    assert_int_equal(s->req.resumes, 1); /* read again: the reply comes */
    assert_int_equal(feed(&s->fh, &s->req, 8, "\x03\xe8", 2), ASGICORE_OK);
    fake_pump(&s->fh);
    assert_int_equal(s->req.done_calls, 1); /* before the close timeout */
}

/* W2: a 403 wakes a waiting receive */
static void W2_a_403_wakes_a_waiting_receive(void **st)
{
    ws_state *s = *st;
    fake_open_ws(&s->fh, &s->fa, &s->req, NULL, NULL, NULL);
    receive_ok(s->req.scope);
    asgicore_event_v2 ev;
    assert_int_equal(
        asgicore_receive_versioned(s->req.scope, ASGICORE_EVENT_V2, &ev),
        ASGICORE_PENDING);
    asgicore_websocket_close(s->req.scope, 1000, NULL, 0);
    fake_pump(&s->fh);
    assert_int_equal(s->fa.notifications[ASGICORE_NOTIFY_RECEIVE_READY], 1);
    assert_int_equal(receive_ok(s->req.scope).type,
                     ASGICORE_EVENT_WEBSOCKET_DISCONNECT);
    asgicore_finish(s->req.scope, 0, NULL);
}

/* W7: a close timeout of the largest value never wraps */
static void W7_a_close_timeout_of_the_largest_value_never_wraps(void **st)
{
    ws_state *s = *st;
    asgicore_scope_info limits;
    memset(&limits, 0, sizeof limits);
    limits.websocket_close_timeout_ns = UINT64_MAX;
    fake_open_ws(&s->fh, &s->fa, &s->req, NULL, NULL, &limits);
    receive_ok(s->req.scope);
    asgicore_websocket_accept(s->req.scope, NULL, NULL, 0);
    asgicore_websocket_close(s->req.scope, 1000, NULL, 0);
    fake_pump(&s->fh);
    fake_advance(&s->fh, 0);
    fake_advance(&s->fh, 1000 * SEC);
    fake_pump(&s->fh);
    assert_int_equal(s->req.done_calls, 0); /* still waiting */
    feed(&s->fh, &s->req, 8, "\x03\xe8", 2);
    fake_pump(&s->fh);
    assert_int_equal(s->req.done_calls, 1);
    asgicore_finish(s->req.scope, 0, NULL);
}

/* W15: the host stopping closes with 1001, as an app's close */
static void W15_a_host_going_away_closes_with_1001(void **st)
{
    ws_state *s = *st;
    connect_and_accept(s);
    s->req.raw_len = 0;
    assert_int_equal(asgicore_scope_going_away(s->req.scope, s->fh.now),
                     ASGICORE_OK);
    fake_pump(&s->fh);
    assert_int_equal(s->req.raw_len, 4);
    assert_memory_equal(s->req.raw, "\x88\x02\x03\xe9", 4);
    /* once: a close is under way */
    assert_int_equal(asgicore_scope_going_away(s->req.scope, s->fh.now),
                     ASGICORE_ERR_DISCONNECTED);
    assert_int_equal(s->req.done_calls, 0); /* the reply is awaited */
    assert_int_equal(feed(&s->fh, &s->req, 8, "\x03\xe9", 2), ASGICORE_OK);
    fake_pump(&s->fh);
    asgicore_event_v2 ev = receive_ok(s->req.scope);
    assert_int_equal(ev.type, ASGICORE_EVENT_WEBSOCKET_DISCONNECT);
    assert_int_equal(ev.code, 1001);
    assert_int_equal(s->req.raw_len, 4); /* no echo of the reply */
    assert_int_equal(s->req.done_calls, 1);
    assert_int_equal(s->req.outcome, ASGICORE_OUTCOME_COMPLETE);
    asgicore_finish(s->req.scope, 0, NULL);
    fake_pump(&s->fh);
}

/* W15: only an open websocket goes away; the close timeout bounds it */
static void W15_going_away_needs_an_open_websocket(void **st)
{
    ws_state *s = *st;
    fake_req http;
    fake_open(&s->fh, &s->fa, &http);
    assert_int_equal(asgicore_scope_going_away(http.scope, s->fh.now),
                     ASGICORE_ERR_STATE);
    fake_release(&s->fh, &http);
    fake_open_ws(&s->fh, &s->fa, &s->req, NULL, NULL, NULL);
    assert_int_equal(asgicore_scope_going_away(s->req.scope, s->fh.now),
                     ASGICORE_ERR_STATE); /* not accepted yet */
    receive_ok(s->req.scope);
    asgicore_websocket_accept(s->req.scope, NULL, NULL, 0);
    fake_pump(&s->fh);
    assert_int_equal(asgicore_scope_going_away(s->req.scope, s->fh.now),
                     ASGICORE_OK);
    fake_pump(&s->fh);
    /* no reply: lost after the close timeout (5 s by default) */
    fake_advance(&s->fh, 5000000000LL);
    asgicore_event_v2 ev = receive_ok(s->req.scope);
    assert_int_equal(ev.code, 1006);
    assert_int_equal(s->req.done_calls, 1);
    asgicore_finish(s->req.scope, 0, NULL);
    fake_pump(&s->fh);
}

/* W7, W13, W15: a close while reading is paused resumes reading, so the
 * reply is seen (what comes meanwhile is dropped) */
static void W15_a_close_while_paused_reads_the_reply(void **st)
{
    ws_state *s = *st;
    asgicore_scope_info limits;
    memset(&limits, 0, sizeof limits);
    limits.websocket_max_message = 1024;
    fake_open_ws(&s->fh, &s->fa, &s->req, NULL, NULL, &limits);
    receive_ok(s->req.scope);
    asgicore_websocket_accept(s->req.scope, NULL, NULL, 0);
    fake_pump(&s->fh);
    int rc = ASGICORE_OK;
    while (rc == ASGICORE_OK)
        rc = feed(&s->fh, &s->req, 2, "", 0);
    assert_int_equal(rc, ASGICORE_PENDING);
    assert_int_equal(asgicore_scope_going_away(s->req.scope, s->fh.now),
                     ASGICORE_OK);
    fake_pump(&s->fh);
    assert_int_equal(s->req.resumes, 1);
    assert_int_equal(feed(&s->fh, &s->req, 1, "dropped", 7), ASGICORE_OK);
    assert_int_equal(feed(&s->fh, &s->req, 8, "\x03\xe9", 2), ASGICORE_OK);
    fake_pump(&s->fh);
    assert_int_equal(s->req.done_calls, 1);
    /* W6: the messages taken before the close still come first */
    asgicore_event_v2 ev = receive_ok(s->req.scope);
    assert_int_equal(ev.type, ASGICORE_EVENT_WEBSOCKET_RECEIVE);
    while (ev.type == ASGICORE_EVENT_WEBSOCKET_RECEIVE) {
        assert_int_equal(ev.len, 0);
        ev = receive_ok(s->req.scope);
    }
    assert_int_equal(ev.code, 1001);
    asgicore_finish(s->req.scope, 0, NULL);
    fake_pump(&s->fh);
}

/* W9, W13: a ping that waited behind a pause is answered when the app
 * receives, and the keepalive runs again: nothing more need come */
static void W13_a_ping_kept_during_a_pause_is_answered_on_receive(void **st)
{
    ws_state *s = *st;
    asgicore_scope_info limits;
    memset(&limits, 0, sizeof limits);
    limits.websocket_max_message = 64;
    limits.websocket_ping_interval_ns = (int64_t)SEC;
    fake_open_ws(&s->fh, &s->fa, &s->req, NULL, NULL, &limits);
    receive_ok(s->req.scope);
    asgicore_websocket_accept(s->req.scope, NULL, NULL, 0);
    fake_pump(&s->fh);
    unsigned char buf[256];
    char payload[60];
    memset(payload, 'm', sizeof payload);
    size_t n = client_frame(buf, 2, payload, sizeof payload);
    n += client_frame(buf + n, 9, "p", 1);
    assert_int_equal(asgicore_scope_feed_raw(s->req.scope, buf, n, s->fh.now),
                     ASGICORE_PENDING);
    fake_pump(&s->fh);
    assert_int_equal(s->req.raw_len, 0); /* the ping waits behind */
    asgicore_event_v2 ev = receive_ok(s->req.scope);
    assert_int_equal(ev.type, ASGICORE_EVENT_WEBSOCKET_RECEIVE);
    fake_pump(&s->fh);
    assert_int_equal(s->req.raw_len, 3);
    assert_memory_equal(s->req.raw, "\x8a\x01p", 3);
    /* the keepalive: pinged after the interval, lost after another */
    fake_advance(&s->fh, SEC);
    fake_pump(&s->fh);
    assert_int_equal((unsigned char)s->req.raw[3], 0x89);
    fake_advance(&s->fh, SEC);
    fake_pump(&s->fh);
    ev = receive_ok(s->req.scope);
    assert_int_equal(ev.code, 1006);
    asgicore_finish(s->req.scope, 0, NULL);
    fake_pump(&s->fh);
}

/* W3: the handshake's own headers are not the app's to add */
static void W3_accept_refuses_the_handshakes_own_headers(void **st)
{
    ws_state *s = *st;
    const char *names[] = {"Upgrade", "sec-websocket-accept", "content-length",
                           "Connection"};
    for (size_t i = 0; i < 4; i++) {
        fake_req req;
        fake_open_ws(&s->fh, &s->fa, &req, NULL, NULL, NULL);
        receive_ok(req.scope);
        asgicore_header h = {{names[i], strlen(names[i])}, {"x", 1}};
        assert_int_equal(asgicore_websocket_accept(req.scope, NULL, &h, 1),
                         ASGICORE_ERR_BAD_HEADER);
        asgicore_finish(req.scope, 1, NULL);
        fake_pump(&s->fh);
        assert_int_not_equal(req.status, 101);
        fake_release(&s->fh, &req);
    }
    assert_true(fake_logged(&s->fh, "is the server's to set"));
}

/* W1: an offered subprotocol that is not a token is refused (it would be
 * echoed into the 101) */
static void W1_a_subprotocol_that_is_not_a_token_is_refused(void **st)
{
    ws_state *s = *st;
    fake_open_ws(&s->fh, &s->fa, &s->req, "sec-websocket-protocol",
                 "chat, d\x01x", NULL);
    fake_pump(&s->fh);
    assert_int_equal(s->req.status, 400);
}

/* W8: a violation is logged once, naming it */
static void W8_a_violation_is_logged(void **st)
{
    ws_state *s = *st;
    connect_and_accept(s);
    assert_int_equal(feed(&s->fh, &s->req, 3, "", 0), ASGICORE_OK);
    fake_pump(&s->fh);
    assert_true(fake_logged(&s->fh, "WebSocket closed with 1002: the client "
                                    "sent"));
    asgicore_finish(s->req.scope, 0, NULL);
    fake_pump(&s->fh);
}

/* W7: a close queued behind a message the client is still reading: the
 * close timeout runs from when the host could write again */
static void W7_the_close_timeout_waits_for_a_backlogged_host(void **st)
{
    ws_state *s = *st;
    connect_and_accept(s);
    s->req.write_result = ASGICORE_PENDING;
    assert_int_equal(asgicore_websocket_send(s->req.scope, 0, "big", 3),
                     ASGICORE_OK);
    fake_pump(&s->fh);
    assert_int_equal(asgicore_websocket_close(s->req.scope, 1000, NULL, 0),
                     ASGICORE_OK);
    fake_pump(&s->fh);
    /* long past the close timeout (5 s), the slow client still reads */
    fake_advance(&s->fh, 20 * SEC);
    fake_pump(&s->fh);
    assert_int_equal(s->req.done_calls, 0);
    expect_pending_v2(s->req.scope);
    /* the host drains: the timeout runs from there */
    s->req.write_result = ASGICORE_OK;
    asgicore_scope_write_ready(s->req.scope);
    fake_pump(&s->fh);
    fake_advance(&s->fh, 5 * SEC);
    fake_pump(&s->fh);
    asgicore_event_v2 ev = receive_ok(s->req.scope);
    assert_int_equal(ev.code, 1006);
    assert_int_equal(s->req.done_calls, 1);
    asgicore_finish(s->req.scope, 0, NULL);
    fake_pump(&s->fh);
}

/* W7: the client's close came while the host was backlogged (our reply
 * behind what the app sent), then the client left: the scope ends (the
 * reply could not be written), the app keeps the client's code. */
static void W7_a_client_that_leaves_before_the_reply_ends_the_scope(void **st)
{
    ws_state *s = *st;
    connect_and_accept(s);
    s->req.write_result = ASGICORE_PENDING;
    assert_int_equal(asgicore_websocket_send(s->req.scope, 0, "big", 3),
                     ASGICORE_OK);
    fake_pump(&s->fh);
    assert_int_equal(feed(&s->fh, &s->req, 8, "\x03\xe8", 2), ASGICORE_OK);
    fake_pump(&s->fh);
    asgicore_event_v2 ev = receive_ok(s->req.scope);
    assert_int_equal(ev.type, ASGICORE_EVENT_WEBSOCKET_DISCONNECT);
    assert_int_equal(ev.code, 1000);
    asgicore_finish(s->req.scope, 0, NULL);
    fake_pump(&s->fh);
    assert_int_equal(s->req.done_calls, 0); /* the reply is still due */
    assert_int_equal(asgicore_scope_disconnect(
                         s->req.scope, ASGICORE_DISCONNECT_RESET, s->fh.now),
                     ASGICORE_OK);
    fake_pump(&s->fh);
    assert_int_equal(s->req.done_calls, 1);
    assert_int_equal(s->req.outcome, ASGICORE_OUTCOME_CLIENT_DISCONNECTED);
}

static void an_app_without_websockets_gets_http(void **st)
{
    ws_state *s = *st;
    fake_app plain;
    fake_app_init(&s->fh, &plain, ASGICORE_APP_INLINE);
    fake_open_ws(&s->fh, &plain, &s->req, NULL, NULL, NULL);
    asgicore_event ev;
    assert_int_equal(asgicore_scope_feed_body(s->req.scope, NULL, 0, 0),
                     ASGICORE_OK);
    assert_int_equal(asgicore_receive(s->req.scope, &ev), ASGICORE_OK);
    assert_int_equal(ev.type, ASGICORE_EVENT_HTTP_REQUEST);
    asgicore_send_start(s->req.scope, 200, NULL, 0, 0);
    asgicore_send_body(s->req.scope, "", 0, 0);
    asgicore_finish(s->req.scope, 0, NULL);
    fake_pump(&s->fh);
    assert_int_equal(s->req.status, 200);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, ws_setup, ws_teardown)
        T(W1_an_invalid_handshake_never_reaches_the_app),
        T(W1_connect_first_and_the_101_on_accept),
        T(W2_close_before_accept_is_a_403),
        T(W2_the_denial_response),
        T(W3_the_subprotocol_must_be_offered),
        T(W4_messages_both_ways),
        T(W5_W7_a_client_close_is_echoed_with_its_code),
        T(W5_a_lost_connection_is_1006),
        T(W7_W14_an_app_that_returns_closes_with_1000),
        T(W14_an_app_that_fails_closes_with_1011),
        T(W11_grace_then_one_cancel),
        T(W12_a_backlogged_host_makes_send_wait),
        T(W13_an_app_that_does_not_receive_pauses_reading),
        T(W13_a_paused_backlogged_connection_past_the_interval),
        T(W6_messages_before_the_close_come_first),
        T(W8_a_violation_closes_with_its_code),
        T(W9_pings_answered_and_an_idle_client_lost),
        T(W10_a_send_after_the_close_is_not_an_app_error),
        T(W16_counters_balance_for_every_end),
        T(W11_a_release_while_open_tells_the_app),
        T(W13_a_client_that_reads_no_pongs_is_not_read),
        T(W13_no_resume_before_the_pending_it_answers),
        T(W5_a_failed_write_is_a_lost_connection),
        T(W9_the_keepalive_counts_from_the_hosts_time),
        T(W14_an_app_error_on_an_open_connection_closes_with_1011),
        T(W7_an_app_that_finishes_while_paused_still_reads_the_reply),
        T(W2_a_403_wakes_a_waiting_receive),
        T(W7_a_close_timeout_of_the_largest_value_never_wraps),
        T(W15_a_host_going_away_closes_with_1001),
        T(W15_going_away_needs_an_open_websocket),
        T(W15_a_close_while_paused_reads_the_reply),
        T(W13_a_ping_kept_during_a_pause_is_answered_on_receive),
        T(W3_accept_refuses_the_handshakes_own_headers),
        T(W1_a_subprotocol_that_is_not_a_token_is_refused),
        T(W8_a_violation_is_logged),
        T(W7_the_close_timeout_waits_for_a_backlogged_host),
        T(W7_a_client_that_leaves_before_the_reply_ends_the_scope),
        T(an_app_without_websockets_gets_http),
#undef T
    };
    return cmocka_run_group_tests_name("websocket", tests, NULL, NULL);
}
