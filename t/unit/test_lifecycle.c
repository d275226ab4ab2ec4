/* Lifecycle and accounting: L1-L3, B2, B3 of docs/behaviours.md. */
#include "fake_host.h"

#include <string.h>

typedef fake_state state;

static void assert_balanced(fake_host *fh, uint64_t opened)
{
    asgicore_counters c = fake_counters(fh);
    assert_int_equal(c.opened, opened);
    assert_int_equal(c.live, 0);
    assert_int_equal(c.completed + c.disconnected + c.cancelled + c.app_errors,
                     opened);
}

/* The four events of a scope's end, in every order. */
enum { EV_FINISH, EV_DISCONNECT, EV_EXPIRE, EV_RELEASE, EV_COUNT };

static void run_events(state *s, const int *order, int respond)
{
    fake_req req;
    asgicore_scope *sc = fake_open(&s->fh, &s->fa, &req);
    asgicore_scope_feed_body(sc, NULL, 0, 0);
    if (respond) {
        asgicore_send_start(sc, 200, NULL, 0, 0);
        asgicore_send_body(sc, "ok", 2, 0);
        fake_pump(&s->fh);
    }
    for (int i = 0; i < EV_COUNT; i++) {
        switch (order[i]) {
        case EV_FINISH:
            assert_int_equal(asgicore_finish(sc, 0, NULL), ASGICORE_OK);
            fake_pump(&s->fh);
            break;
        case EV_DISCONNECT:
            if (!req.released)
                asgicore_scope_disconnect(sc, ASGICORE_DISCONNECT_CLOSED,
                                          s->fh.now);
            break;
        case EV_EXPIRE: fake_advance(&s->fh, 5 * SEC); break;
        case EV_RELEASE: fake_release(&s->fh, &req); break;
        }
    }
    /* The host gives its timer a last chance: nothing may fire late. */
    fake_advance(&s->fh, 5 * SEC);
}

static void permute(state *s, int *order, int k, int respond, int *runs)
{
    if (k == EV_COUNT) {
        run_events(s, order, respond);
        (*runs)++;
        return;
    }
    for (int i = k; i < EV_COUNT; i++) {
        int t = order[k];
        order[k] = order[i];
        order[i] = t;
        permute(s, order, k + 1, respond, runs);
        order[i] = order[k];
        order[k] = t;
    }
}

/* L1 */
static void L1_live_counter_balances_in_any_event_order(void **st)
{
    state *s = *st;
    int order[EV_COUNT] = {EV_FINISH, EV_DISCONNECT, EV_EXPIRE, EV_RELEASE};
    int runs = 0;
    permute(s, order, 0, 0, &runs);
    permute(s, order, 0, 1, &runs);
    assert_int_equal(runs, 48);
    assert_balanced(&s->fh, 48);
    asgicore_counters c = fake_counters(&s->fh);
    assert_int_equal(c.running_apps, 0);
    assert_true(c.completed > 0 && c.disconnected > 0 && c.cancelled > 0);
}

/* L1 */
static void L1_counters_per_outcome(void **st)
{
    state *s = *st;
    fake_req a, b, c, d;
    /* complete */
    asgicore_scope *sa = fake_open(&s->fh, &s->fa, &a);
    asgicore_scope_feed_body(sa, NULL, 0, 0);
    asgicore_send_start(sa, 204, NULL, 0, 0);
    asgicore_send_body(sa, NULL, 0, 0);
    asgicore_finish(sa, 0, NULL);
    /* client_disconnected */
    asgicore_scope *sb = fake_open(&s->fh, &s->fa, &b);
    asgicore_scope_disconnect(sb, ASGICORE_DISCONNECT_CLOSED, s->fh.now);
    asgicore_finish(sb, 0, NULL);
    /* cancelled_after_grace */
    asgicore_scope *sc = fake_open(&s->fh, &s->fa, &c);
    asgicore_scope_disconnect(sc, ASGICORE_DISCONNECT_CLOSED, s->fh.now);
    /* app_error */
    asgicore_scope *sd = fake_open(&s->fh, &s->fa, &d);
    asgicore_finish(sd, 1, "ValueError: x");
    fake_pump(&s->fh);
    fake_advance(&s->fh, 3 * SEC);
    asgicore_finish(sc, 0, NULL);
    fake_pump(&s->fh);
    assert_int_equal(a.outcome, ASGICORE_OUTCOME_COMPLETE);
    assert_int_equal(b.outcome, ASGICORE_OUTCOME_CLIENT_DISCONNECTED);
    assert_int_equal(c.outcome, ASGICORE_OUTCOME_CANCELLED);
    assert_int_equal(d.outcome, ASGICORE_OUTCOME_APP_ERROR);
    assert_string_equal(asgicore_outcome_name(a.outcome), "complete");
    assert_string_equal(asgicore_outcome_name(b.outcome),
                        "client_disconnected");
    assert_string_equal(asgicore_outcome_name(c.outcome),
                        "cancelled_after_grace");
    assert_string_equal(asgicore_outcome_name(d.outcome), "app_error");
    assert_int_equal(asgicore_scope_outcome(sd), ASGICORE_OUTCOME_APP_ERROR);
    asgicore_counters n = fake_counters(&s->fh);
    assert_int_equal(n.live, 4);
    fake_release(&s->fh, &a);
    fake_release(&s->fh, &b);
    fake_release(&s->fh, &c);
    fake_release(&s->fh, &d);
    n = fake_counters(&s->fh);
    assert_int_equal(n.completed, 1);
    assert_int_equal(n.disconnected, 1);
    assert_int_equal(n.cancelled, 1);
    assert_int_equal(n.app_errors, 1);
    assert_balanced(&s->fh, 4);
}

/* L1: the outcome says the most important thing that happened: a client
 * that left before the app failed is client_disconnected. */
static void L1_disconnect_before_an_app_error_is_a_disconnect(void **st)
{
    state *s = *st;
    asgicore_scope *sc = fake_open(&s->fh, &s->fa, &s->req);
    asgicore_scope_disconnect(sc, ASGICORE_DISCONNECT_CLOSED, s->fh.now);
    asgicore_finish(sc, 1, "ValueError: after the client left");
    fake_pump(&s->fh);
    assert_int_equal(s->req.outcome, ASGICORE_OUTCOME_CLIENT_DISCONNECTED);
    asgicore_counters n = fake_counters(&s->fh);
    assert_int_equal(n.disconnected, 1);
    assert_int_equal(n.app_errors, 0);
}

/* L2 */
static void L2_client_gone_before_start_is_not_dispatched(void **st)
{
    state *s = *st;
    fake_app threaded;
    fake_app_init(&s->fh, &threaded, ASGICORE_APP_THREADED);
    asgicore_scope *sc = fake_open(&s->fh, &threaded, &s->req);
    /* The start waits for the app thread, which has not run yet. */
    assert_int_equal(threaded.wakes, 1);
    assert_int_equal(threaded.starts, 0);
    asgicore_scope_disconnect(sc, ASGICORE_DISCONNECT_CLOSED, s->fh.now);
    assert_int_equal(s->req.done_calls, 1);
    assert_int_equal(s->req.outcome, ASGICORE_OUTCOME_CLIENT_DISCONNECTED);
    fake_release(&s->fh, &s->req);
    /* The app thread runs now: the scope is not started. */
    assert_int_equal(asgicore_app_dispatch(threaded.app), 1);
    assert_int_equal(threaded.starts, 0);
    asgicore_counters c = fake_counters(&s->fh);
    assert_int_equal(c.not_dispatched, 1);
    assert_int_equal(c.disconnected, 1);
    assert_int_equal(c.running_apps, 0);
    assert_int_equal(asgicore_app_free(threaded.app), ASGICORE_OK);
}

/* L2: the host saw the client leave before it opened the scope (its FIN
 * came with the request): counted, never started, done at once. */
static void L2_scope_opened_for_a_gone_client_never_starts(void **st)
{
    state *s = *st;
    fake_app threaded;
    fake_app_init(&s->fh, &threaded, ASGICORE_APP_THREADED);
    fake_open_with(&s->fh, &threaded, &s->req, -1, ASGICORE_SCOPE_CLIENT_GONE);
    assert_int_equal(threaded.wakes, 0);
    assert_int_equal(s->req.done_calls, 1);
    assert_int_equal(s->req.outcome, ASGICORE_OUTCOME_CLIENT_DISCONNECTED);
    assert_int_equal(asgicore_app_dispatch(threaded.app), 0);
    assert_int_equal(threaded.starts, 0);
    fake_release(&s->fh, &s->req);
    asgicore_counters c = fake_counters(&s->fh);
    assert_int_equal(c.opened, 1);
    assert_int_equal(c.not_dispatched, 1);
    assert_int_equal(c.disconnected, 1);
    assert_int_equal(c.running_apps, 0);
    assert_int_equal(asgicore_app_free(threaded.app), ASGICORE_OK);
}

/* L3 */
static void L3_ignore_client_abort_runs_app_to_completion(void **st)
{
    state *s = *st;
    asgicore_scope *sc = fake_open_with(&s->fh, &s->fa, &s->req, 0,
                                        ASGICORE_SCOPE_IGNORE_CLIENT_ABORT);
    asgicore_scope_feed_body(sc, "all", 3, 0);
    expect_request(sc, "all", 0);
    expect_pending(sc);
    asgicore_scope_disconnect(sc, ASGICORE_DISCONNECT_CLOSED, s->fh.now);
    /* Even with a zero grace period: no disconnect, no cancel. */
    assert_int_equal(s->fa.notifications[ASGICORE_NOTIFY_RECEIVE_READY], 0);
    assert_int_equal(s->fa.notifications[ASGICORE_NOTIFY_CANCEL], 0);
    expect_pending(sc);
    fake_advance(&s->fh, 10 * SEC);
    assert_int_equal(s->fa.notifications[ASGICORE_NOTIFY_CANCEL], 0);
    assert_int_equal(asgicore_send_start(sc, 200, NULL, 0, 0), ASGICORE_OK);
    assert_int_equal(asgicore_send_body(sc, "discarded", 9, 0), ASGICORE_OK);
    assert_int_equal(asgicore_finish(sc, 0, NULL), ASGICORE_OK);
    fake_pump(&s->fh);
    /* Its output goes nowhere, the outcome says why. */
    assert_int_equal(s->req.head_writes, 0);
    assert_int_equal(s->req.body_len, 0);
    assert_int_equal(s->req.done_calls, 1);
    assert_int_equal(s->req.outcome, ASGICORE_OUTCOME_CLIENT_DISCONNECTED);
    assert_int_equal(s->fh.log_lines[ASGICORE_LOG_ERROR], 0);
}

/* L3 */
static void L3_ignore_client_abort_with_body_incomplete(void **st)
{
    state *s = *st;
    /* The body can never complete: the app must learn it. */
    asgicore_scope *sc = fake_open_with(&s->fh, &s->fa, &s->req, -1,
                                        ASGICORE_SCOPE_IGNORE_CLIENT_ABORT);
    asgicore_scope_feed_body(sc, "part", 4, 1);
    asgicore_scope_disconnect(sc, ASGICORE_DISCONNECT_CLOSED, s->fh.now);
    expect_disconnect(sc);
    asgicore_finish(sc, 0, NULL);
    fake_pump(&s->fh);
}

/* L3: the host may end the request while an app that ignores the abort
 * has not read its whole body: the app still reads it, to the end
 * (found by the fuzzer's receive model). */
static void L3_ignore_client_abort_body_outlives_the_release(void **st)
{
    state *s = *st;
    asgicore_scope *sc = fake_open_with(&s->fh, &s->fa, &s->req, 0,
                                        ASGICORE_SCOPE_IGNORE_CLIENT_ABORT);
    asgicore_scope_feed_body(sc, "all", 3, 0);
    asgicore_scope_disconnect(sc, ASGICORE_DISCONNECT_CLOSED, s->fh.now);
    fake_release(&s->fh, &s->req);
    expect_request(sc, "all", 0);
    expect_pending(sc);
    assert_int_equal(asgicore_finish(sc, 0, NULL), ASGICORE_OK);
    fake_pump(&s->fh);
    assert_int_equal(s->fa.notifications[ASGICORE_NOTIFY_CANCEL], 0);
}

static void release_with_app_running_is_a_disconnect(void **st)
{
    state *s = *st;
    asgicore_scope *sc = fake_open(&s->fh, &s->fa, &s->req);
    expect_pending(sc);
    fake_release(&s->fh, &s->req);
    assert_int_equal(s->fa.notifications[ASGICORE_NOTIFY_RECEIVE_READY], 1);
    expect_disconnect(sc);
    assert_int_equal(asgicore_send_start(sc, 200, NULL, 0, 0),
                     ASGICORE_ERR_DISCONNECTED);
    fake_advance(&s->fh, 3 * SEC);
    assert_int_equal(s->fa.notifications[ASGICORE_NOTIFY_CANCEL], 1);
    assert_int_equal(asgicore_finish(sc, 0, NULL), ASGICORE_OK);
    asgicore_counters c = fake_counters(&s->fh);
    assert_int_equal(c.abandoned, 1);
    assert_int_equal(c.disconnected, 1);
    assert_int_equal(c.running_apps, 0);
}

static void background_work_after_response_is_not_cancelled(void **st)
{
    state *s = *st;
    asgicore_scope *sc = fake_open(&s->fh, &s->fa, &s->req);
    asgicore_scope_feed_body(sc, NULL, 0, 0);
    asgicore_send_start(sc, 200, NULL, 0, 0);
    asgicore_send_body(sc, "ok", 2, 0);
    fake_pump(&s->fh);
    /* The request ends with its response; the app still runs. */
    assert_int_equal(s->req.done_calls, 1);
    assert_int_equal(s->req.outcome, ASGICORE_OUTCOME_COMPLETE);
    fake_release(&s->fh, &s->req);
    fake_advance(&s->fh, 60 * SEC);
    assert_int_equal(s->fa.notifications[ASGICORE_NOTIFY_CANCEL], 0);
    expect_disconnect(sc);
    asgicore_counters c = fake_counters(&s->fh);
    assert_int_equal(c.running_apps, 1);
    assert_int_equal(c.abandoned, 0);
    asgicore_finish(sc, 0, NULL);
    assert_int_equal(fake_counters(&s->fh).running_apps, 0);
}

static void done_may_release_the_scope(void **st)
{
    state *s = *st;
    asgicore_scope *sc = fake_open(&s->fh, &s->fa, &s->req);
    s->req.release_in_done = 1;
    asgicore_scope_feed_body(sc, NULL, 0, 0);
    asgicore_send_start(sc, 200, NULL, 0, 0);
    asgicore_send_body(sc, "ok", 2, 0);
    asgicore_finish(sc, 0, NULL);
    fake_pump(&s->fh);
    assert_true(s->req.released);
    assert_int_equal(fake_counters(&s->fh).live, 0);
}

/* B2 */
static void B2_app_returning_without_response_gets_500(void **st)
{
    state *s = *st;
    asgicore_scope *sc = fake_open(&s->fh, &s->fa, &s->req);
    asgicore_scope_feed_body(sc, NULL, 0, 0);
    assert_int_equal(asgicore_finish(sc, 0, NULL), ASGICORE_OK);
    fake_pump(&s->fh);
    assert_int_equal(s->req.status, 500);
    assert_true(s->req.response_complete);
    assert_int_equal(s->req.outcome, ASGICORE_OUTCOME_APP_ERROR);
    assert_int_equal(s->fh.log_lines[ASGICORE_LOG_ERROR], 1);
    assert_true(fake_logged(&s->fh, "without sending a response"));
}

/* B2, S7: the 500 that answers HEAD has its length but no bytes. */
static void B2_500_to_a_head_request_has_no_body(void **st)
{
    state *s = *st;
    asgicore_scope *sc =
        fake_open_as(&s->fh, &s->fa, &s->req, "HEAD", "/", -1, 0);
    asgicore_scope_feed_body(sc, NULL, 0, 0);
    assert_int_equal(asgicore_finish(sc, 1, "ValueError: x"), ASGICORE_OK);
    fake_pump(&s->fh);
    assert_int_equal(s->req.status, 500);
    assert_int_equal(s->req.body_len, 0);
    assert_true(s->req.response_complete);
}

/* B2 */
static void B2_app_raising_mid_response_closes_connection(void **st)
{
    state *s = *st;
    asgicore_scope *sc = fake_open(&s->fh, &s->fa, &s->req);
    asgicore_send_start(sc, 200, NULL, 0, 0);
    asgicore_send_body(sc, "half", 4, 1);
    fake_pump(&s->fh); /* the host has the head: too late for a 500 */
    asgicore_finish(sc, 1, "Traceback: RuntimeError: boom");
    fake_pump(&s->fh);
    assert_int_equal(s->req.status, 200);
    assert_false(s->req.response_complete);
    assert_int_equal(s->req.outcome, ASGICORE_OUTCOME_APP_ERROR);
    assert_int_equal(s->fh.log_lines[ASGICORE_LOG_ERROR], 1);
    assert_true(fake_logged(&s->fh, "app failed: Traceback: RuntimeError"));
}

/* B3 */
static void B3_app_ignoring_cancel_is_torn_down_and_counted(void **st)
{
    state *s = *st;
    asgicore_settings set;
    asgicore_settings_default(&set);
    set.body_buffer_limit = 1 << 20;
    fake_state_reinit(s, &set);
    asgicore_scope *sc = fake_open(&s->fh, &s->fa, &s->req);
    static char big[512 * 1024];
    asgicore_scope_feed_body(sc, big, sizeof big, 1);
    asgicore_scope_disconnect(sc, ASGICORE_DISCONNECT_RESET, s->fh.now);
    fake_advance(&s->fh, 3 * SEC);
    assert_int_equal(s->fa.notifications[ASGICORE_NOTIFY_CANCEL], 1);
    fake_release(&s->fh, &s->req);
    asgicore_counters c = fake_counters(&s->fh);
    assert_int_equal(c.live, 0);
    assert_int_equal(c.cancelled, 1);
    assert_int_equal(c.running_apps, 1);
    /* The app never finishes; freeing the context frees everything (the
     * leak checkers of make test watch this). */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, fake_setup, fake_teardown)
        T(L1_live_counter_balances_in_any_event_order),
        T(L1_counters_per_outcome),
        T(L1_disconnect_before_an_app_error_is_a_disconnect),
        T(L2_client_gone_before_start_is_not_dispatched),
        T(L2_scope_opened_for_a_gone_client_never_starts),
        T(L3_ignore_client_abort_runs_app_to_completion),
        T(L3_ignore_client_abort_with_body_incomplete),
        T(L3_ignore_client_abort_body_outlives_the_release),
        T(release_with_app_running_is_a_disconnect),
        T(background_work_after_response_is_not_cancelled),
        T(done_may_release_the_scope),
        T(B2_app_returning_without_response_gets_500),
        T(B2_500_to_a_head_request_has_no_body),
        T(B2_app_raising_mid_response_closes_connection),
        T(B3_app_ignoring_cancel_is_torn_down_and_counted),
#undef T
    };
    return cmocka_run_group_tests_name("lifecycle", tests, NULL, NULL);
}
