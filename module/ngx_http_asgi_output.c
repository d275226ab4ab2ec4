
/*
 * Copyright (C) The asgicore authors. BSD-2-Clause, see LICENSE.
 *
 * The response side: the library's send callbacks become nginx headers and
 * output buffers, streamed as the app sends them (each chunk flushed). When
 * nginx cannot write everything at once the library is told to wait
 * (ASGICORE_PENDING) until the write handler has flushed the busy buffers:
 * so an app sending to a slow client holds at most one chunk in nginx.
 */


#include "ngx_http_asgi_module.h"


#define NGX_HTTP_ASGI_MIN_BUF  4096


static void ngx_http_asgi_write_handler(ngx_http_request_t *r);
static int ngx_http_asgi_output(ngx_http_asgi_req_t *req, ngx_chain_t *in);
static void ngx_http_asgi_reset_buf(ngx_buf_t *b);
static ngx_int_t ngx_http_asgi_copy_header(ngx_http_request_t *r,
    ngx_list_t *list, const asgicore_header *header, ngx_table_elt_t **out);
static ngx_int_t ngx_http_asgi_name_is(const asgicore_str *name,
    const char *lowcase, size_t len);
/* a literal's length is known where it is written */
#define ngx_http_asgi_is_name(name, lowcase)                                  \
    ngx_http_asgi_name_is(name, lowcase, sizeof(lowcase) - 1)

static off_t ngx_http_asgi_length(const asgicore_str *value);
static ngx_int_t ngx_http_asgi_hop_by_hop(const asgicore_str *name);
static ngx_int_t ngx_http_asgi_says_close(const asgicore_str *value);


int
ngx_http_asgi_send_head(void *user, asgicore_scope *scope, void *host_data,
    int status, const asgicore_header *headers, size_t count,
    int has_trailers)
{
    ngx_http_asgi_req_t  *req = host_data;

    off_t                length, declared;
    u_char              *type;
    size_t               i;
    ngx_int_t            rc;
    ngx_table_elt_t     *h;
    ngx_http_request_t  *r;

    r = req->r;
    if (r == NULL) {
        return ASGICORE_OK;
    }

    r->headers_out.status = status;
    declared = -1;

    if (status == NGX_HTTP_SWITCHING_PROTOCOLS) {
        /* a WebSocket's 101: nginx writes "Connection: upgrade" itself */
        ngx_str_set(&r->headers_out.status_line, "101 Switching Protocols");
        r->keepalive = 0;

    } else if (req->ws_requested) {
        /*
         * Any other answer to an upgrade request ends the connection: the
         * client may have sent frames behind it, which must never be read
         * as the next request.
         */
        r->keepalive = 0;
    }

    if (status == 426) {
        /* the library's answer to another WebSocket version; nginx has
         * no reason phrase for it */
        ngx_str_set(&r->headers_out.status_line, "426 Upgrade Required");
    }

    for (i = 0; i < count; i++) {

        if (ngx_http_asgi_is_name(&headers[i].name, "content-length")) {
            /* the library checked it: digits, or a list of equal ones */
            length = ngx_http_asgi_length(&headers[i].value);
            if (length == NGX_ERROR) {
                return ASGICORE_ERR_BAD_HEADER;
            }

            r->headers_out.content_length_n = length;
            declared = length;
            continue;
        }

        if (ngx_http_asgi_is_name(&headers[i].name, "content-type")) {
            type = ngx_pnalloc(r->pool, headers[i].value.len);
            if (type == NULL) {
                return ASGICORE_ERR_NOMEM;
            }

            if (headers[i].value.len) {
                ngx_memcpy(type, headers[i].value.data,
                           headers[i].value.len);
            }

            r->headers_out.content_type.len = headers[i].value.len;
            r->headers_out.content_type.data = type;

            r->headers_out.content_type_len = headers[i].value.len;
            r->headers_out.content_type_lowcase = NULL;
            continue;
        }

        /* an app that asks to close the connection has it closed after
         * the response, as a server that framed it itself would */
        if (ngx_http_asgi_is_name(&headers[i].name, "connection")
            && ngx_http_asgi_says_close(&headers[i].value))
        {
            r->keepalive = 0;
        }

        /* hop-by-hop: nginx frames the response itself */
        if (ngx_http_asgi_hop_by_hop(&headers[i].name)
            || (ngx_http_asgi_is_name(&headers[i].name, "upgrade")
                && status != NGX_HTTP_SWITCHING_PROTOCOLS))
        {
            continue;
        }

        if (ngx_http_asgi_copy_header(r, &r->headers_out.headers,
                                      &headers[i], &h)
            != NGX_OK)
        {
            return ASGICORE_ERR_NOMEM;
        }

        /* the app's own Server and Date replace nginx's */
        if (ngx_http_asgi_is_name(&headers[i].name, "server")) {
            r->headers_out.server = h;

        } else if (ngx_http_asgi_is_name(&headers[i].name, "date")) {
            r->headers_out.date = h;
        }
    }

    if (has_trailers) {
        r->expect_trailers = 1;
    }

    /*
     * An answer before the whole request body was read (a refused upload):
     * nginx cannot reuse the connection, so the response must not promise
     * it.
     */
    if (r->reading_body) {
        r->keepalive = 0;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR) {
        ngx_http_asgi_client_gone(req, ASGICORE_DISCONNECT_WRITE_ERROR);
        return ASGICORE_OK;
    }

    /*
     * A filter that rewrites the body (gzip, sub_filter) drops the app's
     * length and ends the body its own way: all of the length written is
     * then not the whole response.
     */
    if (declared >= 0 && r->headers_out.content_length_n != declared) {
        (void) asgicore_scope_reframed(scope);
    }

    if (status == NGX_HTTP_SWITCHING_PROTOCOLS) {
        if (ngx_http_asgi_websocket_start(req) != NGX_OK) {
            ngx_http_asgi_client_gone(req, ASGICORE_DISCONNECT_WRITE_ERROR);
        }

        return ASGICORE_OK;
    }

    /*
     * nginx holds a head back until body follows. A body the app sent with
     * it comes in this same turn and carries the head in the same write;
     * if none came by then, the head goes alone (event streams, long
     * polls).
     */
    /* (a subrequest's head is not written: nothing to flush; and an empty
     * buffer the postpone filter keeps must not be recycled) */
    if (r == r->main) {
        req->head_pending = 1;
        ngx_post_event(&req->flush_head, &ngx_posted_events);
    }

    return ASGICORE_OK;
}


void
ngx_http_asgi_flush_head_handler(ngx_event_t *ev)
{
    ngx_http_asgi_req_t  *req = ev->data;

    ngx_buf_t           *b;
    ngx_chain_t         *cl;
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = req->r;

    if (r == NULL || !req->head_pending || req->client_gone
        || req->scope == NULL)
    {
        return;
    }

    req->head_pending = 0;
    c = r->connection;

    cl = ngx_chain_get_free_buf(r->pool, &req->free);
    if (cl == NULL) {
        return;  /* the head goes with the first body */
    }

    b = cl->buf;
    ngx_http_asgi_reset_buf(b);
    b->flush = 1;

    ngx_http_asgi_req_ref(req);

    /* a backlog here is waited out by the write handler, as for a body */
    (void) ngx_http_asgi_output(req, cl);

    ngx_http_asgi_req_unref(req);

    ngx_http_run_posted_requests(c);
}


int
ngx_http_asgi_send_body(void *user, asgicore_scope *scope, void *host_data,
    const void *data, size_t len, int last)
{
    ngx_http_asgi_req_t  *req = host_data;

    size_t               size;
    ngx_buf_t           *b;
    ngx_chain_t         *cl;
    ngx_http_request_t  *r;

    r = req->r;
    if (r == NULL) {
        return ASGICORE_OK;
    }

    req->head_pending = 0;  /* this write carries it */

    if (r->header_only && !last) {
        return ASGICORE_OK;
    }

    if (r->header_only) {
        len = 0;
    }

    cl = ngx_chain_get_free_buf(r->pool, &req->free);
    if (cl == NULL) {
        return ASGICORE_ERR_NOMEM;
    }

    b = cl->buf;

    if ((size_t) (b->end - b->start) < len) {
        /* S5: a larger chunk replaces the buffer's memory, so a stream
         * whose chunks grow holds one chunk, not the sum of them */
        if (b->start) {
            (void) ngx_pfree(r->pool, b->start);
        }

        /* a stream's buffer is reused for its next chunks; a response's
         * last chunk takes its size only (a short one from the pool's
         * block, not a page of the heap) */
        size = last ? len : ngx_max(len, NGX_HTTP_ASGI_MIN_BUF);

        b->start = ngx_palloc(r->pool, size);
        if (b->start == NULL) {
            b->end = NULL;
            return ASGICORE_ERR_NOMEM;
        }

        b->end = b->start + size;
    }

    ngx_http_asgi_reset_buf(b);

    b->last = len ? ngx_cpymem(b->start, data, len) : b->start;
    b->temporary = len ? 1 : 0;

    if (last) {
        b->last_buf = (r == r->main) ? 1 : 0;
        b->last_in_chain = 1;
        b->sync = len == 0 && !b->last_buf;  /* a subrequest's empty end */

    } else {
        b->flush = 1;  /* stream it as sent */
    }

    return ngx_http_asgi_output(req, cl);
}


int
ngx_http_asgi_send_trailers(void *user, asgicore_scope *scope,
    void *host_data, const asgicore_header *trailers, size_t count,
    int last)
{
    ngx_http_asgi_req_t  *req = host_data;

    size_t               i;
    ngx_buf_t           *b;
    ngx_chain_t         *cl;
    ngx_table_elt_t     *h;
    ngx_http_request_t  *r;

    r = req->r;
    if (r == NULL) {
        return ASGICORE_OK;
    }

    for (i = 0; i < count; i++) {

        /* fields that frame a message have no place after it (an HTTP/2
         * client resets the stream) */
        if (ngx_http_asgi_hop_by_hop(&trailers[i].name)
            || ngx_http_asgi_is_name(&trailers[i].name, "upgrade")
            || ngx_http_asgi_is_name(&trailers[i].name, "content-length")
            || ngx_http_asgi_is_name(&trailers[i].name, "trailer"))
        {
            continue;
        }

        if (ngx_http_asgi_copy_header(r, &r->headers_out.trailers,
                                      &trailers[i], &h)
            != NGX_OK)
        {
            return ASGICORE_ERR_NOMEM;
        }
    }

    if (!last) {
        return ASGICORE_OK;
    }

    req->head_pending = 0;

    /* nginx writes the trailers with the last buffer */
    cl = ngx_chain_get_free_buf(r->pool, &req->free);
    if (cl == NULL) {
        return ASGICORE_ERR_NOMEM;
    }

    b = cl->buf;
    ngx_http_asgi_reset_buf(b);
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;
    b->sync = !b->last_buf;

    return ngx_http_asgi_output(req, cl);
}


/* A recycled buffer keeps its old flags: start afresh, keeping its
 * memory for the next chunk. */

static void
ngx_http_asgi_reset_buf(ngx_buf_t *b)
{
    u_char  *start, *end;

    start = b->start;
    end = b->end;

    ngx_memzero(b, sizeof(ngx_buf_t));

    b->start = start;
    b->end = end;
    b->pos = start;
    b->last = start;
    b->tag = (ngx_buf_tag_t) &ngx_http_asgi_module;
}


static int
ngx_http_asgi_output(ngx_http_asgi_req_t *req, ngx_chain_t *in)
{
    ngx_int_t                  rc;
    ngx_connection_t          *c;
    ngx_http_request_t        *r;
    ngx_http_core_loc_conf_t  *clcf;

    r = req->r;
    c = r->connection;

    rc = ngx_http_output_filter(r, in);

    ngx_chain_update_chains(r->pool, &req->free, &req->busy, &in,
                            (ngx_buf_tag_t) &ngx_http_asgi_module);

    if (rc == NGX_ERROR) {
        ngx_http_asgi_client_gone(req, ASGICORE_DISCONNECT_WRITE_ERROR);
        return ASGICORE_OK;
    }

    /*
     * A subrequest's output (SSI include, auth_request) is its parent's to
     * write, when the parent goes on: waiting for it here would wait for
     * the parent, which waits for the subrequest to end.
     */
    if ((req->busy == NULL && !c->buffered) || r != r->main) {
        return ASGICORE_OK;
    }

    /* Backlogged: the app waits until the write handler flushed it. */
    req->write_blocked = 1;
    r->write_event_handler = ngx_http_asgi_write_handler;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    if (!c->write->delayed && !c->write->timer_set) {
        ngx_add_timer(c->write, clcf->send_timeout);
    }

    if (ngx_handle_write_event(c->write, clcf->send_lowat) != NGX_OK) {
        ngx_http_asgi_client_gone(req, ASGICORE_DISCONNECT_WRITE_ERROR);
        return ASGICORE_OK;
    }

    return ASGICORE_PENDING;
}


static void
ngx_http_asgi_write_handler(ngx_http_request_t *r)
{
    ngx_int_t                  rc;
    ngx_chain_t               *out;
    ngx_event_t               *wev;
    ngx_connection_t          *c;
    ngx_http_asgi_req_t       *req;
    ngx_http_core_loc_conf_t  *clcf;

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
                      "asgi: client timed out reading the response");
        req->error_status = NGX_HTTP_REQUEST_TIME_OUT;
        ngx_http_asgi_client_gone(req, ASGICORE_DISCONNECT_TIMEOUT);
        return;
    }

    if (c->error) {
        ngx_http_asgi_client_gone(req,
                                  ngx_http_asgi_error_reason(r, wev,
                                             ASGICORE_DISCONNECT_WRITE_ERROR));
        return;
    }

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    if (wev->delayed) {
        /* limit_rate: the event comes back by itself */
        if (ngx_handle_write_event(wev, clcf->send_lowat) != NGX_OK) {
            ngx_http_asgi_client_gone(req, ASGICORE_DISCONNECT_WRITE_ERROR);
        }

        return;
    }

    rc = ngx_http_output_filter(r, NULL);

    out = NULL;
    ngx_chain_update_chains(r->pool, &req->free, &req->busy, &out,
                            (ngx_buf_tag_t) &ngx_http_asgi_module);

    if (rc == NGX_ERROR) {
        ngx_http_asgi_client_gone(req, ASGICORE_DISCONNECT_WRITE_ERROR);
        return;
    }

    if (req->busy != NULL || c->buffered) {
        if (!wev->delayed && !wev->timer_set) {
            ngx_add_timer(wev, clcf->send_timeout);
        }

        if (ngx_handle_write_event(wev, clcf->send_lowat) != NGX_OK) {
            ngx_http_asgi_client_gone(req, ASGICORE_DISCONNECT_WRITE_ERROR);
        }

        return;
    }

    /* a limit_rate delay stays armed: its expiry clears wev->delayed */
    if (wev->timer_set && !wev->delayed) {
        ngx_del_timer(wev);
    }

    req->write_blocked = 0;
    r->write_event_handler = ngx_http_request_empty_handler;

    ngx_http_asgi_req_ref(req);
    asgicore_scope_write_ready(req->scope);
    ngx_http_asgi_req_unref(req);
}


/*
 * A subrequest's output waits in the postpone filter until the parent's
 * output reaches it; nginx then wakes the subrequest. If it is still
 * running, this writes what waited, as nginx's writer would after the
 * end.
 */

void
ngx_http_asgi_subrequest_writer(ngx_http_request_t *r)
{
    if (r->postponed || r->buffered) {
        (void) ngx_http_output_filter(r, NULL);
    }
}


static ngx_int_t
ngx_http_asgi_copy_header(ngx_http_request_t *r, ngx_list_t *list,
    const asgicore_header *header, ngx_table_elt_t **out)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(list);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif

    h->key.len = header->name.len;
    h->key.data = ngx_pnalloc(r->pool, header->name.len);
    h->value.len = header->value.len;
    h->value.data = ngx_pnalloc(r->pool, header->value.len + 1);

    if (h->key.data == NULL || h->value.data == NULL) {
        return NGX_ERROR;
    }

    /* The header's data may be NULL when its length is 0 (asgicore.h). */

    ngx_memcpy(h->key.data, header->name.data, header->name.len);
    if (header->value.len) {
        ngx_memcpy(h->value.data, header->value.data, header->value.len);
    }
    h->value.data[h->value.len] = '\0';
    h->lowcase_key = NULL;

    *out = h;

    return NGX_OK;
}


/* A content-length value as the library lets it through: a number, or a
 * list of equal numbers ("5, 5"). */

static off_t
ngx_http_asgi_length(const asgicore_str *value)
{
    u_char  *p, *last, *start;

    p = (u_char *) value->data;
    last = p + value->len;

    while (p < last && (*p == ' ' || *p == '\t')) {
        p++;
    }

    start = p;

    while (p < last && *p >= '0' && *p <= '9') {
        p++;
    }

    return ngx_atoof(start, p - start);
}


static ngx_int_t
ngx_http_asgi_name_is(const asgicore_str *name, const char *lowcase,
    size_t len)
{
    size_t  i;

    if (name->len != len) {
        return 0;
    }

    /* apps send names in lower case, as ASGI asks */
    if (ngx_memcmp(name->data, lowcase, len) == 0) {
        return 1;
    }

    /*
     * The library let only token bytes through (RFC 9110 tchar): among
     * them "| 0x20" maps exactly the upper-case letters onto the lower-case
     * ones, and leaves '-' and digits alone.
     */
    for (i = 0; i < len; i++) {
        if ((name->data[i] | 0x20) != lowcase[i]) {
            return 0;
        }
    }

    return 1;
}


/* A Connection field with the "close" option: one of its comma-separated
 * tokens, in any case. */

static ngx_int_t
ngx_http_asgi_says_close(const asgicore_str *value)
{
    const char  *p, *end, *start, *last;

    p = value->data;
    end = p + value->len;

    while (p < end) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == ',')) {
            p++;
        }

        start = p;

        while (p < end && *p != ',') {
            p++;
        }

        last = p;

        while (last > start && (last[-1] == ' ' || last[-1] == '\t')) {
            last--;
        }

        if (last - start == 5
            && ngx_strncasecmp((u_char *) start, (u_char *) "close", 5) == 0)
        {
            return 1;
        }
    }

    return 0;
}


/* Connection-specific fields, which nginx sets itself and HTTP/2 forbids
 * (a client resets a stream that carries one); Upgrade is the caller's. */

static ngx_int_t
ngx_http_asgi_hop_by_hop(const asgicore_str *name)
{
    return ngx_http_asgi_is_name(name, "connection")
           || ngx_http_asgi_is_name(name, "keep-alive")
           || ngx_http_asgi_is_name(name, "transfer-encoding")
           || ngx_http_asgi_is_name(name, "proxy-connection")
           || ngx_http_asgi_is_name(name, "te")
           || ngx_http_asgi_is_name(name, "http2-settings");
}
