/*
 * The native test app of the t/ suites. One shared object, two modes:
 *
 *   asgi_native_app testapp.so "inline";            callbacks on nginx's thread
 *   asgi_native_app testapp.so "threaded record=F";  its own thread and timers
 * With "websocket" in the argument it takes WebSockets too: each is an echo
 * (a path ending in /wsdeny: closed before accept, a 403); it records
 * "ws-disconnect CODE" when the connection ends.
 *
 * record=F appends one line per notable event to file F ("cancelled /x",
 * "cleanup-done /x", ...), so tests can see what happened after the client
 * left; each line ends with the monotonic time in ms. The behaviour is
 * chosen by the request path:
 *
 *   /hello            200 "Hello, world!\n"
 *   /echo             reads the whole body, answers it back
 *   /stream?n=N&ms=D  N chunks "chunk i\n", D ms apart (threaded)
 *   /wait?ms=D        answers "waited\n" after D ms (threaded)
 *   /slowread?ms=D    reads the body one message per D ms, answers its size
 *   /cleanup?ms=D     waits for http.disconnect, then "cleans up" for D ms
 *                     (threaded), records cleanup-done or cancelled
 *   /ignore           never answers, ignores http.disconnect, finishes only
 *                     when cancelled (records "cancelled")
 *   /stubborn         like /ignore, but ignores the cancel too and never
 *                     finishes (records "cancel-ignored")
 *   /big?size=N       N bytes of 'x' in 64 KiB sends, waiting for each
 *   /raise            fails without a response
 *   /raise-late       fails after 70,000 bytes of the response went out
 *   /noresponse       returns without a response
 *   /badheader        sends a header with CR LF in its value
 *   /twice            sends http.response.start again after 70,000
 *                     bytes of the response went out
 *   /background?ms=D  answers, then works D ms more before finishing
 *   /info             answers the scope as text
 *   /block?ms=D       holds the app's thread D ms, then answers (so other
 *                     requests queue behind it)
 *   /after-response   answers, then receives: records "r7-ok" when that
 *                     returns http.disconnect at once
 *   /late?ms=D        (threaded) holds its scope, answers and finishes;
 *                     D ms later receives and sends with it and records
 *                     the results ("late-calls receive=RC send=RC")
 *
 * Every http.disconnect the app sees is checked: only its type set (R4),
 * and three more receives answering http.disconnect at once (R5); it
 * records "disconnect-checked" or "disconnect-check-failed".
 */
#define _GNU_SOURCE
#include <asgicore.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

enum kind {
    K_HELLO,
    K_ECHO,
    K_STREAM,
    K_WAIT,
    K_SLOWREAD,
    K_CLEANUP,
    K_IGNORE,
    K_BIG,
    K_RAISE,
    K_RAISE_LATE,
    K_NORESPONSE,
    K_BADHEADER,
    K_TWICE,
    K_BACKGROUND,
    K_INFO,
    K_STUBBORN,
    K_BLOCK,
    K_AFTER,
    K_LATE,
    K_EMPTYHEADER,
    K_NOTFOUND
};

typedef struct app app_t;

typedef struct req {
    app_t *app;
    asgicore_scope *scope;
    enum kind kind;
    char path[128];
    long n, ms, size;
    /* progress */
    int reading;         /* waiting for body messages */
    int waiting_receive; /* a receive answered PENDING */
    int waiting_send;    /* a send answered PENDING */
    int started;         /* response start sent */
    int disconnected;
    int websocket; /* a websocket scope: ws_step drives it */
    long sent;     /* chunks or bytes sent */
    char *body;
    size_t body_len;
    uint64_t timer;   /* ms deadline, 0 = none */
    struct req *next; /* in the app's list of live requests */
} req_t;

struct app {
    int threaded;
    char record[512];
    asgicore_app *handle;
    pthread_t thread;
    int efd;
    volatile int stop;
    req_t *reqs;
    /* /late: a scope held after finish, called again at late_at (ms) */
    asgicore_scope *late_scope;
    uint64_t late_at;
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void record(app_t *app, const char *what, const char *path)
{
    char line[300];
    int fd, n;
    if (!app->record[0])
        return;
    n = snprintf(line, sizeof line, "%s %s %llu\n", what, path,
                 (unsigned long long)now_ms());
    fd = open(app->record, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) {
        if (write(fd, line, (size_t)n) != n) {
            /* a test will notice the missing line */
        }
        close(fd);
    }
}

static long query_long(const asgicore_scope_info *info, const char *key,
                       long def)
{
    size_t klen = strlen(key);
    const char *q = info->query_string.data, *end = q + info->query_string.len;
    while (q && q < end) {
        const char *amp = memchr(q, '&', (size_t)(end - q));
        const char *stop = amp ? amp : end;
        if ((size_t)(stop - q) > klen && !memcmp(q, key, klen) &&
            q[klen] == '=') {
            char buf[32];
            size_t len = (size_t)(stop - q) - klen - 1;
            if (len >= sizeof buf)
                len = sizeof buf - 1;
            memcpy(buf, q + klen + 1, len);
            buf[len] = '\0';
            return atol(buf);
        }
        q = amp ? amp + 1 : NULL;
    }
    return def;
}

static const asgicore_header text_plain[] = {
    {{"content-type", 12}, {"text/plain", 10}},
};

static void unlink_req(req_t *rq)
{
    req_t **p;
    for (p = &rq->app->reqs; *p; p = &(*p)->next)
        if (*p == rq) {
            *p = rq->next;
            return;
        }
}

static void finish(req_t *rq, int failed, const char *message)
{
    asgicore_finish(rq->scope, failed, message);
    unlink_req(rq);
    free(rq->body);
    free(rq);
}

/* Sends; returns 1 when the caller may go on at once. */
static int sent(req_t *rq, int rc)
{
    if (rc == ASGICORE_PENDING) {
        rq->waiting_send = 1;
        return 0;
    }
    if (rc == ASGICORE_ERR_DISCONNECTED) {
        rq->disconnected = 1;
        return 0;
    }
    return rc == ASGICORE_OK;
}

static void respond_text(req_t *rq, int status, const char *text)
{
    char length[24];
    asgicore_header headers[2] = {
        {{"content-type", 12}, {"text/plain", 10}},
        {{"content-length", 14}, {length, 0}},
    };
    headers[1].value.len =
        (size_t)snprintf(length, sizeof length, "%zu", strlen(text));
    asgicore_send_start(rq->scope, status, headers, 2, 0);
    asgicore_send_body(rq->scope, text, strlen(text), 0);
}

/* R4, R5: a disconnect event has its type only, and every later receive
 * answers http.disconnect at once. */
static void check_disconnect(req_t *rq, const asgicore_event *ev)
{
    int i, ok = ev->body == NULL && ev->body_len == 0 && ev->more_body == 0;
    for (i = 0; i < 3 && ok; i++) {
        asgicore_event again;
        ok = asgicore_receive(rq->scope, &again) == ASGICORE_OK &&
             again.type == ASGICORE_EVENT_HTTP_DISCONNECT;
    }
    record(rq->app, ok ? "disconnect-checked" : "disconnect-check-failed",
           rq->path);
}

/* Reads what is there; returns 1 when the whole body is in. */
static int read_body(req_t *rq, int one_message)
{
    asgicore_event ev;
    while (rq->reading) {
        int rc = asgicore_receive(rq->scope, &ev);
        if (rc == ASGICORE_PENDING) {
            rq->waiting_receive = 1;
            return 0;
        }
        if (rc != ASGICORE_OK)
            return 0;
        if (ev.type == ASGICORE_EVENT_HTTP_DISCONNECT) {
            check_disconnect(rq, &ev);
            rq->disconnected = 1;
            rq->reading = 0;
            return 0;
        }
        rq->body = realloc(rq->body, rq->body_len + ev.body_len + 1);
        memcpy(rq->body + rq->body_len, ev.body, ev.body_len);
        rq->body_len += ev.body_len;
        if (!ev.more_body)
            rq->reading = 0;
        if (one_message && rq->reading)
            return 0;
    }
    return 1;
}

static void set_timer(req_t *rq, long ms)
{
    rq->timer = now_ms() + (uint64_t)(ms > 0 ? ms : 0);
    if (rq->timer == 0)
        rq->timer = 1;
}

/* Advances a request as far as it can go; called on start, on every
 * notification and when its timer fires. */
static void step(req_t *rq)
{
    char buf[512];
    asgicore_event ev;
    const asgicore_scope_info *info = asgicore_scope_get_info(rq->scope);

    if (rq->waiting_send || (rq->timer && rq->timer > now_ms()))
        return;
    rq->timer = 0;

    switch (rq->kind) {
    case K_HELLO:
        respond_text(rq, 200, "Hello, world!\n");
        finish(rq, 0, NULL);
        return;

    case K_INFO:
        snprintf(buf, sizeof buf,
                 "method=%.*s scheme=%.*s http_version=%.*s root_path=%.*s "
                 "path=%.*s raw_path=%.*s query=%.*s client=%.*s "
                 "server_port=%d headers=%zu\n",
                 (int)info->method.len, info->method.data,
                 (int)info->scheme.len, info->scheme.data,
                 (int)info->http_version.len, info->http_version.data,
                 (int)info->root_path.len,
                 info->root_path.data ? info->root_path.data : "",
                 (int)info->path.len, info->path.data, (int)info->raw_path.len,
                 info->raw_path.data, (int)info->query_string.len,
                 info->query_string.data, (int)info->client.host.len,
                 info->client.host.data ? info->client.host.data : "",
                 info->server.port, info->header_count);
        respond_text(rq, 200, buf);
        finish(rq, 0, NULL);
        return;

    case K_ECHO:
    case K_SLOWREAD:
        if (rq->reading) {
            if (!read_body(rq, rq->kind == K_SLOWREAD)) {
                if (rq->disconnected) {
                    record(rq->app, "disconnected", rq->path);
                    finish(rq, 0, NULL);
                } else if (rq->kind == K_SLOWREAD && rq->reading &&
                           !rq->waiting_receive && rq->app->threaded)
                    set_timer(rq, rq->ms);
                return;
            }
        }
        if (rq->kind == K_ECHO) {
            asgicore_send_start(rq->scope, 200, text_plain, 1, 0);
            asgicore_send_body(rq->scope, rq->body, rq->body_len, 0);
        } else {
            snprintf(buf, sizeof buf, "%zu\n", rq->body_len);
            respond_text(rq, 200, buf);
        }
        finish(rq, 0, NULL);
        return;

    case K_WAIT:
        if (!rq->sent) {
            rq->sent = 1;
            if (rq->app->threaded) {
                set_timer(rq, rq->ms);
                return;
            }
        }
        if (asgicore_send_start(rq->scope, 200, text_plain, 1, 0) ==
            ASGICORE_ERR_DISCONNECTED) {
            record(rq->app, "disconnected", rq->path);
            finish(rq, 0, NULL);
            return;
        }
        asgicore_send_body(rq->scope, "waited\n", 7, 0);
        finish(rq, 0, NULL);
        return;

    case K_STREAM:
        if (!rq->started) {
            rq->started = 1;
            if (!sent(rq,
                      asgicore_send_start(rq->scope, 200, text_plain, 1, 0)))
                goto blocked;
        }
        while (rq->sent < rq->n) {
            int len = snprintf(buf, sizeof buf, "chunk %ld\n", rq->sent);
            int last = rq->sent + 1 == rq->n;
            rq->sent++;
            if (!sent(rq,
                      asgicore_send_body(rq->scope, buf, (size_t)len, !last)))
                goto blocked;
            if (last)
                break;
            if (rq->app->threaded && rq->ms > 0) {
                set_timer(rq, rq->ms);
                return;
            }
        }
        finish(rq, 0, NULL);
        return;
    blocked:
        if (rq->disconnected) {
            record(rq->app, "disconnected", rq->path);
            finish(rq, 0, NULL);
        }
        return;

    case K_BIG: {
        static char chunk[65536];
        if (!chunk[0])
            memset(chunk, 'x', sizeof chunk);
        if (!rq->started) {
            rq->started = 1;
            asgicore_send_start(rq->scope, 200, text_plain, 1, 0);
        }
        while (rq->sent < rq->size) {
            long n = rq->size - rq->sent;
            if (n > (long)sizeof chunk)
                n = sizeof chunk;
            rq->sent += n;
            if (!sent(rq, asgicore_send_body(rq->scope, chunk, (size_t)n,
                                             rq->sent < rq->size))) {
                if (rq->disconnected) {
                    record(rq->app, "disconnected", rq->path);
                    finish(rq, 0, NULL);
                }
                return;
            }
        }
        finish(rq, 0, NULL);
        return;
    }

    case K_CLEANUP:
    case K_IGNORE:
    case K_STUBBORN:
        if (rq->disconnected) {
            /* the cleanup ran its course without being cancelled */
            record(rq->app, "cleanup-done", rq->path);
            finish(rq, 0, NULL);
            return;
        }
        while (asgicore_receive(rq->scope, &ev) == ASGICORE_OK) {
            if (ev.type != ASGICORE_EVENT_HTTP_DISCONNECT)
                continue;
            record(rq->app, "saw-disconnect", rq->path);
            check_disconnect(rq, &ev);
            if (rq->kind != K_CLEANUP)
                return; /* ignores it: only a cancel ends this app */
            rq->disconnected = 1;
            if (rq->app->threaded && rq->ms > 0) {
                set_timer(rq, rq->ms);
                return;
            }
            record(rq->app, "cleanup-done", rq->path);
            finish(rq, 0, NULL);
            return;
        }
        rq->waiting_receive = 1;
        return;

    case K_RAISE: finish(rq, 1, "RuntimeError: the test app raised"); return;

    case K_RAISE_LATE:
    case K_TWICE:
        /* A first part the host surely took (more than the library
         * buffers: the send waits until the host has it), then a failure:
         * too late for a 500, the response is cut. */
        if (!rq->started) {
            static char part[70000];
            int rc;
            memset(part, 'p', sizeof part);
            memcpy(part, "partial", 7);
            rq->started = 1;
            asgicore_send_start(rq->scope, 200, text_plain, 1, 0);
            rc = asgicore_send_body(rq->scope, part, sizeof part, 1);
            if (rc == ASGICORE_PENDING) {
                rq->waiting_send = 1;
                return;
            }
        }
        if (rq->kind == K_TWICE) {
            asgicore_send_start(rq->scope, 200, text_plain, 1, 0);
            finish(rq, 0, NULL);
            return;
        }
        finish(rq, 1, "RuntimeError: the test app raised mid-response");
        return;

    case K_NORESPONSE: finish(rq, 0, NULL); return;

    case K_BADHEADER: {
        asgicore_header bad = {{"x-injected", 10}, {"a\r\nSet-Cookie: x", 16}};
        asgicore_send_start(rq->scope, 200, &bad, 1, 0);
        finish(rq, 0, NULL);
        return;
    }

    case K_EMPTYHEADER: {
        /* asgicore.h: data may be NULL when len is 0 */
        asgicore_header empty[] = {
            {{"x-empty", 7}, {NULL, 0}},
            {{"content-length", 14}, {"3", 1}},
        };
        asgicore_send_start(rq->scope, 200, empty, 2, 0);
        asgicore_send_body(rq->scope, "ok\n", 3, 0);
        finish(rq, 0, NULL);
        return;
    }

    case K_LATE:
        if (!rq->app->threaded || rq->app->late_scope ||
            asgicore_scope_hold(rq->scope) != ASGICORE_OK) {
            respond_text(rq, 500, "cannot hold\n");
            finish(rq, 0, NULL);
            return;
        }
        respond_text(rq, 200, "answered\n");
        rq->app->late_scope = rq->scope;
        rq->app->late_at = now_ms() + (uint64_t)rq->ms;
        finish(rq, 0, NULL);
        return;

    case K_BACKGROUND:
        if (!rq->started) {
            rq->started = 1;
            respond_text(rq, 200, "answered, working on\n");
            if (rq->app->threaded) {
                set_timer(rq, rq->ms);
                return;
            }
        }
        record(rq->app, "background-done", rq->path);
        finish(rq, 0, NULL);
        return;

    case K_BLOCK:
        usleep((useconds_t)rq->ms * 1000);
        respond_text(rq, 200, "blocked\n");
        finish(rq, 0, NULL);
        return;

    case K_AFTER:
        respond_text(rq, 200, "answered\n");
        while (asgicore_receive(rq->scope, &ev) == ASGICORE_OK &&
               ev.type == ASGICORE_EVENT_HTTP_REQUEST)
            ; /* the (empty) body */
        record(rq->app,
               ev.type == ASGICORE_EVENT_HTTP_DISCONNECT ? "r7-ok"
                                                         : "r7-failed",
               rq->path);
        finish(rq, 0, NULL);
        return;

    case K_NOTFOUND:
        respond_text(rq, 404, "no such test behaviour\n");
        finish(rq, 0, NULL);
        return;
    }
}

static const struct {
    const char *path;
    enum kind kind;
} kinds[] = {
    {"/hello", K_HELLO},
    {"/echo", K_ECHO},
    {"/stream", K_STREAM},
    {"/wait", K_WAIT},
    {"/slowread", K_SLOWREAD},
    {"/cleanup", K_CLEANUP},
    {"/ignore", K_IGNORE},
    {"/big", K_BIG},
    {"/raise", K_RAISE},
    {"/raise-late", K_RAISE_LATE},
    {"/noresponse", K_NORESPONSE},
    {"/badheader", K_BADHEADER},
    {"/twice", K_TWICE},
    {"/background", K_BACKGROUND},
    {"/info", K_INFO},
    {"/stubborn", K_STUBBORN},
    {"/block", K_BLOCK},
    {"/after-response", K_AFTER},
    {"/late", K_LATE},
    {"/empty-header", K_EMPTYHEADER},
};

/* A WebSocket echo, driven by notifications as the HTTP kinds are. */
static void ws_step(req_t *rq)
{
    char what[64];
    asgicore_event_v2 ev;
    int rc;
    while (!rq->waiting_send) {
        rc = asgicore_receive_versioned(rq->scope, ASGICORE_EVENT_V2, &ev);
        if (rc == ASGICORE_PENDING)
            return; /* RECEIVE_READY comes */
        if (rc != ASGICORE_OK) {
            finish(rq, 1, "receive failed");
            return;
        }
        switch (ev.type) {
        case ASGICORE_EVENT_WEBSOCKET_CONNECT:
            if (strstr(rq->path, "/wsdeny"))
                rc = asgicore_websocket_close(rq->scope, 1000, NULL, 0);
            else
                rc = asgicore_websocket_accept(rq->scope, NULL, NULL, 0);
            break;
        case ASGICORE_EVENT_WEBSOCKET_RECEIVE:
            rc = asgicore_websocket_send(rq->scope, ev.text, ev.data, ev.len);
            break;
        default:
            snprintf(what, sizeof what, "ws-disconnect %d", ev.code);
            record(rq->app, what, rq->path);
            finish(rq, 0, NULL);
            return;
        }
        if (rc == ASGICORE_PENDING)
            rq->waiting_send = 1; /* SEND_READY comes */
        else if (rc != ASGICORE_OK && rc != ASGICORE_ERR_DISCONNECTED) {
            finish(rq, 1, asgicore_strerror(rc));
            return;
        }
    }
}

static void app_start(void *user, asgicore_scope *scope)
{
    app_t *app = user;
    const asgicore_scope_info *info = asgicore_scope_get_info(scope);
    req_t *rq = calloc(1, sizeof *rq);
    size_t i, len;

    rq->app = app;
    rq->scope = scope;
    rq->kind = K_NOTFOUND;
    rq->reading = 1;
    len = info->path.len < sizeof rq->path - 1 ? info->path.len
                                               : sizeof rq->path - 1;
    memcpy(rq->path, info->path.data, len);
    /* the location prefix (e.g. /threaded/) is not part of the kind */
    for (i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        size_t kl = strlen(kinds[i].path);
        if (len >= kl && !memcmp(rq->path + len - kl, kinds[i].path, kl))
            rq->kind = kinds[i].kind;
    }
    rq->n = query_long(info, "n", 5);
    rq->ms = query_long(info, "ms", 0);
    rq->size = query_long(info, "size", 1 << 20);
    rq->next = app->reqs;
    app->reqs = rq;
    asgicore_scope_set_app_data(scope, rq);
    if (info->flags & ASGICORE_SCOPE_WEBSOCKET) {
        rq->websocket = 1;
        ws_step(rq);
        return;
    }
    step(rq);
}

static void app_notify(void *user, asgicore_scope *scope, int event, int status)
{
    req_t *rq = asgicore_scope_get_app_data(scope);
    switch (event) {
    case ASGICORE_NOTIFY_CANCEL:
        if (rq->kind == K_STUBBORN) {
            record(rq->app, "cancel-ignored", rq->path);
            return; /* B3: holds its scope until the worker exits */
        }
        record(rq->app, "cancelled", rq->path);
        finish(rq, 0, NULL);
        return;
    case ASGICORE_NOTIFY_SEND_READY:
        rq->waiting_send = 0;
        if (status == ASGICORE_ERR_DISCONNECTED) {
            rq->disconnected = 1;
            record(rq->app, "disconnected", rq->path);
            finish(rq, 0, NULL);
            return;
        }
        break;
    case ASGICORE_NOTIFY_RECEIVE_READY: rq->waiting_receive = 0; break;
    }
    if (rq->websocket)
        ws_step(rq);
    else
        step(rq);
}

static void app_wake(void *user)
{
    app_t *app = user;
    uint64_t one = 1;
    if (write(app->efd, &one, sizeof one) != sizeof one) {
        /* already signalled */
    }
}

/* L6: the calls of a task that outlived its request, with a held scope the
 * app finished and the host released: refused, never another request's. */
static void late_calls(app_t *app)
{
    char what[64];
    asgicore_event ev;
    int rc_receive = asgicore_receive(app->late_scope, &ev);
    int rc_send = asgicore_send_body(app->late_scope, "late", 4, 0);
    snprintf(what, sizeof what, "late-calls receive=%d send=%d", rc_receive,
             rc_send);
    record(app, what, "/late");
    asgicore_scope_drop(app->late_scope);
    app->late_scope = NULL;
}

static void *app_thread(void *arg)
{
    app_t *app = arg;
    while (!app->stop) {
        uint64_t next = 0, now, n;
        req_t *rq, *due;
        int timeout;

        for (rq = app->reqs; rq; rq = rq->next)
            if (rq->timer && (!next || rq->timer < next))
                next = rq->timer;
        if (app->late_scope && (!next || app->late_at < next))
            next = app->late_at;
        now = now_ms();
        timeout = !next ? 1000 : next <= now ? 0 : (int)(next - now);
        struct pollfd p = {app->efd, POLLIN, 0};
        if (poll(&p, 1, timeout) > 0 &&
            read(app->efd, &n, sizeof n) == sizeof n)
            asgicore_app_dispatch(app->handle);
        /* one due timer per turn: step() may free other requests */
        now = now_ms();
        due = NULL;
        for (rq = app->reqs; rq; rq = rq->next)
            if (rq->timer && rq->timer <= now) {
                due = rq;
                break;
            }
        if (due) {
            due->timer = 0;
            step(due);
        }
        if (app->late_scope && app->late_at <= now)
            late_calls(app);
    }
    return NULL;
}

static void *app_create(const char *argument, int *mode, char *error,
                        size_t error_size)
{
    app_t *app = calloc(1, sizeof *app);
    const char *rec = strstr(argument, "record=");
    if (!app) {
        snprintf(error, error_size, "out of memory");
        return NULL;
    }
    if (strstr(argument, "fail")) {
        snprintf(error, error_size, "asked to fail by its argument");
        free(app);
        return NULL;
    }
    app->threaded = strstr(argument, "threaded") != NULL;
    if (rec) {
        size_t len = strcspn(rec + 7, " ");
        if (len >= sizeof app->record)
            len = sizeof app->record - 1;
        memcpy(app->record, rec + 7, len);
    }
    app->efd = -1;
    *mode = app->threaded ? ASGICORE_APP_THREADED : ASGICORE_APP_INLINE;
    if (strstr(argument, "websocket"))
        *mode |= ASGICORE_APP_WEBSOCKET;
    return app;
}

static int app_attach(void *user, asgicore_app *handle, char *error,
                      size_t error_size)
{
    app_t *app = user;
    app->handle = handle;
    if (!app->threaded)
        return 0;
    app->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (app->efd < 0 ||
        pthread_create(&app->thread, NULL, app_thread, app) != 0) {
        snprintf(error, error_size, "cannot start the app thread: %s",
                 strerror(errno));
        return -1;
    }
    return 0;
}

static void app_destroy(void *user)
{
    app_t *app = user;
    if (app->threaded && app->efd >= 0) {
        app->stop = 1;
        app_wake(app);
        pthread_join(app->thread, NULL);
        close(app->efd);
    }
    if (app->late_scope)
        asgicore_scope_drop(app->late_scope);
    /* requests still held are freed with the library context */
    while (app->reqs) {
        req_t *rq = app->reqs;
        app->reqs = rq->next;
        free(rq->body);
        free(rq);
    }
    free(app);
}

__attribute__((visibility("default")))
const asgicore_native_app asgicore_app_entry = {
    ASGICORE_NATIVE_APP_V1,
    {app_start, app_notify, app_wake},
    app_create,
    app_attach,
    app_destroy,
};
