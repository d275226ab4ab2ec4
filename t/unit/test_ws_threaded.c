/*
 * WebSocket scopes with the host thread and an app thread at once, as the
 * Python runtime will run them: the app thread accepts, echoes every
 * message and finishes on the disconnect; the host thread feeds frames in
 * pieces, answers some writes PENDING, closes some connections with a close
 * frame and drops others, and advances a manual clock. Run under
 * ThreadSanitizer by `make test` (and plain and with ASan).
 */
#define _GNU_SOURCE
#include "app_thread.h"
#include "fake_host.h"

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

enum { TOTAL = 600, CONCURRENT = 24, MESSAGES = 6 };

/* ------------------------------------------------------------ app thread */

/* Receives and echoes as far as it can without waiting; 1 when finished. */
static void app_step(asgicore_scope *scope)
{
    asgicore_event_v2 ev;
    for (;;) {
        if (asgicore_scope_get_app_data(scope))
            return; /* a send waits for SEND_READY */
        int rc = asgicore_receive_versioned(scope, ASGICORE_EVENT_V2, &ev);
        if (rc == ASGICORE_PENDING)
            return;
        assert_int_equal(rc, ASGICORE_OK);
        switch (ev.type) {
        case ASGICORE_EVENT_WEBSOCKET_CONNECT:
            rc = asgicore_websocket_accept(scope, NULL, NULL, 0);
            assert_true(rc == ASGICORE_OK || rc == ASGICORE_ERR_DISCONNECTED);
            break;
        case ASGICORE_EVENT_WEBSOCKET_RECEIVE:
            rc = asgicore_websocket_send(scope, ev.text, ev.data, ev.len);
            assert_true(rc == ASGICORE_OK || rc == ASGICORE_PENDING ||
                        rc == ASGICORE_ERR_DISCONNECTED);
            if (rc == ASGICORE_PENDING)
                asgicore_scope_set_app_data(scope, scope);
            break;
        default:
            assert_int_equal(ev.type, ASGICORE_EVENT_WEBSOCKET_DISCONNECT);
            assert_int_equal(asgicore_finish(scope, 0, NULL), ASGICORE_OK);
            return;
        }
    }
}

static void app_start(void *user, asgicore_scope *scope)
{
    (void)user;
    app_step(scope);
}

static void app_notify(void *user, asgicore_scope *scope, int event, int status)
{
    (void)user;
    (void)status;
    if (event == ASGICORE_NOTIFY_CANCEL) {
        assert_int_equal(asgicore_finish(scope, 1, "cancelled"), ASGICORE_OK);
        return;
    }
    if (event == ASGICORE_NOTIFY_SEND_READY)
        asgicore_scope_set_app_data(scope, NULL);
    app_step(scope);
}

/* ------------------------------------------------------------ host thread */

typedef struct {
    int idx;
    int active;
    int upgraded; /* the 101 was written */
    int sent;     /* messages fed */
    int ended;    /* closed or dropped */
    int paused;
    int blocked;
    int drop; /* leaves without a close frame */
    asgicore_scope *scope;
    size_t echoed; /* raw bytes written back */
} conn;

static struct {
    asgicore_ctx *ctx;
    int efd;
    asgicore_time now;
    asgicore_time timer;
    int finished;
    unsigned rng;
} H;

static unsigned rnd(void)
{
    H.rng = H.rng * 1103515245u + 12345u;
    return H.rng >> 16;
}

static int h_head(void *u, asgicore_scope *s, void *hd, int status,
                  const asgicore_header *h, size_t n, int t)
{
    conn *c = hd;
    assert_int_equal(status, 101);
    c->upgraded = 1;
    return ASGICORE_OK;
}

static int h_raw(void *u, asgicore_scope *s, void *hd, const void *data,
                 size_t len)
{
    conn *c = hd;
    c->echoed += len;
    if (rnd() % 4 == 0) {
        c->blocked = 1;
        return ASGICORE_PENDING;
    }
    return ASGICORE_OK;
}

static void h_resume(void *u, asgicore_scope *s, void *hd)
{
    ((conn *)hd)->paused = 0;
}

static void h_done(void *u, asgicore_scope *s, void *hd, int outcome,
                   int complete)
{
    conn *c = hd;
    c->active = 0;
    H.finished++;
    assert_int_equal(asgicore_scope_release(s, H.now), ASGICORE_OK);
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

static void start_conn(conn *c, int idx, asgicore_app *app)
{
    static const asgicore_header headers[] = {
        {{"upgrade", 7}, {"websocket", 9}},
        {{"connection", 10}, {"Upgrade", 7}},
        {{"sec-websocket-key", 17}, {"dGhlIHNhbXBsZSBub25jZQ==", 24}},
        {{"sec-websocket-version", 21}, {"13", 2}},
    };
    memset(c, 0, sizeof *c);
    c->idx = idx;
    c->active = 1;
    c->drop = idx % 3 == 0;
    asgicore_scope_info info;
    memset(&info, 0, sizeof info);
    info.method = (asgicore_str){"GET", 3};
    info.http_version = (asgicore_str){"1.1", 3};
    info.path = (asgicore_str){"/ws", 3};
    info.headers = headers;
    info.header_count = 4;
    info.grace_period_ns = -1;
    info.flags = ASGICORE_SCOPE_WEBSOCKET;
    info.websocket_max_message = 64; /* pauses reading now and then */
    assert_int_equal(asgicore_scope_open(H.ctx, app, &info, c, &c->scope),
                     ASGICORE_OK);
}

/* A masked client frame. */
static size_t frame(unsigned char *buf, int opcode, const char *p, size_t n)
{
    static const unsigned char mask[4] = {9, 8, 7, 6};
    size_t k = 0;
    buf[k++] = (unsigned char)(0x80 | opcode);
    buf[k++] = (unsigned char)(0x80 | n);
    memcpy(buf + k, mask, 4);
    k += 4;
    for (size_t i = 0; i < n; i++)
        buf[k + i] = (unsigned char)(p[i] ^ mask[i & 3]);
    return k + n;
}

static void host_turn(conn *c)
{
    if (!c->active)
        return;
    if (c->blocked) {
        c->blocked = 0;
        assert_int_equal(asgicore_scope_write_ready(c->scope), ASGICORE_OK);
        if (!c->active)
            return;
    }
    if (!c->upgraded || c->ended || c->paused)
        return;
    unsigned char buf[64];
    size_t n;
    if (c->sent < MESSAGES) {
        char text[32];
        int len =
            snprintf(text, sizeof text, "message %d of %d", c->sent, c->idx);
        n = frame(buf, 1, text, (size_t)len);
        c->sent++;
    } else if (c->drop) {
        c->ended = 1;
        assert_int_equal(asgicore_scope_disconnect(
                             c->scope, ASGICORE_DISCONNECT_RESET, H.now),
                         ASGICORE_OK);
        return;
    } else {
        c->ended = 1;
        n = frame(buf, 8, "\x03\xe8", 2);
    }
    /* in two pieces */
    size_t cut = rnd() % (n + 1);
    const unsigned char *piece[2] = {buf, buf + cut};
    size_t len[2] = {cut, n - cut};
    for (int i = 0; i < 2 && c->active; i++) {
        /* (a paused host keeps the rest until resume_body; here it goes
         * in at once, which feed_raw takes all the same) */
        int rc = asgicore_scope_feed_raw(c->scope, piece[i], len[i], H.now);
        assert_true(rc == ASGICORE_OK || rc == ASGICORE_PENDING ||
                    rc == ASGICORE_ERR_DISCONNECTED);
        if (rc == ASGICORE_PENDING)
            c->paused = 1;
    }
}

static void threaded_websockets(void **st)
{
    (void)st;
    static const asgicore_callbacks cb = {h_head, NULL,        NULL,   h_resume,
                                          h_done, h_set_timer, h_wake, NULL,
                                          NULL,   h_raw};
    static conn conns[CONCURRENT];
    asgicore_settings set;
    asgicore_settings_default(&set);
    set.grace_period_ns = 100 * MS;
    set.send_buffer_limit = 32;
    memset(&H, 0, sizeof H);
    H.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    H.now = 1 * SEC;
    H.timer = ASGICORE_TIME_NEVER;
    H.rng = 7;
    assert_int_equal(asgicore_ctx_new(&set, &cb, NULL, &H.ctx), ASGICORE_OK);

    static app_thread at;
    static const asgicore_app_callbacks acb = {app_start, app_notify, app_wake};
    at.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    atomic_init(&at.quit, 0);
    assert_int_equal(
        asgicore_app_new(H.ctx, &acb, &at,
                         ASGICORE_APP_THREADED | ASGICORE_APP_WEBSOCKET,
                         &at.app),
        ASGICORE_OK);
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, app_main, &at), 0);

    int opened = 0, last = 0;
    long idle = 0;
    while (H.finished < TOTAL) {
        idle = H.finished == last ? idle + 1 : 0;
        last = H.finished;
        if (idle > 20000)
            fail_msg("no connection ended in 20000 host turns (%d of %d)",
                     H.finished, TOTAL);
        for (int i = 0; i < CONCURRENT; i++) {
            if (!conns[i].active && opened < TOTAL)
                start_conn(&conns[i], opened++, at.app);
            host_turn(&conns[i]);
        }
        host_tick(H.ctx, H.efd, &H.now, &H.timer);
    }
    /* the apps of dropped connections finish on their disconnect */
    for (int k = 0; k < 2000; k++) {
        asgicore_counters c;
        asgicore_ctx_counters(H.ctx, &c);
        if (c.running_apps == 0)
            break;
        host_tick(H.ctx, H.efd, &H.now, &H.timer);
    }
    atomic_store(&at.quit, 1);
    app_wake(&at);
    pthread_join(thread, NULL);

    asgicore_counters c;
    asgicore_ctx_counters(H.ctx, &c);
    int dropped = (TOTAL + 2) / 3;
    printf("# %d websockets, %d dropped: completed %llu, disconnected %llu, "
           "cancelled %llu\n",
           TOTAL, dropped, (unsigned long long)c.completed,
           (unsigned long long)c.disconnected, (unsigned long long)c.cancelled);
    assert_int_equal(c.opened, TOTAL);
    assert_int_equal(c.live, 0);
    assert_int_equal(c.running_apps, 0);
    assert_int_equal(c.app_errors, 0);
    assert_int_equal(c.completed, TOTAL - dropped);
    assert_int_equal(c.disconnected + c.cancelled, dropped);
    assert_int_equal(asgicore_app_free(at.app), ASGICORE_OK);
    asgicore_ctx_free(H.ctx);
    close(H.efd);
    close(at.efd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(threaded_websockets),
    };
    return cmocka_run_group_tests_name("ws threaded", tests, NULL, NULL);
}
