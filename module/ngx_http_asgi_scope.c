
/*
 * Copyright (C) The asgicore authors. BSD-2-Clause, see LICENSE.
 *
 * The ASGI scope of a request, as the library takes it: method, scheme,
 * version, paths, headers and addresses, pointing into nginx's request
 * (the library copies them).
 */


#include "ngx_http_asgi_module.h"


static ngx_int_t ngx_http_asgi_scope_scheme(ngx_http_request_t *r,
    asgicore_scope_info *info);
static void ngx_http_asgi_scope_version(ngx_http_request_t *r,
    asgicore_scope_info *info);
static void ngx_http_asgi_scope_paths(ngx_http_request_t *r,
    asgicore_scope_info *info);
static void ngx_http_asgi_strip_root_path(asgicore_str *path,
    ngx_str_t *prefix);
static ngx_int_t ngx_http_asgi_scope_headers(ngx_http_request_t *r,
    asgicore_scope_info *info);
static ngx_int_t ngx_http_asgi_scope_addresses(ngx_http_request_t *r,
    asgicore_scope_info *info);


ngx_int_t
ngx_http_asgi_scope_info(ngx_http_request_t *r, asgicore_scope_info *info)
{
    ngx_memzero(info, sizeof(asgicore_scope_info));

    info->method.data = (char *) r->method_name.data;
    info->method.len = r->method_name.len;

    if (ngx_http_asgi_scope_scheme(r, info) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_asgi_scope_version(r, info);
    ngx_http_asgi_scope_paths(r, info);

    if (ngx_http_asgi_scope_headers(r, info) != NGX_OK
        || ngx_http_asgi_scope_addresses(r, info) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* The connection's scheme, or what asgi_scheme says (behind a TLS load
 * balancer) when that is "http" or "https". */

static ngx_int_t
ngx_http_asgi_scope_scheme(ngx_http_request_t *r, asgicore_scope_info *info)
{
    ngx_str_t                  scheme;
    ngx_http_asgi_loc_conf_t  *alcf;

    ngx_str_set(&scheme, "http");

#if (NGX_HTTP_SSL)
    if (r->connection->ssl) {
        ngx_str_set(&scheme, "https");
    }
#endif

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_asgi_module);

    if (alcf->scheme) {
        ngx_str_t  value;

        if (ngx_http_complex_value(r, alcf->scheme, &value) != NGX_OK) {
            return NGX_ERROR;
        }

        /* anything else (empty, a forged value) keeps the connection's */
        if (value.len == 5
            && ngx_strncasecmp(value.data, (u_char *) "https", 5) == 0)
        {
            ngx_str_set(&scheme, "https");

        } else if (value.len == 4
                   && ngx_strncasecmp(value.data, (u_char *) "http", 4) == 0)
        {
            ngx_str_set(&scheme, "http");
        }
    }

    info->scheme.data = (char *) scheme.data;
    info->scheme.len = scheme.len;

    return NGX_OK;
}


static void
ngx_http_asgi_scope_version(ngx_http_request_t *r, asgicore_scope_info *info)
{
    switch (r->http_version) {
    case NGX_HTTP_VERSION_9:
    case NGX_HTTP_VERSION_10:
        info->http_version.data = "1.0";
        break;
    case NGX_HTTP_VERSION_20:
        info->http_version.data = "2";
        break;
#ifdef NGX_HTTP_VERSION_30
    case NGX_HTTP_VERSION_30:
        info->http_version.data = "3";
        break;
#endif
    default:
        info->http_version.data = "1.1";
        break;
    }

    info->http_version.len = ngx_strlen(info->http_version.data);
}


static void
ngx_http_asgi_scope_paths(ngx_http_request_t *r, asgicore_scope_info *info)
{
    u_char                    *p, *end;
    ngx_http_asgi_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_asgi_module);

    /* nginx's r->uri is already percent-decoded and normalized */
    info->path.data = (char *) r->uri.data;
    info->path.len = r->uri.len;

    /* without the query, and without a fragment a client sent */
    p = r->unparsed_uri.data;
    end = p + r->unparsed_uri.len;

    while (p < end && *p != '?' && *p != '#') {
        p++;
    }

    info->raw_path.data = (char *) r->unparsed_uri.data;
    info->raw_path.len = p - r->unparsed_uri.data;

    if (alcf->root_path.len) {
        info->root_path.data = (char *) alcf->root_path.data;
        info->root_path.len = alcf->root_path.len;
        /* raw_path stays the bytes the client sent, as ASGI defines it */
        ngx_http_asgi_strip_root_path(&info->path, &alcf->root_path);
    }

    info->query_string.data = (char *) r->args.data;
    info->query_string.len = r->args.len;
}


/*
 * asgi_root_path: the app is mounted at the prefix, as behind a proxy that
 * strips it: "/api/items" becomes "/items" with root_path "/api", "/api"
 * becomes "/". A path outside the prefix is left as it is.
 */

static void
ngx_http_asgi_strip_root_path(asgicore_str *path, ngx_str_t *prefix)
{
    if (path->len < prefix->len
        || ngx_strncmp(path->data, prefix->data, prefix->len) != 0
        || (path->len > prefix->len && path->data[prefix->len] != '/'))
    {
        return;
    }

    if (path->len == prefix->len) {
        path->data = "/";
        path->len = 1;
        return;
    }

    path->data += prefix->len;
    path->len -= prefix->len;
}


/* The request's headers as received; ASGI wants the names lower-cased,
 * and nginx keeps that copy already. */

static ngx_int_t
ngx_http_asgi_scope_headers(ngx_http_request_t *r, asgicore_scope_info *info)
{
    size_t            n;
    ngx_uint_t        i, count;
    asgicore_header  *headers;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    count = 0;

    for (part = &r->headers_in.headers.part; part; part = part->next) {
        count += part->nelts;
    }

    headers = ngx_palloc(r->pool, (count ? count : 1)
                                  * sizeof(asgicore_header));
    if (headers == NULL) {
        return NGX_ERROR;
    }

    n = 0;

    for (part = &r->headers_in.headers.part; part; part = part->next) {
        h = part->elts;

        for (i = 0; i < part->nelts; i++) {
            headers[n].name.data = (char *) h[i].lowcase_key;
            headers[n].name.len = h[i].key.len;
            headers[n].value.data = (char *) h[i].value.data;
            headers[n].value.len = h[i].value.len;
            n++;
        }
    }

    info->headers = headers;
    info->header_count = n;

    return NGX_OK;
}


/*
 * The client's and the server's addresses; none on a unix socket. The
 * server's text is formatted once per local address the worker sees, not
 * per request: the library copies it during the open.
 */

static ngx_int_t
ngx_http_asgi_scope_addresses(ngx_http_request_t *r,
    asgicore_scope_info *info)
{
    ngx_connection_t  *c;

    static ngx_sockaddr_t  last;
    static socklen_t       last_len;
    static u_char          text[NGX_SOCKADDR_STRLEN];
    static size_t          text_len;

    c = r->connection;

    if (c->sockaddr->sa_family == AF_UNIX) {
        return NGX_OK;
    }

    info->client.host.data = (char *) c->addr_text.data;
    info->client.host.len = c->addr_text.len;
    info->client.port = ngx_inet_get_port(c->sockaddr);

    if (ngx_connection_local_sockaddr(c, NULL, 0) != NGX_OK) {
        return NGX_OK;
    }

    if (c->local_socklen != last_len
        || c->local_socklen > (socklen_t) sizeof(ngx_sockaddr_t)
        || ngx_memcmp(c->local_sockaddr, &last, c->local_socklen) != 0)
    {
        text_len = ngx_sock_ntop(c->local_sockaddr, c->local_socklen, text,
                                 NGX_SOCKADDR_STRLEN, 0);
        last_len = 0;

        if (c->local_socklen <= (socklen_t) sizeof(ngx_sockaddr_t)) {
            ngx_memcpy(&last, c->local_sockaddr, c->local_socklen);
            last_len = c->local_socklen;
        }
    }

    info->server.host.data = (char *) text;
    info->server.host.len = text_len;
    info->server.port = ngx_inet_get_port(c->local_sockaddr);

    return NGX_OK;
}
