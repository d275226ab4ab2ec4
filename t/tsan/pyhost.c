/*
 * ThreadSanitizer across the Python runtime's boundary: a host
 * thread, as the nginx module's, drives the library and the Python
 * runtime's C glue (both built with -fsanitize=thread) running a real
 * asyncio loop on its own thread, with the test app t/apps/python/rawapp.py:
 * bodies fed in pieces, clients that leave, a host that is backlogged
 * (backpressure), tasks that outlive their request (late calls), releases
 * at every phase. No nginx. Any race TSan sees fails the run; so does a
 * request that never ends or a counter that does not balance.
 *
 *   pyhost RUNTIME.so APPS_DIR [REQUESTS]
 */
#define _GNU_SOURCE
#include <asgicore.h>

#include <dlfcn.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define IN_FLIGHT 8

typedef struct {
    asgicore_scope *scope;
    int used, released, done, gone, head;
    int kind;
    int slow;    /* the host answers PENDING to writes */
    int blocked; /* a PENDING write waits for write_ready */
    int turns;   /* host loop turns since open */
    size_t body_fed, body_len, got;
} req_t;

static const struct {
    const char *path;
    size_t body;     /* request body bytes, fed in pieces */
    int leave_after; /* the client leaves after so many turns (0 never) */
    int slow;
} kinds[] = {
    {"/hello", 0, 0, 0},
    {"/echo", 150000, 0, 0},
    {"/echo", 3000, 0, 1},
    {"/cleanup", 0, 5, 0},
    {"/listeners", 0, 8, 0},
    {"/late?op=receive&wait=0.02", 0, 0, 0},
    {"/late?op=send&wait=0.02", 0, 0, 0},
    {"/stream", 0, 0, 1},
    {"/big?size=400000", 0, 0, 1},
    {"/big?size=400000", 0, 3, 1},
    {"/echo", 200000, 4, 0},
    {"/ignore", 0, 2, 0},
};
#define KINDS (int)(sizeof kinds / sizeof kinds[0])

static req_t reqs[IN_FLIGHT];
static int efd;
static asgicore_time deadline = ASGICORE_TIME_NEVER;
static long log_lines;

static asgicore_time now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (asgicore_time)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static int write_result(req_t *r)
{
    if (r->released) {
        fprintf(stderr, "a write after the release\n");
        exit(2);
    }
    if (r->slow) {
        r->blocked = 1;
        return ASGICORE_PENDING;
    }
    return ASGICORE_OK;
}

static int h_head(void *u, asgicore_scope *s, void *hd, int status,
                  const asgicore_header *h, size_t n, int tr)
{
    req_t *r = hd;
    r->head = status;
    return write_result(r);
}

static int h_body(void *u, asgicore_scope *s, void *hd, const void *d,
                  size_t len, int last)
{
    req_t *r = hd;
    r->got += len;
    return write_result(r);
}

static int h_trailers(void *u, asgicore_scope *s, void *hd,
                      const asgicore_header *h, size_t n, int last)
{
    return write_result(hd);
}

static void h_resume(void *u, asgicore_scope *s, void *hd) {}

static void h_done(void *u, asgicore_scope *s, void *hd, int outcome,
                   int complete)
{
    req_t *r = hd;
    if (r->done++) {
        fprintf(stderr, "done twice\n");
        exit(2);
    }
}

static void h_timer(void *u, asgicore_time d)
{
    deadline = d;
}

static void h_wake(void *u)
{
    uint64_t one = 1;
    if (write(efd, &one, sizeof one) < 0) {
        /* already signalled */
    }
}

static void h_log(void *u, int level, void *hd, const char *m)
{
    log_lines++;
    if (getenv("PYHOST_LOG"))
        fprintf(stderr, "[%d] %s\n", level, m);
}

static void h_gone(void *u, void *hd)
{
    req_t *r = hd;
    r->gone = 1;
}

static void open_one(asgicore_ctx *ctx, asgicore_app *app, req_t *r, int k)
{
    static const asgicore_header headers[] = {{{"host", 4}, {"x", 1}}};
    const char *path = kinds[k].path, *q = strchr(path, '?');
    asgicore_scope_info info;
    memset(&info, 0, sizeof info);
    memset(r, 0, sizeof *r);
    info.method.data = kinds[k].body ? "POST" : "GET";
    info.method.len = strlen(info.method.data);
    info.scheme = (asgicore_str){"http", 4};
    info.http_version = (asgicore_str){"1.1", 3};
    info.path.data = path;
    info.path.len = q ? (size_t)(q - path) : strlen(path);
    info.raw_path = info.path;
    if (q)
        info.query_string = (asgicore_str){q + 1, strlen(q + 1)};
    info.headers = headers;
    info.header_count = 1;
    info.client = (asgicore_addr){{"127.0.0.1", 9}, 4000};
    info.grace_period_ns = 50000000; /* 50 ms */
    r->used = 1;
    r->kind = k;
    r->slow = kinds[k].slow;
    r->body_len = kinds[k].body;
    if (asgicore_scope_open(ctx, app, &info, r, &r->scope) != ASGICORE_OK) {
        fprintf(stderr, "open failed\n");
        exit(2);
    }
}

/* One turn of the host: feed, leave, drain, release what is done. */
static void turn(req_t *r)
{
    static char piece[16384];
    r->turns++;
    if (r->released)
        return;
    if (!r->done && kinds[r->kind].leave_after &&
        r->turns == kinds[r->kind].leave_after)
        asgicore_scope_disconnect(r->scope, ASGICORE_DISCONNECT_RESET,
                                  now_ns());
    if (r->body_fed < r->body_len || (r->body_len == 0 && r->turns == 1)) {
        size_t n = r->body_len - r->body_fed;
        if (n > sizeof piece)
            n = sizeof piece;
        int rc = asgicore_scope_feed_body(r->scope, piece, n,
                                          r->body_fed + n < r->body_len);
        if (rc == ASGICORE_OK || rc == ASGICORE_PENDING)
            r->body_fed += n;
        else if (rc != ASGICORE_ERR_BUSY)
            r->body_fed = r->body_len = 0; /* gone: stop feeding */
        if (r->body_len == 0)
            r->body_fed = 1; /* the empty body was fed */
    }
    if (r->blocked && r->turns % 2 == 0) {
        r->blocked = 0;
        asgicore_scope_write_ready(r->scope);
    }
    if (r->done) {
        r->released = 1;
        asgicore_scope_release(r->scope, now_ns());
    }
}

int main(int argc, char **argv)
{
    static const asgicore_callbacks cb = {
        h_head,  h_body, h_trailers, h_resume, h_done,
        h_timer, h_wake, h_log,      h_gone,   NULL,
    };
    const asgicore_native_app *entry;
    asgicore_ctx *ctx;
    asgicore_app *app;
    char argument[4096], error[512];
    int mode, total, started = 0, finished = 0, i;
    void *dl, *user;
    asgicore_counters c;

    if (argc < 3) {
        fprintf(stderr, "usage: pyhost RUNTIME.so APPS_DIR [REQUESTS]\n");
        return 2;
    }
    total = argc > 3 ? atoi(argv[3]) : 200;
    efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (asgicore_ctx_new(NULL, &cb, NULL, &ctx) != ASGICORE_OK)
        return 2;
    dl = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!dl || !(entry = dlsym(dl, ASGICORE_NATIVE_APP_SYMBOL))) {
        fprintf(stderr, "cannot load %s: %s\n", argv[1], dlerror());
        return 2;
    }
    snprintf(argument, sizeof argument,
             "app=rawapp:app\nlifespan=off\nshutdown_timeout=5\npath=%s",
             argv[2]);
    mode = ASGICORE_APP_INLINE;
    user = entry->create(argument, &mode, error, sizeof error);
    if (!user ||
        asgicore_app_new(ctx, &entry->callbacks, user, mode, &app) !=
            ASGICORE_OK ||
        entry->attach(user, app, error, sizeof error) != 0) {
        fprintf(stderr, "the runtime did not start: %s\n", error);
        return 2;
    }

    asgicore_time give_up = now_ns() + 120ull * 1000000000ull;
    while (finished < total && now_ns() < give_up) {
        for (i = 0; i < IN_FLIGHT; i++) {
            req_t *r = &reqs[i];
            if (r->used && r->released && r->gone) {
                finished++;
                r->used = 0;
            }
            if (!r->used && started < total) {
                open_one(ctx, app, r, started % KINDS);
                started++;
            }
            if (r->used)
                turn(r);
        }
        struct pollfd p = {efd, POLLIN, 0};
        if (poll(&p, 1, 2) > 0) {
            uint64_t n;
            while (read(efd, &n, sizeof n) == sizeof n)
                ;
            asgicore_ctx_process(ctx);
        }
        if (deadline != ASGICORE_TIME_NEVER && now_ns() >= deadline) {
            deadline = ASGICORE_TIME_NEVER;
            asgicore_ctx_handle_expiry(ctx, now_ns());
        }
    }
    /* late tasks end; then the runtime stops and the context goes */
    usleep(200000);
    asgicore_ctx_process(ctx);
    entry->destroy(user);
    asgicore_ctx_process(ctx);
    asgicore_ctx_counters(ctx, &c);
    printf("pyhost: %d of %d requests ended; opened %llu completed %llu "
           "disconnected %llu cancelled %llu app_errors %llu live %llu "
           "running %llu; %ld log lines\n",
           finished, total, (unsigned long long)c.opened,
           (unsigned long long)c.completed, (unsigned long long)c.disconnected,
           (unsigned long long)c.cancelled, (unsigned long long)c.app_errors,
           (unsigned long long)c.live, (unsigned long long)c.running_apps,
           log_lines);
    asgicore_ctx_free(ctx);
    return finished == total && c.live == 0 && c.running_apps == 0 &&
                   c.opened ==
                       c.completed + c.disconnected + c.cancelled + c.app_errors
               ? 0
               : 1;
}
