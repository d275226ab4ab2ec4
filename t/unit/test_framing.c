/* How a response is framed: S6 (the app's content-length is enforced), S7
 * (no final 1xx; 204, 205, 304 and HEAD without a body) and the control
 * bytes of S4, with B2's 500 while the host had nothing yet. */
#include "fake_host.h"

#include <stdio.h>
#include <string.h>

typedef fake_state state;

static asgicore_header cl(const char *value)
{
    asgicore_header h = {{"content-length", 14}, {value, strlen(value)}};
    return h;
}

static asgicore_scope *open_method(state *s, const char *method)
{
    asgicore_scope *sc =
        fake_open_as(&s->fh, &s->fa, &s->req, method, "/", -1, 0);
    asgicore_scope_feed_body(sc, NULL, 0, 0);
    return sc;
}

/* The head reached the host; then the response went wrong: cut. */
static void expect_cut(state *s, size_t body_written)
{
    fake_pump(&s->fh);
    assert_int_equal(s->req.status, 200);
    assert_int_equal(s->req.body_len, body_written);
    assert_false(s->req.last_written);
    assert_int_equal(s->req.done_calls, 1); /* at once, not at finish */
    assert_false(s->req.response_complete);
    assert_int_equal(s->req.outcome, ASGICORE_OUTCOME_APP_ERROR);
    assert_int_equal(s->fh.log_lines[ASGICORE_LOG_ERROR], 1);
}

/* Nothing reached the host: a whole 500 instead. */
static void expect_500(state *s)
{
    fake_pump(&s->fh);
    assert_int_equal(s->req.head_writes, 1);
    assert_int_equal(s->req.status, 500);
    assert_memory_equal(s->req.body, "Internal Server Error\n", 22);
    assert_true(s->req.response_complete);
    assert_int_equal(s->req.outcome, ASGICORE_OUTCOME_APP_ERROR);
    assert_int_equal(s->fh.log_lines[ASGICORE_LOG_ERROR], 1);
}

/* S6: the name in any case, and no other name (one byte changed at each
 * offset, one byte more or less), read eight bytes at a time */
static void S6_content_length_in_any_case_and_only_it(void **st)
{
    state *s = *st;
    char names[40][16];
    int counts[40];
    size_t n = 0;
    static const char *const same[] = {"content-length", "Content-Length",
                                       "CONTENT-LENGTH", "cOnTeNt-lEnGtH"};
    for (size_t i = 0; i < 4; i++, n++) {
        strcpy(names[n], same[i]);
        counts[n] = 1;
    }
    for (size_t at = 0; at < 14; at++, n++) {
        strcpy(names[n], "content-length");
        names[n][at] = names[n][at] == '-' ? '_' : (char)(names[n][at] + 1);
        counts[n] = 0;
    }
    strcpy(names[n], "content-lengt");
    counts[n++] = 0;
    strcpy(names[n], "content-lengths");
    counts[n++] = 0;
    for (size_t i = 0; i < n; i++) {
        asgicore_header h = {{names[i], strlen(names[i])}, {"5", 1}};
        fake_req req;
        asgicore_scope *sc = fake_open(&s->fh, &s->fa, &req);
        asgicore_scope_feed_body(sc, NULL, 0, 0);
        assert_int_equal(asgicore_send_start(sc, 200, &h, 1, 0), ASGICORE_OK);
        int rc = asgicore_send_body(sc, "hello world", 11, 0);
        if (rc != (counts[i] ? ASGICORE_ERR_PROTOCOL : ASGICORE_OK))
            fail_msg("%s: %d", names[i], rc);
        asgicore_finish(sc, 0, NULL);
        fake_pump(&s->fh);
        fake_release(&s->fh, &req);
    }
}

/* S6 */
static void S6_body_beyond_content_length_is_never_written(void **st)
{
    state *s = *st;
    asgicore_scope *sc = open_method(s, "GET");
    asgicore_header h = cl("5");
    assert_int_equal(asgicore_send_start(sc, 200, &h, 1, 0), ASGICORE_OK);
    fake_pump(&s->fh);
    assert_int_equal(asgicore_send_body(sc, "hello world", 11, 0),
                     ASGICORE_ERR_PROTOCOL);
    expect_cut(s, 0);
    assert_true(fake_logged(&s->fh, "beyond the 5 bytes of the response's "
                                    "content-length"));
    /* later sends fail too */
    assert_int_equal(asgicore_send_body(sc, "x", 1, 0), ASGICORE_ERR_PROTOCOL);
    asgicore_finish(sc, 1, "RuntimeError");
    fake_pump(&s->fh);
    assert_int_equal(s->req.body_len, 0);
    assert_int_equal(fake_counters(&s->fh).app_errors, 1);
}

/* S6 */
static void S6_overflow_in_a_later_chunk_keeps_what_fitted(void **st)
{
    state *s = *st;
    asgicore_scope *sc = open_method(s, "GET");
    asgicore_header h = cl("5");
    asgicore_send_start(sc, 200, &h, 1, 0);
    assert_int_equal(asgicore_send_body(sc, "hel", 3, 1), ASGICORE_OK);
    fake_pump(&s->fh);
    assert_int_equal(asgicore_send_body(sc, "lo!", 3, 1),
                     ASGICORE_ERR_PROTOCOL);
    expect_cut(s, 3);
    asgicore_finish(sc, 0, NULL);
    fake_pump(&s->fh);
}

/* S6 */
static void S6_body_ending_short_is_cut(void **st)
{
    state *s = *st;
    asgicore_scope *sc = open_method(s, "GET");
    asgicore_header h = cl("10");
    asgicore_send_start(sc, 200, &h, 1, 0);
    fake_pump(&s->fh);
    assert_int_equal(asgicore_send_body(sc, "hello", 5, 0),
                     ASGICORE_ERR_PROTOCOL);
    expect_cut(s, 0);
    assert_true(fake_logged(&s->fh, "ended after 5 of the 10 bytes"));
    asgicore_finish(sc, 0, NULL);
    fake_pump(&s->fh);
}

/* S6, B2: the same mistake before the host had the head: a 500. */
static void S6_short_body_before_the_head_went_out_is_a_500(void **st)
{
    state *s = *st;
    asgicore_scope *sc = open_method(s, "GET");
    asgicore_header h = cl("10");
    asgicore_send_start(sc, 200, &h, 1, 0);
    assert_int_equal(asgicore_send_body(sc, "hello", 5, 0),
                     ASGICORE_ERR_PROTOCOL);
    expect_500(s);
    asgicore_finish(sc, 1, "RuntimeError");
    fake_pump(&s->fh);
    assert_int_equal(s->req.head_writes, 1);
}

/* S6 */
static void S6_exact_length_in_chunks_is_complete(void **st)
{
    state *s = *st;
    asgicore_scope *sc = open_method(s, "GET");
    asgicore_header h[2] = {cl("5"), cl(" 5 ,5")};
    assert_int_equal(asgicore_send_start(sc, 200, h, 2, 0), ASGICORE_OK);
    assert_int_equal(asgicore_send_body(sc, "hel", 3, 1), ASGICORE_OK);
    assert_int_equal(asgicore_send_body(sc, "lo", 2, 1), ASGICORE_OK);
    assert_int_equal(asgicore_send_body(sc, NULL, 0, 0), ASGICORE_OK);
    asgicore_finish(sc, 0, NULL);
    fake_pump(&s->fh);
    assert_true(s->req.response_complete);
    assert_int_equal(s->req.outcome, ASGICORE_OUTCOME_COMPLETE);
    assert_int_equal(s->fh.log_lines[ASGICORE_LOG_ERROR], 0);
}

/* S6, G4: a client that leaves once it had every byte of the response's
 * content-length did not abort it, though the app has not ended the body
 * (Starlette's HTTP middleware sends its last message after the request's
 * background tasks): no cancel after the grace period, the app's closing
 * empty messages are taken, the outcome is complete. */
static void S6_client_leaving_after_the_whole_length_is_no_abort(void **st)
{
    state *s = *st;
    asgicore_scope *sc = open_method(s, "POST");
    asgicore_header h = cl("5");
    asgicore_send_start(sc, 200, &h, 1, 0);
    assert_int_equal(asgicore_send_body(sc, "hel", 3, 1), ASGICORE_OK);
    assert_int_equal(asgicore_send_body(sc, "lo", 2, 1), ASGICORE_OK);
    fake_pump(&s->fh);
    assert_false(s->req.last_written); /* the app's to end */
    assert_int_equal(s->req.body_len, 5);
    assert_int_equal(
        asgicore_scope_disconnect(sc, ASGICORE_DISCONNECT_CLOSED, s->fh.now),
        ASGICORE_OK);
    fake_pump(&s->fh);
    expect_disconnect(sc);
    fake_advance(&s->fh, 10 * SEC);
    fake_pump(&s->fh);
    assert_int_equal(s->fa.notifications[ASGICORE_NOTIFY_CANCEL], 0);
    assert_int_equal(asgicore_send_body(sc, NULL, 0, 1), ASGICORE_OK);
    assert_int_equal(asgicore_send_body(sc, NULL, 0, 0), ASGICORE_OK);
    assert_int_equal(asgicore_send_body(sc, NULL, 0, 0),
                     ASGICORE_ERR_DISCONNECTED); /* S2, S3: it ended */
    asgicore_finish(sc, 0, NULL);
    fake_pump(&s->fh);
    assert_int_equal(s->req.body_len, 5);
    assert_true(s->req.response_complete);
    assert_int_equal(s->req.outcome, ASGICORE_OUTCOME_COMPLETE);
    assert_int_equal(s->fh.log_lines[ASGICORE_LOG_ERROR], 0);
    asgicore_counters c = fake_counters(&s->fh);
    assert_int_equal(c.completed, 1);
    assert_int_equal(c.disconnected, 0);
    assert_int_equal(c.abandoned, 0);
}

/* S6, S7: the same for a response without a body once its head went out;
 * not when bytes of the length are missing, still in the host's buffers
 * (it answered PENDING), or the last write failed, nor without a length
 * or when the host frames the body anew (asgicore_scope_reframed):
 * those clients left before the end, and the app is cancelled after the
 * grace period. */
static void S6_only_a_whole_delivered_response_is_no_abort(void **st)
{
    state *s = *st;
    enum { HEAD, SHORT, BACKLOG, WRITE_ERROR, NO_LENGTH, REFRAMED, CASES };
    for (int i = 0; i < CASES; i++) {
        if (i)
            fake_state_reinit(s, NULL);
        asgicore_scope *sc = open_method(s, i == HEAD ? "HEAD" : "GET");
        asgicore_header h = cl("5");
        if (i == NO_LENGTH)
            asgicore_send_start(sc, 200, text_plain, 1, 0);
        else
            asgicore_send_start(sc, 200, &h, 1, 0);
        if (i == BACKLOG)
            s->req.write_result = ASGICORE_PENDING;
        if (i == REFRAMED) /* the host's filter ends the body its own way */
            assert_int_equal(asgicore_scope_reframed(sc), ASGICORE_OK);
        asgicore_send_body(sc, "hello", i == SHORT ? 4 : 5, 1);
        fake_pump(&s->fh);
        asgicore_scope_disconnect(sc,
                                  i == WRITE_ERROR
                                      ? ASGICORE_DISCONNECT_WRITE_ERROR
                                      : ASGICORE_DISCONNECT_CLOSED,
                                  s->fh.now);
        fake_advance(&s->fh, 10 * SEC);
        fake_pump(&s->fh);
        int whole = i == HEAD;
        assert_int_equal(s->fa.notifications[ASGICORE_NOTIFY_CANCEL], !whole);
        assert_int_equal(asgicore_send_body(sc, NULL, 0, 0),
                         whole ? ASGICORE_OK : ASGICORE_ERR_DISCONNECTED);
        asgicore_finish(sc, !whole, NULL);
        fake_pump(&s->fh);
        assert_int_equal(s->req.outcome, whole ? ASGICORE_OUTCOME_COMPLETE
                                               : ASGICORE_OUTCOME_CANCELLED);
        fake_release(&s->fh, &s->req);
    }
}

/* R5: a host that releases the scope after the library answered a 500 in
 * place of the app's response (the app's start was refused) tells the
 * app its client is gone: the 500 is not the app's whole response. */
static void R5_release_after_a_generated_500_tells_the_app(void **st)
{
    state *s = *st;
    asgicore_scope *sc = open_method(s, "GET");
    expect_request(sc, "", 0);
    assert_int_equal(asgicore_send_start(sc, 1000, NULL, 0, 0),
                     ASGICORE_ERR_INVALID);
    fake_pump(&s->fh);
    assert_int_equal(s->req.status, 500);
    assert_true(s->req.last_written);
    fake_release(&s->fh, &s->req);
    fake_pump(&s->fh);
    expect_disconnect(sc);
    asgicore_finish(sc, 1, "ValueError");
    fake_pump(&s->fh);
}

/* S6: while the client stays, the length reached changes nothing: a byte
 * more still cuts the response, and the app's end of the body is its last
 * message. */
static void S6_a_byte_beyond_the_whole_length_still_cuts(void **st)
{
    state *s = *st;
    asgicore_scope *sc = open_method(s, "GET");
    asgicore_header h = cl("5");
    asgicore_send_start(sc, 200, &h, 1, 0);
    assert_int_equal(asgicore_send_body(sc, "hello", 5, 1), ASGICORE_OK);
    fake_pump(&s->fh);
    assert_int_equal(asgicore_send_body(sc, "!", 1, 0), ASGICORE_ERR_PROTOCOL);
    expect_cut(s, 5);
    asgicore_finish(sc, 1, "RuntimeError");
    fake_pump(&s->fh);
}

/* S6: conflicting or malformed values are refused before anything is
 * written: the client gets a 500. */
static void S6_bad_or_conflicting_lengths_are_a_500(void **st)
{
    static const char *const bad[][2] = {
        {"5", "6"},
        {"5, 6", NULL},
        {"abc", NULL},
        {"-1", NULL},
        {"", NULL},
        {"5x", NULL},
        {"99999999999999999999", NULL},
        {"5,", NULL},
        {"+5", NULL},
    };
    state *s = *st;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        asgicore_header h[2] = {cl(bad[i][0]), cl(bad[i][1] ? bad[i][1] : "")};
        size_t n = bad[i][1] ? 2 : 1;
        if (i)
            fake_state_reinit(s, NULL);
        asgicore_scope *sc = open_method(s, "GET");
        assert_int_equal(asgicore_send_start(sc, 200, h, n, 0),
                         ASGICORE_ERR_BAD_HEADER);
        expect_500(s);
        assert_true(fake_logged(&s->fh, "content-length"));
        asgicore_finish(sc, 1, "ValueError");
        fake_pump(&s->fh);
        fake_release(&s->fh, &s->req);
    }
}

/* S7: HEAD keeps the declared length and never carries body bytes. */
static void S7_head_response_keeps_its_length_and_drops_the_body(void **st)
{
    state *s = *st;
    asgicore_scope *sc = open_method(s, "HEAD");
    asgicore_header h = cl("5");
    assert_int_equal(asgicore_send_start(sc, 200, &h, 1, 0), ASGICORE_OK);
    assert_int_equal(asgicore_send_body(sc, "hello", 5, 0), ASGICORE_OK);
    asgicore_finish(sc, 0, NULL);
    fake_pump(&s->fh);
    assert_string_equal(s->req.headers, "content-length: 5\n");
    assert_int_equal(s->req.body_len, 0);
    assert_true(s->req.last_written);
    assert_true(s->req.response_complete);
    assert_int_equal(s->req.outcome, ASGICORE_OUTCOME_COMPLETE);
}

/* S7 */
static void S7_204_205_304_carry_no_body(void **st)
{
    static const struct {
        int status;
        const char *headers;
    } cases[] = {
        {204, "x-a: 1\n"},
        {205, "content-length: 0\nx-a: 1\n"},
        {304, "content-length: 5\nx-a: 1\n"},
    };
    state *s = *st;
    for (size_t i = 0; i < 3; i++) {
        asgicore_header h[2] = {cl("5"), {{"x-a", 3}, {"1", 1}}};
        if (i)
            fake_state_reinit(s, NULL);
        asgicore_scope *sc = open_method(s, "GET");
        assert_int_equal(asgicore_send_start(sc, cases[i].status, h, 2, 0),
                         ASGICORE_OK);
        assert_int_equal(asgicore_send_body(sc, "hello", 5, 0), ASGICORE_OK);
        asgicore_finish(sc, 0, NULL);
        fake_pump(&s->fh);
        assert_int_equal(s->req.status, cases[i].status);
        assert_string_equal(s->req.headers, cases[i].headers);
        assert_int_equal(s->req.body_len, 0);
        assert_true(s->req.response_complete);
        fake_release(&s->fh, &s->req);
    }
}

/* S7 */
static void S7_a_1xx_final_status_is_an_app_error(void **st)
{
    static const int statuses[] = {100, 101, 103, 199};
    state *s = *st;
    for (size_t i = 0; i < 4; i++) {
        char text[32];
        if (i)
            fake_state_reinit(s, NULL);
        asgicore_scope *sc = open_method(s, "GET");
        assert_int_equal(asgicore_send_start(sc, statuses[i], NULL, 0, 0),
                         ASGICORE_ERR_PROTOCOL);
        expect_500(s);
        snprintf(text, sizeof text, "status %d in", statuses[i]);
        assert_true(fake_logged(&s->fh, text));
        asgicore_finish(sc, 1, NULL);
        fake_pump(&s->fh);
        fake_release(&s->fh, &s->req);
    }
}

/* S4, S7: control characters other than HTAB are refused in values. */
static void S4_control_bytes_in_header_values_are_refused(void **st)
{
    static const char *const bad[] = {"a\x01z", "a\x7fz", "a\x1bz", "\x0b"};
    state *s = *st;
    for (size_t i = 0; i < 4; i++) {
        asgicore_header h = {{"x-v", 3}, {bad[i], strlen(bad[i])}};
        if (i)
            fake_state_reinit(s, NULL);
        asgicore_scope *sc = open_method(s, "GET");
        assert_int_equal(asgicore_send_start(sc, 200, &h, 1, 0),
                         ASGICORE_ERR_BAD_HEADER);
        expect_500(s);
        assert_null(strstr(s->req.headers, "x-v"));
        asgicore_finish(sc, 1, NULL);
        fake_pump(&s->fh);
        fake_release(&s->fh, &s->req);
    }
    fake_state_reinit(s, NULL);
    asgicore_header tab = {{"x-v", 3}, {"a\tb \x80", 5}};
    asgicore_scope *sc = open_method(s, "GET");
    assert_int_equal(asgicore_send_start(sc, 200, &tab, 1, 0), ASGICORE_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, fake_setup, fake_teardown)
        T(S6_content_length_in_any_case_and_only_it),
        T(S6_body_beyond_content_length_is_never_written),
        T(S6_overflow_in_a_later_chunk_keeps_what_fitted),
        T(S6_body_ending_short_is_cut),
        T(S6_short_body_before_the_head_went_out_is_a_500),
        T(S6_exact_length_in_chunks_is_complete),
        T(S6_client_leaving_after_the_whole_length_is_no_abort),
        T(S6_only_a_whole_delivered_response_is_no_abort),
        T(S6_a_byte_beyond_the_whole_length_still_cuts),
        T(R5_release_after_a_generated_500_tells_the_app),
        T(S6_bad_or_conflicting_lengths_are_a_500),
        T(S7_head_response_keeps_its_length_and_drops_the_body),
        T(S7_204_205_304_carry_no_body),
        T(S7_a_1xx_final_status_is_an_app_error),
        T(S4_control_bytes_in_header_values_are_refused),
#undef T
    };
    return cmocka_run_group_tests_name("framing", tests, NULL, NULL);
}
