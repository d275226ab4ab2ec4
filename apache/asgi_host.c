/*
 * Copyright (c) 2026 The asgicore authors. BSD-2-Clause, see LICENSE.
 *
 * The host thread of a child: it owns the library's context, makes every
 * host-side call, runs the library's callbacks and keeps its timer. Pumps
 * (request threads) post commands to it; its callbacks hand the response
 * to the pumps. It also starts the apps, and stops them when the child
 * exits.
 */

#include "mod_asgi.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

/* A pump's unwritten response: beyond this a send waits (PENDING). */
#define ASGI_OUT_LIMIT (64 * 1024)

typedef struct {
    asgicore_ctx *ctx;
    server_rec *server;
    asgi_app *apps;
    pthread_t thread;
    int wake_fd;
    asgicore_time deadline;      /* host thread only */

    pthread_mutex_t lock;        /* guards what follows */
    pthread_cond_t cond;
    asgi_req *queue_head, *queue_tail;
    int started;                 /* the thread created the context */
    const char *start_error;
    int stopping;
} asgi_host;

/* How long an exiting child waits for apps in their grace period. */
asgicore_time asgi_exit_wait_ns = 4000000000ull;

static asgi_host host = {.wake_fd = -1,
                         .lock = PTHREAD_MUTEX_INITIALIZER,
                         .cond = PTHREAD_COND_INITIALIZER};

asgicore_time asgi_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (asgicore_time)ts.tv_sec * 1000000000u + (asgicore_time)ts.tv_nsec;
}

static void wake_fd_write(int fd)
{
    uint64_t one = 1;
    /* EAGAIN: the counter is full, the reader is due anyway */
    (void)!write(fd, &one, sizeof one);
}

/* Under req->lock: the pump looks at its request again. */
static void signal_pump(asgi_req *req)
{
    if (req->wake_fd >= 0)
        wake_fd_write(req->wake_fd);
}

void asgi_req_unref(asgi_req *req)
{
    if (atomic_fetch_sub(&req->refs, 1) != 1)
        return;
    asgi_out *o = req->out_head;
    while (o) {
        asgi_out *next = o->next;
        free(o);
        o = next;
    }
    pthread_mutex_destroy(&req->lock);
    free(req);
}

/* ------------------------------------------------------------ callbacks */

static int push_out(asgi_req *req, asgi_out *o)
{
    int rc;
    pthread_mutex_lock(&req->lock);
    if (req->out_tail)
        req->out_tail->next = o;
    else
        req->out_head = o;
    req->out_tail = o;
    req->out_bytes += o->len + 1;
    rc = ASGICORE_OK;
    if (req->out_bytes > ASGI_OUT_LIMIT) {
        req->blocked = 1;
        rc = ASGICORE_PENDING;
    }
    signal_pump(req);
    pthread_mutex_unlock(&req->lock);
    return rc;
}

static asgi_out *new_out(int kind, size_t len)
{
    asgi_out *o = malloc(sizeof *o + len);
    if (o) {
        memset(o, 0, sizeof *o);
        o->kind = kind;
        o->len = len;
    }
    return o;
}

/* The head's or the trailers' fields, packed for the pump. */
static asgi_out *new_fields_out(int kind, const asgicore_header *fields,
                                size_t count)
{
    size_t i, len = 0;
    char *p;
    asgi_out *o;
    for (i = 0; i < count; i++)
        len += 2 * sizeof(size_t) + fields[i].name.len + fields[i].value.len;
    o = new_out(kind, len);
    if (!o)
        return NULL;
    o->header_count = count;
    p = o->data;
    for (i = 0; i < count; i++) {
        const asgicore_str *s[2] = {&fields[i].name, &fields[i].value};
        for (int k = 0; k < 2; k++) {
            memcpy(p, &s[k]->len, sizeof(size_t));
            p += sizeof(size_t);
            if (s[k]->len)
                memcpy(p, s[k]->data, s[k]->len);
            p += s[k]->len;
        }
    }
    return o;
}

static int cb_send_head(void *user, asgicore_scope *scope, void *host_data,
                        int status, const asgicore_header *headers,
                        size_t count, int has_trailers)
{
    asgi_out *o;
    (void)user;
    (void)scope;
    (void)has_trailers;
    o = new_fields_out(ASGI_OUT_HEAD, headers, count);
    if (!o)
        return ASGICORE_ERR_NOMEM;
    o->status = status;
    return push_out(host_data, o);
}

static int cb_send_body(void *user, asgicore_scope *scope, void *host_data,
                        const void *data, size_t len, int last)
{
    asgi_out *o;
    (void)user;
    (void)scope;
    o = new_out(ASGI_OUT_BODY, len);
    if (!o)
        return ASGICORE_ERR_NOMEM;
    if (len)
        memcpy(o->data, data, len);
    o->last = last;
    return push_out(host_data, o);
}

/* Only for HTTP/2 scopes (ASGICORE_CAP_TRAILERS): mod_http2 writes
 * r->trailers_out with the end of the stream. */
static int cb_send_trailers(void *user, asgicore_scope *scope,
                            void *host_data, const asgicore_header *trailers,
                            size_t count, int last)
{
    asgi_out *o;
    (void)user;
    (void)scope;
    o = new_fields_out(ASGI_OUT_TRAILERS, trailers, count);
    if (!o)
        return ASGICORE_ERR_NOMEM;
    o->last = last;
    return push_out(host_data, o);
}

static void cb_resume_body(void *user, asgicore_scope *scope, void *host_data)
{
    asgi_req *req = host_data;
    int refeed;
    (void)user;
    (void)scope;
    pthread_mutex_lock(&req->lock);
    req->paused = 0;
    /* a chunk refused while paused (ERR_BUSY) is fed again */
    refeed = req->feed_busy;
    signal_pump(req);
    pthread_mutex_unlock(&req->lock);
    if (refeed)
        asgi_host_post(req, ASGI_CMD_FEED);
}

static void cb_done(void *user, asgicore_scope *scope, void *host_data,
                    int outcome, int response_complete)
{
    asgi_req *req = host_data;
    (void)user;
    (void)scope;
    pthread_mutex_lock(&req->lock);
    req->done = 1;
    req->outcome = outcome;
    req->response_complete = response_complete;
    signal_pump(req);
    pthread_mutex_unlock(&req->lock);
}

static void cb_set_timer(void *user, asgicore_time deadline)
{
    (void)user;
    host.deadline = deadline;
}

static void cb_wake(void *user)
{
    (void)user;
    wake_fd_write(host.wake_fd);
}

static void cb_log(void *user, int level, void *host_data, const char *message)
{
    asgi_req *req = host_data;
    int lvl;
    (void)user;
    switch (level) {
    case ASGICORE_LOG_ERROR:
        lvl = APLOG_ERR;
        break;
    case ASGICORE_LOG_WARN:
        lvl = APLOG_WARNING;
        break;
    case ASGICORE_LOG_INFO:
        lvl = APLOG_INFO;
        break;
    default:
        lvl = APLOG_DEBUG;
        break;
    }
    /* Apache writes a line break as "\n": a traceback is an entry per
     * line, as Apache's other Python modules log one */
    for (;;) {
        int len = (int)strcspn(message, "\n");
        if (req)
            ap_log_error(APLOG_MARK, lvl, 0, req->server, "[client %s] %.*s",
                         req->client, len, message);
        else
            ap_log_error(APLOG_MARK, lvl, 0, host.server, "%.*s", len,
                         message);
        if (!message[len] || !message[len + 1])
            break;
        message += len + 1;
    }
}

static void cb_scope_gone(void *user, void *host_data)
{
    (void)user;
    asgi_req_unref(host_data);
}

static const asgicore_callbacks callbacks = {
    cb_send_head,  cb_send_body,  cb_send_trailers, cb_resume_body,
    cb_done,       cb_set_timer,  cb_wake,          cb_log,
    cb_scope_gone, NULL /* no WebSocket through Apache yet */
};

/* ------------------------------------------------------------ commands */

/* The queue holds a reference to each request in it. */
void asgi_host_post(asgi_req *req, unsigned cmds)
{
    pthread_mutex_lock(&host.lock);
    pthread_mutex_lock(&req->lock);
    req->cmds |= cmds;
    pthread_mutex_unlock(&req->lock);
    if (!req->queued) {
        req->queued = 1;
        atomic_fetch_add(&req->refs, 1);
        req->next_cmd = NULL;
        if (host.queue_tail)
            host.queue_tail->next_cmd = req;
        else
            host.queue_head = req;
        host.queue_tail = req;
    }
    pthread_mutex_unlock(&host.lock);
    wake_fd_write(host.wake_fd);
}

static void feed(asgi_req *req)
{
    const char *data;
    size_t len;
    int more, rc;

    pthread_mutex_lock(&req->lock);
    data = req->feed_data;
    len = req->feed_len;
    more = req->feed_more;
    pthread_mutex_unlock(&req->lock);

    rc = asgicore_scope_feed_body(req->scope, data, len, more);

    pthread_mutex_lock(&req->lock);
    if (rc == ASGICORE_ERR_BUSY) {
        req->paused = 1; /* kept: fed again on resume_body */
    } else {
        req->feed_busy = 0;
        if (rc == ASGICORE_PENDING)
            req->paused = 1;
        else if (rc != ASGICORE_OK)
            req->feed_more = -1; /* refused: the pump stops reading */
    }
    signal_pump(req);
    pthread_mutex_unlock(&req->lock);
}

static void run_command(asgi_req *req, unsigned cmds, asgicore_time now)
{
    int rc;

    if (cmds & ASGI_CMD_OPEN) {
        rc = asgicore_scope_open(host.ctx, req->app->app, &req->info, req,
                                 &req->scope);
        if (rc != ASGICORE_OK) {
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, req->server,
                         "[client %s] ASGI: cannot open the scope: %s",
                         req->client, asgicore_strerror(rc));
            pthread_mutex_lock(&req->lock);
            req->open_failed = 1;
            req->done = 1;
            signal_pump(req);
            pthread_mutex_unlock(&req->lock);
            req->scope = NULL;
            asgi_req_unref(req); /* the library's reference */
        }
    }
    if (!req->scope)
        return;
    if (cmds & ASGI_CMD_FEED)
        feed(req);
    if (cmds & ASGI_CMD_DISCONNECT) {
        pthread_mutex_lock(&req->lock);
        int reason = req->disconnect_reason;
        pthread_mutex_unlock(&req->lock);
        asgicore_scope_disconnect(req->scope, reason, now);
    }
    if (cmds & ASGI_CMD_WRITE_READY)
        asgicore_scope_write_ready(req->scope);
    if (cmds & ASGI_CMD_RELEASE) {
        asgicore_scope_release(req->scope, now);
        req->scope = NULL;
    }
}

static void run_commands(void)
{
    asgi_req *req, *next;
    asgicore_time now = asgi_now();

    pthread_mutex_lock(&host.lock);
    req = host.queue_head;
    host.queue_head = host.queue_tail = NULL;
    /* a request posted again while this batch runs joins the next one */
    for (asgi_req *r = req; r; r = r->next_cmd) {
        r->queued = 0;
        r->next_batch = r->next_cmd;
    }
    pthread_mutex_unlock(&host.lock);

    for (; req; req = next) {
        unsigned cmds;
        next = req->next_batch;
        pthread_mutex_lock(&req->lock);
        cmds = req->cmds;
        req->cmds = 0;
        pthread_mutex_unlock(&req->lock);
        run_command(req, cmds, now);
        asgi_req_unref(req); /* the queue's */
    }
}

/* ------------------------------------------------------------ the thread */

static void start_apps(void)
{
    for (asgi_app *a = host.apps; a; a = a->next) {
        char error[512] = "";
        int mode = ASGICORE_APP_INLINE, rc;
        a->app = NULL;
        a->app_user = a->native->create(a->argument, &mode, error,
                                        sizeof error);
        if (!a->app_user) {
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, host.server,
                         "ASGI app %s failed to start: %s", a->name,
                         error[0] ? error : "no reason given");
            continue;
        }
        rc = asgicore_app_new(host.ctx, &a->native->callbacks, a->app_user,
                              mode, &a->app);
        if (rc == ASGICORE_OK && a->native->attach
            && a->native->attach(a->app_user, a->app, error, sizeof error)
                   != 0) {
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, host.server,
                         "ASGI app %s failed to attach: %s", a->name,
                         error[0] ? error : "no reason given");
            asgicore_app_free(a->app);
            a->app = NULL;
            rc = ASGICORE_ERR_STATE;
        } else if (rc != ASGICORE_OK) {
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, host.server,
                         "ASGI app %s rejected: %s", a->name,
                         asgicore_strerror(rc));
        }
        if (rc != ASGICORE_OK) {
            a->app = NULL;
            if (a->native->destroy)
                a->native->destroy(a->app_user);
            a->app_user = NULL;
        }
    }
}

static void stop_apps(void)
{
    for (asgi_app *a = host.apps; a; a = a->next) {
        if (a->app_user && a->native->destroy)
            a->native->destroy(a->app_user);
        a->app_user = NULL;
        a->app = NULL;
    }
}

/* Until the child exits: then apps still in their grace period (their
 * client gone, their scope released) get it, bounded. */
static int may_exit(asgicore_time *until, asgicore_time now)
{
    asgicore_counters c;
    int stopping;
    pthread_mutex_lock(&host.lock);
    stopping = host.stopping && !host.queue_head;
    pthread_mutex_unlock(&host.lock);
    if (!stopping)
        return 0;
    if (asgicore_ctx_counters(host.ctx, &c) != ASGICORE_OK)
        return 1;
    if (c.live == 0 && c.running_apps == 0)
        return 1;
    if (*until == 0)
        *until = now + asgi_exit_wait_ns;
    return now >= *until;
}

/* A graceful stop's end (GracefulShutdownTimeout): then the requests in
 * flight are told, as by a stop that does not wait. 0: none. */
static _Atomic asgicore_time stop_deadline;

static void *host_main(void *arg)
{
    asgicore_settings settings;
    asgicore_time until = 0;
    int rc, loading = 1;
    (void)arg;

    asgicore_settings_default(&settings);
    host.deadline = ASGICORE_TIME_NEVER;
    rc = asgicore_ctx_new(&settings, &callbacks, NULL, &host.ctx);
    asgi_fleet_join();
    if (rc == ASGICORE_OK) {
        start_apps(); /* before the child serves: no request finds none */
        loading = asgi_fleet_update(host.ctx, host.apps);
    }
    pthread_mutex_lock(&host.lock);
    if (rc != ASGICORE_OK)
        host.start_error = asgicore_strerror(rc);
    host.started = 1;
    pthread_cond_broadcast(&host.cond);
    pthread_mutex_unlock(&host.lock);
    if (rc != ASGICORE_OK)
        return NULL;

    for (;;) {
        struct pollfd p = {host.wake_fd, POLLIN, 0};
        asgicore_time now = asgi_now();
        int timeout = -1;
        uint64_t n;
        if (host.deadline != ASGICORE_TIME_NEVER) {
            timeout = host.deadline <= now
                          ? 0
                          : (int)((host.deadline - now + 999999) / 1000000);
        }
        /* stopping, or an app's state to show when it settles */
        if ((until || loading) && (timeout < 0 || timeout > 100))
            timeout = 100;
        if (atomic_load(&stop_deadline)) {
            asgicore_time d = atomic_load(&stop_deadline);
            int ms = d <= now ? 0 : (int)((d - now + 999999) / 1000000);
            if (timeout < 0 || ms < timeout)
                timeout = ms;
        }
        if (poll(&p, 1, timeout) > 0)
            (void)!read(host.wake_fd, &n, sizeof n);
        run_commands();
        asgicore_ctx_process(host.ctx);
        now = asgi_now();
        if (host.deadline <= now) {
            /* one-shot: the library sets it again if it needs one */
            host.deadline = ASGICORE_TIME_NEVER;
            asgicore_ctx_handle_expiry(host.ctx, now);
        }
        if (atomic_load(&stop_deadline) && atomic_load(&stop_deadline) <= now) {
            atomic_store(&stop_deadline, 0);
            asgi_host_stopping();
            run_commands(); /* the disconnects it posted */
            asgicore_ctx_process(host.ctx);
        }
        loading = asgi_fleet_update(host.ctx, host.apps);
        if (may_exit(&until, now))
            break;
    }

    stop_apps();
    asgicore_ctx_process(host.ctx); /* what the apps logged while stopping */
    asgi_fleet_update(host.ctx, host.apps);
    asgi_fleet_leave(); /* its totals stay in the server's */
    asgicore_ctx_free(host.ctx);
    host.ctx = NULL;
    return NULL;
}

static apr_status_t host_stop(void *data)
{
    (void)data;
    pthread_mutex_lock(&host.lock);
    host.stopping = 1;
    pthread_mutex_unlock(&host.lock);
    wake_fd_write(host.wake_fd);
    pthread_join(host.thread, NULL);
    close(host.wake_fd);
    host.wake_fd = -1;
    return APR_SUCCESS;
}

int asgi_host_counters(asgicore_counters *out)
{
    return host.ctx ? asgicore_ctx_counters(host.ctx, out)
                    : ASGICORE_ERR_STATE;
}

void asgi_host_stop_at(asgicore_time deadline)
{
    atomic_store(&stop_deadline, deadline);
    wake_fd_write(host.wake_fd);
}

/* The requests in flight, for a stop that cannot wait for them. */
static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static asgi_req *live_head;

void asgi_host_track(asgi_req *req)
{
    pthread_mutex_lock(&live_lock);
    req->live_prev = NULL;
    req->live_next = live_head;
    if (live_head)
        live_head->live_prev = req;
    live_head = req;
    pthread_mutex_unlock(&live_lock);
}

void asgi_host_untrack(asgi_req *req)
{
    pthread_mutex_lock(&live_lock);
    if (req->live_prev)
        req->live_prev->live_next = req->live_next;
    else
        live_head = req->live_next;
    if (req->live_next)
        req->live_next->live_prev = req->live_prev;
    req->live_prev = req->live_next = NULL;
    pthread_mutex_unlock(&live_lock);
}

/* The child stops without waiting for its requests (apache2 -k stop, or
 * the end of GracefulShutdownTimeout): each app hears its client leave
 * for the server (nginx's fast stop), with its grace period, and each
 * pump stops writing, so that the workers return and the apps stop. */
void asgi_host_stopping(void)
{
    int n = 0;
    pthread_mutex_lock(&live_lock);
    for (asgi_req *req = live_head; req; req = req->live_next, n++) {
        pthread_mutex_lock(&req->lock);
        req->server_stop = 1;
        if (!req->disconnect_reason)
            req->disconnect_reason = ASGICORE_DISCONNECT_SERVER;
        signal_pump(req);
        pthread_mutex_unlock(&req->lock);
        asgi_host_post(req, ASGI_CMD_DISCONNECT);
    }
    pthread_mutex_unlock(&live_lock);
    if (n)
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, host.server,
                     "the child stops now: %d request%s in flight told that "
                     "their clients leave", n, n == 1 ? "" : "s");
}

/* In child_init: the thread, the context and the apps. NULL or why not. */
const char *asgi_host_start(server_rec *s, apr_pool_t *pool, asgi_app *apps)
{
    sigset_t all, old;
    int rc;

    host.server = s;
    host.apps = apps;
    host.wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (host.wake_fd < 0)
        return apr_psprintf(pool, "eventfd(): %s", strerror(errno));

    /* the host thread and the apps' threads take no signal: they are the
     * child's main thread's. But SIGCHLD: every thread of an Apache child
     * blocks it, and an app's event loop (uvloop's) learns from it that a
     * process it started has exited; Apache does not use it in a child */
    sigfillset(&all);
    sigdelset(&all, SIGCHLD);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&host.thread, NULL, host_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0)
        return apr_psprintf(pool, "pthread_create(): %s", strerror(rc));

    pthread_mutex_lock(&host.lock);
    while (!host.started)
        pthread_cond_wait(&host.cond, &host.lock);
    pthread_mutex_unlock(&host.lock);
    if (host.start_error) {
        pthread_join(host.thread, NULL);
        return apr_psprintf(pool, "the library context: %s",
                            host.start_error);
    }
    apr_pool_cleanup_register(pool, NULL, host_stop, apr_pool_cleanup_null);
    return NULL;
}
