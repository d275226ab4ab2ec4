
/*
 * Copyright (C) The asgicore authors. BSD-2-Clause, see LICENSE.
 *
 * The request side: the scope is opened when nginx starts reading the body
 * (unbuffered), body buffers are fed to the library as they arrive and
 * reading stops while the library says the app is behind. Once the body
 * is in, the connection is watched for the client leaving, as
 * ngx_http_upstream_check_broken_connection does.
 */


#include "ngx_http_asgi_module.h"


static ngx_int_t ngx_http_asgi_open_scope(ngx_http_request_t *r,
    ngx_http_asgi_req_t *req, uint32_t flags);
static void ngx_http_asgi_read_body_handler(ngx_http_request_t *r);
static void ngx_http_asgi_read_body(ngx_http_asgi_req_t *req);
static void ngx_http_asgi_feed_body(ngx_http_asgi_req_t *req);
static void ngx_http_asgi_body_error(ngx_http_asgi_req_t *req,
    ngx_int_t rc);
static void ngx_http_asgi_watch_when_read(ngx_http_asgi_req_t *req);
static void ngx_http_asgi_watch_connection(ngx_http_request_t *r);
static void ngx_http_asgi_check_paused_connection(ngx_http_request_t *r);
static ngx_int_t ngx_http_asgi_send_continue(ngx_http_asgi_req_t *req);


/* The post handler of ngx_http_read_client_request_body: with unbuffered
 * reading nginx calls it at once, with whatever body was pre-read. */

void
ngx_http_asgi_body_start(ngx_http_request_t *r)
{
    uint32_t                   flags;
    ngx_http_asgi_req_t       *req;
    ngx_http_asgi_loc_conf_t  *alcf;

    req = ngx_http_get_module_ctx(r, ngx_http_asgi_module);
    alcf = ngx_http_get_module_loc_conf(r, ngx_http_asgi_module);

    flags = alcf->ignore_client_abort ? ASGICORE_SCOPE_IGNORE_CLIENT_ABORT
                                      : 0;

    /* L2: a client whose FIN came with its request is gone before the app
     * could start: the library counts the request and never starts it. */
    if (!r->reading_body && !alcf->ignore_client_abort
        && ngx_http_asgi_client_left(r))
    {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "asgi: client closed the connection before the app "
                      "started");
        flags |= ASGICORE_SCOPE_CLIENT_GONE;
        req->client_gone = 1;  /* nothing to watch */

    } else if (req->expect_continue && r->reading_body) {
        flags |= ASGICORE_SCOPE_BODY_ON_DEMAND;
        req->body_paused = 1;
    }

    if (ngx_http_asgi_websocket_requested(r)) {
        flags |= ASGICORE_SCOPE_WEBSOCKET;
        req->ws_requested = 1;
    }

    if (ngx_http_asgi_open_scope(r, req, flags) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    req->reading_body = r->reading_body;

    /* an inline or quick app may have taken the connection over (its
     * 101) inside the open: its handlers stay */
    if (!req->websocket) {
        r->write_event_handler = (r == r->main)
                                 ? ngx_http_request_empty_handler
                                 : ngx_http_asgi_subrequest_writer;
    }

    ngx_http_asgi_req_ref(req);

    if (req->reading_body && !req->websocket) {
        r->read_event_handler = ngx_http_asgi_read_body_handler;
    }

    ngx_http_asgi_read_body(req);
    ngx_http_asgi_watch_when_read(req);

    ngx_http_asgi_req_unref(req);
}


static ngx_int_t
ngx_http_asgi_open_scope(ngx_http_request_t *r, ngx_http_asgi_req_t *req,
    uint32_t flags)
{
    ngx_int_t                  rc;
    asgicore_scope_info        info;
    ngx_http_asgi_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_asgi_module);

    if (ngx_http_asgi_scope_info(r, &info) != NGX_OK) {
        return NGX_ERROR;
    }

    info.grace_period_ns = (int64_t) alcf->grace_period * 1000000;

    if (alcf->grace_period > ngx_http_asgi_worker->max_grace) {
        ngx_http_asgi_worker->max_grace = alcf->grace_period;
    }
    info.flags = flags;

    info.websocket_max_message = alcf->websocket_max_message;
    info.websocket_ping_interval_ns =
        alcf->websocket_ping_interval
        ? (int64_t) alcf->websocket_ping_interval * 1000000 : -1;
    info.websocket_close_timeout_ns =
        (uint64_t) alcf->websocket_close_timeout * 1000000;

    /* nginx writes trailers in chunked HTTP/1.1 and in HTTP/2 */
    info.capabilities = r->http_version >= NGX_HTTP_VERSION_11
                        ? ASGICORE_CAP_TRAILERS : 0;

    ngx_http_asgi_shutdown_hold_arm();

    /* the library's reference, until its scope_gone */
    ngx_http_asgi_req_ref(req);
    ngx_http_asgi_worker->scopes++;

    /* An inline app may answer before this returns: its output goes
     * through the callbacks, "done" is posted. */
    rc = asgicore_scope_open(ngx_http_asgi_worker->ctx, alcf->app->app,
                             &info, req, &req->scope);
    if (rc != ASGICORE_OK) {
        ngx_http_asgi_worker->scopes--;
        ngx_http_asgi_req_unref(req);
        req->scope = NULL;
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "asgi: cannot open a scope: %s",
                      asgicore_strerror(rc));
        return NGX_ERROR;
    }

    ngx_http_asgi_fleet_changed();

    return NGX_OK;
}


static void
ngx_http_asgi_read_body_handler(ngx_http_request_t *r)
{
    ngx_http_asgi_req_t  *req;

    req = ngx_http_get_module_ctx(r, ngx_http_asgi_module);

    ngx_http_asgi_req_ref(req);

    if (r->connection->error) {
        /* e.g. an HTTP/2 stream reset while the app was behind */
        ngx_http_asgi_body_error(req, NGX_HTTP_BAD_REQUEST);

    } else if (req->body_paused) {
        /* The app is behind: the bytes stay in the socket, and a
         * client_body_timeout meanwhile is not the client's fault. */
        r->connection->read->timedout = 0;
        ngx_http_asgi_check_paused_connection(r);

    } else {
        ngx_http_asgi_read_body(req);
    }

    ngx_http_asgi_watch_when_read(req);

    ngx_http_asgi_req_unref(req);
}


/* Feeds what nginx holds, then reads on until the socket is empty, the
 * body ended or the library asked to pause. The caller holds a
 * reference. */

static void
ngx_http_asgi_read_body(ngx_http_asgi_req_t *req)
{
    ngx_int_t            rc;
    ngx_http_request_t  *r;

    for ( ;; ) {
        r = req->r;

        if (r == NULL || req->scope == NULL || req->client_gone) {
            return;  /* gone, finalized, or nobody reads any more */
        }

        ngx_http_asgi_feed_body(req);

        if (req->body_paused) {
            /* the client may have left already, behind the body */
            ngx_http_asgi_check_paused_connection(r);
            return;
        }

        if (!req->reading_body || req->client_gone) {
            return;
        }

        rc = ngx_http_read_unbuffered_request_body(r);

        if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
            ngx_http_asgi_body_error(req, rc);
            return;
        }

        if (rc == NGX_OK) {
            req->reading_body = 0;

        } else if (r->request_body->bufs == NULL) {
            return;  /* NGX_AGAIN with nothing new: wait for the socket */
        }
    }
}


/* Hands nginx's body buffers to the library. What it does not take (it
 * asked to pause) stays in r->request_body->bufs for the resume. */

static void
ngx_http_asgi_feed_body(ngx_http_asgi_req_t *req)
{
    int                       rc;
    size_t                    size;
    ngx_buf_t                *b;
    ngx_chain_t              *cl;
    ngx_http_request_t       *r;
    ngx_http_request_body_t  *rb;

    r = req->r;
    rb = r->request_body;

    if (rb != NULL) {

        for (cl = rb->bufs; cl; cl = cl->next) {

            if (req->body_paused || req->client_gone || req->scope == NULL) {
                break;
            }

            b = cl->buf;
            size = b->last - b->pos;

            if (size == 0) {
                rb->bufs = cl->next;
                continue;
            }

            rc = asgicore_scope_feed_body(req->scope, b->pos, size, 1);

            if (rc == ASGICORE_ERR_BUSY) {
                req->body_paused = 1;
                break;
            }

            /* consumed, so nginx can reuse the buffer */
            b->pos = b->last;
            rb->bufs = cl->next;

            if (rc == ASGICORE_PENDING) {
                req->body_paused = 1;
                break;
            }

            if (rc != ASGICORE_OK && rc != ASGICORE_ERR_DISCONNECTED) {
                ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                              "asgi: feeding the body failed: %s",
                              asgicore_strerror(rc));
            }
        }

        if (rb->bufs != NULL || req->body_paused) {
            return;
        }
    }

    if (!req->reading_body && !req->body_ended && req->scope) {
        rc = asgicore_scope_feed_body(req->scope, NULL, 0, 0);

        if (rc == ASGICORE_ERR_BUSY) {
            req->body_paused = 1;
            return;
        }

        req->body_ended = 1;
    }
}


static void
ngx_http_asgi_body_error(ngx_http_asgi_req_t *req, ngx_int_t rc)
{
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = req->r;
    c = r->connection;

    req->reading_body = 0;
    r->read_event_handler = ngx_http_block_reading;

    if (c->timedout) {
        /* client_body_timeout: nginx's 408, the app sees a disconnect */
        req->error_status = NGX_HTTP_REQUEST_TIME_OUT;
        ngx_http_asgi_client_gone(req, ASGICORE_DISCONNECT_TIMEOUT);
        return;
    }

    if (c->error) {
        ngx_http_asgi_client_gone(req,
                                  ngx_http_asgi_error_reason(r, c->read,
                                                 ASGICORE_DISCONNECT_CLOSED));
        return;
    }

    /* A body nginx refused (bad chunk, client_max_body_size): the app
     * learns the body will not complete; nginx answers as usual. */
    req->error_status = rc;
    ngx_http_asgi_client_gone(req, ASGICORE_DISCONNECT_SERVER);
}


void
ngx_http_asgi_resume_body(void *user, asgicore_scope *scope, void *host_data)
{
    ngx_http_asgi_req_t  *req = host_data;

    if (!req->body_paused || req->r == NULL) {
        return;
    }

    req->body_paused = 0;

    /* This runs inside a library call, which must not be re-entered:
     * feeding and reading go on from a posted event. */
    ngx_post_event(&req->resume, &ngx_posted_events);
}


void
ngx_http_asgi_resume_handler(ngx_event_t *ev)
{
    ngx_http_asgi_req_t  *req = ev->data;

    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = req->r;
    if (r == NULL) {
        return;
    }

    c = r->connection;

    ngx_http_asgi_req_ref(req);

    if (req->websocket) {
        ngx_http_asgi_websocket_read(req);
        ngx_http_asgi_req_unref(req);
        ngx_http_run_posted_requests(c);
        return;
    }

    if (req->expect_continue && ngx_http_asgi_send_continue(req) != NGX_OK) {
        ngx_http_asgi_client_gone(req, ASGICORE_DISCONNECT_WRITE_ERROR);
    }

    ngx_http_asgi_read_body(req);
    ngx_http_asgi_watch_when_read(req);

    ngx_http_asgi_req_unref(req);

    ngx_http_run_posted_requests(c);
}


/* The app asked for the body of an "Expect: 100-continue" request: the
 * client may send it now, unless a final response was sent already. */

static ngx_int_t
ngx_http_asgi_send_continue(ngx_http_asgi_req_t *req)
{
    ssize_t              n;
    ngx_http_request_t  *r;

    static u_char  continue_line[] = "HTTP/1.1 100 Continue" CRLF CRLF;

    r = req->r;
    req->expect_continue = 0;

    if (r->header_sent || req->client_gone) {
        return NGX_OK;
    }

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "asgi send 100 Continue");

    n = r->connection->send(r->connection, continue_line,
                            sizeof(continue_line) - 1);

    /* as nginx does: so small a write goes out whole, or the connection
     * is broken */
    if (n != (ssize_t) sizeof(continue_line) - 1) {
        r->connection->error = 1;
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * Whether the client already left: an HTTP/2 stream reset, or a FIN that
 * nginx saw (EPOLLRDHUP, kqueue's EV_EOF) or a recv() shows. Only for a
 * request whose body was read whole: a FIN cannot be told from more body.
 */

ngx_int_t
ngx_http_asgi_client_left(ngx_http_request_t *r)
{
    int                n;
    char               buf[1];
    ngx_connection_t  *c;

    c = r->connection;

    if (c->error) {
        return 1;
    }

#if (NGX_HTTP_V2)
    if (r->stream) {
        return 0;
    }
#endif

#if (NGX_HAVE_EPOLLRDHUP)
    if ((ngx_event_flags & NGX_USE_EPOLL_EVENT) && ngx_use_epoll_rdhup) {
        return c->read->pending_eof;
    }
#endif

#if (NGX_HAVE_KQUEUE)
    if (ngx_event_flags & NGX_USE_KQUEUE_EVENT) {
        return c->read->pending_eof;
    }
#endif

    n = recv(c->fd, buf, 1, MSG_PEEK);

    return n == 0 || (n == -1 && ngx_socket_errno != NGX_EAGAIN);
}


/* L7: while reading is paused the body stays in the socket, so a FIN or an
 * RST behind it shows only as nginx's pending EOF: a client that leaves
 * during the pause is a disconnect now, not when the app reads again. */

static void
ngx_http_asgi_check_paused_connection(ngx_http_request_t *r)
{
    ngx_err_t                  err;
    socklen_t                  len;
    ngx_connection_t          *c;
    ngx_http_asgi_req_t       *req;
    ngx_http_asgi_loc_conf_t  *alcf;

    c = r->connection;
    req = ngx_http_get_module_ctx(r, ngx_http_asgi_module);
    alcf = ngx_http_get_module_loc_conf(r, ngx_http_asgi_module);

#if (NGX_HTTP_V2)
    if (r->stream) {
        return;  /* nginx reports stream resets and connection loss */
    }
#endif

    if (!c->read->pending_eof || req->client_gone
        || alcf->ignore_client_abort)
    {
        return;
    }

    err = 0;
    len = sizeof(ngx_err_t);

    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, (void *) &err, &len) == -1) {
        err = ngx_socket_errno;
    }

    ngx_log_error(NGX_LOG_INFO, c->log, err,
                  "asgi: client closed the connection while its request "
                  "body was paused");

    req->reading_body = 0;
    r->read_event_handler = ngx_http_block_reading;

    ngx_http_asgi_client_gone(req, err ? ASGICORE_DISCONNECT_RESET
                                       : ASGICORE_DISCONNECT_CLOSED);
}


/* Once the body was read whole, the connection is watched for the client
 * leaving: the one place that decides it. */

static void
ngx_http_asgi_watch_when_read(ngx_http_asgi_req_t *req)
{
    ngx_http_request_t  *r;

    r = req->r;

    if (r == NULL || req->reading_body || req->client_gone || req->websocket
        || r->read_event_handler == ngx_http_asgi_check_broken_connection)
    {
        return;
    }

    ngx_http_asgi_watch_connection(r);
}


static void
ngx_http_asgi_watch_connection(ngx_http_request_t *r)
{
    ngx_connection_t  *c;

    c = r->connection;

    r->read_event_handler = ngx_http_asgi_check_broken_connection;

#if (NGX_HTTP_V2)
    if (r->stream) {
        return;
    }
#endif

    if (ngx_handle_read_event(c->read, 0) != NGX_OK) {
        ngx_http_asgi_client_gone(ngx_http_get_module_ctx(r,
                                                      ngx_http_asgi_module),
                                  ASGICORE_DISCONNECT_SERVER);
        return;
    }

    /* Data or a FIN may have arrived before the watch began. */
    if (c->read->ready) {
        ngx_http_asgi_check_broken_connection(r);
    }
}


void
ngx_http_asgi_check_broken_connection(ngx_http_request_t *r)
{
    int                   n;
    char                  buf[1];
    ngx_err_t             err;
    ngx_event_t          *ev;
    ngx_connection_t     *c;
    ngx_http_asgi_req_t  *req;

    c = r->connection;
    ev = c->read;
    req = ngx_http_get_module_ctx(r, ngx_http_asgi_module);

    if (req == NULL || req->client_gone) {
        return;
    }

    if (c->error) {
        ngx_http_asgi_client_gone(req,
                                  ngx_http_asgi_error_reason(r, ev,
                                                 ASGICORE_DISCONNECT_CLOSED));
        return;
    }

#if (NGX_HTTP_V2)
    if (r->stream) {
        return;  /* nginx reports stream resets and connection loss */
    }
#endif

#if (NGX_HAVE_EPOLLRDHUP)

    if ((ngx_event_flags & NGX_USE_EPOLL_EVENT) && ngx_use_epoll_rdhup) {
        socklen_t  len;

        if (!ev->pending_eof) {
            return;
        }

        ev->eof = 1;
        c->error = 1;

        err = 0;
        len = sizeof(ngx_err_t);

        /* BSDs and Linux return 0 and set a pending error in err */
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, (void *) &err, &len)
            == -1)
        {
            err = ngx_socket_errno;
        }

        ngx_log_error(NGX_LOG_INFO, c->log, err,
                      "asgi: client closed the connection while the app "
                      "was running");

        ngx_http_asgi_client_gone(req, err ? ASGICORE_DISCONNECT_RESET
                                           : ASGICORE_DISCONNECT_CLOSED);
        return;
    }

#endif

    n = recv(c->fd, buf, 1, MSG_PEEK);

    err = ngx_socket_errno;

    if (n > 0) {
        /* a pipelined request: the client is still there */
        return;
    }

    if (n == -1 && err == NGX_EAGAIN) {
        return;
    }

    if ((ngx_event_flags & NGX_USE_LEVEL_EVENT) && ev->active) {
        if (ngx_del_event(ev, NGX_READ_EVENT, 0) != NGX_OK) {
            ngx_http_asgi_client_gone(req, ASGICORE_DISCONNECT_SERVER);
            return;
        }
    }

    ev->eof = 1;
    c->error = 1;

    ngx_log_error(NGX_LOG_INFO, c->log, n == 0 ? 0 : err,
                  "asgi: client closed the connection while the app "
                  "was running");

    ngx_http_asgi_client_gone(req, n == 0 ? ASGICORE_DISCONNECT_CLOSED
                                          : ASGICORE_DISCONNECT_RESET);
}
