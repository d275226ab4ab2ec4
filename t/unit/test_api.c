/* The C ABI's contract: arguments, versions, ownership, callbacks that
 * re-enter, threaded dispatch (on one thread, deterministically). */
#include "fake_host.h"

#include <stdio.h>
#include <string.h>

typedef fake_state state;

static void strerror_names_every_code(void **st)
{
    (void)st;
    for (int code = ASGICORE_ERR_INTERNAL; code <= ASGICORE_PENDING; code++)
        assert_string_not_equal(asgicore_strerror(code), "unknown error code");
    assert_string_equal(asgicore_strerror(-1000), "unknown error code");
    assert_string_equal(asgicore_strerror(ASGICORE_ERR_DISCONNECTED),
                        "client disconnected");
    /* S6's errors are this code too: the text an app sees names both */
    assert_non_null(
        strstr(asgicore_strerror(ASGICORE_ERR_PROTOCOL), "content-length"));
    for (int r = ASGICORE_DISCONNECT_CLOSED; r <= ASGICORE_DISCONNECT_SERVER;
         r++)
        assert_string_not_equal(asgicore_disconnect_reason_name(r),
                                "unknown reason");
}

static void version_matches_header(void **st)
{
    (void)st;
    assert_string_equal(asgicore_version(), ASGICORE_VERSION_STRING);
    assert_int_equal(asgicore_version_number(), ASGICORE_VERSION_NUM);
}

static void bad_arguments_are_refused(void **st)
{
    state *s = *st;
    asgicore_callbacks cb;
    memset(&cb, 0, sizeof cb);
    asgicore_ctx *ctx = NULL;
    asgicore_settings set;
    assert_int_equal(asgicore_settings_default_versioned(99, &set),
                     ASGICORE_ERR_VERSION);
    assert_int_equal(asgicore_settings_default(NULL), ASGICORE_ERR_INVALID);
    assert_int_equal(asgicore_ctx_new_versioned(99, NULL, 1, &cb, NULL, &ctx),
                     ASGICORE_ERR_VERSION);
    assert_int_equal(asgicore_ctx_new_versioned(1, NULL, 99, &cb, NULL, &ctx),
                     ASGICORE_ERR_VERSION);
    assert_int_equal(asgicore_ctx_new(NULL, NULL, NULL, &ctx),
                     ASGICORE_ERR_INVALID);
    asgicore_settings_default(&set);
    set.body_buffer_limit = 0;
    assert_int_equal(asgicore_ctx_new(&set, &cb, NULL, &ctx),
                     ASGICORE_ERR_INVALID);
    assert_null(ctx);
    asgicore_ctx_free(NULL);

    assert_int_equal(asgicore_ctx_process(NULL), ASGICORE_ERR_INVALID);
    assert_int_equal(asgicore_ctx_get_expiry(NULL), ASGICORE_TIME_NEVER);
    assert_int_equal(asgicore_ctx_handle_expiry(NULL, 0), ASGICORE_ERR_INVALID);
    asgicore_counters c;
    assert_int_equal(asgicore_ctx_counters_versioned(s->fh.ctx, 7, &c),
                     ASGICORE_ERR_VERSION);
    assert_int_equal(asgicore_scope_feed_body(NULL, "x", 1, 0),
                     ASGICORE_ERR_INVALID);
    assert_int_equal(asgicore_scope_disconnect(NULL, 1, 0),
                     ASGICORE_ERR_INVALID);
    assert_int_equal(asgicore_scope_release(NULL, 0), ASGICORE_ERR_INVALID);
    assert_int_equal(asgicore_receive(NULL, NULL), ASGICORE_ERR_INVALID);
    assert_int_equal(asgicore_send_start(NULL, 200, NULL, 0, 0),
                     ASGICORE_ERR_INVALID);
    assert_int_equal(asgicore_finish(NULL, 0, NULL), ASGICORE_ERR_INVALID);
    assert_null(asgicore_scope_get_info(NULL));

    /* App registration. */
    asgicore_app_callbacks acb;
    memset(&acb, 0, sizeof acb);
    asgicore_app *app;
    assert_int_equal(asgicore_app_new(s->fh.ctx, &acb, NULL, 0, &app),
                     ASGICORE_ERR_INVALID);
    assert_int_equal(
        asgicore_app_new_versioned(s->fh.ctx, 9, &acb, NULL, 0, &app),
        ASGICORE_ERR_VERSION);
    assert_int_equal(asgicore_app_dispatch(s->fa.app), ASGICORE_ERR_STATE);

    /* Scope data: a length without bytes. */
    asgicore_scope_info info;
    memset(&info, 0, sizeof info);
    info.method.len = 3;
    asgicore_scope *sc;
    assert_int_equal(
        asgicore_scope_open(s->fh.ctx, s->fa.app, &info, NULL, &sc),
        ASGICORE_ERR_INVALID);
    memset(&info, 0, sizeof info);
    info.header_count = 1;
    assert_int_equal(
        asgicore_scope_open(s->fh.ctx, s->fa.app, &info, NULL, &sc),
        ASGICORE_ERR_INVALID);
    assert_int_equal(asgicore_scope_open_versioned(s->fh.ctx, s->fa.app, 5,
                                                   &info, NULL, &sc),
                     ASGICORE_ERR_VERSION);
    assert_int_equal(fake_counters(&s->fh).opened, 0);
}

static void bad_disconnect_reason_is_refused(void **st)
{
    state *s = *st;
    asgicore_scope *sc = fake_open(&s->fh, &s->fa, &s->req);
    assert_int_equal(asgicore_scope_disconnect(sc, 0, s->fh.now),
                     ASGICORE_ERR_INVALID);
    assert_int_equal(asgicore_scope_disconnect(sc, 99, s->fh.now),
                     ASGICORE_ERR_INVALID);
    asgicore_finish(sc, 1, "test over");
    fake_pump(&s->fh);
}

static void scope_info_is_a_copy(void **st)
{
    state *s = *st;
    char method[] = "POST", path[] = "/caf\xc3\xa9", raw[] = "/caf%C3%A9",
         query[] = "a=1&b=2", hname[] = "x-h", hval[] = "v1", host[] = "::1";
    asgicore_header h = {{hname, 3}, {hval, 2}};
    asgicore_scope_info info;
    memset(&info, 0, sizeof info);
    info.method = (asgicore_str){method, 4};
    info.scheme = (asgicore_str){"https", 5};
    info.http_version = (asgicore_str){"2", 1};
    info.path = (asgicore_str){path, strlen(path)};
    info.raw_path = (asgicore_str){raw, strlen(raw)};
    info.query_string = (asgicore_str){query, strlen(query)};
    info.root_path = (asgicore_str){"/app", 4};
    info.headers = &h;
    info.header_count = 1;
    info.client.host = (asgicore_str){host, 3};
    info.client.port = 4242;
    info.grace_period_ns = -1;
    asgicore_scope *sc;
    memset(&s->req, 0, sizeof s->req);
    assert_int_equal(
        asgicore_scope_open(s->fh.ctx, s->fa.app, &info, &s->req, &sc),
        ASGICORE_OK);
    s->req.scope = sc;
    /* The host's buffers are reused for the next request. */
    memset(method, 'X', 4);
    memset(path, 'X', strlen(path));
    memset(hname, 'X', 3);
    memset(host, 'X', 3);
    const asgicore_scope_info *got = asgicore_scope_get_info(sc);
    assert_memory_equal(got->method.data, "POST", 4);
    assert_memory_equal(got->path.data, "/caf\xc3\xa9", 6);
    assert_memory_equal(got->raw_path.data, "/caf%C3%A9", 10);
    assert_memory_equal(got->query_string.data, "a=1&b=2", 7);
    assert_memory_equal(got->root_path.data, "/app", 4);
    assert_memory_equal(got->scheme.data, "https", 5);
    assert_int_equal(got->header_count, 1);
    assert_memory_equal(got->headers[0].name.data, "x-h", 3);
    assert_memory_equal(got->headers[0].value.data, "v1", 2);
    assert_memory_equal(got->client.host.data, "::1", 3);
    assert_int_equal(got->client.port, 4242);
    assert_null(got->server.host.data); /* none: e.g. a unix socket */
    int marker;
    asgicore_scope_set_app_data(sc, &marker);
    assert_ptr_equal(asgicore_scope_get_app_data(sc), &marker);
    asgicore_finish(sc, 1, "test over");
    fake_pump(&s->fh);
}

static void app_free_refuses_while_owning_scopes(void **st)
{
    state *s = *st;
    fake_app other;
    fake_app_init(&s->fh, &other, ASGICORE_APP_INLINE);
    asgicore_scope *sc = fake_open(&s->fh, &other, &s->req);
    assert_int_equal(asgicore_app_free(other.app), ASGICORE_ERR_BUSY);
    asgicore_finish(sc, 1, "test over");
    fake_pump(&s->fh);
    assert_int_equal(asgicore_app_free(other.app), ASGICORE_OK);
}

/* An inline app that answers from its start callback, as a native hello
 * app on the host thread does. */
static void respond_in_start(fake_app *fa, asgicore_scope *scope)
{
    assert_int_equal(asgicore_send_start(scope, 200, text_plain, 1, 0),
                     ASGICORE_OK);
    assert_int_equal(asgicore_send_body(scope, "hello", 5, 0), ASGICORE_OK);
    assert_int_equal(asgicore_finish(scope, 0, NULL), ASGICORE_OK);
}

static void inline_app_responds_before_open_returns(void **st)
{
    state *s = *st;
    s->fa.on_start = respond_in_start;
    int wakes = s->fh.wakes;
    fake_open(&s->fh, &s->fa, &s->req);
    assert_int_equal(s->fh.wakes, wakes); /* nothing left for later */
    assert_int_equal(s->req.status, 200);
    assert_memory_equal(s->req.body, "hello", 5);
    assert_int_equal(s->req.done_calls, 1);
    assert_int_equal(s->req.outcome, ASGICORE_OUTCOME_COMPLETE);
    /* The host feeds the (empty) body afterwards: nobody reads it. */
    assert_int_equal(asgicore_scope_feed_body(s->req.scope, NULL, 0, 0),
                     ASGICORE_OK);
}

static void inline_app_calls_outside_callbacks_wake_the_host(void **st)
{
    state *s = *st;
    asgicore_scope *sc = fake_open(&s->fh, &s->fa, &s->req);
    int wakes = s->fh.wakes;
    /* E.g. from the app's own timer on the host loop. */
    respond_in_start(&s->fa, sc);
    assert_int_equal(s->fh.wakes, wakes + 1); /* coalesced: one */
    assert_int_equal(s->req.head_writes, 0);
    fake_pump(&s->fh);
    assert_int_equal(s->req.status, 200);
    assert_int_equal(s->req.done_calls, 1);
}

static void respond_on_ready(fake_app *fa, asgicore_scope *scope, int event,
                             int status)
{
    if (event == ASGICORE_NOTIFY_RECEIVE_READY)
        respond_in_start(fa, scope);
}

static void inline_callbacks_run_inside_the_host_call(void **st)
{
    state *s = *st;
    s->fa.on_notify = respond_on_ready;
    asgicore_scope *sc = fake_open(&s->fh, &s->fa, &s->req);
    expect_pending(sc);
    int wakes = s->fh.wakes;
    /* The feed wakes the app, which answers; all before feed returns. */
    assert_int_equal(asgicore_scope_feed_body(sc, NULL, 0, 0), ASGICORE_OK);
    assert_int_equal(s->fh.wakes, wakes); /* no wake needed */
    assert_int_equal(s->req.status, 200);
    assert_memory_equal(s->req.body, "hello", 5);
    assert_int_equal(s->req.done_calls, 1);
    assert_int_equal(s->req.outcome, ASGICORE_OUTCOME_COMPLETE);
}

static fake_host *g_fh;

static int disconnect_inside_write(void *user, asgicore_scope *scope,
                                   void *host_data, const void *data,
                                   size_t len, int last)
{
    /* The host learns of the failed write inside its own callback. */
    assert_int_equal(asgicore_scope_disconnect(
                         scope, ASGICORE_DISCONNECT_WRITE_ERROR, g_fh->now),
                     ASGICORE_OK);
    return ASGICORE_OK;
}

static void host_may_disconnect_from_a_callback(void **st)
{
    state *s = *st;
    static const asgicore_callbacks cb = {
        NULL, disconnect_inside_write, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
        NULL};
    fake_host fh;
    memset(&fh, 0, sizeof fh);
    g_fh = &fh;
    fh.now = 5 * SEC;
    assert_int_equal(asgicore_ctx_new(NULL, &cb, &fh, &fh.ctx), ASGICORE_OK);
    fake_app fa;
    fake_app_init(&fh, &fa, ASGICORE_APP_INLINE);
    asgicore_scope_info info;
    memset(&info, 0, sizeof info);
    info.grace_period_ns = -1;
    asgicore_scope *sc;
    assert_int_equal(asgicore_scope_open(fh.ctx, fa.app, &info, NULL, &sc),
                     ASGICORE_OK);
    asgicore_send_start(sc, 200, NULL, 0, 0);
    asgicore_send_body(sc, "a", 1, 1);
    assert_int_equal(asgicore_ctx_process(fh.ctx), ASGICORE_OK);
    /* The grace period starts at the time the host gave. */
    assert_int_equal(asgicore_ctx_get_expiry(fh.ctx), 8 * SEC);
    assert_int_equal(asgicore_send_body(sc, "b", 1, 0),
                     ASGICORE_ERR_DISCONNECTED);
    asgicore_finish(sc, 0, NULL);
    asgicore_ctx_process(fh.ctx);
    assert_int_equal(asgicore_scope_release(sc, fh.now), ASGICORE_OK);
    asgicore_ctx_free(fh.ctx);
    (void)s;
}

static void threaded_app_gets_callbacks_only_in_dispatch(void **st)
{
    state *s = *st;
    fake_app ta;
    fake_app_init(&s->fh, &ta, ASGICORE_APP_THREADED);
    fake_req r1, r2;
    fake_open(&s->fh, &ta, &r1);
    fake_open(&s->fh, &ta, &r2);
    /* Two starts queued, one wake: wakes are coalesced until dispatch. */
    assert_int_equal(ta.wakes, 1);
    assert_int_equal(ta.starts, 0);
    assert_int_equal(asgicore_app_dispatch(ta.app), 2);
    assert_int_equal(ta.starts, 2);
    expect_pending(r1.scope);
    asgicore_scope_feed_body(r1.scope, "x", 1, 0);
    assert_int_equal(ta.wakes, 2);
    assert_int_equal(ta.notifications[ASGICORE_NOTIFY_RECEIVE_READY], 0);
    assert_int_equal(asgicore_app_dispatch(ta.app), 1);
    assert_int_equal(ta.notifications[ASGICORE_NOTIFY_RECEIVE_READY], 1);
    expect_request(r1.scope, "x", 0);
    /* App-side calls from the app thread wake the host. */
    int host_wakes = s->fh.wakes;
    asgicore_send_start(r1.scope, 200, NULL, 0, 0);
    asgicore_send_body(r1.scope, "y", 1, 0);
    assert_int_equal(s->fh.wakes, host_wakes + 1);
    assert_int_equal(r1.head_writes, 0);
    asgicore_finish(r1.scope, 0, NULL);
    fake_pump(&s->fh);
    assert_int_equal(r1.body_len, 1);
    assert_int_equal(r1.outcome, ASGICORE_OUTCOME_COMPLETE);
    /* Cancel of the second arrives through dispatch too. */
    asgicore_scope_disconnect(r2.scope, ASGICORE_DISCONNECT_CLOSED, s->fh.now);
    fake_advance(&s->fh, 3 * SEC);
    assert_int_equal(ta.notifications[ASGICORE_NOTIFY_CANCEL], 0);
    asgicore_app_dispatch(ta.app);
    assert_int_equal(ta.notifications[ASGICORE_NOTIFY_CANCEL], 1);
    asgicore_finish(r2.scope, 0, NULL);
    fake_pump(&s->fh);
    fake_release(&s->fh, &r1);
    fake_release(&s->fh, &r2);
    assert_int_equal(asgicore_app_dispatch(ta.app), 0);
    assert_int_equal(asgicore_app_free(ta.app), ASGICORE_OK);
}

static void finish_twice_is_refused(void **st)
{
    state *s = *st;
    fake_app ta;
    fake_app_init(&s->fh, &ta, ASGICORE_APP_THREADED);
    asgicore_scope *sc = fake_open(&s->fh, &ta, &s->req);
    asgicore_app_dispatch(ta.app);
    asgicore_scope_feed_body(sc, NULL, 0, 0);
    /* A finished scope stays allocated while the host holds it, so a
     * second finish is caught rather than undefined. */
    assert_int_equal(asgicore_finish(sc, 1, "x"), ASGICORE_OK);
    assert_int_equal(asgicore_finish(sc, 0, NULL), ASGICORE_ERR_FINISHED);
    asgicore_event ev;
    assert_int_equal(asgicore_receive(sc, &ev), ASGICORE_ERR_FINISHED);
    assert_int_equal(asgicore_send_start(sc, 200, NULL, 0, 0),
                     ASGICORE_ERR_FINISHED);
    fake_pump(&s->fh);
    /* Stale notifications never reach the app after its finish. */
    asgicore_app_dispatch(ta.app);
    assert_int_equal(ta.notifications[ASGICORE_NOTIFY_RECEIVE_READY], 0);
    fake_release(&s->fh, &s->req);
    assert_int_equal(asgicore_app_free(ta.app), ASGICORE_OK);
}

static void app_log_reaches_the_host_on_its_thread(void **st)
{
    state *s = *st;
    fake_app ta;
    fake_app_init(&s->fh, &ta, ASGICORE_APP_THREADED);
    asgicore_scope *sc = fake_open(&s->fh, &ta, &s->req);
    asgicore_app_dispatch(ta.app);
    int wakes = s->fh.wakes;
    /* From the app thread: queued, the host woken, nothing logged yet. */
    assert_int_equal(
        asgicore_app_log(ta.app, sc, ASGICORE_LOG_WARN, "from the app"),
        ASGICORE_OK);
    assert_int_equal(s->fh.wakes, wakes + 1);
    assert_false(fake_logged(&s->fh, "from the app"));
    fake_pump(&s->fh);
    assert_true(fake_logged(&s->fh, "2: from the app\n"));
    assert_ptr_equal(s->fh.last_log_host_data, &s->req);
    /* Without a scope: no request attached. */
    asgicore_app_log(ta.app, NULL, ASGICORE_LOG_INFO, "worker-wide");
    fake_pump(&s->fh);
    assert_true(fake_logged(&s->fh, "3: worker-wide\n"));
    assert_null(s->fh.last_log_host_data);
    /* Bad arguments lose nothing and log nothing. */
    int lines = s->fh.log_lines[ASGICORE_LOG_ERROR];
    assert_int_equal(asgicore_app_log(ta.app, sc, 0, "x"),
                     ASGICORE_ERR_INVALID);
    assert_int_equal(asgicore_app_log(ta.app, sc, 5, "x"),
                     ASGICORE_ERR_INVALID);
    assert_int_equal(asgicore_app_log(ta.app, sc, 1, NULL),
                     ASGICORE_ERR_INVALID);
    assert_int_equal(asgicore_app_log(NULL, sc, 1, "x"), ASGICORE_ERR_INVALID);
    asgicore_scope_feed_body(sc, NULL, 0, 0);
    asgicore_send_start(sc, 204, NULL, 0, 0);
    asgicore_send_body(sc, NULL, 0, 0);
    asgicore_finish(sc, 0, NULL);
    /* A finished scope is no longer the app's to log with. */
    assert_int_equal(asgicore_app_log(ta.app, sc, ASGICORE_LOG_ERROR, "late"),
                     ASGICORE_ERR_FINISHED);
    fake_pump(&s->fh);
    assert_int_equal(s->fh.log_lines[ASGICORE_LOG_ERROR], lines);
    fake_release(&s->fh, &s->req);
    assert_int_equal(asgicore_app_free(ta.app), ASGICORE_OK);
}

static void app_batch_wakes_the_host_once_per_batch(void **st)
{
    state *s = *st;
    fake_app ta;
    fake_req r2;
    memset(&r2, 0, sizeof r2);
    fake_app_init(&s->fh, &ta, ASGICORE_APP_THREADED);
    asgicore_scope *a = fake_open(&s->fh, &ta, &s->req);
    asgicore_scope *b = fake_open(&s->fh, &ta, &r2);
    asgicore_app_dispatch(ta.app);
    int wakes = s->fh.wakes;
    assert_int_equal(asgicore_app_batch(ta.app, 1), ASGICORE_OK);
    asgicore_send_start(a, 200, NULL, 0, 0);
    asgicore_send_body(a, "a", 1, 0);
    asgicore_finish(a, 0, NULL);
    asgicore_send_start(b, 200, NULL, 0, 0);
    asgicore_send_body(b, "b", 1, 0);
    asgicore_finish(b, 0, NULL);
    /* Six calls that each needed the host: no wake until the batch ends,
     * then exactly one. */
    assert_int_equal(s->fh.wakes, wakes);
    assert_int_equal(asgicore_app_batch(ta.app, 0), ASGICORE_OK);
    assert_int_equal(s->fh.wakes, wakes + 1);
    fake_pump(&s->fh);
    assert_int_equal(s->req.outcome, ASGICORE_OUTCOME_COMPLETE);
    assert_int_equal(r2.outcome, ASGICORE_OUTCOME_COMPLETE);
    fake_release(&s->fh, &s->req);
    fake_release(&s->fh, &r2);
    /* Inline apps have no thread to batch. */
    assert_int_equal(asgicore_app_batch(s->fa.app, 1), ASGICORE_ERR_STATE);
    assert_int_equal(asgicore_app_free(ta.app), ASGICORE_OK);
}

static void app_batch_wake_is_dropped_when_the_host_ran_anyway(void **st)
{
    state *s = *st;
    fake_app ta;
    fake_req r2;
    memset(&r2, 0, sizeof r2);
    fake_app_init(&s->fh, &ta, ASGICORE_APP_THREADED);
    asgicore_scope *a = fake_open(&s->fh, &ta, &s->req);
    asgicore_app_dispatch(ta.app);
    asgicore_app_batch(ta.app, 1);
    asgicore_send_start(a, 200, NULL, 0, 0);
    /* The host runs for its own reasons (a new request) and serves the
     * batched work on the way. */
    fake_open(&s->fh, &ta, &r2);
    assert_int_equal(s->req.head_writes, 1);
    int wakes = s->fh.wakes;
    asgicore_app_batch(ta.app, 0);
    assert_int_equal(s->fh.wakes, wakes); /* nothing left to wake for */
    /* ... and the next call from the app wakes the host again. */
    asgicore_send_body(a, "a", 1, 0);
    assert_int_equal(s->fh.wakes, wakes + 1);
    asgicore_finish(a, 0, NULL);
    fake_pump(&s->fh);
    assert_int_equal(s->req.body_len, 1);
    fake_release(&s->fh, &s->req);
    asgicore_app_dispatch(ta.app);
    asgicore_scope_feed_body(r2.scope, NULL, 0, 0);
    asgicore_finish(r2.scope, 1, "test");
    fake_pump(&s->fh);
    fake_release(&s->fh, &r2);
    assert_int_equal(asgicore_app_free(ta.app), ASGICORE_OK);
}

/* P8: an app's readiness, for the host's status page */
static void app_state_is_kept_for_the_host(void **st)
{
    state *s = *st;
    char buf[16], big[2000];
    assert_int_equal(asgicore_app_get_state(s->fa.app, NULL, 0),
                     ASGICORE_APP_READY);
    assert_int_equal(
        asgicore_app_set_state(s->fa.app, ASGICORE_APP_LOADING, "importing"),
        ASGICORE_OK);
    assert_int_equal(asgicore_app_get_state(s->fa.app, buf, sizeof buf),
                     ASGICORE_APP_LOADING);
    assert_string_equal(buf, "importing");
    memset(big, 'e', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    asgicore_app_set_state(s->fa.app, ASGICORE_APP_FAILED, big);
    assert_int_equal(asgicore_app_get_state(s->fa.app, buf, sizeof buf),
                     ASGICORE_APP_FAILED);
    assert_int_equal(strlen(buf), sizeof buf - 1); /* cut to fit */
    char all[2000];
    asgicore_app_get_state(s->fa.app, all, sizeof all);
    assert_int_equal(strlen(all), 1023); /* at most 1023 kept */
    asgicore_app_set_state(s->fa.app, ASGICORE_APP_READY, NULL);
    assert_int_equal(asgicore_app_get_state(s->fa.app, buf, sizeof buf),
                     ASGICORE_APP_READY);
    assert_string_equal(buf, "");
    assert_int_equal(asgicore_app_set_state(s->fa.app, 7, NULL),
                     ASGICORE_ERR_INVALID);
    assert_int_equal(asgicore_app_set_state(NULL, 0, NULL),
                     ASGICORE_ERR_INVALID);
}

static void counters_count_each_departure_once_by_its_first_reason(void **st)
{
    state *s = *st;
    fake_req other;
    memset(&other, 0, sizeof other);
    asgicore_scope *a = fake_open(&s->fh, &s->fa, &s->req);
    asgicore_scope *b = fake_open(&s->fh, &s->fa, &other);
    assert_int_equal(
        asgicore_scope_disconnect(a, ASGICORE_DISCONNECT_RESET, s->fh.now),
        ASGICORE_OK);
    /* a second report of the same departure counts nothing */
    assert_int_equal(
        asgicore_scope_disconnect(a, ASGICORE_DISCONNECT_CLOSED, s->fh.now),
        ASGICORE_OK);
    assert_int_equal(asgicore_scope_disconnect(
                         b, ASGICORE_DISCONNECT_STREAM_RESET, s->fh.now),
                     ASGICORE_OK);
    fake_pump(&s->fh);
    asgicore_counters c = fake_counters(&s->fh);
    for (int r = 0; r < ASGICORE_DISCONNECT_REASONS; r++)
        assert_int_equal(c.disconnects[r],
                         r == ASGICORE_DISCONNECT_RESET ||
                                 r == ASGICORE_DISCONNECT_STREAM_RESET
                             ? 1
                             : 0);
    asgicore_finish(a, 0, NULL);
    asgicore_finish(b, 0, NULL);
    fake_pump(&s->fh);
    fake_release(&s->fh, &other);
}

static void counters_v1_caller_gets_only_its_fields(void **st)
{
    state *s = *st;
    asgicore_scope *a = fake_open(&s->fh, &s->fa, &s->req);
    asgicore_scope_disconnect(a, ASGICORE_DISCONNECT_RESET, s->fh.now);
    fake_pump(&s->fh);
    /* a version 1 struct ends at `abandoned`: the bytes after it are the
     * caller's */
    asgicore_counters c;
    memset(&c, 0xab, sizeof c);
    assert_int_equal(
        asgicore_ctx_counters_versioned(s->fh.ctx, ASGICORE_COUNTERS_V1, &c),
        ASGICORE_OK);
    assert_int_equal(c.opened, 1);
    assert_int_equal(c.live, 1);
    const unsigned char *tail = (const unsigned char *)c.disconnects;
    for (size_t i = 0; i < sizeof c.disconnects; i++)
        assert_int_equal(tail[i], 0xab);
    asgicore_finish(a, 0, NULL);
    fake_pump(&s->fh);
}

static void app_state_message_is_cut_between_characters(void **st)
{
    state *s = *st;
    char message[1100], buf[1100];
    memset(message, 'x', 1022);
    strcpy(message + 1022, "\xc3\xa9 and more"); /* an e acute at 1022 */
    assert_int_equal(
        asgicore_app_set_state(s->fa.app, ASGICORE_APP_FAILED, message),
        ASGICORE_OK);
    assert_int_equal(asgicore_app_get_state(s->fa.app, buf, sizeof buf),
                     ASGICORE_APP_FAILED);
    assert_int_equal(strlen(buf), 1022); /* not 1023: half a character */
    asgicore_app_set_state(s->fa.app, ASGICORE_APP_FAILED,
                           "\xe2\x82\xac\xe2\x82\xac");
    char small[5];
    asgicore_app_get_state(s->fa.app, small, sizeof small);
    assert_string_equal(small, "\xe2\x82\xac"); /* one euro sign of two */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, fake_setup, fake_teardown)
        T(strerror_names_every_code),
        T(version_matches_header),
        T(bad_arguments_are_refused),
        T(bad_disconnect_reason_is_refused),
        T(scope_info_is_a_copy),
        T(app_free_refuses_while_owning_scopes),
        T(inline_app_responds_before_open_returns),
        T(inline_app_calls_outside_callbacks_wake_the_host),
        T(inline_callbacks_run_inside_the_host_call),
        T(host_may_disconnect_from_a_callback),
        T(threaded_app_gets_callbacks_only_in_dispatch),
        T(finish_twice_is_refused),
        T(app_log_reaches_the_host_on_its_thread),
        T(app_batch_wakes_the_host_once_per_batch),
        T(app_batch_wake_is_dropped_when_the_host_ran_anyway),
        T(app_state_is_kept_for_the_host),
        T(counters_count_each_departure_once_by_its_first_reason),
        T(counters_v1_caller_gets_only_its_fields),
        T(app_state_message_is_cut_between_characters),
#undef T
    };
    return cmocka_run_group_tests_name("api", tests, NULL, NULL);
}
