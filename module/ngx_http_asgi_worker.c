
/*
 * Copyright (C) The asgicore authors. BSD-2-Clause, see LICENSE.
 *
 * One library context per worker process: its timer on nginx's event
 * timers, its wake-up eventfd in nginx's event loop, and the native apps.
 */


#include "ngx_http_asgi_module.h"

#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>


ngx_http_asgi_worker_t  *ngx_http_asgi_worker;


static void ngx_http_asgi_set_timer(void *user, asgicore_time deadline);
static void ngx_http_asgi_timer_handler(ngx_event_t *ev);
static void ngx_http_asgi_shutdown_hold_handler(ngx_event_t *ev);
static void ngx_http_asgi_wake(void *user);
static void ngx_http_asgi_wake_handler(ngx_event_t *ev);
static void ngx_http_asgi_shutdown_timed_out(ngx_http_asgi_worker_t *w);
static void ngx_http_asgi_shutdown_started(ngx_http_asgi_worker_t *w);
static void ngx_http_asgi_log(void *user, int level, void *host_data,
    const char *message);
static void ngx_http_asgi_log_parts(ngx_uint_t level, ngx_log_t *log,
    ngx_http_asgi_req_t *req, const char *message);
static u_char *ngx_http_asgi_late_log_handler(ngx_log_t *log, u_char *buf,
    size_t len);
static const char *ngx_http_asgi_log_cut(const char *p, const char *end,
    size_t room);
static void ngx_http_asgi_unload_app(void *data);
static ngx_int_t ngx_http_asgi_init_events(ngx_http_asgi_worker_t *w,
    ngx_cycle_t *cycle);
static void ngx_http_asgi_start_apps(ngx_http_asgi_worker_t *w,
    ngx_http_asgi_main_conf_t *amcf);
static void ngx_http_asgi_start_app(ngx_http_asgi_worker_t *w,
    ngx_http_asgi_app_t *app);


/* How often a worker with requests in flight wakes during a graceful
 * shutdown; see ngx_http_asgi_shutdown_hold_handler. */
#define NGX_HTTP_ASGI_HOLD_INTERVAL  1000


asgicore_time
ngx_http_asgi_now(void)
{
    return (asgicore_time) ngx_current_msec * 1000000;
}


char *
ngx_http_asgi_load_app(ngx_conf_t *cf, ngx_http_asgi_app_t *app)
{
    char                *err;
    ngx_pool_cleanup_t  *cln;

    if (ngx_conf_full_name(cf->cycle, &app->path, 0) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    cln = ngx_pool_cleanup_add(cf->cycle->pool, 0);
    if (cln == NULL) {
        return NGX_CONF_ERROR;
    }

    app->dl = dlopen((char *) app->path.data, RTLD_NOW | RTLD_LOCAL);
    if (app->dl == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "cannot load native app \"%V\": %s",
                           &app->path, dlerror());
        return NGX_CONF_ERROR;
    }

    cln->handler = ngx_http_asgi_unload_app;
    cln->data = app;

    app->native = dlsym(app->dl, ASGICORE_NATIVE_APP_SYMBOL);
    err = dlerror();

    if (app->native == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" is not a native ASGI app: no \""
                           ASGICORE_NATIVE_APP_SYMBOL "\" symbol (%s)",
                           &app->path, err ? err : "null");
        return NGX_CONF_ERROR;
    }

    if (app->native->abi_version != ASGICORE_NATIVE_APP_V1
        || app->native->create == NULL
        || app->native->callbacks.start == NULL
        || app->native->callbacks.notify == NULL)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "native app \"%V\" has ABI version %d or lacks "
                           "create, start or notify; this module expects "
                           "version %d", &app->path,
                           app->native->abi_version, ASGICORE_NATIVE_APP_V1);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static void
ngx_http_asgi_unload_app(void *data)
{
    ngx_http_asgi_app_t  *app = data;

    if (app->dl) {
        dlclose(app->dl);
        app->dl = NULL;
    }
}


ngx_int_t
ngx_http_asgi_worker_init(ngx_cycle_t *cycle)
{
    int                         rc;
    asgicore_settings           settings;
    ngx_http_asgi_worker_t     *w;
    ngx_http_asgi_main_conf_t  *amcf;

    static const asgicore_callbacks  callbacks = {
        ngx_http_asgi_send_head,
        ngx_http_asgi_send_body,
        ngx_http_asgi_send_trailers,
        ngx_http_asgi_resume_body,
        ngx_http_asgi_done,
        ngx_http_asgi_set_timer,
        ngx_http_asgi_wake,
        ngx_http_asgi_log,
        ngx_http_asgi_scope_gone,
        ngx_http_asgi_send_raw
    };

    ngx_http_asgi_worker = NULL;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    amcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_asgi_module);
    if (amcf == NULL) {
        return NGX_OK;
    }

    w = ngx_pcalloc(cycle->pool, sizeof(ngx_http_asgi_worker_t));
    if (w == NULL) {
        return NGX_ERROR;
    }

    w->log = cycle->log;

    /* grace periods come per scope from asgi_disconnect_grace_period */
    asgicore_settings_default(&settings);

    rc = asgicore_ctx_new(&settings, &callbacks, w, &w->ctx);
    if (rc != ASGICORE_OK) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "asgi: cannot create the library context: %s",
                      asgicore_strerror(rc));
        return NGX_ERROR;
    }

    if (ngx_http_asgi_init_events(w, cycle) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_asgi_worker = w;

    ngx_http_asgi_start_apps(w, amcf);

    ngx_http_asgi_fleet_join(cycle, amcf);

    return NGX_OK;
}


/*
 * The worker's events: the eventfd app threads write to wake the nginx
 * thread, the library's timer and the shutdown hold.
 */

static ngx_int_t
ngx_http_asgi_init_events(ngx_http_asgi_worker_t *w, ngx_cycle_t *cycle)
{
    int                fd;
    ngx_connection_t  *c;

    fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd == -1) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_errno,
                      "asgi: eventfd() failed");
        return NGX_ERROR;
    }

    c = ngx_get_connection(fd, cycle->log);
    if (c == NULL) {
        close(fd);
        return NGX_ERROR;
    }

    c->data = w;
    c->read->handler = ngx_http_asgi_wake_handler;

    /* idle: a graceful shutdown's start (ngx_close_idle_connections)
     * calls its handler, with c->close set */
    c->idle = 1;
    c->read->log = cycle->log;
    c->write->log = cycle->log;
    w->wake = c;

    if (ngx_handle_read_event(c->read, 0) != NGX_OK) {
        return NGX_ERROR;
    }

    /* A pending grace period must not keep a worker from exiting. */
    w->timer.handler = ngx_http_asgi_timer_handler;
    w->timer.data = w;
    w->timer.log = cycle->log;
    w->timer.cancelable = 1;

    w->shutdown_hold.handler = ngx_http_asgi_shutdown_hold_handler;
    w->shutdown_hold.data = w;
    w->shutdown_hold.log = cycle->log;

    return NGX_OK;
}


static void
ngx_http_asgi_start_apps(ngx_http_asgi_worker_t *w,
    ngx_http_asgi_main_conf_t *amcf)
{
    sigset_t               all, old;
    ngx_uint_t             i;
    ngx_http_asgi_app_t  **apps;

    /*
     * Threads an app starts inherit this thread's signal mask: with every
     * signal blocked there, signals meant for the worker (SIGQUIT, SIGTERM,
     * timer_resolution's SIGALRM) always reach the nginx thread, the one
     * whose epoll_wait they must interrupt.
     */
    sigfillset(&all);
    (void) pthread_sigmask(SIG_BLOCK, &all, &old);

    apps = amcf->apps.elts;
    for (i = 0; i < amcf->apps.nelts; i++) {
        ngx_http_asgi_start_app(w, apps[i]);
    }

    (void) pthread_sigmask(SIG_SETMASK, &old, NULL);

    /*
     * nginx's SIGCHLD handler reaps every child of the process and reports
     * it as an "unknown process" alert; a worker has no children of its
     * own, so the processes apps start are left to the apps to wait for.
     */
    if (amcf->apps.nelts) {
        (void) signal(SIGCHLD, SIG_DFL);
    }
}


/* A native app that fails to start is logged; its locations answer 503
 * while the worker serves everything else. */

static void
ngx_http_asgi_start_app(ngx_http_asgi_worker_t *w, ngx_http_asgi_app_t *app)
{
    int    mode, rc;
    char   error[512];

    app->log = w->log;
    app->app = NULL;
    error[0] = '\0';
    mode = ASGICORE_APP_INLINE;

    app->app_user = app->native->create((char *) app->argument.data, &mode,
                                        error, sizeof(error));
    if (app->app_user == NULL) {
        ngx_log_error(NGX_LOG_ERR, w->log, 0,
                      "asgi: native app \"%V\" failed to start: %s",
                      &app->path, error[0] ? error : "no reason given");
        return;
    }

    rc = asgicore_app_new(w->ctx, &app->native->callbacks, app->app_user,
                          mode, &app->app);
    if (rc != ASGICORE_OK) {
        ngx_log_error(NGX_LOG_ERR, w->log, 0,
                      "asgi: native app \"%V\" rejected: %s",
                      &app->path, asgicore_strerror(rc));
        goto failed;
    }

    if (app->native->attach
        && app->native->attach(app->app_user, app->app, error,
                               sizeof(error))
           != 0)
    {
        ngx_log_error(NGX_LOG_ERR, w->log, 0,
                      "asgi: native app \"%V\" failed to attach: %s",
                      &app->path, error[0] ? error : "no reason given");
        asgicore_app_free(app->app);
        app->app = NULL;
        goto failed;
    }

    return;

failed:

    if (app->native->destroy) {
        app->native->destroy(app->app_user);
    }

    app->app_user = NULL;
    app->app = NULL;
}


void
ngx_http_asgi_worker_exit(ngx_cycle_t *cycle)
{
    ngx_uint_t                  i;
    ngx_http_asgi_app_t       **apps;
    ngx_http_asgi_worker_t     *w;
    ngx_http_asgi_main_conf_t  *amcf;

    w = ngx_http_asgi_worker;
    if (w == NULL) {
        return;
    }

    amcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_asgi_module);

    /* Apps stop (and join their threads) before the context goes. */
    apps = amcf->apps.elts;
    for (i = 0; i < amcf->apps.nelts; i++) {
        if (apps[i]->app_user && apps[i]->native->destroy) {
            apps[i]->native->destroy(apps[i]->app_user);
        }

        apps[i]->app_user = NULL;
        apps[i]->app = NULL;
    }

    /* what the apps logged while stopping (lifespan shutdown) */
    asgicore_ctx_process(w->ctx);

    if (w->timer.timer_set) {
        ngx_del_timer(&w->timer);
    }

    if (w->shutdown_hold.timer_set) {
        ngx_del_timer(&w->shutdown_hold);
    }

    ngx_http_asgi_fleet_leave();

    asgicore_ctx_free(w->ctx);
    w->ctx = NULL;

    ngx_close_connection(w->wake);
    w->wake = NULL;

    ngx_http_asgi_worker = NULL;
}


/*
 * The shutdown hold: while requests are in flight a non-cancelable timer
 * is kept, because during a graceful shutdown ("nginx -s quit") a worker
 * exits once only cancelable timers are left, and a request waiting for
 * its app has no timer of its own. Re-armed at most once a second, not per
 * request: an idle worker's hold stays in the timer tree, cancelable, so
 * that the next request does not pay for a timer deleted and added again.
 */

void
ngx_http_asgi_shutdown_hold_arm(void)
{
    ngx_event_t  *hold = &ngx_http_asgi_worker->shutdown_hold;

    hold->cancelable = 0;

    if (!hold->timer_set) {
        ngx_add_timer(hold, NGX_HTTP_ASGI_HOLD_INTERVAL);
    }
}


/*
 * After a scope went, or an app that outlived its scope finished
 * (NGX_HTTP_ASGI_APP_ENDED): an idle worker must quit at once (nginx waits
 * for no cancelable timer).
 */

void
ngx_http_asgi_shutdown_hold_check(ngx_uint_t ended)
{
    ngx_msec_t          until;
    asgicore_counters   c;
    ngx_event_t        *hold = &ngx_http_asgi_worker->shutdown_hold;

    /*
     * An app may run on after its scope ended: a WebSocket's app is told
     * of the close, then has its grace period; an app may work on after
     * its response. A stopping worker waits for such apps until the
     * longest grace period (and a second) after the last scope that
     * ended, not for ever. A scope that ended with its app cancelled
     * spent its grace while it lived: it adds the second alone. An app
     * that ends starts no grace. The wait's end never moves back.
     */
    if (ended != NGX_HTTP_ASGI_APP_ENDED) {
        until = ngx_current_msec + 1000;

        if (ended == NGX_HTTP_ASGI_SCOPE_ENDED) {
            until += ngx_http_asgi_worker->max_grace;
        }

        if ((ngx_msec_int_t) (until - ngx_http_asgi_worker->apps_until)
            > 0)
        {
            ngx_http_asgi_worker->apps_until = until;
        }
    }

    /* the scopes still open are the library's live ones: under load the
     * counters (a lock) are read only when the last one goes */
    if (hold->timer_set && ngx_http_asgi_worker->scopes == 0
        && asgicore_ctx_counters(ngx_http_asgi_worker->ctx, &c)
           == ASGICORE_OK
        && c.live == 0 && c.running_apps == 0)
    {
        hold->cancelable = 1;
    }
}


/* The hold's handler runs at the next pass over the timers. */

void
ngx_http_asgi_shutdown_hold_soon(void)
{
    ngx_event_t  *hold = &ngx_http_asgi_worker->shutdown_hold;

    if (hold->timer_set) {
        ngx_del_timer(hold);
    }

    hold->cancelable = 0;
    ngx_add_timer(hold, 0);
}


/* worker_shutdown_timeout ran out: apps still running are waited for no
 * longer (their requests are being closed). */

static void
ngx_http_asgi_shutdown_timed_out(ngx_http_asgi_worker_t *w)
{
    if (w->shutdown_hold.timer_set) {
        ngx_del_timer(&w->shutdown_hold);
    }
}


/*
 * A graceful shutdown started. Open WebSockets are closed with 1001 at
 * the hold's next tick, within a second (W15: their apps have the chance
 * to close them first). A worker_shutdown_timeout under two seconds could
 * close the connections before that tick: the tick comes at half of it
 * then, so the clients get the 1001, not a bare end of the connection.
 */

static void
ngx_http_asgi_shutdown_started(ngx_http_asgi_worker_t *w)
{
    ngx_msec_t        at;
    ngx_event_t      *hold = &w->shutdown_hold;
    ngx_core_conf_t  *ccf;

    if (w->exiting_since == 0) {
        w->exiting_since = ngx_current_msec ? ngx_current_msec : 1;
    }

    ccf = (ngx_core_conf_t *) ngx_get_conf(ngx_cycle->conf_ctx,
                                           ngx_core_module);

    if (!hold->timer_set  /* nothing in flight, no WebSocket open */
        || ccf->shutdown_timeout == 0
        || ccf->shutdown_timeout >= 2 * NGX_HTTP_ASGI_HOLD_INTERVAL)
    {
        return;
    }

    at = ngx_current_msec + ccf->shutdown_timeout / 2;

    if ((ngx_msec_int_t) (hold->timer.key - at) > 0) {
        /* deleted first: ngx_add_timer keeps a timer within 300 ms */
        ngx_del_timer(hold);
        ngx_add_timer(hold, ccf->shutdown_timeout / 2);
    }
}


static void
ngx_http_asgi_shutdown_hold_handler(ngx_event_t *ev)
{
    ngx_flag_t               wait_apps;
    ngx_core_conf_t         *ccf;
    asgicore_counters        c;
    ngx_http_asgi_worker_t  *w = ev->data;

    if (ngx_exiting && w->exiting_since == 0) {
        w->exiting_since = ngx_current_msec ? ngx_current_msec : 1;
    }

    /* apps that run on after their scopes (see shutdown_hold_check) are
     * waited for no longer than worker_shutdown_timeout */
    ccf = (ngx_core_conf_t *) ngx_get_conf(ngx_cycle->conf_ctx,
                                           ngx_core_module);
    wait_apps = (ngx_msec_int_t) (w->apps_until - ngx_current_msec) > 0
                && (ccf->shutdown_timeout == 0 || w->exiting_since == 0
                    || ngx_current_msec - w->exiting_since
                       < ccf->shutdown_timeout);

    if (ngx_exiting) {
        ngx_http_asgi_websocket_shutdown();  /* W15 */
    }

    if (asgicore_ctx_counters(w->ctx, &c) == ASGICORE_OK
        && (c.live > 0 || (c.running_apps > 0 && wait_apps)))
    {
        ev->cancelable = 0;
        ngx_add_timer(ev, NGX_HTTP_ASGI_HOLD_INTERVAL);
    }
}


static void
ngx_http_asgi_set_timer(void *user, asgicore_time deadline)
{
    ngx_http_asgi_worker_t  *w = user;

    asgicore_time  now;
    ngx_msec_t     delay;

    if (deadline == ASGICORE_TIME_NEVER) {
        if (w->timer.timer_set) {
            ngx_del_timer(&w->timer);
        }

        return;
    }

    now = ngx_http_asgi_now();
    delay = deadline > now ? (ngx_msec_t) ((deadline - now + 999999) / 1000000)
                           : 0;

    ngx_add_timer(&w->timer, delay);
}


static void
ngx_http_asgi_timer_handler(ngx_event_t *ev)
{
    ngx_http_asgi_worker_t  *w = ev->data;

    asgicore_ctx_handle_expiry(w->ctx, ngx_http_asgi_now());
    ngx_http_asgi_fleet_changed();
}


/* Called by the library from any thread: an eventfd write is safe there,
 * and the library coalesces the calls until asgicore_ctx_process runs. */

static void
ngx_http_asgi_wake(void *user)
{
    ngx_http_asgi_worker_t  *w = user;

    uint64_t  one = 1;

    if (write(w->wake->fd, &one, sizeof(one)) != sizeof(one)) {
        /* EAGAIN: the counter is already non-zero, the loop will run */
    }
}


static void
ngx_http_asgi_wake_handler(ngx_event_t *ev)
{
    ngx_connection_t        *c = ev->data;
    ngx_http_asgi_worker_t  *w = c->data;

    uint64_t  n;

    if (w->ctx == NULL) {
        return;
    }

    if (c->close) {
        /*
         * A graceful shutdown starts (close alone) or worker_shutdown_timeout
         * ran out (close and error): nginx closes its idle connections, or
         * every connection. This one stays: the library's wake-ups are
         * still served while the worker ends.
         */
        if (c->error) {
            ngx_http_asgi_shutdown_timed_out(w);

        } else {
            ngx_http_asgi_shutdown_started(w);
        }

        c->close = 0;
        c->error = 0;
    }

    /* one read resets the counter (no EFD_SEMAPHORE): a wake after it
     * is a new edge */
    (void) !read(c->fd, &n, sizeof(n));

    asgicore_ctx_process(w->ctx);
    ngx_http_asgi_fleet_changed();
}


static void
ngx_http_asgi_log(void *user, int level, void *host_data,
    const char *message)
{
    ngx_http_asgi_worker_t  *w = user;
    ngx_http_asgi_req_t     *req = host_data;

    ngx_log_t   *log, late;
    ngx_uint_t   lvl;

    switch (level) {
    case ASGICORE_LOG_ERROR:
        lvl = NGX_LOG_ERR;
        break;
    case ASGICORE_LOG_WARN:
        lvl = NGX_LOG_WARN;
        break;
    case ASGICORE_LOG_INFO:
        lvl = NGX_LOG_INFO;
        break;
    default:
        lvl = NGX_LOG_DEBUG;
        break;
    }

    if (req && req->r) {
        log = req->r->connection->log;

    } else if (req) {
        /* P9: nginx finalized the request; the app still works on it */
        late = *w->log;
        late.connection = req->log_connection;
        late.handler = ngx_http_asgi_late_log_handler;
        late.data = req;
        late.action = NULL;
        log = &late;

    } else {
        log = w->log;
    }

    if (log->log_level < lvl) {
        return;
    }

    ngx_http_asgi_log_parts(lvl, log, req, message);
}


/* What nginx appends to a request's log lines, from the handle's copy. */

static u_char *
ngx_http_asgi_late_log_handler(ngx_log_t *log, u_char *buf, size_t len)
{
    ngx_http_asgi_req_t  *req = log->data;

    u_char  *p;

    p = ngx_snprintf(buf, len, ", client: %V, server: %V, request: \"%V\"",
                     &req->log_client, &req->log_server, &req->log_request);

    if (req->log_host.len) {
        p = ngx_snprintf(p, buf + len - p, ", host: \"%V\"",
                         &req->log_host);
    }

    return p;
}


/*
 * nginx cuts an error-log entry at NGX_MAX_ERROR_STR bytes, the request's
 * context (client, request line) included: a long message (a Python
 * traceback) would lose its end and the context. It goes out as several
 * entries instead, each with the context, split at line ends where it can.
 */

static void
ngx_http_asgi_log_parts(ngx_uint_t level, ngx_log_t *log,
    ngx_http_asgi_req_t *req, const char *message)
{
    size_t               len, room, context;
    ngx_uint_t           part, parts;
    const char          *p, *end, *cut;
    ngx_http_request_t  *r;

    context = 0;
    r = req ? req->r : NULL;

    if (req && r == NULL) {
        context = req->log_client.len + req->log_server.len
                  + req->log_request.len + req->log_host.len + 96;

    } else if (r) {
        context = r->connection->addr_text.len + r->request_line.len
                  + (r->headers_in.server.len ? r->headers_in.server.len
                                              : 64)
                  + (r->headers_in.host ? r->headers_in.host->value.len : 0)
                  + (r->headers_in.referer
                     ? r->headers_in.referer->value.len : 0)
                  + 80;
    }

    /* the time, level, pid, connection and "asgi: (part N/M) " */
    room = NGX_MAX_ERROR_STR - 128;
    room = context + 256 < room ? room - context : 256;

    len = ngx_strlen(message);

    if (len <= room) {
        ngx_log_error(level, log, 0, "asgi: %s", message);
        return;
    }

    end = message + len;
    parts = 0;

    for (p = message; p < end; p = cut) {
        cut = ngx_http_asgi_log_cut(p, end, room);
        parts++;
    }

    part = 0;

    for (p = message; p < end; p = cut) {
        cut = ngx_http_asgi_log_cut(p, end, room);
        part++;

        if (part == 1) {
            ngx_log_error(level, log, 0, "asgi: %*s", cut - p, p);

        } else {
            ngx_log_error(level, log, 0, "asgi: (part %ui/%ui) %*s",
                          part, parts, cut - p, p);
        }
    }
}


/* The end of the next part: after the last line end that fits, else at
 * most `room` bytes, not inside a UTF-8 sequence. */

static const char *
ngx_http_asgi_log_cut(const char *p, const char *end, size_t room)
{
    const char  *cut;

    if ((size_t) (end - p) <= room) {
        return end;
    }

    for (cut = p + room; cut > p + room / 2; cut--) {
        if (cut[-1] == '\n') {
            return cut;
        }
    }

    cut = p + room;

    while (cut > p + 1 && (*(u_char *) cut & 0xc0) == 0x80) {
        cut--;
    }

    return cut;
}
