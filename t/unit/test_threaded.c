/*
 * Host thread and app thread at once, as the Python runtime will run: the
 * app thread has its own loop (an eventfd, asgicore_app_dispatch), the host
 * thread feeds bodies in chunks, aborts some requests, applies write
 * backpressure and advances a manual clock. Run under ThreadSanitizer by
 * `make test`.
 *
 * The app echoes the request body. Requests under /ignore ignore the
 * disconnect and stop only when cancelled.
 */
#define _GNU_SOURCE
#include "app_thread.h"
#include "fake_host.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

enum { TOTAL = 1500, CONCURRENT = 48, CHUNK = 700, MAX_BODY = 9000 };

static uint8_t body_byte(int idx, size_t k)
{
    return (uint8_t)((idx * 31 + k * 7) & 0xff);
}

/* ------------------------------------------------------------ app thread */

typedef struct {
    int ignorer;
    int reading;
    int waiting_send;
    int started_response;
    size_t sent;
    size_t len;
    uint8_t *body;
} app_req;

static void app_end(asgicore_scope *scope, app_req *ar, int failed)
{
    free(ar->body);
    free(ar);
    assert_int_equal(
        asgicore_finish(scope, failed, failed ? "cancelled" : NULL),
        ASGICORE_OK);
}

/* Runs the request as far as it can go without waiting. */
static void app_step(asgicore_scope *scope, app_req *ar)
{
    while (ar->reading) {
        asgicore_event ev;
        int rc = asgicore_receive(scope, &ev);
        if (rc == ASGICORE_PENDING)
            return;
        assert_int_equal(rc, ASGICORE_OK);
        if (ev.type == ASGICORE_EVENT_HTTP_DISCONNECT) {
            if (ar->ignorer) {
                ar->reading = 0; /* wait for the cancel */
                ar->sent = (size_t)-1;
                return;
            }
            app_end(scope, ar, 0);
            return;
        }
        ar->body = realloc(ar->body, ar->len + ev.body_len + 1);
        memcpy(ar->body + ar->len, ev.body, ev.body_len);
        ar->len += ev.body_len;
        if (!ev.more_body)
            ar->reading = 0;
    }
    if (ar->sent == (size_t)-1 || ar->waiting_send)
        return;
    for (;;) {
        int rc;
        if (!ar->started_response) {
            ar->started_response = 1;
            rc = asgicore_send_start(scope, 200, text_plain, 1, 0);
        } else {
            size_t n = ar->len - ar->sent < CHUNK ? ar->len - ar->sent : CHUNK;
            int last = ar->sent + n == ar->len;
            rc = asgicore_send_body(scope, ar->body + ar->sent, n, !last);
            if (rc >= 0)
                ar->sent += n;
            if (rc >= 0 && last) {
                app_end(scope, ar, 0);
                return;
            }
        }
        if (rc == ASGICORE_ERR_DISCONNECTED) {
            if (ar->ignorer) {
                ar->sent = (size_t)-1;
                return;
            }
            app_end(scope, ar, 0);
            return;
        }
        if (rc == ASGICORE_PENDING) {
            ar->waiting_send = 1;
            return;
        }
        assert_int_equal(rc, ASGICORE_OK);
    }
}

static void app_start(void *user, asgicore_scope *scope)
{
    app_req *ar = calloc(1, sizeof *ar);
    const asgicore_scope_info *info = asgicore_scope_get_info(scope);
    ar->ignorer = info->path.len == 7 && !memcmp(info->path.data, "/ignore", 7);
    ar->reading = 1;
    asgicore_scope_set_app_data(scope, ar);
    app_step(scope, ar);
}

static void app_notify(void *user, asgicore_scope *scope, int event, int status)
{
    app_req *ar = asgicore_scope_get_app_data(scope);
    switch (event) {
    case ASGICORE_NOTIFY_CANCEL: app_end(scope, ar, 1); return;
    case ASGICORE_NOTIFY_SEND_READY:
        ar->waiting_send = 0;
        if (status == ASGICORE_ERR_DISCONNECTED && !ar->ignorer) {
            app_end(scope, ar, 0);
            return;
        }
        if (status == ASGICORE_ERR_DISCONNECTED)
            ar->sent = (size_t)-1;
        break;
    }
    app_step(scope, ar);
}

/* ------------------------------------------------------------ host thread */

typedef struct {
    int idx;
    int active;
    int abort_at; /* chunk count at which the client leaves; -1 never */
    int ignorer;
    asgicore_scope *scope;
    size_t body_size;
    size_t fed;
    int chunks_fed;
    int ended; /* body end fed, or client gone */
    int paused;
    int blocked; /* the host returned ASGICORE_PENDING */
    uint8_t *out;
    size_t out_len;
    int status;
    int done;
    int outcome;
} host_req;

typedef struct {
    asgicore_ctx *ctx;
    int efd;
    asgicore_time now;
    asgicore_time timer;
    unsigned rng;
    int finished;
    int completed_ok;
} host;

static host H;

static int maybe_block(host_req *r)
{
    H.rng = H.rng * 1103515245u + 12345u;
    if ((H.rng >> 16) % 4 == 0) {
        r->blocked = 1;
        return ASGICORE_PENDING;
    }
    return ASGICORE_OK;
}

static int h_head(void *u, asgicore_scope *s, void *hd, int status,
                  const asgicore_header *h, size_t n, int t)
{
    host_req *r = hd;
    r->status = status;
    return maybe_block(r);
}

static int h_body(void *u, asgicore_scope *s, void *hd, const void *data,
                  size_t len, int last)
{
    host_req *r = hd;
    r->out = realloc(r->out, r->out_len + len + 1);
    memcpy(r->out + r->out_len, data, len);
    r->out_len += len;
    return maybe_block(r);
}

static void h_resume(void *u, asgicore_scope *s, void *hd)
{
    host_req *r = hd;
    r->paused = 0;
}

static void h_done(void *u, asgicore_scope *s, void *hd, int outcome,
                   int complete)
{
    host_req *r = hd;
    assert_false(r->done);
    r->done = 1;
    r->outcome = outcome;
    if (outcome == ASGICORE_OUTCOME_COMPLETE) {
        assert_int_equal(r->abort_at, -1);
        assert_int_equal(r->status, 200);
        assert_int_equal(r->out_len, r->body_size);
        for (size_t k = 0; k < r->out_len; k++)
            if (r->out[k] != body_byte(r->idx, k))
                fail_msg("request %d: byte %zu differs", r->idx, k);
        assert_true(complete);
        H.completed_ok++;
    } else {
        /* An ignoring app is cancelled, unless the client left before it
         * was started (L2): the totals below check which. */
        assert_int_not_equal(r->abort_at, -1);
        assert_true(outcome == ASGICORE_OUTCOME_CLIENT_DISCONNECTED ||
                    outcome == ASGICORE_OUTCOME_CANCELLED);
        assert_false(complete);
    }
    assert_int_equal(asgicore_scope_release(s, H.now), ASGICORE_OK);
    free(r->out);
    r->out = NULL;
    r->active = 0;
    H.finished++;
}

static void h_set_timer(void *u, asgicore_time deadline)
{
    H.timer = deadline;
}

static void h_wake(void *u)
{
    uint64_t one = 1;
    assert_int_equal(write(H.efd, &one, sizeof one), sizeof one);
}

static void start_request(host_req *r, int idx, asgicore_app *app)
{
    memset(r, 0, sizeof *r);
    r->idx = idx;
    r->active = 1;
    r->body_size = (size_t)(idx * 2654435761u) % MAX_BODY;
    r->abort_at = idx % 3 == 0 ? (int)(idx / 3 % 5) : -1;
    r->ignorer = r->abort_at >= 0 && idx % 2 == 0;
    if (r->abort_at >= 0 && r->body_size < (size_t)(r->abort_at + 1) * CHUNK)
        r->body_size = (size_t)(r->abort_at + 1) * CHUNK + 1;
    asgicore_scope_info info;
    memset(&info, 0, sizeof info);
    info.method = (asgicore_str){"POST", 4};
    info.path =
        r->ignorer ? (asgicore_str){"/ignore", 7} : (asgicore_str){"/echo", 5};
    info.grace_period_ns = -1;
    assert_int_equal(asgicore_scope_open(H.ctx, app, &info, r, &r->scope),
                     ASGICORE_OK);
}

/* One turn of the host loop for one request. */
static void host_turn(host_req *r)
{
    if (!r->active)
        return;
    if (r->blocked) {
        r->blocked = 0;
        assert_int_equal(asgicore_scope_write_ready(r->scope), ASGICORE_OK);
        if (!r->active)
            return;
    }
    if (r->ended || r->paused)
        return;
    if (r->chunks_fed == r->abort_at) {
        r->ended = 1;
        assert_int_equal(asgicore_scope_disconnect(
                             r->scope, ASGICORE_DISCONNECT_RESET, H.now),
                         ASGICORE_OK);
        return;
    }
    uint8_t chunk[CHUNK];
    size_t n = r->body_size - r->fed < CHUNK ? r->body_size - r->fed : CHUNK;
    for (size_t k = 0; k < n; k++)
        chunk[k] = body_byte(r->idx, r->fed + k);
    int more = r->fed + n < r->body_size;
    int rc = asgicore_scope_feed_body(r->scope, chunk, n, more);
    assert_true(rc == ASGICORE_OK || rc == ASGICORE_PENDING);
    r->fed += n;
    r->chunks_fed++;
    if (rc == ASGICORE_PENDING)
        r->paused = 1;
    if (!more)
        r->ended = 1;
}

static void threaded_host_and_app(void **st)
{
    (void)st;
    static const asgicore_callbacks cb = {h_head, h_body,      NULL,   h_resume,
                                          h_done, h_set_timer, h_wake, NULL,
                                          NULL,   NULL};
    static host_req reqs[CONCURRENT];
    asgicore_settings set;
    asgicore_settings_default(&set);
    set.grace_period_ns = 100 * MS;
    set.body_buffer_limit = 2 * CHUNK; /* pauses the host often */
    set.send_buffer_limit = CHUNK;
    memset(&H, 0, sizeof H);
    H.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    H.now = 1 * SEC;
    H.timer = ASGICORE_TIME_NEVER;
    H.rng = 42;
    assert_int_equal(asgicore_ctx_new(&set, &cb, NULL, &H.ctx), ASGICORE_OK);

    static app_thread at;
    static const asgicore_app_callbacks acb = {app_start, app_notify, app_wake};
    at.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    atomic_init(&at.quit, 0);
    assert_int_equal(
        asgicore_app_new(H.ctx, &acb, &at, ASGICORE_APP_THREADED, &at.app),
        ASGICORE_OK);
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, app_main, &at), 0);

    int opened = 0;
    int last_finished = 0;
    long idle_turns = 0;
    while (H.finished < TOTAL) {
        /* A stall fails with the stuck requests shown; it does not hang. */
        idle_turns = H.finished == last_finished ? idle_turns + 1 : 0;
        last_finished = H.finished;
        if (idle_turns > 5000) {
            for (int i = 0; i < CONCURRENT; i++)
                if (reqs[i].active)
                    printf("# stuck: request %d abort_at %d ignorer %d "
                           "body %zu fed %zu ended %d paused %d blocked %d "
                           "out %zu status %d\n",
                           reqs[i].idx, reqs[i].abort_at, reqs[i].ignorer,
                           reqs[i].body_size, reqs[i].fed, reqs[i].ended,
                           reqs[i].paused, reqs[i].blocked, reqs[i].out_len,
                           reqs[i].status);
            fail_msg("no request finished in 5000 host turns");
        }
        for (int i = 0; i < CONCURRENT; i++) {
            if (!reqs[i].active && opened < TOTAL)
                start_request(&reqs[i], opened++, at.app);
            host_turn(&reqs[i]);
        }
        host_tick(H.ctx, H.efd, &H.now, &H.timer);
    }
    atomic_store(&at.quit, 1);
    app_wake(&at);
    pthread_join(thread, NULL);

    asgicore_counters c;
    asgicore_ctx_counters(H.ctx, &c);
    int aborted = 0, ignorers = 0;
    for (int i = 0; i < TOTAL; i++) {
        aborted += i % 3 == 0;
        ignorers += i % 3 == 0 && i % 2 == 0;
    }
    printf("# %d requests, %d aborted (%d ignoring the disconnect): "
           "completed %llu, disconnected %llu (%llu never started), "
           "cancelled %llu\n",
           TOTAL, aborted, ignorers, (unsigned long long)c.completed,
           (unsigned long long)c.disconnected,
           (unsigned long long)c.not_dispatched,
           (unsigned long long)c.cancelled);
    assert_int_equal(c.opened, TOTAL);
    assert_int_equal(c.live, 0);
    assert_int_equal(c.running_apps, 0);
    assert_int_equal(c.app_errors, 0);
    assert_int_equal(c.completed, TOTAL - aborted);
    assert_int_equal(H.completed_ok, TOTAL - aborted);
    assert_int_equal(c.disconnected + c.cancelled, aborted);
    assert_true(c.cancelled + c.not_dispatched >= (uint64_t)ignorers);
    assert_int_equal(asgicore_app_free(at.app), ASGICORE_OK);
    asgicore_ctx_free(H.ctx);
    close(H.efd);
    close(at.efd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(threaded_host_and_app),
    };
    return cmocka_run_group_tests_name("threaded", tests, NULL, NULL);
}
