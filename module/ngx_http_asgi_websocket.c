
/*
 * Copyright (C) The asgicore authors. BSD-2-Clause, see LICENSE.
 *
 * A WebSocket connection after its 101: taken over as nginx's upstream
 * upgrade does (no keepalive, the request's preread bytes first, raw
 * reads and writes). The module only moves bytes: the library decodes,
 * answers pings, closes, and says when the connection may go.
 */


#include "ngx_http_asgi_module.h"


/* Reads go through one buffer per worker: the library takes every byte
 * fed to it, so an idle connection holds no read buffer. */
#define NGX_HTTP_ASGI_WS_READ_SIZE  65536

/*
 * Frames the library hands over in one turn of the event loop (echoes of
 * a batch of messages, pongs) are gathered and written with one send()
 * at the end of the turn: on a busy connection the syscall per frame is
 * most of the cost. A large frame goes at once when nothing waits before
 * it; past NGX_HTTP_ASGI_WS_CORK gathered bytes the library is told to
 * wait (PENDING), so the memory stays bounded.
 */
#define NGX_HTTP_ASGI_WS_DIRECT     16384
#define NGX_HTTP_ASGI_WS_CORK       65536


static void ngx_http_asgi_ws_read_handler(ngx_http_request_t *r);
static void ngx_http_asgi_ws_flush_handler(ngx_event_t *ev);
static ssize_t ngx_http_asgi_ws_send(ngx_connection_t *c, const void *data,
    size_t len);
static void ngx_http_asgi_ws_write_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_asgi_ws_feed(ngx_http_asgi_req_t *req,
    u_char *data, size_t len);
static ngx_int_t ngx_http_asgi_ws_flush(ngx_http_asgi_req_t *req);
static ngx_int_t ngx_http_asgi_ws_keep(ngx_http_asgi_req_t *req,
    const u_char *data, size_t len);
static void ngx_http_asgi_ws_block_writes(ngx_http_asgi_req_t *req);
static void ngx_http_asgi_ws_stop_reading(ngx_http_request_t *r);


static u_char  ngx_http_asgi_ws_buffer[NGX_HTTP_ASGI_WS_READ_SIZE];

static ngx_queue_t  ngx_http_asgi_ws_open = {
    &ngx_http_asgi_ws_open, &ngx_http_asgi_ws_open
};

/* the stopping worker has told its open WebSockets (W15) */
static ngx_uint_t  ngx_http_asgi_ws_going_away;


static ngx_uint_t
ngx_http_asgi_upgrade_is_websocket(ngx_http_request_t *r)
{
    ngx_str_t  *v;

    if (r->headers_in.upgrade == NULL) {
        return 0;
    }

    v = &r->headers_in.upgrade->value;

    return ngx_strlcasestrn(v->data, v->data + v->len,
                            (u_char *) "websocket", sizeof("websocket") - 2)
           != NULL;
}


/* "Upgrade: websocket" on an HTTP/1.1 main request: the library decides
 * the rest of the handshake. */

ngx_uint_t
ngx_http_asgi_websocket_requested(ngx_http_request_t *r)
{
    if (r != r->main || r->http_version != NGX_HTTP_VERSION_11) {
        return 0;
    }

#if (NGX_HTTP_V2)
    if (r->stream) {
        return 0;
    }
#endif

    return ngx_http_asgi_upgrade_is_websocket(r);
}


/* HTTP/2 has no upgrade (RFC 9113 forbids the header; nginx has no
 * extended CONNECT): a request asking for a WebSocket over it is a 400,
 * not an HTTP request for the app. */

ngx_uint_t
ngx_http_asgi_websocket_over_http2(ngx_http_request_t *r)
{
#if (NGX_HTTP_V2)
    if (r->stream && ngx_http_asgi_upgrade_is_websocket(r)) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "asgi: a WebSocket asked for over HTTP/2, which has "
                      "no upgrade");
        return 1;
    }
#endif

    return 0;
}


/*
 * The 101 went to nginx's header filter: flush it and take the connection
 * over. Called from inside a library call, so reading starts from a
 * posted event.
 */

ngx_int_t
ngx_http_asgi_websocket_start(ngx_http_asgi_req_t *req)
{
    ngx_connection_t          *c;
    ngx_http_request_t        *r;
    ngx_http_core_loc_conf_t  *clcf;

    r = req->r;
    c = r->connection;
    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    req->websocket = 1;
    c->log->action = "serving a WebSocket";

    r->read_event_handler = ngx_http_asgi_ws_read_handler;
    r->write_event_handler = ngx_http_asgi_ws_write_handler;

    /* no timer reads this connection: the library's pings watch it */
    if (c->read->timer_set) {
        ngx_del_timer(c->read);
    }

    if (clcf->tcp_nodelay && ngx_tcp_nodelay(c) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_queue_insert_tail(&ngx_http_asgi_ws_open, &req->ws_link);

    /* the head is written: its flush event gathers frames from now on */
    req->head_pending = 0;
    req->flush_head.handler = ngx_http_asgi_ws_flush_handler;

    if (ngx_http_send_special(r, NGX_HTTP_FLUSH) == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (r->out || c->buffered) {
        ngx_http_asgi_ws_block_writes(req);
    }

    /* frames may have come with the request, or behind it */
    ngx_post_event(&req->resume, &ngx_posted_events);

    if (ngx_http_asgi_ws_going_away) {
        /* accepted after the others were told: its 1001 comes at the
         * shutdown hold's next turn, now, not a second on (from inside a
         * library call the library cannot be called) */
        ngx_http_asgi_shutdown_hold_soon();
    }

    return NGX_OK;
}


/* The handle leaves the list of open WebSockets (at detach). */

void
ngx_http_asgi_websocket_end(ngx_http_asgi_req_t *req)
{
    if (req->ws_link.next) {
        ngx_queue_remove(&req->ws_link);
        req->ws_link.next = NULL;
    }

    if (req->raw) {
        ngx_free(req->raw);
        req->raw = NULL;
        req->raw_pos = 0;
        req->raw_len = 0;
        req->raw_size = 0;
    }
}


/*
 * The library is done: frames it handed over and the socket did not take
 * yet go to nginx's own output, which the request's end waits for before
 * its lingering close.
 */

void
ngx_http_asgi_websocket_hand_over(ngx_http_asgi_req_t *req)
{
    size_t               size;
    ngx_buf_t           *b;
    ngx_chain_t          out;
    ngx_http_request_t  *r;

    r = req->r;
    size = req->raw_len - req->raw_pos;

    if (r == NULL || size == 0 || req->client_gone) {
        return;
    }

    b = ngx_create_temp_buf(r->pool, size);
    if (b == NULL) {
        return;
    }

    b->last = ngx_cpymem(b->pos, req->raw + req->raw_pos, size);
    b->flush = 1;

    out.buf = b;
    out.next = NULL;

    req->raw_pos = req->raw_len;

    (void) ngx_http_output_filter(r, &out);
}


/* The library's bytes for the client: written now, the rest kept until
 * the socket takes it (the library sends no more until write_ready). */

int
ngx_http_asgi_send_raw(void *user, asgicore_scope *scope, void *host_data,
    const void *data, size_t len)
{
    ngx_http_asgi_req_t  *req = host_data;

    ssize_t              n;
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = req->r;
    if (r == NULL || req->client_gone || !req->websocket) {
        return ASGICORE_OK;
    }

    c = r->connection;

    if (req->write_blocked) {
        return ngx_http_asgi_ws_keep(req, data, len) == NGX_OK
               ? ASGICORE_PENDING : ASGICORE_ERR_NOMEM;
    }

    if (req->raw_len == req->raw_pos && len >= NGX_HTTP_ASGI_WS_DIRECT
        && r->out == NULL && !c->buffered)
    {
        n = ngx_http_asgi_ws_send(c, data, len);

        if (n == NGX_ERROR) {
            ngx_http_asgi_client_gone(req, ASGICORE_DISCONNECT_WRITE_ERROR);
            return ASGICORE_OK;
        }

        if ((size_t) n == len) {
            return ASGICORE_OK;
        }

        data = (u_char *) data + n;
        len -= n;

        if (ngx_http_asgi_ws_keep(req, data, len) != NGX_OK) {
            return ASGICORE_ERR_NOMEM;
        }

        ngx_http_asgi_ws_block_writes(req);

        return req->client_gone ? ASGICORE_OK : ASGICORE_PENDING;
    }

    if (ngx_http_asgi_ws_keep(req, data, len) != NGX_OK) {
        return ASGICORE_ERR_NOMEM;
    }

    ngx_post_event(&req->flush_head, &ngx_posted_events);

    if (req->raw_len - req->raw_pos >= NGX_HTTP_ASGI_WS_CORK) {
        req->cork_full = 1;
        return ASGICORE_PENDING;
    }

    return ASGICORE_OK;
}


static ngx_int_t
ngx_http_asgi_ws_keep(ngx_http_asgi_req_t *req, const u_char *data,
    size_t len)
{
    u_char  *p;
    size_t   kept, size;

    kept = req->raw_len - req->raw_pos;

    if (req->raw_pos && req->raw_size - req->raw_len < len) {
        /* what was written leaves room at the front */
        ngx_memmove(req->raw, req->raw + req->raw_pos, kept);
        req->raw_pos = 0;
        req->raw_len = kept;
    }

    if (req->raw_size - req->raw_len < len) {
        size = ngx_max(ngx_max(2 * req->raw_size, kept + len), 4096);

        p = ngx_alloc(size, req->r->connection->log);
        if (p == NULL) {
            return NGX_ERROR;
        }

        if (kept) {
            ngx_memcpy(p, req->raw + req->raw_pos, kept);
        }

        if (req->raw) {
            ngx_free(req->raw);
        }

        req->raw = p;
        req->raw_pos = 0;
        req->raw_len = kept;
        req->raw_size = size;
    }

    ngx_memcpy(req->raw + req->raw_len, data, len);
    req->raw_len += len;

    return NGX_OK;
}


/* The end of the turn: what was gathered goes in one write. */

static void
ngx_http_asgi_ws_flush_handler(ngx_event_t *ev)
{
    ngx_http_asgi_req_t  *req = ev->data;

    ngx_int_t            rc;
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = req->r;

    if (r == NULL || req->scope == NULL || req->client_gone
        || req->write_blocked)
    {
        return;
    }

    c = r->connection;

    rc = ngx_http_asgi_ws_flush(req);

    if (rc == NGX_ERROR) {
        ngx_http_asgi_client_gone(req, ASGICORE_DISCONNECT_WRITE_ERROR);

    } else if (rc == NGX_AGAIN) {
        ngx_http_asgi_ws_block_writes(req);

    } else if (req->cork_full) {
        req->cork_full = 0;

        ngx_http_asgi_req_ref(req);
        asgicore_scope_write_ready(req->scope);
        ngx_http_asgi_req_unref(req);
    }

    ngx_http_run_posted_requests(c);
}


/* Writes until the socket takes no more: the bytes written, or
 * NGX_ERROR. */

static ssize_t
ngx_http_asgi_ws_send(ngx_connection_t *c, const void *data, size_t len)
{
    size_t    sent;
    ssize_t   n;

    for (sent = 0; sent < len; sent += n) {
        n = c->send(c, (u_char *) data + sent, len - sent);

        if (n == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (n == NGX_AGAIN || n == 0) {
            break;
        }
    }

    return sent;
}


/* Backlogged: wait for the socket, send_timeout while waiting. */

static void
ngx_http_asgi_ws_block_writes(ngx_http_asgi_req_t *req)
{
    ngx_connection_t          *c;
    ngx_http_request_t        *r;
    ngx_http_core_loc_conf_t  *clcf;

    r = req->r;
    c = r->connection;
    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    req->write_blocked = 1;

    if (!c->write->timer_set) {
        ngx_add_timer(c->write, clcf->send_timeout);
    }

    if (ngx_handle_write_event(c->write, 0) != NGX_OK) {
        ngx_http_asgi_client_gone(req, ASGICORE_DISCONNECT_WRITE_ERROR);
    }
}


/* nginx's buffered 101 first, then what the library gave: NGX_OK when
 * all went, NGX_AGAIN, or NGX_ERROR (the client is gone). */

static ngx_int_t
ngx_http_asgi_ws_flush(ngx_http_asgi_req_t *req)
{
    ssize_t              n;
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = req->r;
    c = r->connection;

    if (r->out || c->buffered) {
        if (ngx_http_output_filter(r, NULL) == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (r->out || c->buffered) {
            return NGX_AGAIN;
        }
    }

    n = ngx_http_asgi_ws_send(c, req->raw + req->raw_pos,
                              req->raw_len - req->raw_pos);

    if (n == NGX_ERROR) {
        return NGX_ERROR;
    }

    req->raw_pos += n;

    if (req->raw_pos < req->raw_len) {
        return NGX_AGAIN;
    }

    /* drained: an idle connection keeps no buffer */
    if (req->raw) {
        ngx_free(req->raw);
        req->raw = NULL;
        req->raw_pos = 0;
        req->raw_len = 0;
        req->raw_size = 0;
    }

    return NGX_OK;
}


static void
ngx_http_asgi_ws_write_handler(ngx_http_request_t *r)
{
    ngx_int_t             rc;
    ngx_event_t          *wev;
    ngx_connection_t     *c;
    ngx_http_asgi_req_t  *req;

    c = r->connection;
    wev = c->write;
    req = ngx_http_get_module_ctx(r, ngx_http_asgi_module);

    if (req == NULL || req->scope == NULL || !req->write_blocked
        || req->client_gone)
    {
        return;
    }

    if (wev->timedout) {
        wev->timedout = 0;
        c->timedout = 1;
        ngx_log_error(NGX_LOG_INFO, c->log, NGX_ETIMEDOUT,
                      "asgi: client timed out reading WebSocket frames");
        ngx_http_asgi_client_gone(req, ASGICORE_DISCONNECT_TIMEOUT);
        return;
    }

    rc = ngx_http_asgi_ws_flush(req);

    if (rc == NGX_ERROR) {
        ngx_http_asgi_client_gone(req, ASGICORE_DISCONNECT_WRITE_ERROR);
        return;
    }

    if (rc == NGX_AGAIN) {
        ngx_http_asgi_ws_block_writes(req);
        return;
    }

    if (wev->timer_set) {
        ngx_del_timer(wev);
    }

    req->write_blocked = 0;
    req->cork_full = 0;

    ngx_http_asgi_req_ref(req);
    asgicore_scope_write_ready(req->scope);
    ngx_http_asgi_req_unref(req);

    ngx_http_run_posted_requests(c);
}


/* Socket readable, or reading resumed (posted): the preread bytes first,
 * then the socket until it is empty or the library asks to pause. */

void
ngx_http_asgi_websocket_read(ngx_http_asgi_req_t *req)
{
    ssize_t              n;
    ngx_buf_t           *b;
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = req->r;

    if (r == NULL || req->scope == NULL || req->client_gone
        || req->body_paused || req->ws_read_done)
    {
        return;
    }

    c = r->connection;
    b = r->header_in;

    ngx_http_asgi_req_ref(req);

    if (b && b->pos < b->last) {
        n = b->last - b->pos;

        if ((size_t) n > NGX_HTTP_ASGI_WS_READ_SIZE) {
            n = NGX_HTTP_ASGI_WS_READ_SIZE;
        }

        ngx_memcpy(ngx_http_asgi_ws_buffer, b->pos, n);
        b->pos += n;

        if (ngx_http_asgi_ws_feed(req, ngx_http_asgi_ws_buffer, n)
            != NGX_OK)
        {
            goto done;
        }

        if (b->pos < b->last) {
            /* more preread than one buffer: go on from a posted event */
            ngx_post_event(&req->resume, &ngx_posted_events);
            goto done;
        }
    }

    for ( ;; ) {

        if (c->close) {
            /* worker_shutdown_timeout: nginx closes every connection */
            ngx_http_asgi_client_gone(req, ASGICORE_DISCONNECT_SERVER);
            goto done;
        }

        if (!c->read->ready) {
            break;
        }

        n = c->recv(c, ngx_http_asgi_ws_buffer, NGX_HTTP_ASGI_WS_READ_SIZE);

        if (n == NGX_AGAIN) {
            break;
        }

        if (n == 0 || n == NGX_ERROR) {
            ngx_log_error(NGX_LOG_INFO, c->log, 0,
                          "asgi: client closed the WebSocket connection%s",
                          n == 0 ? "" : " (reset)");
            ngx_http_asgi_ws_stop_reading(r);

            if (n == 0 && !req->write_blocked) {
                /* a FIN closes only the client's side: what this read
                 * produced (the reply to a close frame that came with the
                 * FIN) still goes out, as far as the socket takes it */
                (void) ngx_http_asgi_ws_flush(req);
            }

            ngx_http_asgi_client_gone(req, n == 0
                                           ? ASGICORE_DISCONNECT_CLOSED
                                           : ASGICORE_DISCONNECT_RESET);
            goto done;
        }

        if (ngx_http_asgi_ws_feed(req, ngx_http_asgi_ws_buffer, n)
            != NGX_OK)
        {
            goto done;
        }
    }

    if (ngx_handle_read_event(c->read, 0) != NGX_OK) {
        ngx_http_asgi_client_gone(req, ASGICORE_DISCONNECT_SERVER);
    }

done:

    ngx_http_asgi_req_unref(req);
}


/* NGX_OK: read on; NGX_DONE: stop (paused, or nothing more is read). */

static ngx_int_t
ngx_http_asgi_ws_feed(ngx_http_asgi_req_t *req, u_char *data, size_t len)
{
    int  rc;

    rc = asgicore_scope_feed_raw(req->scope, data, len, ngx_http_asgi_now());

    if (req->r == NULL || req->scope == NULL) {
        return NGX_DONE;
    }

    if (rc == ASGICORE_OK) {
        return NGX_OK;
    }

    if (rc == ASGICORE_PENDING) {
        /* the app is behind: the bytes wait in the socket */
        req->body_paused = 1;
        ngx_http_asgi_ws_stop_reading(req->r);
        return NGX_DONE;
    }

    /* the connection is closing (a close frame, a violation): what the
     * client sends now is drained by nginx's lingering close */
    req->ws_read_done = 1;
    ngx_http_asgi_ws_stop_reading(req->r);

    return NGX_DONE;
}


static void
ngx_http_asgi_ws_stop_reading(ngx_http_request_t *r)
{
    ngx_event_t  *rev;

    rev = r->connection->read;

    if ((ngx_event_flags & NGX_USE_LEVEL_EVENT) && rev->active) {
        (void) ngx_del_event(rev, NGX_READ_EVENT, 0);
    }
}


static void
ngx_http_asgi_ws_read_handler(ngx_http_request_t *r)
{
    ngx_err_t             err;
    socklen_t             len;
    ngx_connection_t     *c;
    ngx_http_asgi_req_t  *req;

    c = r->connection;
    req = ngx_http_get_module_ctx(r, ngx_http_asgi_module);

    if (req == NULL || req->client_gone || req->scope == NULL) {
        return;
    }

    if (c->close) {
        ngx_http_asgi_client_gone(req, ASGICORE_DISCONNECT_SERVER);
        return;
    }

    if (!req->body_paused) {
        ngx_http_asgi_websocket_read(req);
        return;
    }

    /*
     * Paused: the bytes wait in the socket, a close frame among them, so
     * a FIN is seen when reading resumes. A reset drops what waited: the
     * client is gone now.
     */
    if (!c->read->pending_eof) {
        return;
    }

    err = 0;
    len = sizeof(ngx_err_t);

    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, (void *) &err, &len) == -1) {
        err = ngx_socket_errno;
    }

    if (err) {
        ngx_log_error(NGX_LOG_INFO, c->log, err,
                      "asgi: client reset the WebSocket connection");
        ngx_http_asgi_ws_stop_reading(r);
        ngx_http_asgi_client_gone(req, ASGICORE_DISCONNECT_RESET);
    }
}


/*
 * W15: the worker is stopping (quit, reload). Each open WebSocket is told
 * once; the library closes it with 1001 unless the app closes it first.
 */

void
ngx_http_asgi_websocket_shutdown(void)
{
    ngx_queue_t          *q, *next;
    ngx_http_asgi_req_t  *req;

    for (q = ngx_queue_head(&ngx_http_asgi_ws_open);
         q != ngx_queue_sentinel(&ngx_http_asgi_ws_open);
         q = next)
    {
        next = ngx_queue_next(q);
        req = ngx_queue_data(q, ngx_http_asgi_req_t, ws_link);

        if (req->going_away || req->scope == NULL || req->client_gone) {
            continue;
        }

        req->going_away = 1;

        ngx_http_asgi_req_ref(req);
        (void) asgicore_scope_going_away(req->scope, ngx_http_asgi_now());
        ngx_http_asgi_req_unref(req);
    }

    ngx_http_asgi_ws_going_away = 1;

    /*
     * The 1001s are written now, not from posted events: nginx's shutdown
     * timer, run in the same pass over the timers, would close the
     * connections first.
     */
    for (q = ngx_queue_head(&ngx_http_asgi_ws_open);
         q != ngx_queue_sentinel(&ngx_http_asgi_ws_open);
         q = next)
    {
        next = ngx_queue_next(q);
        req = ngx_queue_data(q, ngx_http_asgi_req_t, ws_link);

        if (req->flush_head.posted) {
            ngx_delete_posted_event(&req->flush_head);

            ngx_http_asgi_req_ref(req);
            req->flush_head.handler(&req->flush_head);
            ngx_http_asgi_req_unref(req);
        }
    }
}
