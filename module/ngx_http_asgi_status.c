
/*
 * Copyright (C) The asgicore authors. BSD-2-Clause, see LICENSE.
 *
 * asgi_status: this worker's library counters and its apps' states, as
 * text or JSON; and the $asgi_outcome and $asgi_app_time variables for
 * the access log.
 */


#include "ngx_http_asgi_module.h"


/* an app's state message, as the library keeps it */
#define NGX_HTTP_ASGI_STATE_MAX  1024


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
    size_t              len;
    ngx_int_t           rc;
    ngx_str_t           format;
    u_char                      message[NGX_HTTP_ASGI_STATE_MAX];
    ngx_buf_t                  *b;
    ngx_str_t                  *name;
    ngx_uint_t                  i, json;
    const char                 *state;
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

    json = ngx_http_arg(r, (u_char *) "format", 6, &format) == NGX_OK
           && format.len == 4
           && ngx_strncmp(format.data, "json", 4) == 0;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_asgi_module);
    apps = amcf->apps.elts;

    /* each app: its name and message, escaped for JSON at worst 6x */
    len = 512;

    for (i = 0; i < amcf->apps.nelts; i++) {
        len += 64 + 6 * (ngx_http_asgi_app_name(apps[i])->len
                         + NGX_HTTP_ASGI_STATE_MAX);
    }

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (json) {
        ngx_str_set(&r->headers_out.content_type, "application/json");
        b->last = ngx_slprintf(b->last, b->end,
                    "{\"pid\":%P,\"live\":%uL,\"opened\":%uL,"
                    "\"completed\":%uL,\"disconnected\":%uL,"
                    "\"cancelled\":%uL,\"app_errors\":%uL,"
                    "\"not_dispatched\":%uL,\"running_apps\":%uL,"
                    "\"abandoned\":%uL,\"apps\":[",
                    ngx_pid, c.live, c.opened, c.completed,
                    c.disconnected, c.cancelled, c.app_errors,
                    c.not_dispatched, c.running_apps, c.abandoned);

        for (i = 0; i < amcf->apps.nelts; i++) {
            state = ngx_http_asgi_app_state(apps[i], message,
                                            sizeof(message));
            name = ngx_http_asgi_app_name(apps[i]);

            b->last = ngx_slprintf(b->last, b->end, "%s{\"app\":\"",
                                   i ? "," : "");
            b->last = (u_char *) ngx_escape_json(b->last, name->data,
                                                 name->len);
            b->last = ngx_slprintf(b->last, b->end,
                                   "\",\"state\":\"%s\",\"message\":\"",
                                   state);
            b->last = (u_char *) ngx_escape_json(b->last, message,
                                                 ngx_strlen(message));
            b->last = ngx_slprintf(b->last, b->end, "\"}");
        }

        b->last = ngx_slprintf(b->last, b->end, "]}\n");

    } else {
        ngx_str_set(&r->headers_out.content_type, "text/plain");
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
                    ngx_pid, c.live, c.opened, c.completed,
                    c.disconnected, c.cancelled, c.app_errors,
                    c.not_dispatched, c.running_apps, c.abandoned);

        for (i = 0; i < amcf->apps.nelts; i++) {
            state = ngx_http_asgi_app_state(apps[i], message,
                                            sizeof(message));
            b->last = ngx_slprintf(b->last, b->end, "app %V: %s%s%s\n",
                                   ngx_http_asgi_app_name(apps[i]), state,
                                   message[0] ? ": " : "", message);
        }
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
