/* L6 of docs/behaviours.md: calls with a scope the app has finished (a task
 * that outlived its request) never reach freed memory or another request:
 * the app holds the handle (asgicore_scope_hold) and the library refuses
 * the calls. Run under ASan, a call that touched a freed scope fails. */
#include "fake_host.h"

#include <string.h>

typedef fake_state state;

/* The app's side of a request: held, answered, finished. */
static asgicore_scope *answered_and_finished(state *s, fake_req *req)
{
    asgicore_scope *sc = fake_open(&s->fh, &s->fa, req);
    assert_int_equal(asgicore_scope_hold(sc), ASGICORE_OK);
    asgicore_scope_feed_body(sc, NULL, 0, 0);
    expect_request(sc, "", 0);
    assert_int_equal(asgicore_send_start(sc, 200, text_plain, 1, 0),
                     ASGICORE_OK);
    assert_int_equal(asgicore_send_body(sc, "ok", 2, 0), ASGICORE_OK);
    assert_int_equal(asgicore_finish(sc, 0, NULL), ASGICORE_OK);
    fake_pump(&s->fh);
    assert_int_equal(req->done_calls, 1);
    return sc;
}

/* L6 */
static void L6_calls_after_finish_and_release_are_refused(void **st)
{
    state *s = *st;
    asgicore_event ev;
    asgicore_scope *sc = answered_and_finished(s, &s->req);
    fake_release(&s->fh, &s->req);

    /* The task that outlived its request: refused, nothing written. */
    assert_int_equal(asgicore_receive(sc, &ev), ASGICORE_ERR_FINISHED);
    assert_int_equal(asgicore_send_start(sc, 200, NULL, 0, 0),
                     ASGICORE_ERR_FINISHED);
    assert_int_equal(asgicore_send_body(sc, "late", 4, 0),
                     ASGICORE_ERR_FINISHED);
    assert_int_equal(asgicore_send_trailers(sc, NULL, 0, 0),
                     ASGICORE_ERR_FINISHED);
    assert_int_equal(asgicore_finish(sc, 1, "again"), ASGICORE_ERR_FINISHED);
    assert_int_equal(asgicore_scope_hold(sc), ASGICORE_ERR_FINISHED);
    assert_int_equal(asgicore_app_log(s->fa.app, sc, ASGICORE_LOG_INFO, "x"),
                     ASGICORE_ERR_FINISHED);
    assert_non_null(asgicore_scope_get_info(sc));
    fake_pump(&s->fh);
    assert_int_equal(s->req.body_len, 2);
    /* One line for the receives (info), one for the sends (error). */
    assert_true(fake_logged(&s->fh, "late call: receive after the app "
                                    "finished the request"));
    assert_true(fake_logged(&s->fh, "late call: http.response.start after "
                                    "the app finished the request"));
    assert_int_equal(s->fh.log_lines[ASGICORE_LOG_INFO], 1);
    assert_int_equal(s->fh.log_lines[ASGICORE_LOG_ERROR], 1);

    assert_int_equal(asgicore_scope_drop(sc), ASGICORE_OK);
    asgicore_counters c = fake_counters(&s->fh);
    assert_int_equal(c.completed, 1);
    assert_int_equal(c.app_errors, 0);
    assert_int_equal(c.running_apps, 0);
}

/* L6 */
static void L6_late_send_is_an_error_line_naming_the_message(void **st)
{
    state *s = *st;
    asgicore_scope *sc = answered_and_finished(s, &s->req);
    assert_int_equal(asgicore_send_body(sc, "late", 4, 0),
                     ASGICORE_ERR_FINISHED);
    fake_pump(&s->fh);
    assert_true(fake_logged(&s->fh, "late call: http.response.body after "
                                    "the app finished the request"));
    assert_int_equal(s->fh.log_lines[ASGICORE_LOG_ERROR], 1);
    /* The line still names the request: the host has not released it. */
    assert_ptr_equal(s->fh.last_log_host_data, &s->req);
    assert_int_equal(s->req.body_len, 2);
    fake_release(&s->fh, &s->req);
    assert_int_equal(asgicore_scope_drop(sc), ASGICORE_OK);
}

/* L6: after a disconnect a late send says so (Python: an OSError). */
static void L6_late_send_after_a_disconnect_is_disconnected(void **st)
{
    state *s = *st;
    asgicore_scope *sc = fake_open(&s->fh, &s->fa, &s->req);
    assert_int_equal(asgicore_scope_hold(sc), ASGICORE_OK);
    asgicore_scope_disconnect(sc, ASGICORE_DISCONNECT_CLOSED, s->fh.now);
    assert_int_equal(asgicore_finish(sc, 0, NULL), ASGICORE_OK);
    fake_pump(&s->fh);
    fake_release(&s->fh, &s->req);
    assert_int_equal(asgicore_send_start(sc, 200, NULL, 0, 0),
                     ASGICORE_ERR_DISCONNECTED);
    fake_pump(&s->fh);
    assert_true(fake_logged(&s->fh, "refused, the client had disconnected"));
    assert_int_equal(s->fh.log_lines[ASGICORE_LOG_ERROR], 0);
    assert_int_equal(s->req.head_writes, 0);
    assert_int_equal(asgicore_scope_drop(sc), ASGICORE_OK);
}

/* L6: the case found from outside. A late receive must never see the body
 * of the request that came next, whatever memory it was given. */
static void L6_late_receive_never_sees_the_next_request(void **st)
{
    state *s = *st;
    asgicore_event ev;
    fake_req next;
    asgicore_scope *late = answered_and_finished(s, &s->req);
    fake_release(&s->fh, &s->req);

    asgicore_scope *sc = fake_open(&s->fh, &s->fa, &next);
    assert_int_equal(asgicore_scope_feed_body(sc, "secret", 6, 0), ASGICORE_OK);
    assert_int_equal(asgicore_receive(late, &ev), ASGICORE_ERR_FINISHED);
    expect_request(sc, "secret", 0); /* the owner gets it, whole */
    asgicore_send_start(sc, 204, NULL, 0, 0);
    asgicore_send_body(sc, NULL, 0, 0);
    asgicore_finish(sc, 0, NULL);
    fake_pump(&s->fh);
    fake_release(&s->fh, &next);
    assert_int_equal(asgicore_scope_drop(late), ASGICORE_OK);
}

/* L6: holds are counted; a drop without a hold is refused. */
static void L6_each_hold_needs_its_drop(void **st)
{
    state *s = *st;
    asgicore_scope *sc = fake_open(&s->fh, &s->fa, &s->req);
    assert_int_equal(asgicore_scope_hold(sc), ASGICORE_OK);
    assert_int_equal(asgicore_scope_hold(sc), ASGICORE_OK);
    asgicore_scope_disconnect(sc, ASGICORE_DISCONNECT_RESET, s->fh.now);
    asgicore_finish(sc, 0, NULL);
    fake_pump(&s->fh);
    fake_release(&s->fh, &s->req);
    assert_int_equal(asgicore_scope_drop(sc), ASGICORE_OK);
    /* Still held once: still valid memory, still refused. */
    asgicore_event ev;
    assert_int_equal(asgicore_receive(sc, &ev), ASGICORE_ERR_FINISHED);
    assert_int_equal(asgicore_scope_drop(sc), ASGICORE_OK);
    assert_int_equal(asgicore_scope_hold(NULL), ASGICORE_ERR_INVALID);
    assert_int_equal(asgicore_scope_drop(NULL), ASGICORE_ERR_INVALID);
}

/* L6: a held scope the host gave up on while the app still ran (the app
 * is cancelled after its grace period, finishes, then calls on). */
static void L6_abandoned_then_finished_then_called(void **st)
{
    state *s = *st;
    asgicore_event ev;
    asgicore_scope *sc = fake_open_with(&s->fh, &s->fa, &s->req, 0, 0);
    assert_int_equal(asgicore_scope_hold(sc), ASGICORE_OK);
    fake_release(&s->fh, &s->req); /* the app runs on, abandoned */
    assert_int_equal(s->fa.notifications[ASGICORE_NOTIFY_CANCEL], 1);
    expect_disconnect(sc);
    assert_int_equal(asgicore_finish(sc, 1, "cancelled"), ASGICORE_OK);
    assert_int_equal(asgicore_receive(sc, &ev), ASGICORE_ERR_FINISHED);
    assert_int_equal(asgicore_send_body(sc, "x", 1, 0),
                     ASGICORE_ERR_DISCONNECTED);
    fake_pump(&s->fh);
    assert_int_equal(asgicore_scope_drop(sc), ASGICORE_OK);
    asgicore_counters c = fake_counters(&s->fh);
    assert_int_equal(c.abandoned, 1);
    assert_int_equal(c.running_apps, 0);
}

/* L6: the context frees held scopes too (a worker exiting). */
static void L6_context_free_with_a_held_scope_leaks_nothing(void **st)
{
    state *s = *st;
    asgicore_scope *sc = answered_and_finished(s, &s->req);
    (void)sc; /* never dropped: the app was stopped first */
    fake_release(&s->fh, &s->req);
}

/* P9: an app's lines keep their request after the host released it, for
 * as long as the app works on it; scope_gone says when that ends. */
static void P9_lines_keep_the_request_until_the_app_finished(void **st)
{
    state *s = *st;
    asgicore_scope *sc = fake_open(&s->fh, &s->fa, &s->req);
    assert_int_equal(asgicore_scope_hold(sc), ASGICORE_OK);
    fake_release(&s->fh, &s->req); /* the app runs on, after its grace */
    asgicore_app_log(s->fa.app, sc, ASGICORE_LOG_INFO, "cleaning up");
    fake_pump(&s->fh);
    assert_true(fake_logged(&s->fh, "cleaning up"));
    assert_ptr_equal(s->fh.last_log_host_data, &s->req);
    assert_int_equal(s->req.gone, 0);
    assert_int_equal(asgicore_finish(sc, 0, NULL), ASGICORE_OK);
    fake_pump(&s->fh);
    assert_int_equal(s->req.gone, 1);
    /* a late call after that: logged without the request */
    asgicore_event ev;
    assert_int_equal(asgicore_receive(sc, &ev), ASGICORE_ERR_FINISHED);
    fake_pump(&s->fh);
    assert_true(fake_logged(&s->fh, "late call: receive"));
    assert_null(s->fh.last_log_host_data);
    assert_int_equal(asgicore_scope_drop(sc), ASGICORE_OK);
}

/* P9: a host built for 0.2 (callbacks V1) gets host_data until the
 * release only, as before. */
static void P9_a_v1_host_gets_no_host_data_after_release(void **st)
{
    state *s = *st;
    fake_host_fini(&s->fh);
    fake_host_init_v1(&s->fh, NULL);
    fake_app_init(&s->fh, &s->fa, ASGICORE_APP_INLINE);
    asgicore_scope *sc = fake_open(&s->fh, &s->fa, &s->req);
    fake_release(&s->fh, &s->req);
    asgicore_app_log(s->fa.app, sc, ASGICORE_LOG_INFO, "after release");
    fake_pump(&s->fh);
    assert_true(fake_logged(&s->fh, "after release"));
    assert_null(s->fh.last_log_host_data);
    asgicore_finish(sc, 0, NULL);
    fake_pump(&s->fh);
    assert_int_equal(s->req.gone, 0);
}

/* P9: released first, finished next, or the other way round: one
 * scope_gone, after the last line that carries the request. */
static void P9_scope_gone_comes_once_in_either_order(void **st)
{
    state *s = *st;
    asgicore_scope *sc = fake_open(&s->fh, &s->fa, &s->req);
    asgicore_scope_feed_body(sc, NULL, 0, 0);
    asgicore_send_start(sc, 204, NULL, 0, 0);
    asgicore_send_body(sc, NULL, 0, 0);
    asgicore_app_log(s->fa.app, sc, ASGICORE_LOG_INFO, "before finish");
    asgicore_finish(sc, 0, NULL);
    fake_pump(&s->fh);
    assert_int_equal(s->req.gone, 0); /* the host still holds it */
    fake_release(&s->fh, &s->req);
    assert_int_equal(s->req.gone, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, fake_setup, fake_teardown)
        T(L6_calls_after_finish_and_release_are_refused),
        T(L6_late_send_is_an_error_line_naming_the_message),
        T(L6_late_send_after_a_disconnect_is_disconnected),
        T(L6_late_receive_never_sees_the_next_request),
        T(L6_each_hold_needs_its_drop),
        T(L6_abandoned_then_finished_then_called),
        T(L6_context_free_with_a_held_scope_leaks_nothing),
        T(P9_lines_keep_the_request_until_the_app_finished),
        T(P9_a_v1_host_gets_no_host_data_after_release),
        T(P9_scope_gone_comes_once_in_either_order),
#undef T
    };
    return cmocka_run_group_tests_name("late calls", tests, NULL, NULL);
}
