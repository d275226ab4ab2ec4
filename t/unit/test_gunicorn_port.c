/*
 * Every case of gunicorn's tests/test_asgi_disconnect.py (the change this
 * project started from: gunicorn's ASGI worker), restated against our ABI.
 * A comment above each test names the case it ports. Where gunicorn
 * inspects private fields (_closed, nr_conns, the queue, call_later), we
 * assert the behaviour those fields stand for through the public header.
 */
#include "fake_host.h"

#include <string.h>

typedef fake_state state;

static void finish(state *s)
{
    assert_int_equal(asgicore_finish(s->req.scope, 0, NULL), ASGICORE_OK);
    fake_pump(&s->fh);
}

/* Ports TestASGIGracefulDisconnect.test_disconnect_sets_closed_flag:
 * "closed" shows as sends failing with ASGICORE_ERR_DISCONNECTED. */
static void disconnect_sets_closed_flag(void **st)
{
    state *s = *st;
    asgicore_scope *sc = fake_open(&s->fh, &s->fa, &s->req);
    assert_int_equal(asgicore_send_start(sc, 200, NULL, 0, 0), ASGICORE_OK);
    asgicore_scope_disconnect(sc, ASGICORE_DISCONNECT_CLOSED, s->fh.now);
    assert_int_equal(asgicore_send_body(sc, "x", 1, 0),
                     ASGICORE_ERR_DISCONNECTED);
    finish(s);
}

/* Ports test_disconnect_sends_message_to_queue: the receive queue yields
 * exactly {"type": "http.disconnect"}. */
static void disconnect_sends_message_to_queue(void **st)
{
    state *s = *st;
    asgicore_scope *sc = fake_open(&s->fh, &s->fa, &s->req);
    asgicore_scope_disconnect(sc, ASGICORE_DISCONNECT_CLOSED, s->fh.now);
    expect_disconnect(sc);
    finish(s);
}

/* Ports test_disconnect_is_idempotent: with two connections open, one lost
 * twice is counted once and queues one disconnect. */
static void disconnect_is_idempotent(void **st)
{
    state *s = *st;
    fake_req other;
    asgicore_scope *sc = fake_open(&s->fh, &s->fa, &s->req);
    asgicore_scope *sc2 = fake_open(&s->fh, &s->fa, &other);
    expect_pending(sc);
    asgicore_scope_disconnect(sc, ASGICORE_DISCONNECT_CLOSED, s->fh.now);
    asgicore_scope_disconnect(sc, ASGICORE_DISCONNECT_CLOSED, s->fh.now);
    assert_int_equal(s->fa.notifications[ASGICORE_NOTIFY_RECEIVE_READY], 1);
    finish(s);
    fake_release(&s->fh, &s->req);
    asgicore_counters c = fake_counters(&s->fh);
    assert_int_equal(c.live, 1); /* nr_conns: 2 -> 1, not 0 */
    assert_int_equal(c.disconnected, 1);
    asgicore_scope_feed_body(sc2, NULL, 0, 0);
    asgicore_send_start(sc2, 200, NULL, 0, 0);
    asgicore_send_body(sc2, NULL, 0, 0);
    asgicore_finish(sc2, 0, NULL);
    fake_pump(&s->fh);
    fake_release(&s->fh, &other);
}

/* Ports test_disconnect_does_not_cancel_immediately. */
static void disconnect_does_not_cancel_immediately(void **st)
{
    state *s = *st;
    asgicore_scope *sc = fake_open(&s->fh, &s->fa, &s->req);
    asgicore_scope_disconnect(sc, ASGICORE_DISCONNECT_CLOSED, s->fh.now);
    assert_int_equal(s->fa.notifications[ASGICORE_NOTIFY_CANCEL], 0);
    finish(s);
}

/* Ports test_disconnect_schedules_cancellation: one timer, at the grace
 * period from now, whose expiry cancels the pending app. */
static void disconnect_schedules_cancellation(void **st)
{
    state *s = *st;
    asgicore_scope *sc = fake_open(&s->fh, &s->fa, &s->req);
    int sets = s->fh.timer_sets;
    asgicore_time t0 = s->fh.now;
    asgicore_scope_disconnect(sc, ASGICORE_DISCONNECT_CLOSED, t0);
    assert_int_equal(s->fh.timer_sets, sets + 1);
    assert_int_equal(s->fh.timer, t0 + 3 * SEC);
    fake_advance(&s->fh, 3 * SEC);
    assert_int_equal(s->fa.notifications[ASGICORE_NOTIFY_CANCEL], 1);
    finish(s);
}

/* Ports test_cancel_task_if_pending_cancels_running_task. */
static void cancel_if_pending_cancels_running_app(void **st)
{
    state *s = *st;
    asgicore_scope *sc = fake_open_with(&s->fh, &s->fa, &s->req, 10 * MS, 0);
    asgicore_scope_disconnect(sc, ASGICORE_DISCONNECT_CLOSED, s->fh.now);
    fake_advance(&s->fh, 10 * MS);
    assert_int_equal(s->fa.notifications[ASGICORE_NOTIFY_CANCEL], 1);
    finish(s);
}

/* Ports test_cancel_task_if_pending_skips_completed_task. */
static void cancel_if_pending_skips_finished_app(void **st)
{
    state *s = *st;
    asgicore_scope *sc = fake_open_with(&s->fh, &s->fa, &s->req, 10 * MS, 0);
    asgicore_scope_disconnect(sc, ASGICORE_DISCONNECT_CLOSED, s->fh.now);
    finish(s);
    fake_advance(&s->fh, 10 * MS);
    assert_int_equal(asgicore_ctx_handle_expiry(s->fh.ctx, s->fh.now),
                     ASGICORE_OK);
    assert_int_equal(s->fa.notifications[ASGICORE_NOTIFY_CANCEL], 0);
}

/* Ports test_receive_returns_disconnect_when_closed: the complete body is
 * received, the connection closes, the next receive is http.disconnect.
 * (gunicorn would also hand out a body still queued at the close; we drop
 * unread body at a disconnect, tested as R8.) */
static void receive_returns_disconnect_when_closed(void **st)
{
    state *s = *st;
    asgicore_scope *sc = fake_open(&s->fh, &s->fa, &s->req);
    asgicore_scope_feed_body(sc, NULL, 0, 0);
    expect_request(sc, "", 0);
    asgicore_scope_disconnect(sc, ASGICORE_DISCONNECT_CLOSED, s->fh.now);
    expect_disconnect(sc);
    finish(s);
}

/* Ports TestASGIDisconnectGracePeriod.test_default_grace_period. */
static void default_grace_period(void **st)
{
    (void)st;
    asgicore_settings set;
    assert_int_equal(asgicore_settings_default(&set), ASGICORE_OK);
    assert_int_equal(set.grace_period_ns, 3 * SEC);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, fake_setup, fake_teardown)
        T(disconnect_sets_closed_flag),
        T(disconnect_sends_message_to_queue),
        T(disconnect_is_idempotent),
        T(disconnect_does_not_cancel_immediately),
        T(disconnect_schedules_cancellation),
        T(cancel_if_pending_cancels_running_app),
        T(cancel_if_pending_skips_finished_app),
        T(receive_returns_disconnect_when_closed),
        T(default_grace_period),
#undef T
    };
    return cmocka_run_group_tests_name("gunicorn_port", tests, NULL, NULL);
}
