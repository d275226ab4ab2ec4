/* Grace period and cancellation: G1-G7 of docs/behaviours.md. */
#include "fake_host.h"

#include <string.h>

typedef fake_state state;

static int cancels(state *s)
{
    return s->fa.notifications[ASGICORE_NOTIFY_CANCEL];
}

static asgicore_scope *open_and_disconnect(state *s, int64_t grace)
{
    asgicore_scope *sc = fake_open_with(&s->fh, &s->fa, &s->req, grace, 0);
    asgicore_scope_feed_body(sc, NULL, 0, 0);
    expect_request(sc, "", 0);
    assert_int_equal(
        asgicore_scope_disconnect(sc, ASGICORE_DISCONNECT_CLOSED, s->fh.now),
        ASGICORE_OK);
    return sc;
}

/* G1 */
static void G1_disconnect_does_not_cancel_at_once(void **st)
{
    state *s = *st;
    asgicore_time t0 = s->fh.now;
    asgicore_scope *sc = open_and_disconnect(s, -1);
    assert_int_equal(cancels(s), 0);
    assert_int_equal(s->fh.timer, t0 + 3 * SEC);
    /* The app can still run its cleanup: it sees the disconnect... */
    expect_disconnect(sc);
    fake_advance(&s->fh, 2 * SEC);
    assert_int_equal(cancels(s), 0);
    assert_int_equal(s->req.done_calls, 0);
    /* ...and finishes in time. */
    assert_int_equal(asgicore_finish(sc, 0, NULL), ASGICORE_OK);
    fake_pump(&s->fh);
    assert_int_equal(s->req.outcome, ASGICORE_OUTCOME_CLIENT_DISCONNECTED);
}

/* G2 */
static void G2_ignoring_app_is_cancelled_once_at_grace_end(void **st)
{
    state *s = *st;
    asgicore_time t0 = s->fh.now;
    asgicore_scope *sc = open_and_disconnect(s, 500 * MS);
    assert_int_equal(s->fh.timer, t0 + 500 * MS);
    assert_int_equal(asgicore_ctx_get_expiry(s->fh.ctx), t0 + 500 * MS);
    /* Woken early, the library cancels nothing. */
    assert_int_equal(asgicore_ctx_handle_expiry(s->fh.ctx, t0 + 499 * MS),
                     ASGICORE_OK);
    assert_int_equal(cancels(s), 0);
    assert_int_equal(s->fh.timer, t0 + 500 * MS);
    fake_advance(&s->fh, 500 * MS);
    assert_int_equal(cancels(s), 1);
    assert_int_equal(s->req.done_calls, 1);
    assert_int_equal(s->req.outcome, ASGICORE_OUTCOME_CANCELLED);
    assert_false(s->req.response_complete);
    assert_int_equal(s->fh.timer, ASGICORE_TIME_NEVER);
    fake_advance(&s->fh, 10 * SEC);
    asgicore_ctx_handle_expiry(s->fh.ctx, s->fh.now);
    assert_int_equal(cancels(s), 1);
    assert_int_equal(asgicore_finish(sc, 0, NULL), ASGICORE_OK);
    fake_pump(&s->fh);
    assert_int_equal(cancels(s), 1);
    assert_int_equal(fake_counters(&s->fh).cancelled, 1);
}

/* G3 */
static void G3_zero_grace_cancels_at_once(void **st)
{
    state *s = *st;
    asgicore_scope *sc = open_and_disconnect(s, 0);
    assert_int_equal(cancels(s), 1);
    assert_int_equal(s->fh.timer, ASGICORE_TIME_NEVER);
    assert_int_equal(s->req.outcome, ASGICORE_OUTCOME_CANCELLED);
    asgicore_finish(sc, 0, NULL);
    fake_pump(&s->fh);
}

/* G4 */
static void G4_app_finishing_in_grace_is_never_cancelled(void **st)
{
    state *s = *st;
    asgicore_scope *sc = open_and_disconnect(s, -1);
    fake_advance(&s->fh, 1 * SEC);
    assert_int_equal(asgicore_finish(sc, 0, NULL), ASGICORE_OK);
    fake_pump(&s->fh);
    /* The timer is withdrawn with the scope's deadline. */
    assert_int_equal(s->fh.timer, ASGICORE_TIME_NEVER);
    assert_int_equal(asgicore_ctx_get_expiry(s->fh.ctx), ASGICORE_TIME_NEVER);
    fake_release(&s->fh, &s->req);
    /* A late tick finds nothing (run under ASan: no freed memory read). */
    assert_int_equal(
        asgicore_ctx_handle_expiry(s->fh.ctx, s->fh.now + 10 * SEC),
        ASGICORE_OK);
    assert_int_equal(cancels(s), 0);
    assert_int_equal(fake_counters(&s->fh).disconnected, 1);
}

/* G4 */
static void G4_release_before_deadline_then_finish(void **st)
{
    state *s = *st;
    asgicore_scope *sc = open_and_disconnect(s, -1);
    fake_release(&s->fh, &s->req); /* the host forgets the request */
    fake_advance(&s->fh, 1 * SEC);
    assert_int_equal(asgicore_finish(sc, 0, NULL), ASGICORE_OK);
    fake_advance(&s->fh, 5 * SEC);
    asgicore_ctx_handle_expiry(s->fh.ctx, s->fh.now);
    assert_int_equal(cancels(s), 0);
}

/* G5 */
static void G5_cancel_is_a_normal_outcome(void **st)
{
    state *s = *st;
    asgicore_scope *sc = open_and_disconnect(s, 100 * MS);
    fake_advance(&s->fh, 100 * MS);
    assert_int_equal(cancels(s), 1);
    /* A runtime raises the cancellation into the app, which fails. */
    assert_int_equal(asgicore_finish(sc, 1, "CancelledError"), ASGICORE_OK);
    fake_pump(&s->fh);
    assert_int_equal(s->fh.log_lines[ASGICORE_LOG_ERROR], 0);
    assert_true(s->fh.log_lines[ASGICORE_LOG_INFO] >= 1);
    assert_true(fake_logged(&s->fh, "grace period of 100 ms"));
    assert_int_equal(s->req.head_writes, 0); /* no 500 */
    assert_int_equal(s->req.outcome, ASGICORE_OUTCOME_CANCELLED);
    asgicore_counters c = fake_counters(&s->fh);
    assert_int_equal(c.cancelled, 1);
    assert_int_equal(c.app_errors, 0);
}

/* G6 */
static void G6_disconnect_is_idempotent(void **st)
{
    state *s = *st;
    asgicore_scope *sc = fake_open(&s->fh, &s->fa, &s->req);
    asgicore_scope_feed_body(sc, NULL, 0, 0);
    expect_request(sc, "", 0);
    expect_pending(sc);
    int sets = s->fh.timer_sets;
    asgicore_time t0 = s->fh.now;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(asgicore_scope_disconnect(
                             sc, ASGICORE_DISCONNECT_CLOSED, s->fh.now),
                         ASGICORE_OK);
        s->fh.now += 1 * SEC;
    }
    /* One http.disconnect wake-up, one timer at the first report. */
    assert_int_equal(s->fa.notifications[ASGICORE_NOTIFY_RECEIVE_READY], 1);
    assert_int_equal(s->fh.timer_sets, sets + 1);
    assert_int_equal(s->fh.timer, t0 + 3 * SEC);
    asgicore_finish(sc, 0, NULL);
    fake_pump(&s->fh);
    fake_release(&s->fh, &s->req);
    asgicore_counters c = fake_counters(&s->fh);
    assert_int_equal(c.disconnected, 1);
    assert_int_equal(c.live, 0);
}

/* G7 */
static void G7_default_grace_is_three_seconds(void **st)
{
    state *s = *st;
    asgicore_settings set;
    assert_int_equal(asgicore_settings_default(&set), ASGICORE_OK);
    assert_int_equal(set.grace_period_ns, 3 * SEC);
    asgicore_scope *sc = fake_open(&s->fh, &s->fa, &s->req);
    assert_int_equal(asgicore_scope_get_info(sc)->grace_period_ns, 3 * SEC);
    fake_req other;
    asgicore_scope *sc2 = fake_open_with(&s->fh, &s->fa, &other, 250 * MS, 0);
    assert_int_equal(asgicore_scope_get_info(sc2)->grace_period_ns, 250 * MS);
    asgicore_finish(sc, 1, "test over");
    asgicore_finish(sc2, 1, "test over");
    fake_pump(&s->fh);
    fake_release(&s->fh, &other);
}

static void deadlines_of_many_scopes_fire_in_order(void **st)
{
    state *s = *st;
    enum { N = 20 };
    static fake_req reqs[N];
    asgicore_time t0 = s->fh.now;
    /* Per-scope grace periods in scrambled order. */
    for (int i = 0; i < N; i++) {
        int64_t grace = (int64_t)((i * 7) % N + 1) * 100 * MS;
        fake_open_with(&s->fh, &s->fa, &reqs[i], grace, 0);
        asgicore_scope_disconnect(reqs[i].scope, ASGICORE_DISCONNECT_CLOSED,
                                  t0);
    }
    /* Finish one in the middle of the heap: it must never be cancelled. */
    asgicore_finish(reqs[5].scope, 0, NULL);
    for (int step = 1; step <= N; step++) {
        fake_advance(&s->fh, 100 * MS);
        int expected = step - (((5 * 7) % N + 1) <= step ? 1 : 0);
        assert_int_equal(cancels(s), expected);
        assert_int_equal(s->fh.timer == ASGICORE_TIME_NEVER, step == N);
    }
    for (int i = 0; i < N; i++) {
        if (i != 5)
            asgicore_finish(reqs[i].scope, 0, NULL);
        fake_pump(&s->fh);
        fake_release(&s->fh, &reqs[i]);
    }
    asgicore_counters c = fake_counters(&s->fh);
    assert_int_equal(c.cancelled, N - 1);
    assert_int_equal(c.disconnected, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, fake_setup, fake_teardown)
        T(G1_disconnect_does_not_cancel_at_once),
        T(G2_ignoring_app_is_cancelled_once_at_grace_end),
        T(G3_zero_grace_cancels_at_once),
        T(G4_app_finishing_in_grace_is_never_cancelled),
        T(G4_release_before_deadline_then_finish),
        T(G5_cancel_is_a_normal_outcome),
        T(G6_disconnect_is_idempotent),
        T(G7_default_grace_is_three_seconds),
        T(deadlines_of_many_scopes_fire_in_order),
#undef T
    };
    return cmocka_run_group_tests_name("grace", tests, NULL, NULL);
}
