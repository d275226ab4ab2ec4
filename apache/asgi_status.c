/*
 * Copyright (c) 2026 The asgicore authors. BSD-2-Clause, see LICENSE.
 *
 * ASGIStatus: the server's library counters (every child's, see
 * asgi_fleet.c) and the apps' states, as text, JSON or Prometheus's text
 * format. The JSON and Prometheus names are the nginx module's, so one
 * dashboard reads both servers; a "worker" there is an Apache child.
 */

#include "mod_asgi.h"

#include <strings.h>
#include <unistd.h>

#include "http_protocol.h"

static const char *reasons[] = {"",           "closed",
                                 "reset",      "half_closed",
                                 "stream_reset", "connection_lost",
                                 "write_error", "timeout",
                                 "server"};

static const char *state_names[] = {"unknown", "loading", "ready", "failed"};

#define U64 "%" APR_UINT64_T_FMT

int asgi_app_state(const asgi_app *a, char *message, size_t size)
{
    if (message && size)
        message[0] = '\0';
    if (!a->app)
        return ASGI_STATE_FAILED; /* it could not be made in this child */
    switch (asgicore_app_get_state(a->app, message, size)) {
    case ASGICORE_APP_READY: return ASGI_STATE_READY;
    case ASGICORE_APP_LOADING: return ASGI_STATE_LOADING;
    default: return ASGI_STATE_FAILED;
    }
}

/* A JSON string's inside: a failed app's message holds its traceback. */
static const char *json_text(request_rec *r, const char *s)
{
    char *out = apr_palloc(r->pool, 6 * strlen(s) + 1), *p = out;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            *p++ = '\\';
            *p++ = (char)c;
        } else if (c < 0x20) {
            p += sprintf(p, "\\u%04x", c);
        } else {
            *p++ = (char)c;
        }
    }
    *p = '\0';
    return out;
}

/* A Prometheus label value, quoted. */
static const char *label(request_rec *r, const char *s)
{
    char *out = apr_palloc(r->pool, 2 * strlen(s) + 3), *p = out;
    *p++ = '"';
    for (; *s; s++) {
        if (*s == '\\' || *s == '"') {
            *p++ = '\\';
            *p++ = *s;
        } else if (*s == '\n') {
            *p++ = '\\';
            *p++ = 'n';
        } else {
            *p++ = *s;
        }
    }
    *p++ = '"';
    *p = '\0';
    return out;
}

/* Children of the running configuration with app number `i` in `state`. */
static int children_in(const asgi_fleet_view *v, int i, int state)
{
    int n = 0;
    if (i >= ASGI_FLEET_APPS)
        return 0;
    for (int k = 0; k < v->nchildren; k++)
        n += v->children[k].current && v->children[k].app_state[i] == state;
    return n;
}

/* Whether an app before `app` has its name: one series per name. */
static int named_before(const asgi_app *app)
{
    for (const asgi_app *a = asgi_apps_list(); a != app; a = a->next)
        if (strcmp(a->name, app->name) == 0)
            return 1;
    return 0;
}

static void json_counters(request_rec *r, const asgicore_counters *c)
{
    ap_rprintf(r,
               "\"live\":" U64 ",\"opened\":" U64 ",\"completed\":" U64
               ",\"disconnected\":" U64 ",\"cancelled\":" U64
               ",\"app_errors\":" U64 ",\"not_dispatched\":" U64
               ",\"running_apps\":" U64 ",\"abandoned\":" U64,
               c->live, c->opened, c->completed, c->disconnected,
               c->cancelled, c->app_errors, c->not_dispatched,
               c->running_apps, c->abandoned);
}

static void status_json(request_rec *r, const asgi_fleet_view *v)
{
    int i = 0;
    ap_rprintf(r, "{\"pid\":%ld,", (long)getpid());
    json_counters(r, &v->totals);
    ap_rputs(",\"disconnects\":{", r);
    for (int k = 1; k < ASGICORE_DISCONNECT_REASONS; k++)
        ap_rprintf(r, "%s\"%s\":" U64, k == 1 ? "" : ",", reasons[k],
                   v->totals.disconnects[k]);
    ap_rputs("},\"apps\":[", r);
    for (const asgi_app *a = asgi_apps_list(); a; a = a->next, i++) {
        char message[1024];
        int state = asgi_app_state(a, message, sizeof message);
        ap_rprintf(r, "%s{\"app\":\"%s\",\"state\":\"%s\",\"message\":\"%s\"",
                   i ? "," : "", json_text(r, a->name), state_names[state],
                   json_text(r, message));
        if (i < ASGI_FLEET_APPS) {
            ap_rputs(",\"workers\":{", r);
            for (int s = ASGI_STATE_LOADING; s <= ASGI_STATE_FAILED; s++)
                ap_rprintf(r, "%s\"%s\":%d", s == ASGI_STATE_LOADING ? "" : ",",
                           state_names[s], children_in(v, i, s));
            ap_rputs("}", r);
        }
        ap_rputs("}", r);
    }
    ap_rputs("],\"workers\":[", r);
    for (int k = 0; k < v->nchildren; k++) {
        ap_rprintf(r, "%s{\"pid\":%d,\"current\":%s,", k ? "," : "",
                   v->children[k].pid,
                   v->children[k].current ? "true" : "false");
        json_counters(r, &v->children[k].counters);
        ap_rputs("}", r);
    }
    ap_rputs("]}\n", r);
}

static void status_text(request_rec *r, const asgi_fleet_view *v)
{
    const asgicore_counters *c = &v->totals;
    ap_rprintf(r,
               "children: %d\nlive scopes: " U64 "\nopened: " U64
               "\ncompleted: " U64 "\ndisconnected: " U64
               "\ncancelled: " U64 "\napp errors: " U64
               "\nnot dispatched: " U64 "\nrunning apps: " U64
               "\nabandoned: " U64 "\nclients left:",
               v->nchildren, c->live, c->opened, c->completed,
               c->disconnected, c->cancelled, c->app_errors,
               c->not_dispatched, c->running_apps, c->abandoned);
    for (int k = 1; k < ASGICORE_DISCONNECT_REASONS; k++)
        ap_rprintf(r, "%s %s " U64, k == 1 ? "" : ",", reasons[k],
                   c->disconnects[k]);
    ap_rputs("\n", r);
    for (const asgi_app *a = asgi_apps_list(); a; a = a->next) {
        char message[1024];
        int state = asgi_app_state(a, message, sizeof message);
        ap_rprintf(r, "app %s: %s%s%s\n", a->name, state_names[state],
                   message[0] ? ": " : "", message);
    }
    for (int k = 0; k < v->nchildren; k++) {
        const asgicore_counters *w = &v->children[k].counters;
        ap_rprintf(r,
                   "child %d%s: live " U64 ", opened " U64
                   ", completed " U64 ", disconnected " U64
                   ", cancelled " U64 ", app errors " U64
                   ", running apps " U64 "\n",
                   v->children[k].pid,
                   v->children[k].current ? "" : " (exiting)", w->live,
                   w->opened, w->completed, w->disconnected, w->cancelled,
                   w->app_errors, w->running_apps);
    }
    ap_rprintf(r, "answered by child %ld\n", (long)getpid());
}

/* The Prometheus text exposition format (version 0.0.4). */
static void status_prometheus(request_rec *r, const asgi_fleet_view *v)
{
    const asgicore_counters *c = &v->totals;
    int i = 0;
    ap_rprintf(r,
        "# HELP asgi_requests_total Requests that ended, by outcome.\n"
        "# TYPE asgi_requests_total counter\n"
        "asgi_requests_total{outcome=\"complete\"} " U64 "\n"
        "asgi_requests_total{outcome=\"client_disconnected\"} " U64 "\n"
        "asgi_requests_total{outcome=\"cancelled_after_grace\"} " U64 "\n"
        "asgi_requests_total{outcome=\"app_error\"} " U64 "\n"
        "# HELP asgi_opened_total Requests handed to an app.\n"
        "# TYPE asgi_opened_total counter\n"
        "asgi_opened_total " U64 "\n"
        "# HELP asgi_cancels_total Apps cancelled after their client left "
        "and the grace period ended.\n"
        "# TYPE asgi_cancels_total counter\n"
        "asgi_cancels_total " U64 "\n"
        "# HELP asgi_not_dispatched_total Requests whose client left "
        "before their app started.\n"
        "# TYPE asgi_not_dispatched_total counter\n"
        "asgi_not_dispatched_total " U64 "\n"
        "# HELP asgi_abandoned_total Requests the server ended while "
        "their app still ran.\n"
        "# TYPE asgi_abandoned_total counter\n"
        "asgi_abandoned_total " U64 "\n"
        "# HELP asgi_disconnects_total Requests whose client left, by how "
        "it left.\n"
        "# TYPE asgi_disconnects_total counter\n",
        c->completed, c->disconnected, c->cancelled, c->app_errors,
        c->opened, c->cancelled, c->not_dispatched, c->abandoned);
    for (int k = 1; k < ASGICORE_DISCONNECT_REASONS; k++)
        ap_rprintf(r, "asgi_disconnects_total{reason=\"%s\"} " U64 "\n",
                   reasons[k], c->disconnects[k]);
    ap_rprintf(r,
        "# HELP asgi_live_scopes Requests not yet released.\n"
        "# TYPE asgi_live_scopes gauge\n"
        "asgi_live_scopes " U64 "\n"
        "# HELP asgi_running_apps App calls that have not finished.\n"
        "# TYPE asgi_running_apps gauge\n"
        "asgi_running_apps " U64 "\n"
        "# HELP asgi_workers Child processes reporting.\n"
        "# TYPE asgi_workers gauge\n"
        "asgi_workers %d\n",
        c->live, c->running_apps, v->nchildren);
    if (!asgi_apps_list())
        return;
    ap_rputs("# HELP asgi_app_workers Children of the running configuration "
             "in each state, by app.\n"
             "# TYPE asgi_app_workers gauge\n", r);
    for (const asgi_app *a = asgi_apps_list(); a && i < ASGI_FLEET_APPS;
         a = a->next, i++) {
        if (named_before(a))
            continue;
        for (int s = ASGI_STATE_LOADING; s <= ASGI_STATE_FAILED; s++)
            ap_rprintf(r, "asgi_app_workers{app=%s,state=\"%s\"} %d\n",
                       label(r, a->name), state_names[s],
                       children_in(v, i, s));
    }
    ap_rputs("# HELP asgi_app_state 1 for the state each app is in, in the "
             "child that answered.\n"
             "# TYPE asgi_app_state gauge\n", r);
    for (const asgi_app *a = asgi_apps_list(); a; a = a->next) {
        if (named_before(a))
            continue;
        ap_rprintf(r, "asgi_app_state{app=%s,state=\"%s\"} 1\n",
                   label(r, a->name), state_names[asgi_app_state(a, NULL, 0)]);
    }
}

/* format=... of the query, "" when none. */
static const char *format_arg(request_rec *r)
{
    const char *q = r->args;
    while (q && *q) {
        if (strncmp(q, "format=", 7) == 0) {
            size_t len = strcspn(q + 7, "&");
            return apr_pstrmemdup(r->pool, q + 7, len);
        }
        q = strchr(q, '&');
        if (q)
            q++;
    }
    return "";
}

int asgi_status_handler(request_rec *r)
{
    asgi_fleet_view v;
    const char *format = format_arg(r);
    void (*show)(request_rec *, const asgi_fleet_view *);

    if (r->method_number != M_GET)
        return HTTP_METHOD_NOT_ALLOWED;
    if (!asgi_fleet_read(r->pool, &v)
        && asgi_host_counters(&v.totals) != ASGICORE_OK)
        memset(&v.totals, 0, sizeof v.totals); /* no app in this server */
    if (strcasecmp(format, "json") == 0) {
        ap_set_content_type(r, "application/json");
        show = status_json;
    } else if (strcasecmp(format, "prometheus") == 0) {
        ap_set_content_type(r, "text/plain; version=0.0.4; charset=utf-8");
        show = status_prometheus;
    } else if (!*format || strcasecmp(format, "text") == 0) {
        ap_set_content_type(r, "text/plain");
        show = status_text;
    } else {
        /* a scraper with a typo gets an error, not another format */
        r->status = HTTP_BAD_REQUEST;
        ap_set_content_type(r, "text/plain");
        ap_rputs("ASGIStatus: unknown format; give format=text, "
                 "format=json or format=prometheus\n", r);
        return OK;
    }
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    if (!r->header_only)
        show(r, &v);
    return OK;
}
