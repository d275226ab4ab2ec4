/*
 * Copyright (c) 2026 The asgicore authors. BSD-2-Clause, see LICENSE.
 *
 * The pump of one request, on the thread Apache serves it on: the scope
 * from the request_rec, the body read without blocking and fed through
 * the host thread, the response written as the host thread hands it over,
 * and the client watched while the app works (a write after the client's
 * FIN succeeds, so only the socket tells).
 */

#include "mod_asgi.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http_connection.h"
#include "http_core.h"
#include "http_protocol.h"
#include "http_request.h"
#include "util_filter.h"

#define ASGI_BODY_CHUNK (64 * 1024)
#define ASGI_WRITE_PIECE (64 * 1024) /* of a large message, flushed */
/* HTTP/2 streams have no socket of their own: c->aborted is polled. */
#define ASGI_H2_POLL_MS 50

/* ------------------------------------------------------------ wait fd */

static pthread_key_t wait_key;
static pthread_once_t wait_once = PTHREAD_ONCE_INIT;

static void close_wait_fd(void *p)
{
    close((int)(intptr_t)p - 1);
}

static void make_wait_key(void)
{
    (void)pthread_key_create(&wait_key, close_wait_fd);
}

/* The calling thread's eventfd, made on first use, closed at its exit. */
int asgi_wait_fd(void)
{
    void *p;
    int fd;
    pthread_once(&wait_once, make_wait_key);
    p = pthread_getspecific(wait_key);
    if (p)
        return (int)(intptr_t)p - 1;
    fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd >= 0)
        (void)pthread_setspecific(wait_key, (void *)(intptr_t)(fd + 1));
    return fd;
}

/* ------------------------------------------------------------ the scope */

static asgicore_str str_of(const char *s)
{
    asgicore_str v = {s, s ? strlen(s) : 0};
    return v;
}

static void strip_root_path(asgicore_str *path, const char *prefix)
{
    size_t n = strlen(prefix);
    if (path->len < n || memcmp(path->data, prefix, n) != 0
        || (path->len > n && path->data[n] != '/'))
        return;
    if (path->len == n) {
        path->data = "/";
        path->len = 1;
        return;
    }
    path->data += n;
    path->len -= n;
}

static void scope_info(request_rec *r, asgi_dir_conf *conf,
                       asgicore_scope_info *info)
{
    conn_rec *c = r->connection;
    const apr_array_header_t *arr = apr_table_elts(r->headers_in);
    const apr_table_entry_t *e = (const apr_table_entry_t *)arr->elts;
    asgicore_header *h;
    const char *p;
    int i, n = 0;

    memset(info, 0, sizeof *info);
    info->method = str_of(r->method);
    info->scheme = str_of(ap_http_scheme(r));
    info->http_version = str_of(r->proto_num >= 2000   ? "2"
                                : r->proto_num >= 1001 ? "1.1"
                                                       : "1.0");
    /* r->uri is percent-decoded and normalized already */
    info->path = str_of(r->uri);
    p = r->unparsed_uri ? r->unparsed_uri : "";
    /* an absolute-form target (GET http://host/x): its path alone, as
     * sent (Apache's parsed path is normalized in place) */
    if (*p != '/' && strstr(p, "://")) {
        const char *q = strstr(p, "://") + 3;
        q += strcspn(q, "/?#"); /* after the authority */
        p = *q == '/' ? q : "/";
    }
    info->raw_path.data = p;
    info->raw_path.len = strcspn(p, "?#");
    info->query_string = str_of(r->args ? r->args : "");
    if (conf->root_path && conf->root_path[0]) {
        info->root_path = str_of(conf->root_path);
        strip_root_path(&info->path, conf->root_path);
    } else {
        info->root_path = str_of("");
    }

    h = apr_palloc(r->pool, sizeof *h * (arr->nelts ? arr->nelts : 1));
    for (i = 0; i < arr->nelts; i++) {
        char *name;
        if (!e[i].key)
            continue;
        name = apr_pstrdup(r->pool, e[i].key);
        ap_str_tolower(name);
        h[n].name = str_of(name);
        h[n].value = str_of(e[i].val ? e[i].val : "");
        n++;
    }
    info->headers = h;
    info->header_count = n;

    info->client.host = str_of(r->useragent_ip);
    info->client.port = r->useragent_addr ? r->useragent_addr->port : 0;
    info->server.host = str_of(c->local_ip);
    info->server.port = c->local_addr ? c->local_addr->port : 0;

    info->grace_period_ns = conf->grace_ms == ASGI_UNSET
                                ? -1
                                : (int64_t)conf->grace_ms * 1000000;
    if (conf->ignore_client_abort == 1)
        info->flags |= ASGICORE_SCOPE_IGNORE_CLIENT_ABORT;
    /* "Expect: 100-continue": Apache answers "100 Continue" on the first
     * read of the body, so the pump reads only once the app asks */
    if (r->expecting_100)
        info->flags |= ASGICORE_SCOPE_BODY_ON_DEMAND;
    /* Apache 2.4's HTTP/1.1 chunked encoding ends without trailers;
     * mod_http2 writes r->trailers_out with the end of the stream */
    if (r->proto_num >= 2000)
        info->capabilities |= ASGICORE_CAP_TRAILERS;
}

/* ------------------------------------------------------------ the pump */

typedef struct {
    request_rec *r;
    asgi_req *req;
    apr_bucket_brigade *bb;
    int fd;              /* the client's socket; -1 on HTTP/2 */
    int h2;
    int error_status;    /* the body Apache refused: its answer (400...) */
    int reading;         /* the body has not all been fed */
    int client_gone;
    int head_sent;
    int eos_sent;
    char *chunk;         /* the body chunk the host thread may be feeding */
    apr_time_t body_deadline;
} pump;

static void post_disconnect(pump *p, int reason)
{
    if (p->client_gone)
        return;
    p->client_gone = 1;
    p->reading = 0;
    pthread_mutex_lock(&p->req->lock);
    p->req->disconnect_reason = reason;
    pthread_mutex_unlock(&p->req->lock);
    asgi_host_post(p->req, ASGI_CMD_DISCONNECT);
}

static const char *status_line(request_rec *r, int status)
{
    const char *line = ap_get_status_line(status);
    if (line && atoi(line) == status)
        return line;
    return apr_psprintf(r->pool, "%03d ", status);
}

/* Calls add(name, value) for each field of a head or trailers. */
static void each_field(request_rec *r, const asgi_out *o,
                       void (*add)(request_rec *, char *, char *))
{
    const char *d = o->data;
    size_t i;
    for (i = 0; i < o->header_count; i++) {
        size_t nlen, vlen;
        char *name, *value;
        memcpy(&nlen, d, sizeof nlen);
        d += sizeof nlen;
        name = apr_pstrmemdup(r->pool, d, nlen);
        d += nlen;
        memcpy(&vlen, d, sizeof vlen);
        d += sizeof vlen;
        value = apr_pstrmemdup(r->pool, d, vlen);
        d += vlen;
        add(r, name, value);
    }
}

/* Connection-specific fields: Apache frames the response itself (a
 * Transfer-Encoding it did not set would make it send the body unframed)
 * and HTTP/2 forbids them (a client would reset the stream). */
static int hop_by_hop(const char *name)
{
    static const char *names[] = {"connection",       "keep-alive",
                                  "transfer-encoding", "upgrade",
                                  "proxy-connection",  "te",
                                  "http2-settings"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcasecmp(name, names[i]) == 0)
            return 1;
    return 0;
}

static void add_header(request_rec *r, char *name, char *value)
{
    if (strcasecmp(name, "content-type") == 0) {
        ap_set_content_type(r, value);
    } else if (strcasecmp(name, "content-length") == 0) {
        /* one value: the library let through only a number, or a list
         * of the same one, which HTTP/2 would refuse */
        value[strcspn(value, ", \t")] = '\0';
        apr_table_setn(r->headers_out, "Content-Length", value);
    } else if (!hop_by_hop(name)) {
        apr_table_addn(r->headers_out, name, value);
    } else if (strcasecmp(name, "connection") == 0
               && ap_find_token(r->pool, value, "close")) {
        /* the app asks for the connection to end after this response */
        r->connection->keepalive = AP_CONN_CLOSE;
    }
}

static void add_trailer(request_rec *r, char *name, char *value)
{
    /* fields that frame a message have no place after it */
    if (!hop_by_hop(name) && strcasecmp(name, "content-length") != 0
        && strcasecmp(name, "trailer") != 0)
        apr_table_addn(r->trailers_out, name, value);
}

static void apply_head(pump *p, asgi_out *o)
{
    request_rec *r = p->r;
    r->status = o->status;
    r->status_line = status_line(r, o->status);
    each_field(r, o, add_header);
    p->head_sent = 1;
}

/* Writes what the host thread handed over; frees it. */
/* Passes what the brigade holds, flushed; a failure is the client's. */
static void pass_flushed(pump *p)
{
    conn_rec *c = p->r->connection;
    APR_BRIGADE_INSERT_TAIL(p->bb, apr_bucket_flush_create(c->bucket_alloc));
    if (!p->client_gone) {
        apr_status_t rv = ap_pass_brigade(p->r->output_filters, p->bb);
        if (rv != APR_SUCCESS || c->aborted)
            post_disconnect(p, ASGICORE_DISCONNECT_WRITE_ERROR);
    }
    apr_brigade_cleanup(p->bb);
}

/* Writes what the host thread handed over; frees it. A large message goes
 * in pieces, each flushed: mod_http2 would take a whole one into memory
 * whatever the stream's window, and the wait in each flush is what holds
 * the app's next send back. */
static void write_out(pump *p, asgi_out *list)
{
    conn_rec *c = p->r->connection;
    apr_bucket_brigade *bb = p->bb;
    asgi_out *o, *next;
    int pending = 0;

    for (o = list; o; o = o->next) {
        if (o->kind == ASGI_OUT_HEAD) {
            apply_head(p, o);
            pending = 1;
            continue;
        }
        if (o->kind == ASGI_OUT_TRAILERS)
            each_field(p->r, o, add_trailer);
        for (size_t off = 0;
             o->kind == ASGI_OUT_BODY && off < o->len && !p->client_gone;
             off += ASGI_WRITE_PIECE) {
            size_t n = o->len - off < ASGI_WRITE_PIECE ? o->len - off
                                                       : ASGI_WRITE_PIECE;
            APR_BRIGADE_INSERT_TAIL(
                bb, apr_bucket_transient_create(o->data + off, n,
                                                c->bucket_alloc));
            pending = 1;
            if (n == ASGI_WRITE_PIECE) {
                pass_flushed(p);
                pending = 0;
            }
        }
        if (o->last) {
            /* the end of the stream waits for `done`: a response the
             * library cut (response_complete 0) must not end cleanly */
            p->eos_sent = 1;
            break;
        }
    }
    if (pending || p->head_sent)
        pass_flushed(p);
    for (o = list; o; o = next) {
        next = o->next;
        free(o);
    }
}

/* Whether the client's connection is gone: its socket's EOF or reset,
 * or (HTTP/2) its stream's. */
static int connection_lost(pump *p)
{
    struct pollfd pf;
    if (p->r->connection->aborted)
        return 1;
    if (p->fd < 0)
        return 0;
    pf.fd = p->fd;
    pf.events = POLLRDHUP;
    pf.revents = 0;
    return poll(&pf, 1, 0) > 0
           && (pf.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

/* Reads what the client sent of the body, without waiting. 1: a chunk
 * went to the host thread; 0: nothing to read now. */
static int read_body(pump *p)
{
    request_rec *r = p->r;
    apr_bucket_brigade *bb = p->bb;
    apr_bucket *b;
    apr_size_t len = 0;
    apr_status_t rv;
    int more = 1;

    if (r->expecting_100 && r->proto_num >= HTTP_VERSION(1, 1)) {
        /* the app asked for the body: "100 Continue" now (Apache's input
         * filter sends it only for a blocking read) */
        int status = r->status;
        r->status = HTTP_CONTINUE;
        ap_send_interim_response(r, 0);
        r->status = status;
        r->expecting_100 = 0;
    }
    rv = ap_get_brigade(r->input_filters, bb, AP_MODE_READBYTES,
                        APR_NONBLOCK_READ, ASGI_BODY_CHUNK);
    if (APR_STATUS_IS_EAGAIN(rv)) {
        apr_brigade_cleanup(bb);
        return 0;
    }
    if (rv != APR_SUCCESS) {
        apr_brigade_cleanup(bb);
        if (APR_STATUS_IS_TIMEUP(rv)) {
            p->error_status = HTTP_REQUEST_TIME_OUT;
            post_disconnect(p, ASGICORE_DISCONNECT_TIMEOUT);
        } else if (APR_STATUS_IS_ECONNRESET(rv)) {
            post_disconnect(p, ASGICORE_DISCONNECT_RESET);
        } else if (connection_lost(p)) {
            post_disconnect(p, ASGICORE_DISCONNECT_CLOSED);
        } else {
            /* a body Apache refused (bad chunk framing, LimitRequestBody):
             * the app learns it will not complete; Apache answers */
            p->error_status = ap_map_http_request_error(rv, HTTP_BAD_REQUEST);
            post_disconnect(p, ASGICORE_DISCONNECT_SERVER);
        }
        return 0;
    }
    for (b = APR_BRIGADE_FIRST(bb); b != APR_BRIGADE_SENTINEL(bb);
         b = APR_BUCKET_NEXT(b)) {
        const char *data;
        apr_size_t n;
        if (APR_BUCKET_IS_EOS(b)) {
            more = 0;
            break;
        }
        if (APR_BUCKET_IS_METADATA(b))
            continue;
        if (apr_bucket_read(b, &data, &n, APR_BLOCK_READ) != APR_SUCCESS)
            break;
        if (len + n > ASGI_BODY_CHUNK)
            n = ASGI_BODY_CHUNK - len; /* not more than asked for */
        memcpy(p->chunk + len, data, n);
        len += n;
    }
    apr_brigade_cleanup(bb);
    if (len == 0 && more)
        return 0;

    pthread_mutex_lock(&p->req->lock);
    p->req->feed_data = p->chunk;
    p->req->feed_len = len;
    p->req->feed_more = more;
    p->req->feed_busy = 1;
    pthread_mutex_unlock(&p->req->lock);
    asgi_host_post(p->req, ASGI_CMD_FEED);
    if (!more)
        p->reading = 0;
    p->body_deadline = apr_time_now() + r->server->timeout;
    return 1;
}

/* The client's socket says it left: FIN or reset. */
static void check_client(pump *p, short revents)
{
    char c;
    ssize_t n;
    if (!(revents & (POLLRDHUP | POLLHUP | POLLERR)))
        return;
    n = recv(p->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0 || (revents & (POLLRDHUP | POLLHUP)))
        post_disconnect(p, ASGICORE_DISCONNECT_CLOSED);
    else if (n < 0 && errno != EAGAIN && errno != EINTR)
        post_disconnect(p, errno == ECONNRESET ? ASGICORE_DISCONNECT_RESET
                                               : ASGICORE_DISCONNECT_CLOSED);
}

/* HTTP/2 needs no Content-Length for a body: its first read tells. */
static int has_body(request_rec *r)
{
    const char *te = apr_table_get(r->headers_in, "Transfer-Encoding");
    const char *cl = apr_table_get(r->headers_in, "Content-Length");
    if (r->proto_num >= 2000)
        return !(cl && apr_atoi64(cl) == 0);
    return te != NULL || (cl && apr_atoi64(cl) > 0);
}

int asgi_serve(request_rec *r, asgi_dir_conf *conf)
{
    conn_rec *c = r->connection;
    asgi_req *req;
    pump p;
    int wfd, outcome, complete, open_failed;
    uint64_t n;

    if (!conf->app->app) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "ASGI app %s is not running (see the log of the "
                      "child's start)", conf->app->name);
        return HTTP_SERVICE_UNAVAILABLE;
    }
    wfd = asgi_wait_fd();
    if (wfd < 0) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, errno, r, "ASGI: eventfd()");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    (void)!read(wfd, &n, sizeof n); /* a late wake of an earlier request */

    req = calloc(1, sizeof *req);
    if (!req)
        return HTTP_INTERNAL_SERVER_ERROR;
    atomic_init(&req->refs, 2); /* the pump's and the library's */
    pthread_mutex_init(&req->lock, NULL);
    req->app = conf->app;
    req->server = r->server;
    req->wake_fd = wfd;
    snprintf(req->client, sizeof req->client, "%s:%d", r->useragent_ip,
             r->useragent_addr ? r->useragent_addr->port : 0);
    scope_info(r, conf, &req->info);

    memset(&p, 0, sizeof p);
    p.r = r;
    p.req = req;
    p.bb = apr_brigade_create(r->pool, c->bucket_alloc);
    p.h2 = c->master != NULL;
    p.fd = -1;
    if (!p.h2) {
        apr_socket_t *s = ap_get_conn_socket(c);
        apr_os_sock_t os;
        if (s && apr_os_sock_get(&os, s) == APR_SUCCESS)
            p.fd = os;
    }
    p.reading = has_body(r);
    p.chunk = apr_palloc(r->pool, ASGI_BODY_CHUNK);
    p.body_deadline = apr_time_now() + r->server->timeout;

    /* L2: a client whose FIN came with its request is gone before the
     * app could start: the library counts it and never starts the app */
    if (!p.reading && p.fd >= 0 && conf->ignore_client_abort != 1) {
        struct pollfd pf = {p.fd, POLLRDHUP, 0};
        if (poll(&pf, 1, 0) > 0
            && (pf.revents & (POLLRDHUP | POLLHUP | POLLERR))) {
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                          "ASGI: the client closed the connection before "
                          "the app started");
            req->info.flags |= ASGICORE_SCOPE_CLIENT_GONE;
            p.client_gone = 1;
        }
    }
    if (p.reading && (req->info.flags & ASGICORE_SCOPE_BODY_ON_DEMAND))
        req->paused = 1; /* until resume_body: the app asked */
    if (!p.reading) {
        req->feed_data = NULL;
        req->feed_len = 0;
        req->feed_more = 0;
        req->feed_busy = 1;
    }
    asgi_host_track(req);
    asgi_host_post(req, ASGI_CMD_OPEN | (p.reading ? 0 : ASGI_CMD_FEED));

    for (;;) {
        asgi_out *list;
        int done, busy, paused, unblock = 0;
        struct pollfd fds[2];
        int nfds = 1, timeout = -1;

        pthread_mutex_lock(&req->lock);
        list = req->out_head;
        req->out_head = req->out_tail = NULL;
        req->out_bytes = 0;
        if (req->blocked) {
            req->blocked = 0;
            unblock = 1;
        }
        done = req->done;
        if (req->server_stop && !p.client_gone) {
            /* the child stops: the host thread told the app */
            p.client_gone = 1;
            p.reading = 0;
        }
        busy = req->feed_busy;
        paused = req->paused;
        if (req->feed_more < 0)
            p.reading = 0; /* the library takes no more body */
        pthread_mutex_unlock(&req->lock);

        if (list)
            write_out(&p, list);
        if (unblock)
            asgi_host_post(req, ASGI_CMD_WRITE_READY);
        if (done)
            break;

        if (p.reading && !busy && !paused && !p.client_gone) {
            if (read_body(&p))
                continue;
            if (apr_time_now() > p.body_deadline) {
                ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                              "ASGI: the client sent no body for %" APR_TIME_T_FMT
                              " s", apr_time_sec(r->server->timeout));
                p.error_status = HTTP_REQUEST_TIME_OUT; /* as nginx */
                post_disconnect(&p, ASGICORE_DISCONNECT_TIMEOUT);
                continue;
            }
        }

        fds[0].fd = wfd;
        fds[0].events = POLLIN;
        fds[0].revents = 0;
        /* after the end of the response, a client that leaves (as one
         * that asked for Connection: close does) is no disconnect */
        if (p.fd >= 0 && !p.client_gone && !p.eos_sent) {
            fds[1].fd = p.fd;
            fds[1].events = POLLRDHUP;
            fds[1].revents = 0;
            if (p.reading && !busy && !paused) {
                fds[1].events |= POLLIN;
                timeout = 1000; /* the body deadline is checked */
            }
            nfds = 2;
        } else if (p.h2 && !p.client_gone && !p.eos_sent) {
            timeout = ASGI_H2_POLL_MS;
        }
        if (poll(fds, nfds, timeout) < 0 && errno != EINTR)
            break;
        if (fds[0].revents)
            (void)!read(wfd, &n, sizeof n);
        /* while reading, the read itself sees the end */
        if (nfds == 2 && !(p.reading && (fds[1].revents & POLLIN)))
            check_client(&p, fds[1].revents);
        if (p.h2 && c->aborted && !p.eos_sent)
            post_disconnect(&p, c->master->aborted
                                    ? ASGICORE_DISCONNECT_CONNECTION_LOST
                                    : ASGICORE_DISCONNECT_STREAM_RESET);
    }

    pthread_mutex_lock(&req->lock);
    outcome = req->outcome;
    complete = req->response_complete;
    open_failed = req->open_failed;
    req->wake_fd = -1; /* this thread serves other requests next */
    pthread_mutex_unlock(&req->lock);

    asgi_host_untrack(req);
    if (!open_failed)
        asgi_host_post(req, ASGI_CMD_RELEASE);
    asgi_req_unref(req); /* the pump's */

    apr_table_setn(r->notes, "asgi-outcome", asgicore_outcome_name(outcome));
    if (open_failed)
        return HTTP_INTERNAL_SERVER_ERROR;
    if (complete && p.eos_sent && !p.client_gone) {
        APR_BRIGADE_INSERT_TAIL(p.bb, apr_bucket_eos_create(c->bucket_alloc));
        if (ap_pass_brigade(r->output_filters, p.bb) != APR_SUCCESS)
            c->aborted = 1;
        apr_brigade_cleanup(p.bb);
    }
    if (p.error_status && !p.head_sent) {
        /* Apache's own answer to the body it refused, on a connection
         * that ends: the rest of the body is not read */
        c->keepalive = AP_CONN_CLOSE;
        return p.error_status;
    }
    if (outcome == ASGICORE_OUTCOME_CLIENT_DISCONNECTED
        || (p.client_gone && !complete)) {
        c->keepalive = AP_CONN_CLOSE;
        c->aborted = 1;
        r->status = 499; /* as nginx logs a client that left */
    } else if (!complete) {
        /* an incomplete response: cut, so that no byte is read as the
         * next response */
        c->keepalive = AP_CONN_CLOSE;
        if (p.head_sent && p.h2) {
            /* as mod_proxy says a backend broke: mod_http2 resets the
             * stream rather than end it */
            APR_BRIGADE_INSERT_TAIL(
                p.bb, ap_bucket_error_create(HTTP_BAD_GATEWAY, NULL, r->pool,
                                             c->bucket_alloc));
            APR_BRIGADE_INSERT_TAIL(p.bb,
                                    apr_bucket_eos_create(c->bucket_alloc));
            (void)ap_pass_brigade(r->output_filters, p.bb);
            apr_brigade_cleanup(p.bb);
        }
        if (p.head_sent)
            c->aborted = 1;
    }
    return OK;
}
