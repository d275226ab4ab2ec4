
/*
 * Copyright (C) The asgicore authors. BSD-2-Clause, see LICENSE.
 *
 * asgi_status: the server's library counters (every worker's, see
 * ngx_http_asgi_fleet.c) and the apps' states, as text, JSON or
 * Prometheus's text format; and the $asgi_outcome and $asgi_app_time
 * variables for the access log.
 */


#include "ngx_http_asgi_module.h"


/* an app's state message, as the library keeps it */
#define NGX_HTTP_ASGI_STATE_MAX  1024


static void ngx_http_asgi_status_text(ngx_buf_t *b, ngx_http_asgi_fleet_t *f,
    ngx_http_asgi_main_conf_t *amcf);
static void ngx_http_asgi_status_json(ngx_buf_t *b, ngx_http_asgi_fleet_t *f,
    ngx_http_asgi_main_conf_t *amcf);
static u_char *ngx_http_asgi_json_counters(u_char *p, u_char *end,
    asgicore_counters *c);
static void ngx_http_asgi_status_prometheus(ngx_buf_t *b,
    ngx_http_asgi_fleet_t *f, ngx_http_asgi_main_conf_t *amcf);
static u_char *ngx_http_asgi_prometheus_label(u_char *p, ngx_str_t *value);
static ngx_uint_t ngx_http_asgi_workers_in(ngx_http_asgi_fleet_t *f,
    ngx_uint_t app, ngx_uint_t state);
static ngx_uint_t ngx_http_asgi_named_before(ngx_http_asgi_app_t **apps,
    ngx_uint_t i);
static ngx_str_t *ngx_http_asgi_app_name(ngx_http_asgi_app_t *app);
static ngx_int_t ngx_http_asgi_outcome_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_asgi_app_time_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


static ngx_http_variable_t  ngx_http_asgi_vars[] = {

    { ngx_string("asgi_outcome"), NULL, ngx_http_asgi_outcome_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("asgi_app_time"), NULL, ngx_http_asgi_app_time_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


/* indexed by NGX_HTTP_ASGI_APP_* */
static const char  *ngx_http_asgi_app_states[] = {
    "unknown", "loading", "ready", "failed"
};


/* indexed by asgicore_disconnect_reason: label values, then text */
static const char  *ngx_http_asgi_reasons[] = {
    "", "closed", "reset", "half_closed", "stream_reset", "connection_lost",
    "write_error", "timeout", "server"
};


ngx_int_t
ngx_http_asgi_status_handler(ngx_http_request_t *r)
{
    size_t                      len;
    ngx_int_t                   rc;
    ngx_str_t                   format;
    ngx_buf_t                  *b;
    ngx_uint_t                  i;
    ngx_chain_t                 out;
    ngx_http_asgi_fleet_t       f;
    ngx_http_asgi_app_t       **apps;
    ngx_http_asgi_main_conf_t  *amcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_http_asgi_worker == NULL) {
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    rc = ngx_http_asgi_fleet_read(r->pool, &f);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_DECLINED) {
        /* no zone (a worker without a slot): this worker alone */
        f.workers = NULL;
        f.nworkers = 0;

        if (asgicore_ctx_counters(ngx_http_asgi_worker->ctx, &f.totals)
            != ASGICORE_OK)
        {
            return NGX_HTTP_SERVICE_UNAVAILABLE;
        }
    }

    if (ngx_http_arg(r, (u_char *) "format", 6, &format) != NGX_OK) {
        ngx_str_null(&format);
    }

    amcf = ngx_http_get_module_main_conf(r, ngx_http_asgi_module);
    apps = amcf->apps.elts;

    /* each app: its message escaped at worst 6x, its name at worst 6x
     * once or 2x in four Prometheus samples; each worker: its counters */
    len = 4096 + f.nworkers * 1024;

    for (i = 0; i < amcf->apps.nelts; i++) {
        len += 1024 + 8 * ngx_http_asgi_app_name(apps[i])->len
               + 6 * NGX_HTTP_ASGI_STATE_MAX;
    }

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.status = NGX_HTTP_OK;

    if (format.len == 4 && ngx_strncasecmp(format.data, (u_char *) "json", 4)
                           == 0)
    {
        ngx_str_set(&r->headers_out.content_type, "application/json");
        ngx_http_asgi_status_json(b, &f, amcf);

    } else if (format.len == 10
               && ngx_strncasecmp(format.data, (u_char *) "prometheus", 10)
                  == 0)
    {
        ngx_str_set(&r->headers_out.content_type,
                    "text/plain; version=0.0.4; charset=utf-8");
        ngx_http_asgi_status_prometheus(b, &f, amcf);

    } else if (format.len == 0
               || (format.len == 4
                   && ngx_strncasecmp(format.data, (u_char *) "text", 4)
                      == 0))
    {
        ngx_str_set(&r->headers_out.content_type, "text/plain");
        ngx_http_asgi_status_text(b, &f, amcf);

    } else {
        /* a scraper with a typo gets an error, not another format */
        r->headers_out.status = NGX_HTTP_BAD_REQUEST;
        ngx_str_set(&r->headers_out.content_type, "text/plain");
        b->last = ngx_slprintf(b->last, b->end, "asgi_status: unknown "
                               "format; give format=text, format=json or "
                               "format=prometheus\n");
    }

    r->headers_out.content_length_n = b->last - b->pos;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


static void
ngx_http_asgi_status_text(ngx_buf_t *b, ngx_http_asgi_fleet_t *f,
    ngx_http_asgi_main_conf_t *amcf)
{
    u_char                         message[NGX_HTTP_ASGI_STATE_MAX];
    ngx_uint_t                     i, state;
    asgicore_counters             *c = &f->totals;
    ngx_http_asgi_app_t          **apps;
    ngx_http_asgi_fleet_worker_t  *w;

    b->last = ngx_slprintf(b->last, b->end,
                "workers: %ui\n"
                "live scopes: %uL\n"
                "opened: %uL\n"
                "completed: %uL\n"
                "disconnected: %uL\n"
                "cancelled: %uL\n"
                "app errors: %uL\n"
                "not dispatched: %uL\n"
                "running apps: %uL\n"
                "abandoned: %uL\n"
                "clients left:",
                f->nworkers, c->live, c->opened, c->completed,
                c->disconnected, c->cancelled, c->app_errors,
                c->not_dispatched, c->running_apps, c->abandoned);

    for (i = 1; i < ASGICORE_DISCONNECT_REASONS; i++) {
        b->last = ngx_slprintf(b->last, b->end, "%s %s %uL",
                               i == 1 ? "" : ",", ngx_http_asgi_reasons[i],
                               c->disconnects[i]);
    }

    *b->last++ = '\n';

    apps = amcf->apps.elts;

    for (i = 0; i < amcf->apps.nelts; i++) {
        state = ngx_http_asgi_app_state(apps[i], message, sizeof(message));
        b->last = ngx_slprintf(b->last, b->end, "app %V: %s%s%s\n",
                               ngx_http_asgi_app_name(apps[i]),
                               ngx_http_asgi_app_states[state],
                               message[0] ? ": " : "", message);
    }

    for (w = f->workers; w < f->workers + f->nworkers; w++) {
        c = &w->counters;
        b->last = ngx_slprintf(b->last, b->end,
                    "worker %P%s: live %uL, opened %uL, completed %uL, "
                    "disconnected %uL, cancelled %uL, app errors %uL, "
                    "running apps %uL\n",
                    w->pid, w->current ? "" : " (exiting)", c->live,
                    c->opened, c->completed, c->disconnected, c->cancelled,
                    c->app_errors, c->running_apps);
    }

    b->last = ngx_slprintf(b->last, b->end, "answered by worker %P\n",
                           ngx_pid);
}


/* {"pid": the answering worker, the server's counters, "disconnects",
 *  "apps": each with this worker's state and the workers in each state,
 *  "workers": each worker's counters} */

static void
ngx_http_asgi_status_json(ngx_buf_t *b, ngx_http_asgi_fleet_t *f,
    ngx_http_asgi_main_conf_t *amcf)
{
    u_char                         message[NGX_HTTP_ASGI_STATE_MAX];
    ngx_str_t                     *name;
    ngx_uint_t                     i, s, state;
    ngx_http_asgi_app_t          **apps;
    ngx_http_asgi_fleet_worker_t  *w;

    b->last = ngx_slprintf(b->last, b->end, "{\"pid\":%P,", ngx_pid);
    b->last = ngx_http_asgi_json_counters(b->last, b->end, &f->totals);
    b->last = ngx_slprintf(b->last, b->end, ",\"disconnects\":{");

    for (i = 1; i < ASGICORE_DISCONNECT_REASONS; i++) {
        b->last = ngx_slprintf(b->last, b->end, "%s\"%s\":%uL",
                               i == 1 ? "" : ",", ngx_http_asgi_reasons[i],
                               f->totals.disconnects[i]);
    }

    b->last = ngx_slprintf(b->last, b->end, "},\"apps\":[");

    apps = amcf->apps.elts;

    for (i = 0; i < amcf->apps.nelts; i++) {
        state = ngx_http_asgi_app_state(apps[i], message, sizeof(message));
        name = ngx_http_asgi_app_name(apps[i]);

        b->last = ngx_slprintf(b->last, b->end, "%s{\"app\":\"",
                               i ? "," : "");
        b->last = (u_char *) ngx_escape_json(b->last, name->data, name->len);
        b->last = ngx_slprintf(b->last, b->end,
                               "\",\"state\":\"%s\",\"message\":\"",
                               ngx_http_asgi_app_states[state]);
        b->last = (u_char *) ngx_escape_json(b->last, message,
                                             ngx_strlen(message));
        b->last = ngx_slprintf(b->last, b->end, "\"");

        if (i < NGX_HTTP_ASGI_FLEET_APPS) {
            b->last = ngx_slprintf(b->last, b->end, ",\"workers\":{");

            for (s = NGX_HTTP_ASGI_APP_LOADING;
                 s <= NGX_HTTP_ASGI_APP_FAILED;
                 s++)
            {
                b->last = ngx_slprintf(b->last, b->end, "%s\"%s\":%ui",
                                   s == NGX_HTTP_ASGI_APP_LOADING ? "" : ",",
                                   ngx_http_asgi_app_states[s],
                                   ngx_http_asgi_workers_in(f, i, s));
            }

            b->last = ngx_slprintf(b->last, b->end, "}");
        }

        b->last = ngx_slprintf(b->last, b->end, "}");
    }

    b->last = ngx_slprintf(b->last, b->end, "],\"workers\":[");

    for (w = f->workers; w < f->workers + f->nworkers; w++) {
        b->last = ngx_slprintf(b->last, b->end,
                               "%s{\"pid\":%P,\"current\":%s,",
                               w == f->workers ? "" : ",", w->pid,
                               w->current ? "true" : "false");
        b->last = ngx_http_asgi_json_counters(b->last, b->end, &w->counters);
        b->last = ngx_slprintf(b->last, b->end, "}");
    }

    b->last = ngx_slprintf(b->last, b->end, "]}\n");
}


static u_char *
ngx_http_asgi_json_counters(u_char *p, u_char *end, asgicore_counters *c)
{
    return ngx_slprintf(p, end,
                "\"live\":%uL,\"opened\":%uL,"
                "\"completed\":%uL,\"disconnected\":%uL,"
                "\"cancelled\":%uL,\"app_errors\":%uL,"
                "\"not_dispatched\":%uL,\"running_apps\":%uL,"
                "\"abandoned\":%uL",
                c->live, c->opened, c->completed, c->disconnected,
                c->cancelled, c->app_errors, c->not_dispatched,
                c->running_apps, c->abandoned);
}


/* The Prometheus text exposition format (version 0.0.4): the server's
 * figures in its conventions, one HELP and TYPE line before each family. */

static void
ngx_http_asgi_status_prometheus(ngx_buf_t *b, ngx_http_asgi_fleet_t *f,
    ngx_http_asgi_main_conf_t *amcf)
{
    ngx_uint_t             i, s;
    asgicore_counters     *c = &f->totals;
    ngx_http_asgi_app_t  **apps;

    b->last = ngx_slprintf(b->last, b->end,
        "# HELP asgi_requests_total Requests that ended, by outcome.\n"
        "# TYPE asgi_requests_total counter\n"
        "asgi_requests_total{outcome=\"complete\"} %uL\n"
        "asgi_requests_total{outcome=\"client_disconnected\"} %uL\n"
        "asgi_requests_total{outcome=\"cancelled_after_grace\"} %uL\n"
        "asgi_requests_total{outcome=\"app_error\"} %uL\n"
        "# HELP asgi_opened_total Requests handed to an app.\n"
        "# TYPE asgi_opened_total counter\n"
        "asgi_opened_total %uL\n"
        "# HELP asgi_cancels_total Apps cancelled after their client left "
        "and the grace period ended.\n"
        "# TYPE asgi_cancels_total counter\n"
        "asgi_cancels_total %uL\n"
        "# HELP asgi_not_dispatched_total Requests whose client left "
        "before their app started.\n"
        "# TYPE asgi_not_dispatched_total counter\n"
        "asgi_not_dispatched_total %uL\n"
        "# HELP asgi_abandoned_total Requests the server ended while "
        "their app still ran.\n"
        "# TYPE asgi_abandoned_total counter\n"
        "asgi_abandoned_total %uL\n"
        "# HELP asgi_disconnects_total Requests whose client left, by how "
        "it left.\n"
        "# TYPE asgi_disconnects_total counter\n",
        c->completed, c->disconnected, c->cancelled, c->app_errors,
        c->opened, c->cancelled, c->not_dispatched, c->abandoned);

    for (i = 1; i < ASGICORE_DISCONNECT_REASONS; i++) {
        b->last = ngx_slprintf(b->last, b->end,
                               "asgi_disconnects_total{reason=\"%s\"} %uL\n",
                               ngx_http_asgi_reasons[i], c->disconnects[i]);
    }

    b->last = ngx_slprintf(b->last, b->end,
        "# HELP asgi_live_scopes Requests not yet released.\n"
        "# TYPE asgi_live_scopes gauge\n"
        "asgi_live_scopes %uL\n"
        "# HELP asgi_running_apps App calls that have not finished.\n"
        "# TYPE asgi_running_apps gauge\n"
        "asgi_running_apps %uL\n"
        "# HELP asgi_workers Worker processes reporting.\n"
        "# TYPE asgi_workers gauge\n"
        "asgi_workers %ui\n",
        c->live, c->running_apps, f->nworkers);

    if (amcf->apps.nelts == 0) {
        return;
    }

    b->last = ngx_slprintf(b->last, b->end,
        "# HELP asgi_app_workers Workers of the running configuration in "
        "each state, by app.\n"
        "# TYPE asgi_app_workers gauge\n");

    apps = amcf->apps.elts;

    /* one series per name (an app served in two locations is one), for
     * the apps whose states the workers share */

    for (i = 0; i < ngx_min(amcf->apps.nelts, NGX_HTTP_ASGI_FLEET_APPS); i++)
    {
        if (ngx_http_asgi_named_before(apps, i)) {
            continue;
        }

        for (s = NGX_HTTP_ASGI_APP_LOADING; s <= NGX_HTTP_ASGI_APP_FAILED;
             s++)
        {
            b->last = ngx_slprintf(b->last, b->end, "asgi_app_workers{app=");
            b->last = ngx_http_asgi_prometheus_label(b->last,
                                               ngx_http_asgi_app_name(apps[i]));
            b->last = ngx_slprintf(b->last, b->end, ",state=\"%s\"} %ui\n",
                                   ngx_http_asgi_app_states[s],
                                   ngx_http_asgi_workers_in(f, i, s));
        }
    }

    b->last = ngx_slprintf(b->last, b->end,
        "# HELP asgi_app_state 1 for the state each app is in, in the "
        "worker that answered.\n"
        "# TYPE asgi_app_state gauge\n");

    for (i = 0; i < amcf->apps.nelts; i++) {
        if (ngx_http_asgi_named_before(apps, i)) {
            continue;
        }

        b->last = ngx_slprintf(b->last, b->end, "asgi_app_state{app=");
        b->last = ngx_http_asgi_prometheus_label(b->last,
                                               ngx_http_asgi_app_name(apps[i]));
        b->last = ngx_slprintf(b->last, b->end, ",state=\"%s\"} 1\n",
                ngx_http_asgi_app_states[ngx_http_asgi_app_state(apps[i],
                                                                 NULL, 0)]);
    }
}


/* a quoted label value: backslash, quote and line feed escaped (the
 * buffer has room for twice the value) */

static u_char *
ngx_http_asgi_prometheus_label(u_char *p, ngx_str_t *value)
{
    u_char  *v;

    *p++ = '"';

    for (v = value->data; v < value->data + value->len; v++) {
        if (*v == '\\' || *v == '"') {
            *p++ = '\\';
            *p++ = *v;

        } else if (*v == '\n') {
            *p++ = '\\';
            *p++ = 'n';

        } else {
            *p++ = *v;
        }
    }

    *p++ = '"';

    return p;
}


/* workers of the running configuration in which app number `app` is in
 * `state`; the answering worker alone when the zone is not there */

static ngx_uint_t
ngx_http_asgi_workers_in(ngx_http_asgi_fleet_t *f, ngx_uint_t app,
    ngx_uint_t state)
{
    ngx_uint_t                     n;
    ngx_http_asgi_fleet_worker_t  *w;

    if (app >= NGX_HTTP_ASGI_FLEET_APPS) {
        return 0;
    }

    n = 0;

    for (w = f->workers; w < f->workers + f->nworkers; w++) {
        if (w->current && w->app_state[app] == state) {
            n++;
        }
    }

    return n;
}


/* whether an app before apps[i] has its name */

static ngx_uint_t
ngx_http_asgi_named_before(ngx_http_asgi_app_t **apps, ngx_uint_t i)
{
    ngx_str_t   *name, *other;
    ngx_uint_t   j;

    name = ngx_http_asgi_app_name(apps[i]);

    for (j = 0; j < i; j++) {
        other = ngx_http_asgi_app_name(apps[j]);

        if (other->len == name->len
            && ngx_strncmp(other->data, name->data, name->len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


/* P8: how the app is known in the configuration */

static ngx_str_t *
ngx_http_asgi_app_name(ngx_http_asgi_app_t *app)
{
    return app->python_app.len ? &app->python_app : &app->path;
}


/* NGX_HTTP_ASGI_APP_LOADING, _READY or _FAILED, with the app's message
 * when `message` is given; failed when it did not start in this worker. */

ngx_uint_t
ngx_http_asgi_app_state(ngx_http_asgi_app_t *app, u_char *message,
    size_t size)
{
    if (message) {
        message[0] = '\0';
    }

    if (app->app == NULL) {
        if (message) {
            ngx_cpystrn(message, (u_char *) "it failed to start in this "
                        "worker (see the error log)", size);
        }

        return NGX_HTTP_ASGI_APP_FAILED;
    }

    switch (asgicore_app_get_state(app->app, (char *) message, size)) {
    case ASGICORE_APP_READY:
        return NGX_HTTP_ASGI_APP_READY;
    case ASGICORE_APP_LOADING:
        return NGX_HTTP_ASGI_APP_LOADING;
    default:
        return NGX_HTTP_ASGI_APP_FAILED;
    }
}


ngx_int_t
ngx_http_asgi_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_asgi_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_asgi_outcome_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    const char           *name;
    ngx_http_asgi_req_t  *req;

    req = ngx_http_get_module_ctx(r, ngx_http_asgi_module);

    if (req == NULL || !req->done) {
        v->not_found = 1;
        return NGX_OK;
    }

    name = asgicore_outcome_name(req->outcome);

    v->len = ngx_strlen(name);
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->data = (u_char *) name;

    return NGX_OK;
}


static ngx_int_t
ngx_http_asgi_app_time_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char               *p;
    ngx_msec_t            ms;
    ngx_http_asgi_req_t  *req;

    req = ngx_http_get_module_ctx(r, ngx_http_asgi_module);

    if (req == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, NGX_TIME_T_LEN + 4);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ms = req->done ? req->app_time : ngx_current_msec - req->start;

    v->len = ngx_sprintf(p, "%T.%03M", (time_t) ms / 1000, ms % 1000) - p;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->data = p;

    return NGX_OK;
}
