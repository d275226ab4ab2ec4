/*
 * Copyright (c) 2026 The asgicore authors. BSD-2-Clause, see LICENSE.
 *
 * ASGIStatus: the library's counters of the child that answers, as text
 * or (?format=json) JSON. Children do not share them yet.
 */

#include "mod_asgi.h"

#include <unistd.h>

#include "http_protocol.h"

static const char *reasons[] = {"",           "closed",
                                 "reset",      "half_closed",
                                 "stream_reset", "connection_lost",
                                 "write_error", "timeout",
                                 "server"};

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

/* The app's state name; its message into message[size]. */
static const char *app_state(const asgi_app *a, char *message, size_t size)
{
    int state = ASGICORE_APP_FAILED;
    message[0] = '\0';
    if (a->app)
        state = asgicore_app_get_state(a->app, message, size);
    return state == ASGICORE_APP_READY     ? "ready"
           : state == ASGICORE_APP_LOADING ? "loading"
                                           : "failed";
}

int asgi_status_handler(request_rec *r)
{
    asgicore_counters c;
    int json = r->args && strstr(r->args, "format=json") != NULL;

    if (r->method_number != M_GET)
        return HTTP_METHOD_NOT_ALLOWED;
    if (asgi_host_counters(&c) != ASGICORE_OK)
        memset(&c, 0, sizeof c);
    ap_set_content_type(r, json ? "application/json" : "text/plain");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    if (r->header_only)
        return OK;
    if (json) {
        ap_rprintf(r,
                   "{\"pid\":%ld,\"live\":%" APR_UINT64_T_FMT
                   ",\"opened\":%" APR_UINT64_T_FMT
                   ",\"completed\":%" APR_UINT64_T_FMT
                   ",\"disconnected\":%" APR_UINT64_T_FMT
                   ",\"cancelled\":%" APR_UINT64_T_FMT
                   ",\"app_errors\":%" APR_UINT64_T_FMT
                   ",\"not_dispatched\":%" APR_UINT64_T_FMT
                   ",\"running_apps\":%" APR_UINT64_T_FMT
                   ",\"abandoned\":%" APR_UINT64_T_FMT ",\"clients_left\":{",
                   (long)getpid(), c.live, c.opened, c.completed,
                   c.disconnected, c.cancelled, c.app_errors,
                   c.not_dispatched, c.running_apps, c.abandoned);
        for (int i = 1; i < ASGICORE_DISCONNECT_REASONS; i++)
            ap_rprintf(r, "%s\"%s\":%" APR_UINT64_T_FMT, i == 1 ? "" : ",",
                       reasons[i], c.disconnects[i]);
        ap_rputs("},\"apps\":[", r);
        for (const asgi_app *a = asgi_apps_list(); a; a = a->next) {
            char message[1024];
            const char *state = app_state(a, message, sizeof message);
            ap_rprintf(r, "%s{\"app\":\"%s\",\"state\":\"%s\",\"message\":\"%s\"}",
                       a == asgi_apps_list() ? "" : ",",
                       json_text(r, a->name), state, json_text(r, message));
        }
        ap_rputs("]}\n", r);
        return OK;
    }
    ap_rprintf(r,
               "child: %ld\nlive scopes: %" APR_UINT64_T_FMT
               "\nopened: %" APR_UINT64_T_FMT
               "\ncompleted: %" APR_UINT64_T_FMT
               "\ndisconnected: %" APR_UINT64_T_FMT
               "\ncancelled: %" APR_UINT64_T_FMT
               "\napp errors: %" APR_UINT64_T_FMT
               "\nnot dispatched: %" APR_UINT64_T_FMT
               "\nrunning apps: %" APR_UINT64_T_FMT
               "\nabandoned: %" APR_UINT64_T_FMT "\nclients left:",
               (long)getpid(), c.live, c.opened, c.completed, c.disconnected,
               c.cancelled, c.app_errors, c.not_dispatched, c.running_apps,
               c.abandoned);
    for (int i = 1; i < ASGICORE_DISCONNECT_REASONS; i++)
        ap_rprintf(r, "%s %s %" APR_UINT64_T_FMT, i == 1 ? "" : ",",
                   reasons[i], c.disconnects[i]);
    ap_rputs("\n", r);
    for (const asgi_app *a = asgi_apps_list(); a; a = a->next) {
        char message[1024];
        const char *state = app_state(a, message, sizeof message);
        ap_rprintf(r, "app %s: %s%s%s\n", a->name, state,
                   message[0] ? ": " : "", message);
    }
    return OK;
}
