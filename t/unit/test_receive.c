/* Receiving: R1-R10 of docs/behaviours.md, through the public header. */
#include "fake_host.h"

#include <string.h>

typedef fake_state state;

static void finish_ok(state *s)
{
    assert_int_equal(asgicore_finish(s->req.scope, 0, NULL), ASGICORE_OK);
    fake_pump(&s->fh);
}

static void respond(state *s)
{
    asgicore_scope *sc = s->req.scope;
    assert_int_equal(asgicore_send_start(sc, 200, text_plain, 1, 0),
                     ASGICORE_OK);
    assert_int_equal(asgicore_send_body(sc, "ok", 2, 0), ASGICORE_OK);
    fake_pump(&s->fh);
}

/* R1 */
static void R1_no_body_first_receive_is_empty_final_request(void **st)
{
    state *s = *st;
    asgicore_scope *sc = fake_open(&s->fh, &s->fa, &s->req);
    assert_int_equal(s->fa.starts, 1);
    assert_int_equal(asgicore_scope_feed_body(sc, NULL, 0, 0), ASGICORE_OK);
    expect_request(sc, "", 0); /* at once: no PENDING, no notification */
    assert_int_equal(s->fa.notifications[ASGICORE_NOTIFY_RECEIVE_READY], 0);
    respond(s);
    finish_ok(s);
}

/* R1 */
static void R1_receive_before_host_fed_empty_body_is_woken(void **st)
{
    state *s = *st;
    asgicore_scope *sc = fake_open(&s->fh, &s->fa, &s->req);
    expect_pending(sc);
    assert_int_equal(asgicore_scope_feed_body(sc, NULL, 0, 0), ASGICORE_OK);
    assert_int_equal(s->fa.notifications[ASGICORE_NOTIFY_RECEIVE_READY], 1);
    expect_request(sc, "", 0);
    respond(s);
    finish_ok(s);
}

/* R2 */
static void R2_chunks_in_order_more_body_until_last(void **st)
{
    state *s = *st;
    asgicore_scope *sc = fake_open(&s->fh, &s->fa, &s->req);
    const char *parts[] = {"first,", "second,", "third"};
    char joined[64] = "";
    for (int i = 0; i < 3; i++) {
        /* one at a time: each chunk is its own message */
        assert_int_equal(
            asgicore_scope_feed_body(sc, parts[i], strlen(parts[i]), i < 2),
            ASGICORE_OK);
        asgicore_event ev;
        assert_int_equal(asgicore_receive(sc, &ev), ASGICORE_OK);
        assert_int_equal(ev.type, ASGICORE_EVENT_HTTP_REQUEST);
        assert_int_equal(ev.more_body, i < 2);
        strncat(joined, ev.body, ev.body_len);
    }
    assert_string_equal(joined, "first,second,third");
    respond(s);
    finish_ok(s);
}

static void R2_queued_chunks_coalesce_in_order(void **st)
{
    state *s = *st;
    asgicore_scope *sc = fake_open(&s->fh, &s->fa, &s->req);
    /* Chunks that queue up while the app is busy arrive as one message,
     * in order, more_body from the last of them. */
    asgicore_scope_feed_body(sc, "first,", 6, 1);
    asgicore_scope_feed_body(sc, "second,", 7, 1);
    expect_request(sc, "first,second,", 1);
    asgicore_scope_feed_body(sc, "third", 5, 0);
    expect_request(sc, "third", 0);
    expect_pending(sc);
    respond(s);
    finish_ok(s);
}

static void R2_empty_final_feed_marks_last_buffered_chunk(void **st)
{
    state *s = *st;
    asgicore_scope *sc = fake_open(&s->fh, &s->fa, &s->req);
    /* A chunked body: data chunks, then the terminating zero chunk. */
    asgicore_scope_feed_body(sc, "ab", 2, 1);
    expect_request(sc, "ab", 1);
    asgicore_scope_feed_body(sc, "cd", 2, 1);
    assert_int_equal(asgicore_scope_feed_body(sc, NULL, 0, 0), ASGICORE_OK);
    expect_request(sc, "cd", 0); /* the empty end merged into "cd" */
    expect_pending(sc);          /* R6: no invented second request */
    respond(s);
    finish_ok(s);
}

static void R2_empty_final_feed_after_all_read_gives_empty_last(void **st)
{
    state *s = *st;
    asgicore_scope *sc = fake_open(&s->fh, &s->fa, &s->req);
    asgicore_scope_feed_body(sc, "ab", 2, 1);
    expect_request(sc, "ab", 1);
    expect_pending(sc);
    asgicore_scope_feed_body(sc, NULL, 0, 0);
    assert_int_equal(s->fa.notifications[ASGICORE_NOTIFY_RECEIVE_READY], 1);
    expect_request(sc, "", 0);
    respond(s);
    finish_ok(s);
}

/* R2 */
static void R2_feed_after_end_is_refused(void **st)
{
    state *s = *st;
    asgicore_scope *sc = fake_open(&s->fh, &s->fa, &s->req);
    asgicore_scope_feed_body(sc, "x", 1, 0);
    assert_int_equal(asgicore_scope_feed_body(sc, "y", 1, 0),
                     ASGICORE_ERR_STATE);
    expect_request(sc, "x", 0);
    respond(s);
    finish_ok(s);
}

/* R3 */
static void R3_disconnect_wakes_receive_waiting_for_body(void **st)
{
    state *s = *st;
    asgicore_scope *sc = fake_open(&s->fh, &s->fa, &s->req);
    asgicore_scope_feed_body(sc, "part", 4, 1);
    expect_request(sc, "part", 1);
    expect_pending(sc);
    assert_int_equal(
        asgicore_scope_disconnect(sc, ASGICORE_DISCONNECT_RESET, s->fh.now),
        ASGICORE_OK);
    /* Promptly: inside the disconnect call itself, not at a timeout. */
    assert_int_equal(s->fa.notifications[ASGICORE_NOTIFY_RECEIVE_READY], 1);
    expect_disconnect(sc);
    finish_ok(s);
    assert_int_equal(s->req.outcome, ASGICORE_OUTCOME_CLIENT_DISCONNECTED);
}

/* R4 */
static void R4_disconnect_event_carries_only_its_type(void **st)
{
    state *s = *st;
    asgicore_scope *sc = fake_open(&s->fh, &s->fa, &s->req);
    asgicore_scope_disconnect(sc, ASGICORE_DISCONNECT_CLOSED, s->fh.now);
    asgicore_event ev;
    memset(&ev, 0x5a, sizeof ev);
    assert_int_equal(asgicore_receive(sc, &ev), ASGICORE_OK);
    assert_int_equal(ev.type, ASGICORE_EVENT_HTTP_DISCONNECT);
    assert_null(ev.body);
    assert_int_equal(ev.body_len, 0);
    assert_int_equal(ev.more_body, 0);
    finish_ok(s);
}

/* R5 */
static void R5_after_disconnect_receive_never_blocks_or_requests(void **st)
{
    state *s = *st;
    asgicore_scope *sc = fake_open(&s->fh, &s->fa, &s->req);
    asgicore_scope_disconnect(sc, ASGICORE_DISCONNECT_CLOSED, s->fh.now);
    /* Late body from the host is refused, never delivered. */
    assert_int_equal(asgicore_scope_feed_body(sc, "late", 4, 0),
                     ASGICORE_ERR_DISCONNECTED);
    for (int i = 0; i < 5; i++)
        expect_disconnect(sc);
    fake_advance(&s->fh, 10 * SEC); /* even after the cancel */
    expect_disconnect(sc);
    finish_ok(s);
}

/* R6 */
static void R6_after_body_receive_waits_while_connected(void **st)
{
    state *s = *st;
    asgicore_scope *sc = fake_open(&s->fh, &s->fa, &s->req);
    asgicore_scope_feed_body(sc, "all", 3, 0);
    expect_request(sc, "all", 0);
    expect_pending(sc);
    fake_advance(&s->fh, 60 * SEC);
    assert_int_equal(s->fa.notifications[ASGICORE_NOTIFY_RECEIVE_READY], 0);
    expect_pending(sc);
    asgicore_scope_disconnect(sc, ASGICORE_DISCONNECT_CLOSED, s->fh.now);
    assert_int_equal(s->fa.notifications[ASGICORE_NOTIFY_RECEIVE_READY], 1);
    expect_disconnect(sc);
    finish_ok(s);
}

/* R7 */
static void R7_after_response_complete_receive_returns_disconnect(void **st)
{
    state *s = *st;
    asgicore_scope *sc = fake_open(&s->fh, &s->fa, &s->req);
    asgicore_scope_feed_body(sc, NULL, 0, 0);
    expect_request(sc, "", 0);
    expect_pending(sc); /* e.g. a task listening for the disconnect */
    respond(s);
    /* The waiting receive is woken by the end of the response. */
    assert_int_equal(s->fa.notifications[ASGICORE_NOTIFY_RECEIVE_READY], 1);
    expect_disconnect(sc);
    expect_disconnect(sc);
    finish_ok(s);
    assert_int_equal(s->req.outcome, ASGICORE_OUTCOME_COMPLETE);
}

/* R7 */
static void R7_unread_body_after_response_complete(void **st)
{
    state *s = *st;
    asgicore_scope *sc = fake_open(&s->fh, &s->fa, &s->req);
    asgicore_scope_feed_body(sc, "ignored", 7, 1);
    respond(s);
    expect_disconnect(sc);
    finish_ok(s);
}

/* R8 */
static void R8_disconnect_with_unread_body_returns_disconnect(void **st)
{
    state *s = *st;
    asgicore_scope *sc = fake_open(&s->fh, &s->fa, &s->req);
    asgicore_scope_feed_body(sc, "one", 3, 1);
    asgicore_scope_feed_body(sc, "two", 3, 1);
    asgicore_scope_disconnect(sc, ASGICORE_DISCONNECT_CLOSED, s->fh.now);
    expect_disconnect(sc);
    finish_ok(s);
}

/* R9 */
static void R9_body_timeout_never_invents_final_chunk(void **st)
{
    state *s = *st;
    asgicore_scope *sc = fake_open(&s->fh, &s->fa, &s->req);
    asgicore_scope_feed_body(sc, "partial", 7, 1);
    expect_request(sc, "partial", 1);
    expect_pending(sc);
    /* The host's client_body_timeout fired. */
    asgicore_scope_disconnect(sc, ASGICORE_DISCONNECT_TIMEOUT, s->fh.now);
    expect_disconnect(sc);
    finish_ok(s);
    assert_int_equal(s->req.outcome, ASGICORE_OUTCOME_CLIENT_DISCONNECTED);
}

/* R10 */
static void R10_abandoned_receive_loses_no_event(void **st)
{
    state *s = *st;
    asgicore_scope *sc = fake_open(&s->fh, &s->fa, &s->req);
    expect_pending(sc);
    /* The app's receive is cancelled: it simply stops waiting. The event
     * that arrives meanwhile is kept for the next receive. */
    asgicore_scope_feed_body(sc, "kept", 4, 0);
    expect_request(sc, "kept", 0);
    respond(s);
    finish_ok(s);
}

static void cancel_pending_receive(fake_app *fa, asgicore_scope *scope,
                                   int event, int status)
{
    /* A runtime cancels its pending receive on the cancel notification;
     * the receive must not have been completed in its place. */
    if (event == ASGICORE_NOTIFY_CANCEL)
        *(int *)fa->data = fa->notifications[ASGICORE_NOTIFY_RECEIVE_READY];
}

/* R10 */
static void R10_cancel_reaches_app_blocked_in_receive(void **st)
{
    state *s = *st;
    int ready_at_cancel = -1;
    s->fa.on_notify = cancel_pending_receive;
    s->fa.data = &ready_at_cancel;
    asgicore_scope *sc = fake_open_with(&s->fh, &s->fa, &s->req, 0, 0);
    asgicore_scope_feed_body(sc, "a", 1, 1);
    expect_request(sc, "a", 1);
    expect_pending(sc);
    asgicore_scope_disconnect(sc, ASGICORE_DISCONNECT_RESET, s->fh.now);
    assert_int_equal(s->fa.notifications[ASGICORE_NOTIFY_CANCEL], 1);
    /* The readiness came first, then the cancel; nothing swallowed it. */
    assert_int_equal(ready_at_cancel, 1);
    expect_disconnect(sc);
    finish_ok(s);
    assert_int_equal(s->req.outcome, ASGICORE_OUTCOME_CANCELLED);
}

static void body_limit_pauses_and_resumes_the_host(void **st)
{
    state *s = *st;
    asgicore_settings set;
    asgicore_settings_default(&set);
    set.body_buffer_limit = 8;
    fake_state_reinit(s, &set);
    asgicore_scope *sc = fake_open(&s->fh, &s->fa, &s->req);
    assert_int_equal(asgicore_scope_feed_body(sc, "12345", 5, 1), ASGICORE_OK);
    assert_int_equal(asgicore_scope_feed_body(sc, "67890", 5, 1),
                     ASGICORE_PENDING);
    assert_int_equal(asgicore_scope_feed_body(sc, "x", 1, 1),
                     ASGICORE_ERR_BUSY);
    expect_request(sc, "12345", 1);
    fake_pump(&s->fh);
    assert_int_equal(s->req.resumes, 1);
    assert_int_equal(asgicore_scope_feed_body(sc, "x", 1, 0), ASGICORE_OK);
    /* queued chunks merge, but never past the limit: "12345" went alone */
    expect_request(sc, "67890x", 0);
    respond(s);
    finish_ok(s);
}

static void read_everything(fake_app *fa, asgicore_scope *scope, int event,
                            int status)
{
    asgicore_event ev;
    while (event == ASGICORE_NOTIFY_RECEIVE_READY &&
           asgicore_receive(scope, &ev) == ASGICORE_OK &&
           ev.type == ASGICORE_EVENT_HTTP_REQUEST && ev.more_body)
        ;
}

static void body_limit_never_resumes_before_the_pause(void **st)
{
    state *s = *st;
    asgicore_settings set;
    asgicore_settings_default(&set);
    set.body_buffer_limit = 4;
    fake_state_reinit(s, &set);
    s->fa.on_notify = read_everything;
    asgicore_scope *sc = fake_open(&s->fh, &s->fa, &s->req);
    expect_pending(sc);
    /* The inline app drains the buffer inside this very call: the host
     * is not told to pause, so no resume can arrive after it paused. */
    assert_int_equal(asgicore_scope_feed_body(sc, "123456", 6, 1), ASGICORE_OK);
    assert_int_equal(asgicore_scope_feed_body(sc, "789", 3, 1), ASGICORE_OK);
    s->fa.on_notify = NULL;
    respond(s);
    finish_ok(s);
}

/* R11: a disconnect listener beside the app's own reader (Starlette's
 * listen_for_disconnect): the library notifies once, and every receive
 * made after it returns http.disconnect. */
static void R11_disconnect_answers_every_pending_receive(void **st)
{
    state *s = *st;
    asgicore_scope *sc = fake_open(&s->fh, &s->fa, &s->req);
    asgicore_scope_feed_body(sc, NULL, 0, 0);
    expect_request(sc, "", 0);
    expect_pending(sc); /* the app's reader */
    expect_pending(sc); /* the disconnect listener */
    asgicore_scope_disconnect(sc, ASGICORE_DISCONNECT_CLOSED, s->fh.now);
    assert_int_equal(s->fa.notifications[ASGICORE_NOTIFY_RECEIVE_READY], 1);
    expect_disconnect(sc);
    expect_disconnect(sc);
    expect_disconnect(sc);
    finish_ok(s);
}

/* R12: the path an app gets is UTF-8; invalid sequences are replaced as
 * Python's decoder replaces them; raw_path keeps the bytes. */
static void R12_invalid_utf8_in_path_becomes_U_FFFD(void **st)
{
    /* Expected values from bytes.decode("utf-8", "replace") */
    static const char *const cases[][2] = {
        {"/x/\xff", "/x/\xef\xbf\xbd"},
        {"/x/\xe2\x82", "/x/\xef\xbf\xbd"},
        {"/\xe2\x82"
         "a",
         "/\xef\xbf\xbd"
         "a"},
        {"/\xf0\x80\x80", "/\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
        {"/\xed\xa0\x80", "/\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
        {"/\xc0\xaf", "/\xef\xbf\xbd\xef\xbf\xbd"},
        {"/\xf4\x90\x80\x80",
         "/\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
        {"/\xf0\x9f\x98", "/\xef\xbf\xbd"},
        {"/caf\xc3\xa9/\xf0\x9f\x98\x80", "/caf\xc3\xa9/\xf0\x9f\x98\x80"},
    };
    state *s = *st;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (i)
            fake_state_reinit(s, NULL);
        asgicore_scope *sc =
            fake_open_as(&s->fh, &s->fa, &s->req, "GET", cases[i][0], -1, 0);
        const asgicore_scope_info *info = asgicore_scope_get_info(sc);
        assert_int_equal(info->path.len, strlen(cases[i][1]));
        assert_memory_equal(info->path.data, cases[i][1], info->path.len);
        assert_int_equal(info->raw_path.len, strlen(cases[i][0]));
        assert_memory_equal(info->raw_path.data, cases[i][0],
                            info->raw_path.len);
        asgicore_scope_feed_body(sc, NULL, 0, 0);
        respond(s);
        finish_ok(s);
        fake_release(&s->fh, &s->req);
    }
}

/* ASGICORE_SCOPE_BODY_ON_DEMAND ("Expect: 100-continue"): the host reads
 * the body only once the app asks for it. */
static void body_on_demand_waits_for_the_first_receive(void **st)
{
    state *s = *st;
    asgicore_scope *sc = fake_open_with(&s->fh, &s->fa, &s->req, -1,
                                        ASGICORE_SCOPE_BODY_ON_DEMAND);
    assert_int_equal(asgicore_scope_feed_body(sc, "x", 1, 1),
                     ASGICORE_ERR_BUSY);
    fake_pump(&s->fh);
    assert_int_equal(s->req.resumes, 0);
    expect_pending(sc); /* the app asks */
    fake_pump(&s->fh);
    assert_int_equal(s->req.resumes, 1);
    assert_int_equal(asgicore_scope_feed_body(sc, "body", 4, 0), ASGICORE_OK);
    assert_int_equal(s->fa.notifications[ASGICORE_NOTIFY_RECEIVE_READY], 1);
    expect_request(sc, "body", 0);
    respond(s);
    finish_ok(s);
}

/* An app that answers without reading: the host never reads the body. */
static void body_on_demand_unread_is_never_resumed(void **st)
{
    state *s = *st;
    fake_open_with(&s->fh, &s->fa, &s->req, -1, ASGICORE_SCOPE_BODY_ON_DEMAND);
    respond(s);
    finish_ok(s);
    assert_int_equal(s->req.resumes, 0);
    assert_int_equal(s->req.done_calls, 1);
    assert_true(s->req.response_complete);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, fake_setup, fake_teardown)
        T(R1_no_body_first_receive_is_empty_final_request),
        T(R1_receive_before_host_fed_empty_body_is_woken),
        T(R2_chunks_in_order_more_body_until_last),
        T(R2_queued_chunks_coalesce_in_order),
        T(R2_empty_final_feed_marks_last_buffered_chunk),
        T(R2_empty_final_feed_after_all_read_gives_empty_last),
        T(R2_feed_after_end_is_refused),
        T(R3_disconnect_wakes_receive_waiting_for_body),
        T(R4_disconnect_event_carries_only_its_type),
        T(R5_after_disconnect_receive_never_blocks_or_requests),
        T(R6_after_body_receive_waits_while_connected),
        T(R7_after_response_complete_receive_returns_disconnect),
        T(R7_unread_body_after_response_complete),
        T(R8_disconnect_with_unread_body_returns_disconnect),
        T(R9_body_timeout_never_invents_final_chunk),
        T(R10_abandoned_receive_loses_no_event),
        T(R10_cancel_reaches_app_blocked_in_receive),
        T(body_limit_pauses_and_resumes_the_host),
        T(body_limit_never_resumes_before_the_pause),
        T(R11_disconnect_answers_every_pending_receive),
        T(R12_invalid_utf8_in_path_becomes_U_FFFD),
        T(body_on_demand_waits_for_the_first_receive),
        T(body_on_demand_unread_is_never_resumed),
#undef T
    };
    return cmocka_run_group_tests_name("receive", tests, NULL, NULL);
}
