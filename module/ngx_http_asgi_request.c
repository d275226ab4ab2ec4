
/*
 * Copyright (C) The asgicore authors. BSD-2-Clause, see LICENSE.
 *
 * The request handle: its creation in the content handler, the ASGI scope
 * data handed to the library, the end of the request ("done" from the
 * library, finalization in a posted event) and its cleanup.
 */


#include "ngx_http_asgi_module.h"


static void ngx_http_asgi_cleanup(void *data);
static void ngx_http_asgi_pool_cleanup(void *data);
static void ngx_http_asgi_finalize_handler(ngx_event_t *ev);
static void ngx_http_asgi_detach(ngx_http_asgi_req_t *req);
static ngx_int_t ngx_http_asgi_expects_continue(ngx_http_request_t *r);
static ngx_http_asgi_req_t *ngx_http_asgi_req_new(ngx_http_request_t *r);


ngx_int_t
ngx_http_asgi_handler(ngx_http_request_t *r)
{
    ngx_int_t                  rc;
    ngx_pool_cleanup_t        *pcln;
    ngx_http_cleanup_t        *cln;
    ngx_http_asgi_req_t       *req;
    ngx_http_asgi_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_asgi_module);

    if (ngx_http_asgi_worker == NULL || alcf->app->app == NULL) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "asgi: native app \"%V\" is not running in this "
                      "worker (see its start-up error above)",
                      &alcf->app->path);
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    if (ngx_http_asgi_websocket_over_http2(r)) {
        return NGX_HTTP_BAD_REQUEST;
    }

    req = ngx_http_asgi_req_new(r);
    if (req == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /*
     * nginx runs a request's cleanup handlers before its log handlers, and
     * its pool cleanups after them: the handle must outlive the access log
     * ($asgi_outcome), so the request's reference goes with its pool.
     */
    pcln = ngx_pool_cleanup_add(r->pool, 0);
    cln = ngx_http_cleanup_add(r, 0);

    if (pcln == NULL || cln == NULL) {
        ngx_free(req);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    req->refs = 1;  /* the request's, dropped with its pool */
    req->r = r;
    req->start = ngx_current_msec;
    req->finalize.handler = ngx_http_asgi_finalize_handler;
    req->finalize.data = req;
    req->finalize.log = r->connection->log;
    req->resume.handler = ngx_http_asgi_resume_handler;
    req->resume.data = req;
    req->resume.log = r->connection->log;
    req->flush_head.handler = ngx_http_asgi_flush_head_handler;
    req->flush_head.data = req;
    req->flush_head.log = r->connection->log;

    cln->handler = ngx_http_asgi_cleanup;
    cln->data = req;
    pcln->handler = ngx_http_asgi_pool_cleanup;
    pcln->data = req;

    ngx_http_set_ctx(r, req, ngx_http_asgi_module);

    /* The body streams to the app as it arrives, with backpressure. */
    r->request_body_no_buffering = 1;

    /*
     * "Expect: 100-continue": nginx would answer it as reading starts;
     * the app decides instead. "100 Continue" goes out when it first asks
     * for the body, so an upload it refuses is never transferred.
     */
    if (ngx_http_asgi_expects_continue(r)) {
        r->expect_tested = 1;
        req->expect_continue = 1;
    }

    rc = ngx_http_read_client_request_body(r, ngx_http_asgi_body_start);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


/* The handle, with a copy of what nginx logs about the request (P9): the
 * app may log after nginx freed it. One allocation. */

static ngx_http_asgi_req_t *
ngx_http_asgi_req_new(ngx_http_request_t *r)
{
    u_char                    *p;
    ngx_str_t                 *server, host;
    ngx_connection_t          *c;
    ngx_http_asgi_req_t       *req;
    ngx_http_core_srv_conf_t  *cscf;

    c = r->connection;
    cscf = ngx_http_get_module_srv_conf(r, ngx_http_core_module);
    server = &cscf->server_name;

    if (r->headers_in.host) {
        host = r->headers_in.host->value;

    } else {
        ngx_str_null(&host);
    }

    req = ngx_calloc(sizeof(ngx_http_asgi_req_t) + c->addr_text.len
                     + server->len + r->request_line.len + host.len, c->log);
    if (req == NULL) {
        return NULL;
    }

    p = (u_char *) (req + 1);

    req->log_connection = c->number;

    req->log_client.data = p;
    req->log_client.len = c->addr_text.len;
    p = ngx_cpymem(p, c->addr_text.data, c->addr_text.len);

    /* An empty server_name or Host may have no data: memcpy is not given
     * a null pointer, even for no bytes. */

    req->log_server.data = p;
    req->log_server.len = server->len;
    if (server->len) {
        p = ngx_cpymem(p, server->data, server->len);
    }

    req->log_request.data = p;
    req->log_request.len = r->request_line.len;
    p = ngx_cpymem(p, r->request_line.data, r->request_line.len);

    req->log_host.data = p;
    req->log_host.len = host.len;
    if (host.len) {
        ngx_memcpy(p, host.data, host.len);
    }

    return req;
}


static ngx_int_t
ngx_http_asgi_expects_continue(ngx_http_request_t *r)
{
    ngx_str_t  *expect;

    if (r->headers_in.expect == NULL
        || r->http_version != NGX_HTTP_VERSION_11
        || (r->headers_in.content_length_n <= 0 && !r->headers_in.chunked))
    {
        return 0;
    }

    expect = &r->headers_in.expect->value;

    return expect->len == sizeof("100-continue") - 1
           && ngx_strncasecmp(expect->data, (u_char *) "100-continue",
                              sizeof("100-continue") - 1)
              == 0;
}


void
ngx_http_asgi_req_ref(ngx_http_asgi_req_t *req)
{
    req->refs++;
}


void
ngx_http_asgi_req_unref(ngx_http_asgi_req_t *req)
{
    if (--req->refs == 0) {
        ngx_free(req);
    }
}


/*
 * Why a connection with c->error set failed: for an HTTP/2 stream, nginx
 * marks the loss of the whole connection with eof on the stream's event,
 * a reset of the stream alone without; otherwise `fallback`.
 */

int
ngx_http_asgi_error_reason(ngx_http_request_t *r, ngx_event_t *ev,
    int fallback)
{
#if (NGX_HTTP_V2)
    if (r->stream) {
        return ev->eof ? ASGICORE_DISCONNECT_CONNECTION_LOST
                       : ASGICORE_DISCONNECT_STREAM_RESET;
    }
#endif

    return fallback;
}


/* The client went away (or nginx gave up on it): tell the library once. */

void
ngx_http_asgi_client_gone(ngx_http_asgi_req_t *req, int reason)
{
    if (req->client_gone || req->scope == NULL) {
        return;
    }

    req->client_gone = 1;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, req->r->connection->log, 0,
                   "asgi client gone: %s",
                   asgicore_disconnect_reason_name(reason));

    ngx_http_asgi_req_ref(req);
    asgicore_scope_disconnect(req->scope, reason, ngx_http_asgi_now());
    ngx_http_asgi_req_unref(req);

    ngx_http_asgi_fleet_changed();
}


/*
 * The library's "done": the request can end. It may come from inside any
 * library call, even one made from an nginx handler of another request,
 * so the request is finalized from a posted event, never from here.
 */

void
ngx_http_asgi_done(void *user, asgicore_scope *scope, void *host_data,
    int outcome, int response_complete)
{
    ngx_http_asgi_req_t  *req = host_data;

    req->done = 1;
    req->outcome = outcome;
    req->response_complete = response_complete ? 1 : 0;
    req->app_time = ngx_current_msec - req->start;

    if (req->r) {
        ngx_post_event(&req->finalize, &ngx_posted_events);
    }
}


static void
ngx_http_asgi_finalize_handler(ngx_event_t *ev)
{
    ngx_http_asgi_req_t  *req = ev->data;

    ngx_uint_t           status;
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = req->r;
    if (r == NULL) {
        return;
    }

    c = r->connection;  /* from nginx's connection array: outlives r */

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "asgi finalize: %s, response complete: %d",
                   asgicore_outcome_name(req->outcome),
                   (int) req->response_complete);

    if (req->websocket && req->outcome == ASGICORE_OUTCOME_COMPLETE) {
        ngx_http_asgi_websocket_hand_over(req);
    }

    /* nginx may keep the request a while (flushing output, lingering
     * close): from here on it is nginx's alone. */
    ngx_http_asgi_detach(req);
    r->read_event_handler = ngx_http_block_reading;
    r->write_event_handler = ngx_http_request_empty_handler;

    if (req->websocket) {
        /*
         * After a close handshake the connection closes gracefully (write
         * side shut, the client's last bytes drained: a reset would show
         * the client 1006); after a drop, at once. $status stays 101.
         */
        if (req->outcome == ASGICORE_OUTCOME_COMPLETE && !c->error) {
            r->lingering_close = 1;
            ngx_http_finalize_request(r, NGX_OK);

        } else {
            ngx_http_finalize_request(r, NGX_ERROR);
        }

    } else if (req->outcome == ASGICORE_OUTCOME_CLIENT_DISCONNECTED
               || req->outcome == ASGICORE_OUTCOME_CANCELLED)
    {
        status = req->error_status ? req->error_status
                                   : NGX_HTTP_CLIENT_CLOSED_REQUEST;

        if (req->error_status && !r->header_sent && !c->error)
        {
            /* e.g. 413 for a chunked body over client_max_body_size */
            ngx_http_finalize_request(r, req->error_status);
            ngx_http_run_posted_requests(c);
            return;
        }

        /* The access log says why, even after a response had started. */
        r->headers_out.status = status;
        ngx_http_finalize_request(r, status);

    } else if (!req->response_complete) {
        /* The response started and cannot end well: close. */
        ngx_http_finalize_request(r, NGX_ERROR);

    } else {
        ngx_http_finalize_request(r, NGX_OK);
    }

    ngx_http_run_posted_requests(c);
}


/* Ends the module's part in the request: no posted event of ours runs
 * and the library calls back no more. */

static void
ngx_http_asgi_detach(ngx_http_asgi_req_t *req)
{
    asgicore_scope  *scope;

    if (req->finalize.posted) {
        ngx_delete_posted_event(&req->finalize);
    }

    if (req->resume.posted) {
        ngx_delete_posted_event(&req->resume);
    }

    if (req->flush_head.posted) {
        ngx_delete_posted_event(&req->flush_head);
    }

    ngx_http_asgi_websocket_end(req);

    if (req->scope) {
        scope = req->scope;
        req->scope = NULL;
        asgicore_scope_release(scope, ngx_http_asgi_now());
        ngx_http_asgi_worker->scopes--;
        ngx_http_asgi_shutdown_hold_check(
            req->done && req->outcome == ASGICORE_OUTCOME_CANCELLED
            ? NGX_HTTP_ASGI_SCOPE_CANCELLED : NGX_HTTP_ASGI_SCOPE_ENDED);
        ngx_http_asgi_fleet_changed();
    }
}


/* The library passes this handle no more (P9): its reference goes. */

void
ngx_http_asgi_scope_gone(void *user, void *host_data)
{
    ngx_http_asgi_req_unref(host_data);

    /* its app may have been the last one the shutdown hold waited for
     * (an idle worker's hold must let a quit go at once) */
    if (ngx_http_asgi_worker
        && !ngx_http_asgi_worker->shutdown_hold.cancelable)
    {
        ngx_http_asgi_shutdown_hold_check(NGX_HTTP_ASGI_APP_ENDED);
    }
}


/* The request is going (possibly early, when nginx terminates it). */

static void
ngx_http_asgi_cleanup(void *data)
{
    ngx_http_asgi_req_t  *req = data;

    req->r = NULL;

    ngx_http_asgi_detach(req);
}


/* After the access log was written. */

static void
ngx_http_asgi_pool_cleanup(void *data)
{
    ngx_http_asgi_req_unref(data);
}
