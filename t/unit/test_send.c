/* Sending: S1-S5 of docs/behaviours.md, and app errors of B2. */
#include "fake_host.h"

#include <stdlib.h>
#include <string.h>

typedef fake_state state;

static asgicore_scope *open_get(state *s)
{
    asgicore_scope *sc = fake_open(&s->fh, &s->fa, &s->req);
    asgicore_scope_feed_body(sc, NULL, 0, 0);
    return sc;
}

/* S1 */
static void S1_head_and_body_chunks_streamed_as_sent(void **st)
{
    state *s = *st;
    asgicore_scope *sc = open_get(s);
    assert_int_equal(asgicore_send_start(sc, 201, text_plain, 1, 0),
                     ASGICORE_OK);
    fake_pump(&s->fh);
    assert_int_equal(s->req.head_writes, 1);
    assert_int_equal(s->req.status, 201);
    assert_string_equal(s->req.headers, "content-type: text/plain\n");
    assert_int_equal(asgicore_send_body(sc, "chunk1 ", 7, 1), ASGICORE_OK);
    fake_pump(&s->fh);
    /* Streamed: the host has the first chunk before the app sends more. */
    assert_int_equal(s->req.body_writes, 1);
    assert_int_equal(s->req.body_len, 7);
    assert_false(s->req.last_written);
    assert_int_equal(s->req.done_calls, 0);
    assert_int_equal(asgicore_send_body(sc, "chunk2", 6, 0), ASGICORE_OK);
    fake_pump(&s->fh);
    assert_int_equal(s->req.body_writes, 2);
    assert_memory_equal(s->req.body, "chunk1 chunk2", 13);
    assert_true(s->req.last_written);
    /* The response is complete: the host may end the request now. */
    assert_int_equal(s->req.done_calls, 1);
    assert_int_equal(s->req.outcome, ASGICORE_OUTCOME_COMPLETE);
    assert_true(s->req.response_complete);
    assert_int_equal(asgicore_finish(sc, 0, NULL), ASGICORE_OK);
    fake_pump(&s->fh);
    assert_int_equal(s->req.done_calls, 1);
    assert_int_equal(fake_counters(&s->fh).completed, 1);
}

/* S1 */
static void S1_empty_more_body_writes_nothing(void **st)
{
    state *s = *st;
    asgicore_scope *sc = open_get(s);
    asgicore_send_start(sc, 200, NULL, 0, 0);
    assert_int_equal(asgicore_send_body(sc, NULL, 0, 1), ASGICORE_OK);
    assert_int_equal(asgicore_send_body(sc, NULL, 0, 0), ASGICORE_OK);
    fake_pump(&s->fh);
    assert_int_equal(s->req.body_writes, 1); /* only the end */
    assert_int_equal(s->req.body_len, 0);
    assert_true(s->req.last_written);
    asgicore_finish(sc, 0, NULL);
    fake_pump(&s->fh);
}

/* S1 */
static void S1_trailers_end_the_response(void **st)
{
    state *s = *st;
    asgicore_scope *sc = open_get(s);
    static const asgicore_header trailer[] = {{{"x-checksum", 10}, {"abc", 3}}};
    expect_request(sc, "", 0);
    assert_int_equal(asgicore_send_start(sc, 200, NULL, 0, 1), ASGICORE_OK);
    assert_int_equal(asgicore_send_body(sc, "data", 4, 0), ASGICORE_OK);
    fake_pump(&s->fh);
    assert_true(s->req.has_trailers);
    assert_false(s->req.last_written);
    assert_int_equal(s->req.done_calls, 0);
    expect_pending(sc); /* R7 waits for the trailers */
    assert_int_equal(asgicore_send_trailers(sc, trailer, 1, 0), ASGICORE_OK);
    fake_pump(&s->fh);
    assert_int_equal(s->req.trailer_writes, 1);
    assert_string_equal(s->req.trailers, "x-checksum: abc\n");
    assert_true(s->req.last_written);
    assert_int_equal(s->req.done_calls, 1);
    expect_disconnect(sc);
    asgicore_finish(sc, 0, NULL);
    fake_pump(&s->fh);
}

/* S1: a host that cannot write trailers (Apache over HTTP/1.1) does not
 * offer them; an app that sends them anyway gets its body through, ended
 * by its last trailers message. */
static void S1_trailers_the_host_cannot_send_are_dropped(void **st)
{
    state *s = *st;
    s->fh.capabilities = 0;
    asgicore_scope *sc = open_get(s);
    static const asgicore_header trailer[] = {{{"x-checksum", 10}, {"abc", 3}}};
    assert_int_equal(asgicore_scope_get_info(sc)->capabilities, 0);
    expect_request(sc, "", 0);
    assert_int_equal(asgicore_send_start(sc, 200, NULL, 0, 1), ASGICORE_OK);
    assert_int_equal(asgicore_send_body(sc, "data", 4, 0), ASGICORE_OK);
    fake_pump(&s->fh);
    assert_false(s->req.has_trailers);
    assert_false(s->req.last_written);
    expect_pending(sc); /* the app still owes its trailers */
    assert_int_equal(asgicore_send_trailers(sc, trailer, 1, 1), ASGICORE_OK);
    fake_pump(&s->fh);
    assert_false(s->req.last_written);
    assert_int_equal(asgicore_send_trailers(sc, trailer, 1, 0), ASGICORE_OK);
    fake_pump(&s->fh);
    assert_int_equal(s->req.trailer_writes, 0);
    assert_true(s->req.last_written);
    assert_memory_equal(s->req.body, "data", 4);
    assert_int_equal(s->req.body_len, 4);
    assert_int_equal(s->req.done_calls, 1);
    assert_int_equal(s->req.outcome, ASGICORE_OUTCOME_COMPLETE);
    assert_int_equal(s->fh.log_lines[ASGICORE_LOG_INFO], 1);
    assert_true(fake_logged(&s->fh, "trailers dropped"));
    assert_int_equal(s->fh.log_lines[ASGICORE_LOG_ERROR], 0);
    expect_disconnect(sc);
    asgicore_finish(sc, 0, NULL);
    fake_pump(&s->fh);
}

/* S1: a host built before scope info V3 wrote trailers: it still does. */
static void S1_hosts_before_capabilities_keep_trailers(void **st)
{
    state *s = *st;
    s->fh.info_version = ASGICORE_SCOPE_INFO_V2;
    s->fh.capabilities = 0; /* not read from a V2 struct */
    asgicore_scope *sc = open_get(s);
    assert_int_equal(asgicore_scope_get_info(sc)->capabilities,
                     ASGICORE_CAP_TRAILERS);
    expect_request(sc, "", 0);
    asgicore_send_start(sc, 200, NULL, 0, 1);
    asgicore_send_body(sc, "data", 4, 0);
    asgicore_send_trailers(sc, NULL, 0, 0);
    fake_pump(&s->fh);
    assert_true(s->req.has_trailers);
    assert_int_equal(s->req.trailer_writes, 1);
    assert_true(s->req.last_written);
    asgicore_finish(sc, 0, NULL);
    fake_pump(&s->fh);
}

static void expect_app_error(state *s, int rc, int expected)
{
    assert_int_equal(rc, expected);
    fake_pump(&s->fh);
    assert_int_equal(s->fh.log_lines[ASGICORE_LOG_ERROR], 1);
    /* Later sends fail too: the response cannot be trusted any more. */
    assert_int_equal(asgicore_send_body(s->req.scope, "x", 1, 0),
                     ASGICORE_ERR_PROTOCOL);
}

/* S2 */
static void S2_body_before_start_is_an_app_error(void **st)
{
    state *s = *st;
    asgicore_scope *sc = open_get(s);
    expect_app_error(s, asgicore_send_body(sc, "x", 1, 0),
                     ASGICORE_ERR_PROTOCOL);
    assert_true(fake_logged(&s->fh, "before http.response.start"));
    assert_int_equal(asgicore_finish(sc, 0, NULL), ASGICORE_OK);
    fake_pump(&s->fh);
    /* B2: nothing was sent, so the client gets a 500. */
    assert_int_equal(s->req.status, 500);
    assert_memory_equal(s->req.body, "Internal Server Error\n", 22);
    assert_true(s->req.response_complete);
    assert_int_equal(s->req.outcome, ASGICORE_OUTCOME_APP_ERROR);
    assert_int_equal(fake_counters(&s->fh).app_errors, 1);
    assert_int_equal(s->fh.log_lines[ASGICORE_LOG_ERROR], 1);
}

/* S2 */
static void S2_second_start_is_an_app_error(void **st)
{
    state *s = *st;
    asgicore_scope *sc = open_get(s);
    asgicore_send_start(sc, 200, NULL, 0, 0);
    fake_pump(&s->fh); /* the host has the head */
    expect_app_error(s, asgicore_send_start(sc, 200, NULL, 0, 0),
                     ASGICORE_ERR_PROTOCOL);
    assert_true(fake_logged(&s->fh, "sent twice"));
    asgicore_finish(sc, 0, NULL);
    fake_pump(&s->fh);
    /* The head was written: the connection must be closed, not ended. */
    assert_int_equal(s->req.head_writes, 1);
    assert_int_equal(s->req.status, 200);
    assert_false(s->req.response_complete);
    assert_int_equal(s->req.outcome, ASGICORE_OUTCOME_APP_ERROR);
}

/* S2 */
static void S2_message_after_final_body_is_an_app_error(void **st)
{
    state *s = *st;
    asgicore_scope *sc = open_get(s);
    asgicore_send_start(sc, 200, NULL, 0, 0);
    asgicore_send_body(sc, "done", 4, 0);
    fake_pump(&s->fh);
    expect_app_error(s, asgicore_send_body(sc, "more", 4, 0),
                     ASGICORE_ERR_PROTOCOL);
    assert_true(fake_logged(&s->fh, "after the response ended"));
    assert_int_equal(s->req.body_len, 4);
    asgicore_finish(sc, 0, NULL);
    fake_pump(&s->fh);
    /* The response reached the client whole: its outcome stands. */
    assert_int_equal(s->req.outcome, ASGICORE_OUTCOME_COMPLETE);
}

/* S2 */
static void S2_unannounced_trailers_are_an_app_error(void **st)
{
    state *s = *st;
    asgicore_scope *sc = open_get(s);
    asgicore_send_start(sc, 200, NULL, 0, 0);
    expect_app_error(s, asgicore_send_trailers(sc, NULL, 0, 0),
                     ASGICORE_ERR_PROTOCOL);
    assert_true(fake_logged(&s->fh, "without trailers announced"));
    asgicore_finish(sc, 0, NULL);
    fake_pump(&s->fh);
}

/* S2 */
static void S2_invalid_status_is_an_app_error(void **st)
{
    state *s = *st;
    asgicore_scope *sc = open_get(s);
    expect_app_error(s, asgicore_send_start(sc, 99, NULL, 0, 0),
                     ASGICORE_ERR_INVALID);
    assert_true(fake_logged(&s->fh, "invalid status 99"));
    asgicore_finish(sc, 0, NULL);
    fake_pump(&s->fh);
    assert_int_equal(s->req.status, 500);
}

/* S2 */
static void S2_worker_keeps_serving_after_app_error(void **st)
{
    state *s = *st;
    asgicore_scope *sc = open_get(s);
    asgicore_send_body(sc, "x", 1, 0);
    asgicore_finish(sc, 1, "boom");
    fake_pump(&s->fh);
    fake_release(&s->fh, &s->req);
    fake_req other;
    asgicore_scope *sc2 = fake_open(&s->fh, &s->fa, &other);
    asgicore_scope_feed_body(sc2, NULL, 0, 0);
    assert_int_equal(asgicore_send_start(sc2, 200, NULL, 0, 0), ASGICORE_OK);
    assert_int_equal(asgicore_send_body(sc2, "fine", 4, 0), ASGICORE_OK);
    asgicore_finish(sc2, 0, NULL);
    fake_pump(&s->fh);
    assert_int_equal(other.status, 200);
    assert_int_equal(other.outcome, ASGICORE_OUTCOME_COMPLETE);
    fake_release(&s->fh, &other);
}

/* S3 */
static void S3_send_after_disconnect_fails_writes_nothing(void **st)
{
    state *s = *st;
    asgicore_scope *sc = open_get(s);
    asgicore_send_start(sc, 200, NULL, 0, 0);
    asgicore_send_body(sc, "before", 6, 1);
    fake_pump(&s->fh);
    asgicore_scope_disconnect(sc, ASGICORE_DISCONNECT_CLOSED, s->fh.now);
    assert_int_equal(asgicore_send_body(sc, "after", 5, 1),
                     ASGICORE_ERR_DISCONNECTED);
    assert_int_equal(asgicore_send_body(sc, "after", 5, 0),
                     ASGICORE_ERR_DISCONNECTED);
    fake_pump(&s->fh);
    assert_int_equal(s->req.body_len, 6);
    assert_int_equal(asgicore_finish(sc, 0, NULL), ASGICORE_OK);
    fake_pump(&s->fh);
    /* Not an app error: nothing logged at error level. */
    assert_int_equal(s->fh.log_lines[ASGICORE_LOG_ERROR], 0);
    assert_int_equal(s->req.outcome, ASGICORE_OUTCOME_CLIENT_DISCONNECTED);
    assert_int_equal(fake_counters(&s->fh).app_errors, 0);
}

/* S3 */
static void S3_queued_output_is_dropped_at_disconnect(void **st)
{
    state *s = *st;
    asgicore_scope *sc = open_get(s);
    asgicore_send_start(sc, 200, NULL, 0, 0);
    asgicore_send_body(sc, "queued", 6, 1);
    /* The host has not run yet when the client leaves. */
    asgicore_scope_disconnect(sc, ASGICORE_DISCONNECT_RESET, s->fh.now);
    fake_pump(&s->fh);
    assert_int_equal(s->req.head_writes, 0);
    assert_int_equal(s->req.body_writes, 0);
    asgicore_finish(sc, 0, NULL);
    fake_pump(&s->fh);
}

/* S4 */
static void S4_header_injection_is_rejected(void **st)
{
    state *s = *st;
    static const struct {
        const char *name;
        size_t name_len;
        const char *value;
        size_t value_len;
    } bad[] = {
        {"x-a", 3, "1\r\nSet-Cookie: evil", 19},
        {"x-a", 3, "line\nbreak", 10},
        {"x-a", 3, "nul\0byte", 8},
        {"x-\0a", 4, "v", 1},
        {"x a", 3, "v", 1},
        {"x-a:", 4, "v", 1},
        {"", 0, "v", 1},
        {"x-a\r\n", 5, "v", 1},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fake_req req;
        asgicore_scope *sc = fake_open(&s->fh, &s->fa, &req);
        asgicore_scope_feed_body(sc, NULL, 0, 0);
        asgicore_header h[2] = {
            {{"content-type", 12}, {"text/plain", 10}},
            {{bad[i].name, bad[i].name_len}, {bad[i].value, bad[i].value_len}},
        };
        assert_int_equal(asgicore_send_start(sc, 200, h, 2, 0),
                         ASGICORE_ERR_BAD_HEADER);
        asgicore_finish(sc, 0, NULL);
        fake_pump(&s->fh);
        /* Never written: the client gets the library's 500 instead. */
        assert_int_equal(req.head_writes, 1);
        assert_int_equal(req.status, 500);
        assert_null(strstr(req.headers, "x-a"));
        fake_release(&s->fh, &req);
    }
    assert_int_equal(s->fh.log_lines[ASGICORE_LOG_ERROR],
                     (int)(sizeof bad / sizeof bad[0]));
    /* A valid header with unusual but legal bytes passes. */
    asgicore_scope *sc = open_get(s);
    asgicore_header ok = {{"x-Odd_Name!", 11}, {"tab\tand \x80 high", 14}};
    assert_int_equal(asgicore_send_start(sc, 200, &ok, 1, 0), ASGICORE_OK);
    asgicore_send_body(sc, NULL, 0, 0);
    asgicore_finish(sc, 0, NULL);
    fake_pump(&s->fh);
    assert_int_equal(s->req.status, 200);
    assert_non_null(strstr(s->req.headers, "x-Odd_Name!: tab\tand"));
}

/* S4: every byte value, in a name and in a value, against RFC 9110's
 * classes written out here independently of the library's table. */
static int rfc_tchar(int c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
           (c >= 'A' && c <= 'Z') ||
           (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static void S4_every_byte_in_names_and_values(void **st)
{
    state *s = *st;
    int bad_ones = 0;
    for (int c = 0; c < 256; c++) {
        for (int in_value = 0; in_value <= 1; in_value++) {
            char name[3] = {'x', '-', (char)c};
            char value[3] = {'v', (char)c, 'v'};
            asgicore_header h = {{name, in_value ? 2 : 3},
                                 {value, in_value ? 3 : 1}};
            int ok = in_value ? !((c < 0x20 && c != '\t') || c == 0x7f)
                              : rfc_tchar(c);
            fake_req req;
            asgicore_scope *sc = fake_open(&s->fh, &s->fa, &req);
            asgicore_scope_feed_body(sc, NULL, 0, 0);
            int rc = asgicore_send_start(sc, 200, &h, 1, 0);
            if (rc != (ok ? ASGICORE_OK : ASGICORE_ERR_BAD_HEADER))
                fail_msg("byte 0x%02x in a %s: %d", c,
                         in_value ? "value" : "name", rc);
            bad_ones += !ok;
            asgicore_finish(sc, 0, NULL);
            fake_pump(&s->fh);
            fake_release(&s->fh, &req);
        }
    }
    /* names: all but the 77 tchar bytes; values: 31 controls (not HTAB)
     * and DEL */
    assert_int_equal(bad_ones, (256 - 77) + 32);
}

/* S4: values are checked eight bytes at a time: every byte at every
 * offset of a value two words and one byte long, beside the bytes that
 * border the bad ones (SP, '~', 0x80, 0xff) */
static void S4_every_byte_at_every_offset_of_a_value(void **st)
{
    state *s = *st;
    static const char fills[] = {' ', '~', (char)0x80, (char)0xff};
    for (size_t f = 0; f < sizeof fills; f++) {
        for (int c = 0; c < 256; c++) {
            for (size_t at = 0; at < 17; at++) {
                char value[17];
                memset(value, fills[f], sizeof value);
                value[at] = (char)c;
                asgicore_header h = {{"x-v", 3}, {value, sizeof value}};
                int ok = !((c < 0x20 && c != '\t') || c == 0x7f);
                fake_req req;
                asgicore_scope *sc = fake_open(&s->fh, &s->fa, &req);
                asgicore_scope_feed_body(sc, NULL, 0, 0);
                int rc = asgicore_send_start(sc, 200, &h, 1, 0);
                if (rc != (ok ? ASGICORE_OK : ASGICORE_ERR_BAD_HEADER))
                    fail_msg("byte 0x%02x at %zu among 0x%02x: %d", c, at,
                             (unsigned char)fills[f], rc);
                asgicore_finish(sc, 0, NULL);
                fake_pump(&s->fh);
                fake_release(&s->fh, &req);
            }
        }
    }
}

/* S4 */
static void S4_trailer_injection_is_rejected(void **st)
{
    state *s = *st;
    asgicore_scope *sc = open_get(s);
    static const asgicore_header bad = {{"x-t", 3}, {"a\r\nb", 4}};
    asgicore_send_start(sc, 200, NULL, 0, 1);
    asgicore_send_body(sc, "x", 1, 0);
    fake_pump(&s->fh);
    assert_int_equal(asgicore_send_trailers(sc, &bad, 1, 0),
                     ASGICORE_ERR_BAD_HEADER);
    asgicore_finish(sc, 0, NULL);
    fake_pump(&s->fh);
    assert_int_equal(s->req.trailer_writes, 0);
    assert_false(s->req.response_complete);
}

/* S5 */
static void S5_backlogged_host_holds_the_next_send(void **st)
{
    state *s = *st;
    asgicore_scope *sc = open_get(s);
    s->req.write_result = ASGICORE_PENDING; /* a slow client */
    asgicore_send_start(sc, 200, NULL, 0, 0);
    assert_int_equal(asgicore_send_body(sc, "a", 1, 1), ASGICORE_OK);
    fake_pump(&s->fh);
    /* The host took the head and is now backlogged. */
    assert_int_equal(s->req.head_writes, 1);
    assert_int_equal(s->req.body_writes, 0);
    assert_int_equal(asgicore_send_body(sc, "b", 1, 1), ASGICORE_PENDING);
    assert_int_equal(asgicore_send_body(sc, "c", 1, 1), ASGICORE_ERR_BUSY);
    fake_pump(&s->fh);
    assert_int_equal(s->fa.notifications[ASGICORE_NOTIFY_SEND_READY], 0);
    s->req.write_result = ASGICORE_OK;
    assert_int_equal(asgicore_scope_write_ready(sc), ASGICORE_OK);
    assert_int_equal(s->req.body_len, 2);
    assert_int_equal(s->fa.notifications[ASGICORE_NOTIFY_SEND_READY], 1);
    assert_int_equal(s->fa.last_status, ASGICORE_OK);
    assert_int_equal(asgicore_send_body(sc, "c", 1, 0), ASGICORE_OK);
    asgicore_finish(sc, 0, NULL);
    fake_pump(&s->fh);
    assert_memory_equal(s->req.body, "abc", 3);
}

/* S5 */
static void S5_large_send_waits_until_taken(void **st)
{
    state *s = *st;
    asgicore_settings set;
    asgicore_settings_default(&set);
    set.send_buffer_limit = 1024;
    fake_state_reinit(s, &set);
    asgicore_scope *sc = open_get(s);
    char *big = calloc(1, 4096);
    asgicore_send_start(sc, 200, NULL, 0, 0);
    assert_int_equal(asgicore_send_body(sc, big, 512, 1), ASGICORE_OK);
    assert_int_equal(asgicore_send_body(sc, big, 4096, 1), ASGICORE_PENDING);
    fake_pump(&s->fh);
    assert_int_equal(s->fa.notifications[ASGICORE_NOTIFY_SEND_READY], 1);
    assert_int_equal(s->req.body_len, 512 + 4096);
    free(big);
    asgicore_send_body(sc, NULL, 0, 0);
    asgicore_finish(sc, 0, NULL);
    fake_pump(&s->fh);
}

/* S5: with no send buffer at all every body send waits, and the
 * host's taking it (not a byte less in the buffer) makes it ready. */
static void S5_zero_send_buffer_still_makes_sends_ready(void **st)
{
    state *s = *st;
    asgicore_settings set;
    asgicore_settings_default(&set);
    set.send_buffer_limit = 0;
    fake_state_reinit(s, &set);
    asgicore_scope *sc = open_get(s);
    asgicore_send_start(sc, 200, NULL, 0, 0);
    assert_int_equal(asgicore_send_body(sc, "abc", 3, 1), ASGICORE_PENDING);
    fake_pump(&s->fh);
    assert_int_equal(s->fa.notifications[ASGICORE_NOTIFY_SEND_READY], 1);
    assert_int_equal(s->req.body_len, 3);
    asgicore_send_body(sc, NULL, 0, 0);
    fake_pump(&s->fh);
    asgicore_finish(sc, 0, NULL);
    fake_pump(&s->fh);
    assert_int_equal(s->req.outcome, ASGICORE_OUTCOME_COMPLETE);
}

/* S5 */
static void S5_disconnect_fails_the_waiting_send(void **st)
{
    state *s = *st;
    asgicore_scope *sc = open_get(s);
    s->req.write_result = ASGICORE_PENDING;
    asgicore_send_start(sc, 200, NULL, 0, 0);
    fake_pump(&s->fh);
    assert_int_equal(asgicore_send_body(sc, "a", 1, 1), ASGICORE_PENDING);
    asgicore_scope_disconnect(sc, ASGICORE_DISCONNECT_RESET, s->fh.now);
    assert_int_equal(s->fa.notifications[ASGICORE_NOTIFY_SEND_READY], 1);
    assert_int_equal(s->fa.last_status, ASGICORE_ERR_DISCONNECTED);
    asgicore_finish(sc, 0, NULL);
    fake_pump(&s->fh);
}

static void write_error_is_a_disconnect(void **st)
{
    state *s = *st;
    asgicore_scope *sc = open_get(s);
    asgicore_send_start(sc, 200, NULL, 0, 0);
    s->req.write_result = -1;
    asgicore_send_body(sc, "a", 1, 1);
    fake_pump(&s->fh);
    assert_int_equal(asgicore_send_body(sc, "b", 1, 1),
                     ASGICORE_ERR_DISCONNECTED);
    expect_disconnect(sc);
    asgicore_finish(sc, 0, NULL);
    fake_pump(&s->fh);
    assert_int_equal(s->req.outcome, ASGICORE_OUTCOME_CLIENT_DISCONNECTED);
}

/* S8: a one-message response the host cannot write at once: the send
 * completes when the host drained it, and only then may the request end. */
static void S8_final_send_completes_when_the_host_drains(void **st)
{
    state *s = *st;
    asgicore_scope *sc = open_get(s);
    static char big[200 * 1024];
    asgicore_send_start(sc, 200, NULL, 0, 0);
    fake_pump(&s->fh);
    s->req.write_result = ASGICORE_PENDING; /* the client reads slowly */
    assert_int_equal(asgicore_send_body(sc, big, sizeof big, 0),
                     ASGICORE_PENDING);
    fake_pump(&s->fh);
    assert_int_equal(s->req.body_len, sizeof big);
    assert_true(s->req.last_written);
    /* The host has it all but still holds it: nothing ends yet. */
    assert_int_equal(s->fa.notifications[ASGICORE_NOTIFY_SEND_READY], 0);
    assert_int_equal(s->req.done_calls, 0);
    s->req.write_result = ASGICORE_OK;
    assert_int_equal(asgicore_scope_write_ready(sc), ASGICORE_OK);
    assert_int_equal(s->fa.notifications[ASGICORE_NOTIFY_SEND_READY], 1);
    assert_int_equal(s->fa.last_status, ASGICORE_OK);
    assert_int_equal(s->req.done_calls, 1);
    assert_true(s->req.response_complete);
    assert_int_equal(s->req.outcome, ASGICORE_OUTCOME_COMPLETE);
    asgicore_finish(sc, 0, NULL);
    fake_pump(&s->fh);
    assert_int_equal(fake_counters(&s->fh).running_apps, 0);
}

/* S8: a small final message the app did not wait for: the request still
 * ends only once the host drained it. */
static void S8_request_ends_after_the_host_drained_the_end(void **st)
{
    state *s = *st;
    asgicore_scope *sc = open_get(s);
    s->req.write_result = ASGICORE_PENDING;
    asgicore_send_start(sc, 200, NULL, 0, 0);
    fake_pump(&s->fh);
    s->req.write_result = ASGICORE_OK;
    asgicore_scope_write_ready(sc);
    s->req.write_result = ASGICORE_PENDING;
    assert_int_equal(asgicore_send_body(sc, "end", 3, 0), ASGICORE_OK);
    assert_int_equal(asgicore_finish(sc, 0, NULL), ASGICORE_OK);
    fake_pump(&s->fh);
    assert_true(s->req.last_written);
    assert_int_equal(s->req.done_calls, 0);
    asgicore_scope_write_ready(sc);
    assert_int_equal(s->req.done_calls, 1);
    assert_true(s->req.response_complete);
}

/* S8, item 9 of the safety issue: the client leaves while the end of a
 * one-message response is still in the host's buffers: a disconnect (499),
 * and the app's send completes with the disconnect error. */
static void S8_client_leaving_before_the_drain_is_a_disconnect(void **st)
{
    state *s = *st;
    asgicore_scope *sc = open_get(s);
    static char big[100 * 1024];
    asgicore_send_start(sc, 200, NULL, 0, 0);
    fake_pump(&s->fh);
    s->req.write_result = ASGICORE_PENDING;
    assert_int_equal(asgicore_send_body(sc, big, sizeof big, 0),
                     ASGICORE_PENDING);
    fake_pump(&s->fh);
    assert_true(s->req.last_written);
    asgicore_scope_disconnect(sc, ASGICORE_DISCONNECT_RESET, s->fh.now);
    assert_int_equal(s->fa.notifications[ASGICORE_NOTIFY_SEND_READY], 1);
    assert_int_equal(s->fa.last_status, ASGICORE_ERR_DISCONNECTED);
    assert_int_equal(s->req.done_calls, 1);
    assert_int_equal(s->req.outcome, ASGICORE_OUTCOME_CLIENT_DISCONNECTED);
    assert_false(s->req.response_complete);
    asgicore_finish(sc, 0, NULL);
    fake_pump(&s->fh);
    assert_int_equal(fake_counters(&s->fh).disconnected, 1);
}

/* S8: a host that lets go of the request with the end unwritten (nginx
 * terminating it) must not leave the app's send waiting forever. */
static void S8_release_completes_a_waiting_final_send(void **st)
{
    state *s = *st;
    asgicore_scope *sc = open_get(s);
    static char big[100 * 1024];
    asgicore_send_start(sc, 200, NULL, 0, 0);
    s->req.write_result = ASGICORE_PENDING;
    assert_int_equal(asgicore_send_body(sc, big, sizeof big, 0),
                     ASGICORE_PENDING);
    fake_pump(&s->fh);
    fake_release(&s->fh, &s->req);
    assert_int_equal(s->fa.notifications[ASGICORE_NOTIFY_SEND_READY], 1);
    assert_int_equal(s->fa.last_status, ASGICORE_ERR_DISCONNECTED);
    assert_int_equal(asgicore_finish(sc, 0, NULL), ASGICORE_OK);
    assert_int_equal(fake_counters(&s->fh).running_apps, 0);
}

/* B2, item 10 of the safety issue: the app fails after
 * http.response.start, before the host had any of the response: a 500. */
static void B2_failure_before_the_head_reached_the_host_is_a_500(void **st)
{
    state *s = *st;
    asgicore_scope *sc = open_get(s);
    asgicore_send_start(sc, 201, text_plain, 1, 0);
    asgicore_finish(sc, 1, "Traceback: ValueError");
    fake_pump(&s->fh);
    assert_int_equal(s->req.head_writes, 1);
    assert_int_equal(s->req.status, 500);
    assert_true(s->req.response_complete);
    assert_int_equal(s->req.outcome, ASGICORE_OUTCOME_APP_ERROR);
}

static void fail_the_app(fake_req *req)
{
    asgicore_finish(req->scope, 1, "Traceback: ValueError");
}

/* B2: the app fails on its thread while the host is writing the head it
 * sent: the head reached the host, so the response is cut; no second
 * head (a 500) follows it. */
static void B2_failure_while_the_host_writes_the_head_cuts_it(void **st)
{
    state *s = *st;
    asgicore_scope *sc = open_get(s);
    s->req.during_head = fail_the_app;
    asgicore_send_start(sc, 201, text_plain, 1, 0);
    fake_pump(&s->fh);
    assert_int_equal(s->req.head_writes, 1);
    assert_int_equal(s->req.status, 201);
    assert_int_equal(s->req.body_writes, 0);
    assert_int_equal(s->req.done_calls, 1);
    assert_false(s->req.response_complete);
    assert_int_equal(s->req.outcome, ASGICORE_OUTCOME_APP_ERROR);
}

/* B2: the same for an app returning without its body. */
static void B2_return_after_start_alone_is_a_500(void **st)
{
    state *s = *st;
    asgicore_scope *sc = open_get(s);
    asgicore_send_start(sc, 200, text_plain, 1, 0);
    asgicore_finish(sc, 0, NULL);
    fake_pump(&s->fh);
    assert_int_equal(s->req.status, 500);
    assert_true(s->req.response_complete);
    assert_true(fake_logged(&s->fh, "before completing its response"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, fake_setup, fake_teardown)
        T(S1_head_and_body_chunks_streamed_as_sent),
        T(S1_empty_more_body_writes_nothing),
        T(S1_trailers_end_the_response),
        T(S1_trailers_the_host_cannot_send_are_dropped),
        T(S1_hosts_before_capabilities_keep_trailers),
        T(S2_body_before_start_is_an_app_error),
        T(S2_second_start_is_an_app_error),
        T(S2_message_after_final_body_is_an_app_error),
        T(S2_unannounced_trailers_are_an_app_error),
        T(S2_invalid_status_is_an_app_error),
        T(S2_worker_keeps_serving_after_app_error),
        T(S3_send_after_disconnect_fails_writes_nothing),
        T(S3_queued_output_is_dropped_at_disconnect),
        T(S4_header_injection_is_rejected),
        T(S4_every_byte_in_names_and_values),
        T(S4_every_byte_at_every_offset_of_a_value),
        T(S4_trailer_injection_is_rejected),
        T(S5_backlogged_host_holds_the_next_send),
        T(S5_large_send_waits_until_taken),
        T(S5_zero_send_buffer_still_makes_sends_ready),
        T(S5_disconnect_fails_the_waiting_send),
        T(write_error_is_a_disconnect),
        T(S8_final_send_completes_when_the_host_drains),
        T(S8_request_ends_after_the_host_drained_the_end),
        T(S8_client_leaving_before_the_drain_is_a_disconnect),
        T(S8_release_completes_a_waiting_final_send),
        T(B2_failure_before_the_head_reached_the_host_is_a_500),
        T(B2_return_after_start_alone_is_a_500),
        T(B2_failure_while_the_host_writes_the_head_cuts_it),
#undef T
    };
    return cmocka_run_group_tests_name("send", tests, NULL, NULL);
}
