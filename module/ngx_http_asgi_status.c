
/*
 * Copyright (C) The asgicore authors. BSD-2-Clause, see LICENSE.
 *
 * asgi_status: this worker's library counters and its apps' states, as
 * text, JSON or Prometheus's text format; and the $asgi_outcome and
 * $asgi_app_time variables for the access log.
 */


#include "ngx_http_asgi_module.h"


/* an app's state message, as the library keeps it */
#define NGX_HTTP_ASGI_STATE_MAX  1024


static void ngx_http_asgi_status_text(ngx_buf_t *b, asgicore_counters *c,
    ngx_http_asgi_main_conf_t *amcf);
static void ngx_http_asgi_status_json(ngx_buf_t *b, asgicore_counters *c,
    ngx_http_asgi_main_conf_t *amcf);
static void ngx_http_asgi_status_prometheus(ngx_buf_t *b,
    asgicore_counters *c, ngx_http_asgi_main_conf_t *amcf);
static ngx_str_t *ngx_http_asgi_app_name(ngx_http_asgi_app_t *app);
static const char *ngx_http_asgi_app_state(ngx_http_asgi_app_t *app,
    u_char *message, size_t size);
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


ngx_int_t
ngx_http_asgi_status_handler(ngx_http_request_t *r)
{
    size_t                      len;
    ngx_int_t                   rc;
    ngx_str_t                   format;
    ngx_buf_t                  *b;
    ngx_uint_t                  i;
    ngx_chain_t                 out;
    asgicore_counters           c;
    ngx_http_asgi_app_t       **apps;
    ngx_http_asgi_main_conf_t  *amcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_http_asgi_worker == NULL
        || asgicore_ctx_counters(ngx_http_asgi_worker->ctx, &c)
           != ASGICORE_OK)
    {
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    if (ngx_http_arg(r, (u_char *) "format", 6, &format) != NGX_OK) {
        ngx_str_null(&format);
    }

    amcf = ngx_http_get_module_main_conf(r, ngx_http_asgi_module);
    apps = amcf->apps.elts;

    /* each app: its name and message, escaped at worst 6x, in any form */
    len = 2048;

    for (i = 0; i < amcf->apps.nelts; i++) {
        len += 256 + 6 * (ngx_http_asgi_app_name(apps[i])->len
                          + NGX_HTTP_ASGI_STATE_MAX);
    }

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (format.len == 4 && ngx_strncmp(format.data, "json", 4) == 0) {
        ngx_str_set(&r->headers_out.content_type, "application/json");
        ngx_http_asgi_status_json(b, &c, amcf);

    } else if (format.len == 10
               && ngx_strncmp(format.data, "prometheus", 10) == 0)
    {
        ngx_str_set(&r->headers_out.content_type,
                    "text/plain; version=0.0.4; charset=utf-8");
        ngx_http_asgi_status_prometheus(b, &c, amcf);

    } else {
        ngx_str_set(&r->headers_out.content_type, "text/plain");
        ngx_http_asgi_status_text(b, &c, amcf);
    }

    r->headers_out.status = NGX_HTTP_OK;
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
ngx_http_asgi_status_text(ngx_buf_t *b, asgicore_counters *c,
    ngx_http_asgi_main_conf_t *amcf)
{
    u_char                 message[NGX_HTTP_ASGI_STATE_MAX];
    ngx_uint_t             i;
    const char            *state;
    ngx_http_asgi_app_t  **apps;

    b->last = ngx_slprintf(b->last, b->end,
                "worker pid: %P\n"
                "live scopes: %uL\n"
                "opened: %uL\n"
                "completed: %uL\n"
                "disconnected: %uL\n"
                "cancelled: %uL\n"
                "app errors: %uL\n"
                "not dispatched: %uL\n"
                "running apps: %uL\n"
                "abandoned: %uL\n",
                ngx_pid, c->live, c->opened, c->completed,
                c->disconnected, c->cancelled, c->app_errors,
                c->not_dispatched, c->running_apps, c->abandoned);

    apps = amcf->apps.elts;

    for (i = 0; i < amcf->apps.nelts; i++) {
        state = ngx_http_asgi_app_state(apps[i], message, sizeof(message));
        b->last = ngx_slprintf(b->last, b->end, "app %V: %s%s%s\n",
                               ngx_http_asgi_app_name(apps[i]), state,
                               message[0] ? ": " : "", message);
    }
}


static void
ngx_http_asgi_status_json(ngx_buf_t *b, asgicore_counters *c,
    ngx_http_asgi_main_conf_t *amcf)
{
    u_char                 message[NGX_HTTP_ASGI_STATE_MAX];
    ngx_str_t             *name;
    ngx_uint_t             i;
    const char            *state;
    ngx_http_asgi_app_t  **apps;

    b->last = ngx_slprintf(b->last, b->end,
                "{\"pid\":%P,\"live\":%uL,\"opened\":%uL,"
                "\"completed\":%uL,\"disconnected\":%uL,"
                "\"cancelled\":%uL,\"app_errors\":%uL,"
                "\"not_dispatched\":%uL,\"running_apps\":%uL,"
                "\"abandoned\":%uL,\"apps\":[",
                ngx_pid, c->live, c->opened, c->completed,
                c->disconnected, c->cancelled, c->app_errors,
                c->not_dispatched, c->running_apps, c->abandoned);

    apps = amcf->apps.elts;

    for (i = 0; i < amcf->apps.nelts; i++) {
        state = ngx_http_asgi_app_state(apps[i], message, sizeof(message));
        name = ngx_http_asgi_app_name(apps[i]);

        b->last = ngx_slprintf(b->last, b->end, "%s{\"app\":\"",
                               i ? "," : "");
        b->last = (u_char *) ngx_escape_json(b->last, name->data, name->len);
        b->last = ngx_slprintf(b->last, b->end,
                               "\",\"state\":\"%s\",\"message\":\"", state);
        b->last = (u_char *) ngx_escape_json(b->last, message,
                                             ngx_strlen(message));
        b->last = ngx_slprintf(b->last, b->end, "\"}");
    }

    b->last = ngx_slprintf(b->last, b->end, "]}\n");
}


/* The Prometheus text exposition format (version 0.0.4): metric names in
 * its conventions, one HELP and TYPE line before each family. */

static void
ngx_http_asgi_status_prometheus(ngx_buf_t *b, asgicore_counters *c,
    ngx_http_asgi_main_conf_t *amcf)
{
    u_char                 message[NGX_HTTP_ASGI_STATE_MAX];
    u_char                *p;
    ngx_str_t             *name;
    ngx_uint_t             i;
    const char            *state;
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
        "# HELP asgi_not_dispatched_total Requests whose client left "
        "before their app started.\n"
        "# TYPE asgi_not_dispatched_total counter\n"
        "asgi_not_dispatched_total %uL\n"
        "# HELP asgi_abandoned_total Requests the server ended while "
        "their app still ran.\n"
        "# TYPE asgi_abandoned_total counter\n"
        "asgi_abandoned_total %uL\n"
        "# HELP asgi_live_scopes Requests not yet released.\n"
        "# TYPE asgi_live_scopes gauge\n"
        "asgi_live_scopes %uL\n"
        "# HELP asgi_running_apps App calls that have not finished.\n"
        "# TYPE asgi_running_apps gauge\n"
        "asgi_running_apps %uL\n",
        c->completed, c->disconnected, c->cancelled, c->app_errors,
        c->opened, c->not_dispatched, c->abandoned, c->live,
        c->running_apps);

    if (amcf->apps.nelts == 0) {
        return;
    }

    b->last = ngx_slprintf(b->last, b->end,
        "# HELP asgi_app_state 1 for the state each app is in.\n"
        "# TYPE asgi_app_state gauge\n");

    apps = amcf->apps.elts;

    for (i = 0; i < amcf->apps.nelts; i++) {
        state = ngx_http_asgi_app_state(apps[i], message, sizeof(message));
        name = ngx_http_asgi_app_name(apps[i]);

        b->last = ngx_slprintf(b->last, b->end, "asgi_app_state{app=\"");

        /* a label value escapes backslash, quote and line feed */

        for (p = name->data; p < name->data + name->len; p++) {
            if (*p == '\\' || *p == '"') {
                *b->last++ = '\\';
                *b->last++ = *p;

            } else if (*p == '\n') {
                *b->last++ = '\\';
                *b->last++ = 'n';

            } else {
                *b->last++ = *p;
            }
        }

        b->last = ngx_slprintf(b->last, b->end, "\",state=\"%s\"} 1\n",
                               state);
    }
}


/* P8: how the app is known in the configuration */

static ngx_str_t *
ngx_http_asgi_app_name(ngx_http_asgi_app_t *app)
{
    return app->python_app.len ? &app->python_app : &app->path;
}


/* "loading", "ready" or "failed", with the app's message; "not running"
 * when it failed to start in this worker. */

static const char *
ngx_http_asgi_app_state(ngx_http_asgi_app_t *app, u_char *message,
    size_t size)
{
    message[0] = '\0';

    if (app->app == NULL) {
        ngx_cpystrn(message, (u_char *) "it failed to start in this worker "
                    "(see the error log)", size);
        return "failed";
    }

    switch (asgicore_app_get_state(app->app, (char *) message, size)) {
    case ASGICORE_APP_READY:
        return "ready";
    case ASGICORE_APP_LOADING:
        return "loading";
    default:
        return "failed";
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
