/*
 * The Python ASGI runtime, as a threaded native app of libasgicore: one
 * interpreter per worker process, created after fork on the runtime's own
 * thread, which runs an asyncio loop (asgicore_runtime.py). The host's
 * thread never takes the GIL: it only writes the eventfd behind `wake`.
 *
 * Argument: one "name=value" setting per line (see parse_argument).
 * Each create() adds one ASGI app (one asgicore_app, one queue); all share
 * the process's one interpreter and its thread, started by the first
 * attach() and stopped by the first destroy() (the host destroys every app
 * at worker exit).
 *
 * The built-in module `_asgicore` gives the Python side the library's
 * app-side calls; a request crosses as a handle object that holds its
 * scope, never as an integer.
 */
#define PY_SSIZE_T_CLEAN
#define _GNU_SOURCE /* pthread_timedjoin_np */
#include <Python.h>

#include <asgicore.h>

#include <dlfcn.h>
#include <errno.h>
#include <libgen.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* the runtime's thread runs with SCHED_BATCH (set_batch_policy) */
static int sched_batch_set;

#define MAX_APPS 64

/* The values of the lifespan setting (pyapp_t.lifespan is an index) */
static const char *const lifespan_modes[] = {"auto", "on", "off"};

typedef struct {
    int index;
    char app_ref[512];       /* module:attribute */
    char *path;              /* extra sys.path entries, one per line */
    int lifespan;            /* an index in lifespan_modes */
    double shutdown_timeout; /* seconds */
    char server[64];         /* the host's name, for messages */
    asgicore_app *app;
} pyapp_t;

typedef struct {
    pyapp_t *apps[MAX_APPS];
    int napps;
    char runtime_dir[1024];
    pthread_t thread;
    int started;
    int efd;
    int stopping;  /* atomic: set by the host thread at exit */
    int abandoned; /* the thread did not stop: no more library calls */
    double shutdown_timeout; /* seconds, for lifespan shutdown */
    char server[64];         /* "nginx", "Apache httpd": for messages */
    PyObject *on_start;      /* set by the runtime, called with the GIL */
    PyObject *on_notify;
} runtime_t;

/* One runtime per process: the interpreter is process-wide anyway. */
static runtime_t *rt;

/*
 * A request's handle on the Python side (L6). It holds the library's scope
 * (asgicore_scope_hold) for as long as Python references it, so a task
 * that outlives its request still calls with valid memory and the library
 * refuses the call; a handle is never made from an integer. The GIL
 * guards it.
 */
typedef struct {
    PyObject_HEAD
    asgicore_scope *scope;
    int finished; /* asgicore_finish was called through it */
} handle_t;

static PyTypeObject handle_type;

static asgicore_scope *
scope_of(PyObject *o)
{
    if (!Py_IS_TYPE(o, &handle_type)) {
        PyErr_Format(PyExc_TypeError, "not a request handle: %.100s",
                     Py_TYPE(o)->tp_name);
        return NULL;
    }
    return ((handle_t *) o)->scope;
}

/* Apps are added by the host thread while the runtime thread runs. */
static int
napps(void)
{
    return __atomic_load_n(&rt->napps, __ATOMIC_ACQUIRE);
}

static asgicore_app *
app_of(int i)
{
    return __atomic_load_n(&rt->apps[i]->app, __ATOMIC_ACQUIRE);
}

/* The worker gave up waiting for the runtime's thread (an app blocks its
 * loop) and is exiting: the library may be gone, so Python must not call
 * it any more. */
static int
abandoned(void)
{
    return __atomic_load_n(&rt->abandoned, __ATOMIC_ACQUIRE);
}

/* The worker is exiting: the runtime's loop ends. */
static int
stopping(void)
{
    return __atomic_load_n(&rt->stopping, __ATOMIC_ACQUIRE);
}

/* In a function returning PyObject *: refuse the call once the runtime
 * thread was left behind at exit (the library may be gone). */
#define REFUSE_IF_ABANDONED()                                                 \
    do {                                                                      \
        if (abandoned()) {                                                    \
            return PyErr_Format(PyExc_RuntimeError,                           \
                                "the host process is exiting");               \
        }                                                                     \
    } while (0)

/* ------------------------------------------------------------ _asgicore */

/*
 * Text from Python for the library (log lines, messages): UTF-8, whatever
 * it holds. Lone surrogates (os.fsdecode of a non-UTF-8 name) are escaped,
 * NUL becomes "\\0": never an exception, never a cut C string. A new
 * bytes object; NULL with an exception only when out of memory or not a
 * str.
 */
static PyObject *
c_text(PyObject *text)
{
    PyObject *bytes, *clean;
    if (!PyUnicode_Check(text)) {
        return PyErr_Format(PyExc_TypeError, "text expected, not %.100s",
                            Py_TYPE(text)->tp_name);
    }
    bytes = PyUnicode_AsEncodedString(text, "utf-8", "backslashreplace");
    if (!bytes || !memchr(PyBytes_AS_STRING(bytes), '\0',
                          (size_t) PyBytes_GET_SIZE(bytes))) {
        return bytes;
    }
    clean = PyObject_CallMethod(bytes, "replace", "y#y#", "\0", (Py_ssize_t) 1,
                                "\\0", (Py_ssize_t) 2);
    Py_DECREF(bytes);
    return clean;
}

static PyObject *
str_or_none(asgicore_str s, int decode)
{
    if (s.data == NULL) {
        Py_RETURN_NONE;
    }
    /* R12: never lone surrogates, which apps cannot encode or log */
    if (decode) {
        return PyUnicode_DecodeUTF8(s.data, (Py_ssize_t) s.len, "replace");
    }
    return PyBytes_FromStringAndSize(s.data, (Py_ssize_t) s.len);
}

static PyObject *
addr(asgicore_addr a)
{
    if (a.host.data == NULL) {
        Py_RETURN_NONE;
    }
    return Py_BuildValue("(s#i)", a.host.data, (Py_ssize_t) a.host.len,
                         a.port);
}

/* The WebSocket scope of ASGI 3 (spec 2.5: accept headers, the denial
 * response), without `state`; `subprotocols` come from the runtime. */
static PyObject *
websocket_scope_dict(const asgicore_scope_info *i, PyObject *headers)
{
    int secure = i->scheme.len == 5 && memcmp(i->scheme.data, "https", 5) == 0;
    return Py_BuildValue(
        "{s:s,s:{s:s,s:s},s:{s:{}},s:N,s:s,s:N,s:N,s:N,s:N,s:N,s:N,s:N}",
        "type", "websocket", "asgi", "version", "3.0", "spec_version", "2.5",
        "extensions", "websocket.http.response", "http_version",
        str_or_none(i->http_version, 1), "scheme", secure ? "wss" : "ws",
        "path", str_or_none(i->path, 1), "raw_path",
        str_or_none(i->raw_path, 0), "query_string",
        str_or_none(i->query_string, 0), "root_path",
        str_or_none(i->root_path, 1), "headers", headers, "client",
        addr(i->client), "server", addr(i->server));
}

/* The scope's keys, and the values most requests share (str objects are
 * immutable: one object serves every scope), made once. */
static struct {
    PyObject *type, *asgi, *version, *spec_version, *extensions, *method,
        *scheme, *http_version, *path, *raw_path, *query_string, *root_path,
        *headers, *client, *server, *trailers_ext, *http, *v3_0, *v2_4;
    /* An HTTP scope's keys in their order, and "asgi"'s items: a request's
     * dicts start as copies of these (a copy takes the key table whole;
     * filling a new dict key by key hashes, probes and resizes). */
    PyObject *scope_template, *asgi_template;
    /* The template's values of the fields most requests share (the last
     * request's: a scope whose value is the same object keeps the copy's,
     * saving a dict store each). Borrowed: the template holds them. */
    PyObject *held_method, *held_scheme, *held_version, *held_root,
        *held_server;
} sk;

/* A few recent values of one field of the scope (method, scheme, ...). */
#define STR_CACHE_SIZE 4
typedef struct {
    PyObject *slot[STR_CACHE_SIZE];
    unsigned next;
} str_cache_t;

static str_cache_t method_cache, scheme_cache, version_cache, root_cache;

/* The text `s` as str, from `cache` when an ASCII value of it is there;
 * new ASCII values take a slot in turn. A new reference. */
static PyObject *
cached_str(str_cache_t *cache, asgicore_str s)
{
    PyObject *o;
    unsigned i;
    if (s.data == NULL) {
        Py_RETURN_NONE;
    }
    for (i = 0; i < STR_CACHE_SIZE; i++) {
        o = cache->slot[i];
        if (o != NULL && (size_t) PyUnicode_GET_LENGTH(o) == s.len &&
            memcmp(PyUnicode_1BYTE_DATA(o), s.data, s.len) == 0) {
            Py_INCREF(o);
            return o;
        }
    }
    o = str_or_none(s, 1);
    if (o != NULL && PyUnicode_IS_ASCII(o) && s.len <= 64) {
        i = cache->next++ % STR_CACHE_SIZE;
        Py_XSETREF(cache->slot[i], Py_NewRef(o));
    }
    return o;
}

static str_cache_t client_cache, server_cache;

/* (host, port), or None for an address the host does not know; hosts
 * come through `hosts`. A new reference. */
static PyObject *
addr_tuple(str_cache_t *hosts, asgicore_addr a)
{
    PyObject *t, *host, *port;
    if (a.host.data == NULL) {
        Py_RETURN_NONE;
    }
    t = PyTuple_New(2);
    if (!t) {
        return NULL;
    }
    host = cached_str(hosts, a.host);
    port = host ? PyLong_FromLong(a.port) : NULL;
    if (!port) {
        Py_XDECREF(host);
        Py_DECREF(t);
        return NULL;
    }
    PyTuple_SET_ITEM(t, 0, host);
    PyTuple_SET_ITEM(t, 1, port);
    return t;
}

static PyObject *
client_addr(asgicore_addr a)
{
    return addr_tuple(&client_cache, a);
}

/* The server's address repeats for every request to it: the last tuple
 * (immutable, so shared) serves while it matches. */
static PyObject *server_last;

static PyObject *
server_addr(asgicore_addr a)
{
    PyObject *host, *port;
    if (a.host.data == NULL) {
        Py_RETURN_NONE;
    }
    if (server_last != NULL) {
        host = PyTuple_GET_ITEM(server_last, 0);
        port = PyTuple_GET_ITEM(server_last, 1);
        if (PyLong_AsLong(port) == a.port &&
            (size_t) PyUnicode_GET_LENGTH(host) == a.host.len &&
            PyUnicode_IS_ASCII(host) &&
            memcmp(PyUnicode_1BYTE_DATA(host), a.host.data, a.host.len) == 0) {
            return Py_NewRef(server_last);
        }
    }
    Py_XSETREF(server_last, addr_tuple(&server_cache, a));
    return Py_XNewRef(server_last);
}

static int
intern_scope_keys(void)
{
#define SKEY(field, text)                                                     \
    do {                                                                      \
        if (!(sk.field = PyUnicode_InternFromString(text))) {                 \
            return -1;                                                        \
        }                                                                     \
    } while (0)
    SKEY(type, "type");
    SKEY(asgi, "asgi");
    SKEY(version, "version");
    SKEY(spec_version, "spec_version");
    SKEY(extensions, "extensions");
    SKEY(method, "method");
    SKEY(scheme, "scheme");
    SKEY(http_version, "http_version");
    SKEY(path, "path");
    SKEY(raw_path, "raw_path");
    SKEY(query_string, "query_string");
    SKEY(root_path, "root_path");
    SKEY(headers, "headers");
    SKEY(client, "client");
    SKEY(server, "server");
    SKEY(trailers_ext, "http.response.trailers");
    SKEY(http, "http");
    SKEY(v3_0, "3.0");
    SKEY(v2_4, "2.4");
#undef SKEY
    {
        PyObject *keys[] = {sk.type,      sk.asgi,     sk.extensions,
                            sk.method,    sk.scheme,   sk.http_version,
                            sk.path,      sk.raw_path, sk.query_string,
                            sk.root_path, sk.headers,  sk.client,
                            sk.server};
        size_t n;
        sk.scope_template = PyDict_New();
        sk.asgi_template = PyDict_New();
        if (!sk.scope_template || !sk.asgi_template) {
            return -1;
        }
        for (n = 0; n < sizeof keys / sizeof keys[0]; n++) {
            /* "type" is every HTTP scope's "http" */
            if (PyDict_SetItem(sk.scope_template, keys[n],
                               keys[n] == sk.type ? sk.http : Py_None) < 0) {
                return -1;
            }
        }
        sk.held_method = sk.held_scheme = sk.held_version = Py_None;
        sk.held_root = sk.held_server = Py_None;
        if (PyDict_SetItem(sk.asgi_template, sk.version, sk.v3_0) < 0 ||
            PyDict_SetItem(sk.asgi_template, sk.spec_version, sk.v2_4) < 0) {
            return -1;
        }
    }
    return 0;
}

/* dict[key] = value, taking the reference to value (NULL: failed). */
static int
set_new(PyObject *dict, PyObject *key, PyObject *value)
{
    int rc;
    if (value == NULL) {
        return -1;
    }
    rc = PyDict_SetItem(dict, key, value);
    Py_DECREF(value);
    return rc;
}

/* dict[key] = value, a copy of the scope template whose value for key is
 * *held: the same object is there already; another becomes the template's
 * (and *held) for the next scopes. Takes the reference to value. */
static int
set_shared(PyObject *dict, PyObject *key, PyObject *value, PyObject **held)
{
    int rc;
    if (value == NULL) {
        return -1;
    }
    if (value == *held) {
        Py_DECREF(value);
        return 0;
    }
    rc = PyDict_SetItem(dict, key, value);
    if (rc == 0) {
        rc = PyDict_SetItem(sk.scope_template, key, value);
    }
    if (rc == 0) {
        *held = value;
    }
    Py_DECREF(value);
    return rc;
}

/* The HTTP connection scope of ASGI 3, spec 2.4, without `state`. */
static PyObject *
scope_dict(asgicore_scope *scope)
{
    const asgicore_scope_info *i = asgicore_scope_get_info(scope);
    PyObject *headers, *d, *asgi, *extensions;
    size_t n;
    if (!i) {
        return PyErr_Format(PyExc_ValueError, "no such scope");
    }
    headers = PyList_New((Py_ssize_t) i->header_count);
    if (!headers) {
        return NULL;
    }
    for (n = 0; n < i->header_count; n++) {
        PyObject *pair = PyTuple_New(2), *name, *value;
        if (!pair) {
            Py_DECREF(headers);
            return NULL;
        }
        PyList_SET_ITEM(headers, (Py_ssize_t) n, pair);
        name = PyBytes_FromStringAndSize(i->headers[n].name.data,
                                         (Py_ssize_t) i->headers[n].name.len);
        value = PyBytes_FromStringAndSize(
            i->headers[n].value.data, (Py_ssize_t) i->headers[n].value.len);
        PyTuple_SET_ITEM(pair, 0, name);
        PyTuple_SET_ITEM(pair, 1, value);
        if (!name || !value) {
            Py_DECREF(headers);
            return NULL;
        }
    }
    /* the runtime's apps take WebSockets: the flag means the library made
     * a websocket scope */
    if (i->flags & ASGICORE_SCOPE_WEBSOCKET) {
        return websocket_scope_dict(i, headers);
    }
    d = PyDict_Copy(sk.scope_template);
    asgi = PyDict_Copy(sk.asgi_template);
    extensions = PyDict_New();
    if (!d || !asgi || !extensions) {
        goto failed;
    }
    /* extensions: trailers where the host can write them */
    if ((i->capabilities & ASGICORE_CAP_TRAILERS) &&
        set_new(extensions, sk.trailers_ext, PyDict_New()) < 0) {
        goto failed;
    }
    if (set_new(d, sk.asgi, Py_NewRef(asgi)) < 0 ||
        set_new(d, sk.extensions, Py_NewRef(extensions)) < 0 ||
        set_shared(d, sk.method, cached_str(&method_cache, i->method),
                   &sk.held_method) < 0 ||
        set_shared(d, sk.scheme, cached_str(&scheme_cache, i->scheme),
                   &sk.held_scheme) < 0 ||
        set_shared(d, sk.http_version,
                   cached_str(&version_cache, i->http_version),
                   &sk.held_version) < 0 ||
        set_new(d, sk.path, str_or_none(i->path, 1)) < 0 ||
        set_new(d, sk.raw_path, str_or_none(i->raw_path, 0)) < 0 ||
        set_new(d, sk.query_string, str_or_none(i->query_string, 0)) < 0 ||
        set_shared(d, sk.root_path, cached_str(&root_cache, i->root_path),
                   &sk.held_root) < 0 ||
        set_new(d, sk.headers, Py_NewRef(headers)) < 0 ||
        set_new(d, sk.client, client_addr(i->client)) < 0 ||
        set_shared(d, sk.server, server_addr(i->server), &sk.held_server) <
            0) {
        goto failed;
    }
    Py_DECREF(asgi);
    Py_DECREF(extensions);
    Py_DECREF(headers);
    return d;
failed:
    Py_XDECREF(d);
    Py_XDECREF(asgi);
    Py_XDECREF(extensions);
    Py_DECREF(headers);
    return NULL;
}

/* Interned keys and values of the ASGI messages, made once. */
static struct {
    PyObject *type, *body, *more_body, *status, *headers, *trailers,
        *more_trailers, *http_request, *http_disconnect, *response_start,
        *response_body, *response_trailers, *bytes, *text, *code, *reason,
        *subprotocol, *ws_connect, *ws_receive, *ws_disconnect, *ws_accept,
        *ws_send, *ws_close, *ws_response_start, *ws_response_body;
} k;

static int
intern_keys(void)
{
#define KEY(field, text)                                                      \
    do {                                                                      \
        if (!(k.field = PyUnicode_InternFromString(text))) {                  \
            return -1;                                                        \
        }                                                                     \
    } while (0)
    KEY(type, "type");
    KEY(body, "body");
    KEY(more_body, "more_body");
    KEY(status, "status");
    KEY(headers, "headers");
    KEY(trailers, "trailers");
    KEY(more_trailers, "more_trailers");
    KEY(http_request, "http.request");
    KEY(http_disconnect, "http.disconnect");
    KEY(response_start, "http.response.start");
    KEY(response_body, "http.response.body");
    KEY(response_trailers, "http.response.trailers");
    KEY(bytes, "bytes");
    KEY(text, "text");
    KEY(code, "code");
    KEY(reason, "reason");
    KEY(subprotocol, "subprotocol");
    KEY(ws_connect, "websocket.connect");
    KEY(ws_receive, "websocket.receive");
    KEY(ws_disconnect, "websocket.disconnect");
    KEY(ws_accept, "websocket.accept");
    KEY(ws_send, "websocket.send");
    KEY(ws_close, "websocket.close");
    KEY(ws_response_start, "websocket.http.response.start");
    KEY(ws_response_body, "websocket.http.response.body");
#undef KEY
    return 0;
}

/* receive(h) -> the ASGI message dict | None when nothing yet */
static PyObject *
websocket_event(int rc, const asgicore_event_v2 *ev)
{
    PyObject *data;
    /* L6: after the app finished, the connection is over for it */
    if (rc == ASGICORE_ERR_FINISHED) {
        return Py_BuildValue("{s:O,s:i,s:s}", "type", k.ws_disconnect, "code",
                             1006, "reason", "");
    }
    switch (ev->type) {
    case ASGICORE_EVENT_WEBSOCKET_CONNECT:
        return Py_BuildValue("{s:O}", "type", k.ws_connect);
    case ASGICORE_EVENT_WEBSOCKET_RECEIVE:
        /* text was validated as UTF-8 by the library */
        data = ev->text
                   ? PyUnicode_DecodeUTF8(ev->data, (Py_ssize_t) ev->len,
                                          "strict")
                   : PyBytes_FromStringAndSize(ev->data, (Py_ssize_t) ev->len);
        if (!data) {
            return NULL;
        }
        return Py_BuildValue("{s:O,s:N}", "type", k.ws_receive,
                             ev->text ? "text" : "bytes", data);
    case ASGICORE_EVENT_WEBSOCKET_DISCONNECT:
        data = PyUnicode_DecodeUTF8(ev->data ? ev->data : "",
                                    (Py_ssize_t) ev->len, "replace");
        if (!data) {
            return NULL;
        }
        return Py_BuildValue("{s:O,s:i,s:N}", "type", k.ws_disconnect, "code",
                             ev->code, "reason", data);
    default:
        return PyErr_Format(PyExc_RuntimeError, "receive: event %d", ev->type);
    }
}

static PyObject *
py_receive(PyObject *self, PyObject *arg)
{
    asgicore_event_v2 ev;
    PyObject *d, *body;
    int rc;
    asgicore_scope *scope;
    REFUSE_IF_ABANDONED();
    if (!(scope = scope_of(arg))) {
        return NULL;
    }
    memset(&ev, 0, sizeof ev);
    rc = asgicore_receive_versioned(scope, ASGICORE_EVENT_V2, &ev);
    if (rc == ASGICORE_PENDING) {
        Py_RETURN_NONE;
    }
    if ((rc == ASGICORE_OK || rc == ASGICORE_ERR_FINISHED) &&
        (asgicore_scope_get_info(scope)->flags & ASGICORE_SCOPE_WEBSOCKET)) {
        return websocket_event(rc, &ev);
    }
    /* L6: after the app finished (a task that outlived its request), the
     * request is over: http.disconnect, as after a complete response */
    if (rc != ASGICORE_OK && rc != ASGICORE_ERR_FINISHED) {
        return PyErr_Format(PyExc_RuntimeError, "receive: %s",
                            asgicore_strerror(rc));
    }
    d = PyDict_New();
    if (!d) {
        return NULL;
    }
    if (rc == ASGICORE_ERR_FINISHED ||
        ev.type == ASGICORE_EVENT_HTTP_DISCONNECT) {
        if (PyDict_SetItem(d, k.type, k.http_disconnect) < 0) {
            goto fail;
        }
        return d;
    }
    body = PyBytes_FromStringAndSize(ev.data, (Py_ssize_t) ev.len);
    if (!body || PyDict_SetItem(d, k.type, k.http_request) < 0 ||
        PyDict_SetItem(d, k.body, body) < 0 ||
        PyDict_SetItem(d, k.more_body, ev.more_body ? Py_True : Py_False) <
            0) {
        Py_XDECREF(body);
        goto fail;
    }
    Py_DECREF(body);
    return d;
fail:
    Py_DECREF(d);
    return NULL;
}

/* Headers as the library wants them; the bytes stay owned by `keep`. A
 * response's few headers take no allocation. */
#define HEADERS_ON_STACK 16

typedef struct {
    asgicore_header *h;
    size_t n;
    PyObject *keep; /* the pairs, and so their bytes, live while it does */
    asgicore_header local[HEADERS_ON_STACK];
} header_list;

static void
header_list_init(header_list *hl)
{
    hl->h = NULL;
    hl->n = 0;
    hl->keep = NULL;
}

static void
header_list_clear(header_list *hl)
{
    if (hl->h != hl->local) {
        free(hl->h);
    }
    Py_CLEAR(hl->keep);
    hl->h = NULL;
}

static int
parse_headers(PyObject *seq, header_list *hl)
{
    PyObject *fast = PySequence_Fast(seq, "headers must be a sequence");
    Py_ssize_t i, len;
    if (!fast) {
        return -1;
    }
    len = PySequence_Fast_GET_SIZE(fast);
    if (len <= HEADERS_ON_STACK) {
        hl->h = hl->local;
    }
    else if (!(hl->h = calloc((size_t) len, sizeof *hl->h))) {
        Py_DECREF(fast);
        PyErr_NoMemory();
        return -1;
    }
    hl->n = (size_t) len;
    hl->keep = fast;
    for (i = 0; i < len; i++) {
        PyObject *pair = PySequence_Fast_GET_ITEM(fast, i);
        PyObject *name, *value;
        if ((!PyTuple_Check(pair) && !PyList_Check(pair)) ||
            PySequence_Fast_GET_SIZE(pair) != 2 ||
            !PyBytes_Check(name = PySequence_Fast_GET_ITEM(pair, 0)) ||
            !PyBytes_Check(value = PySequence_Fast_GET_ITEM(pair, 1))) {
            PyErr_Format(PyExc_TypeError,
                         "a header is a pair of bytes, not %.200R", pair);
            header_list_clear(hl);
            return -1;
        }
        hl->h[i].name.data = PyBytes_AS_STRING(name);
        hl->h[i].name.len = (size_t) PyBytes_GET_SIZE(name);
        hl->h[i].value.data = PyBytes_AS_STRING(value);
        hl->h[i].value.len = (size_t) PyBytes_GET_SIZE(value);
    }
    return 0;
}

static int
flag(PyObject *message, PyObject *key)
{
    PyObject *v = PyDict_GetItemWithError(message, key);
    int truth;
    if (!v) {
        return PyErr_Occurred() ? -1 : 0;
    }
    Py_INCREF(v); /* its __bool__ may take it out of the message */
    truth = PyObject_IsTrue(v);
    Py_DECREF(v);
    return truth;
}

static PyObject *
send_headers(asgicore_scope *scope, PyObject *message, int trailers_message)
{
    PyObject *headers, *status_obj;
    header_list hl;
    int rc, more, status = 0;
    header_list_init(&hl);
    headers = PyDict_GetItemWithError(message, k.headers);
    if (!headers && PyErr_Occurred()) {
        return NULL;
    }
    if (headers && parse_headers(headers, &hl) < 0) {
        return NULL;
    }
    if (trailers_message) {
        more = flag(message, k.more_trailers);
        rc = more < 0 ? -1 : asgicore_send_trailers(scope, hl.h, hl.n, more);
    }
    else {
        long v = -1;
        status_obj = PyDict_GetItemWithError(message, k.status);
        if (!status_obj && !PyErr_Occurred()) {
            PyErr_SetString(PyExc_KeyError, "status");
        }
        if (status_obj) {
            v = PyLong_AsLong(status_obj);
        }
        /* out of range: the library refuses it, naming it (an int's
         * range keeps the number) */
        status = v > INT_MAX ? INT_MAX : v < INT_MIN ? INT_MIN : (int) v;
        more = PyErr_Occurred() ? -1 : flag(message, k.trailers);
        rc = more < 0 ? -1
                      : asgicore_send_start(scope, status, hl.h, hl.n, more);
    }
    header_list_clear(&hl);
    return PyErr_Occurred() ? NULL : PyLong_FromLong(rc);
}

/* An optional str (None or absent: NULL) as UTF-8 bytes in *out. */
static int
optional_text(PyObject *message, PyObject *key, PyObject **out)
{
    PyObject *v = PyDict_GetItemWithError(message, key);
    *out = NULL;
    if (!v) {
        return PyErr_Occurred() ? -1 : 0;
    }
    if (v == Py_None) {
        return 0;
    }
    if (!PyUnicode_Check(v)) {
        PyErr_Format(PyExc_TypeError, "'%U' must be a str, not %.100s", key,
                     Py_TYPE(v)->tp_name);
        return -1;
    }
    *out = PyUnicode_AsUTF8String(v);
    return *out ? 0 : -1;
}

static PyObject *
websocket_accept(asgicore_scope *scope, PyObject *message)
{
    PyObject *headers, *sub;
    header_list hl;
    asgicore_str proto = {NULL, 0};
    int rc;
    header_list_init(&hl);
    if (optional_text(message, k.subprotocol, &sub) < 0) {
        return NULL;
    }
    headers = PyDict_GetItemWithError(message, k.headers);
    if ((!headers && PyErr_Occurred()) ||
        (headers && parse_headers(headers, &hl) < 0)) {
        Py_XDECREF(sub);
        return NULL;
    }
    if (sub) {
        proto.data = PyBytes_AS_STRING(sub);
        proto.len = (size_t) PyBytes_GET_SIZE(sub);
    }
    rc = asgicore_websocket_accept(scope, sub ? &proto : NULL, hl.h, hl.n);
    header_list_clear(&hl);
    Py_XDECREF(sub);
    return PyLong_FromLong(rc);
}

/* websocket.send: exactly one of bytes and text */
static PyObject *
websocket_send(asgicore_scope *scope, PyObject *message)
{
    PyObject *bytes, *text;
    Py_buffer buf;
    int rc;
    bytes = PyDict_GetItemWithError(message, k.bytes);
    if (!bytes && PyErr_Occurred()) {
        return NULL;
    }
    if (bytes == Py_None) {
        bytes = NULL;
    }
    if (optional_text(message, k.text, &text) < 0) {
        return NULL;
    }
    if ((bytes == NULL) == (text == NULL)) {
        Py_XDECREF(text);
        return PyErr_Format(PyExc_RuntimeError,
                            "websocket.send needs exactly one of 'bytes' "
                            "and 'text'");
    }
    if (text) {
        rc = asgicore_websocket_send(scope, 1, PyBytes_AS_STRING(text),
                                     (size_t) PyBytes_GET_SIZE(text));
        Py_DECREF(text);
        return PyLong_FromLong(rc);
    }
    if (PyObject_GetBuffer(bytes, &buf, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    rc = asgicore_websocket_send(scope, 0, buf.buf, (size_t) buf.len);
    PyBuffer_Release(&buf);
    return PyLong_FromLong(rc);
}

static PyObject *
websocket_close(asgicore_scope *scope, PyObject *message)
{
    PyObject *code_obj, *reason;
    long code = 1000;
    int rc;
    code_obj = PyDict_GetItemWithError(message, k.code);
    if (!code_obj && PyErr_Occurred()) {
        return NULL;
    }
    if (code_obj && code_obj != Py_None) {
        code = PyLong_AsLong(code_obj);
        if (code == -1 && PyErr_Occurred()) {
            return NULL;
        }
        if (code < 0 || code > 65535) {
            code = 0; /* the library refuses it with its reason */
        }
    }
    if (optional_text(message, k.reason, &reason) < 0) {
        return NULL;
    }
    rc = asgicore_websocket_close(
        scope, (int) code, reason ? PyBytes_AS_STRING(reason) : NULL,
        reason ? (size_t) PyBytes_GET_SIZE(reason) : 0);
    Py_XDECREF(reason);
    return PyLong_FromLong(rc);
}

/* send(h, message) -> the library's result code */
static PyObject *
py_send(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    asgicore_scope *scope;
    PyObject *message, *type, *body;
    Py_buffer buf;
    int more, rc;
    REFUSE_IF_ABANDONED();
    if (nargs != 2) {
        return PyErr_Format(PyExc_TypeError, "send(h, message)");
    }
    if (!(scope = scope_of(args[0]))) {
        return NULL;
    }
    message = args[1];
    if (!PyDict_Check(message)) {
        return PyErr_Format(PyExc_TypeError,
                            "an ASGI message is a dict, not %.100s",
                            Py_TYPE(message)->tp_name);
    }
    type = PyDict_GetItemWithError(message, k.type);
    if (!type) {
        return PyErr_Occurred()
                   ? NULL
                   : PyErr_Format(PyExc_KeyError, "the message has no 'type'");
    }
    if (!PyUnicode_Check(type)) {
        /* the comparisons below cannot fail on two str */
        return PyErr_Format(PyExc_RuntimeError,
                            "unexpected ASGI message type %R", type);
    }
    /* HTTP responses first: the common case */
    if (type == k.response_start ||
        PyUnicode_Compare(type, k.response_start) == 0) {
        return send_headers(scope, message, 0);
    }
    if (type == k.response_body || type == k.ws_response_body ||
        PyUnicode_Compare(type, k.response_body) == 0 ||
        PyUnicode_Compare(type, k.ws_response_body) == 0) {
        /* more_body first: its truth may run app code (__bool__), which
         * could take the body out of the message */
        more = flag(message, k.more_body);
        if (more < 0) {
            return NULL;
        }
        body = PyDict_GetItemWithError(message, k.body);
        if (!body && PyErr_Occurred()) {
            return NULL;
        }
        if (!body) {
            return PyLong_FromLong(asgicore_send_body(scope, NULL, 0, more));
        }
        if (PyObject_GetBuffer(body, &buf, PyBUF_SIMPLE) < 0) {
            return NULL;
        }
        rc = asgicore_send_body(scope, buf.buf, (size_t) buf.len, more);
        PyBuffer_Release(&buf);
        return PyLong_FromLong(rc);
    }
    if (type == k.ws_send || PyUnicode_Compare(type, k.ws_send) == 0) {
        return websocket_send(scope, message);
    }
    if (type == k.ws_accept || PyUnicode_Compare(type, k.ws_accept) == 0) {
        return websocket_accept(scope, message);
    }
    if (type == k.ws_close || PyUnicode_Compare(type, k.ws_close) == 0) {
        return websocket_close(scope, message);
    }
    /* the denial response (websocket.http.response) is an HTTP one */
    if (type == k.ws_response_start ||
        PyUnicode_Compare(type, k.ws_response_start) == 0) {
        return send_headers(scope, message, 0);
    }
    if (PyUnicode_Compare(type, k.response_trailers) == 0) {
        return send_headers(scope, message, 1);
    }
    return PyErr_Format(PyExc_RuntimeError, "unexpected ASGI message type %R",
                        type);
}

/* The app is done with the request: the library may end it. The handle
 * stays valid (held) until Python lets go of it. */
static int
handle_finish(handle_t *h, int failed, const char *message)
{
    if (h->finished) {
        return ASGICORE_ERR_FINISHED;
    }
    h->finished = 1;
    /* no notification follows: on_notify must not find this object */
    asgicore_scope_set_app_data(h->scope, NULL);
    return asgicore_finish(h->scope, failed, message);
}

/* finish(h, failed[, message]): once per request, so without a tuple */
static PyObject *
py_finish(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *h, *message = Py_None, *bytes = NULL;
    int failed, rc;
    REFUSE_IF_ABANDONED();
    if (nargs < 2 || nargs > 3) {
        return PyErr_Format(PyExc_TypeError,
                            "finish(h, failed[, message]) takes 2 or 3 "
                            "arguments, not %zd",
                            nargs);
    }
    h = args[0];
    if (!PyObject_TypeCheck(h, &handle_type)) {
        return PyErr_Format(PyExc_TypeError,
                            "finish() needs a request handle, not %.100s",
                            Py_TYPE(h)->tp_name);
    }
    if ((failed = PyObject_IsTrue(args[1])) < 0) {
        return NULL;
    }
    if (nargs == 3) {
        message = args[2];
    }
    /* any text: a finish that raised would leave the request hanging */
    if (message != Py_None && !(bytes = c_text(message))) {
        PyErr_Clear();
    }
    rc = handle_finish((handle_t *) h, failed,
                       bytes ? PyBytes_AS_STRING(bytes) : NULL);
    Py_XDECREF(bytes);
    return PyLong_FromLong(rc);
}

/* log(app_index, h or None, level, text): a line for nginx's error log,
 * with the request when h's app still owns it. Any thread; any text (what
 * UTF-8 cannot carry is escaped, never an exception). */
static PyObject *
py_log(PyObject *self, PyObject *args)
{
    int index, level, rc;
    PyObject *h, *text, *bytes;
    asgicore_scope *scope = NULL;
    asgicore_app *app;
    REFUSE_IF_ABANDONED();
    if (!PyArg_ParseTuple(args, "iOiU", &index, &h, &level, &text)) {
        return NULL;
    }
    if (index < 0 || index >= napps() || !(app = app_of(index))) {
        return PyErr_Format(PyExc_IndexError, "no app %d", index);
    }
    if (h != Py_None && !(scope = scope_of(h))) {
        return NULL;
    }
    if (!(bytes = c_text(text))) {
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    rc = asgicore_app_log(app, scope, level, PyBytes_AS_STRING(bytes));
    if (rc == ASGICORE_ERR_FINISHED) { /* the app is done with it */
        rc = asgicore_app_log(app, NULL, level, PyBytes_AS_STRING(bytes));
    }
    Py_END_ALLOW_THREADS
    Py_DECREF(bytes);
    return PyLong_FromLong(rc);
}

/* Responses sent during one turn of the loop wake the host once, at the
 * start of the next turn, instead of once each: the first send of a turn
 * starts a batch, and the loop's call_soon (set_handlers' third argument)
 * runs end_batch after the callbacks of that turn. All in C: two Python
 * frames per turn otherwise. */
static int batch_on;
static PyObject *call_soon, *end_batch_fn;
/* The loop's thread: a send from another (an app's thread running a loop
 * of its own) wakes the host at once, as call_soon is the loop thread's
 * alone and the library's batch is per thread. */
static unsigned long loop_thread;

static int
batch_start(void)
{
    asgicore_app *app = napps() ? app_of(0) : NULL;
    PyObject *r;
    if (batch_on || !call_soon || !end_batch_fn || abandoned() ||
        PyThread_get_thread_ident() != loop_thread) {
        return 0;
    }
    /* its end scheduled first: a batch that cannot end is never begun */
    if (!(r = PyObject_CallOneArg(call_soon, end_batch_fn))) {
        return -1;
    }
    Py_DECREF(r);
    batch_on = 1;
    if (app) {
        asgicore_app_batch(app, 1);
    }
    return 0;
}

/* start_batch(): as an app's first send of a turn does (no-op when on) */
static PyObject *
py_start_batch(PyObject *self, PyObject *noargs)
{
    REFUSE_IF_ABANDONED();
    if (batch_start() < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* end_batch(): the host is woken for what the batch sent */
static PyObject *
py_end_batch(PyObject *self, PyObject *noargs)
{
    asgicore_app *app = napps() ? app_of(0) : NULL;
    REFUSE_IF_ABANDONED();
    if (batch_on) {
        batch_on = 0;
        if (app) {
            asgicore_app_batch(app, 0);
        }
    }
    Py_RETURN_NONE;
}

/* set_state(app_index, state, message): the app's readiness (P8) */
static PyObject *
py_set_state(PyObject *self, PyObject *args)
{
    int index, state, rc;
    PyObject *message, *bytes;
    asgicore_app *app;
    REFUSE_IF_ABANDONED();
    if (!PyArg_ParseTuple(args, "iiU", &index, &state, &message)) {
        return NULL;
    }
    if (index < 0 || index >= napps() || !(app = app_of(index))) {
        return PyErr_Format(PyExc_IndexError, "no app %d", index);
    }
    if (!(bytes = c_text(message))) {
        return NULL;
    }
    rc = asgicore_app_set_state(app, state, PyBytes_AS_STRING(bytes));
    Py_DECREF(bytes);
    return PyLong_FromLong(rc);
}

static PyObject *
py_strerror(PyObject *self, PyObject *arg)
{
    long rc = PyLong_AsLong(arg);
    if (rc == -1 && PyErr_Occurred()) {
        return NULL;
    }
    return PyUnicode_FromString(asgicore_strerror((int) rc));
}

static PyObject *
py_dispatch(PyObject *self, PyObject *noargs)
{
    uint64_t n;
    int i, total = 0;
    if (abandoned()) {
        return PyLong_FromLong(0);
    }
    /* one read resets the counter: this dispatch serves every wake so
     * far, and a wake after it makes the fd readable again */
    (void) !read(rt->efd, &n, sizeof n);
    /* the callbacks run here, on this thread, with the GIL held */
    for (i = 0; i < napps(); i++) {
        asgicore_app *app = app_of(i);
        if (app) {
            total += asgicore_app_dispatch(app);
        }
    }
    return PyLong_FromLong(total);
}

static PyObject *
py_set_handlers(PyObject *self, PyObject *args)
{
    PyObject *start, *notify, *soon = NULL;
    if (!PyArg_ParseTuple(args, "OO|O", &start, &notify, &soon)) {
        return NULL;
    }
    if (!end_batch_fn &&
        !(end_batch_fn = PyObject_GetAttrString(self, "end_batch"))) {
        return NULL;
    }
    /* a second call replaces the handlers: the first ones are let go */
    Py_INCREF(start);
    Py_INCREF(notify);
    Py_XSETREF(rt->on_start, start);
    Py_XSETREF(rt->on_notify, notify);
    Py_XSETREF(call_soon, Py_XNewRef(soon));
    loop_thread = PyThread_get_thread_ident(); /* where the loop runs */
    Py_RETURN_NONE;
}

static PyObject *
py_wake_fd(PyObject *self, PyObject *noargs)
{
    return PyLong_FromLong(rt->efd);
}

static PyObject *
py_stopping(PyObject *self, PyObject *noargs)
{
    return PyBool_FromLong(stopping());
}

static PyObject *
py_app_config(PyObject *self, PyObject *arg)
{
    long i = PyLong_AsLong(arg);
    if (i == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (i < 0 || i >= napps()) {
        return PyErr_Format(PyExc_IndexError, "no app %ld", i);
    }
    return Py_BuildValue("(sss)", rt->apps[i]->app_ref, rt->apps[i]->path,
                         lifespan_modes[rt->apps[i]->lifespan]);
}

static PyObject *
py_app_count(PyObject *self, PyObject *noargs)
{
    return PyLong_FromLong(napps());
}

static PyObject *
py_server(PyObject *self, PyObject *noargs)
{
    return PyUnicode_FromString(rt->server);
}

static PyObject *
py_shutdown_timeout(PyObject *self, PyObject *noargs)
{
    return PyFloat_FromDouble(rt->shutdown_timeout);
}

PyDoc_STRVAR(receive_doc,
             "receive(h) -> dict | None\n\n"
             "The next ASGI message of h's request, or None when none is "
             "there yet\n(RECEIVE_READY follows).");
PyDoc_STRVAR(send_doc,
             "send(h, message) -> int\n\n"
             "Hands an ASGI response message to the library; its result "
             "code\n(PENDING: SEND_READY follows).");
PyDoc_STRVAR(finish_doc, "finish(h, failed, message=None) -> int\n\n"
                         "The app is done with h's request.");
PyDoc_STRVAR(dispatch_doc,
             "dispatch() -> int\n\n"
             "Runs the library's queued callbacks for every app; how many.");
PyDoc_STRVAR(log_doc,
             "log(app_index, h, level, text) -> int\n\n"
             "A line for the host's log, with h's request (h may be None).");
PyDoc_STRVAR(start_batch_doc,
             "start_batch() -> None\n\n"
             "Until end_batch(), which the loop runs after this turn's\n"
             "callbacks, the host is woken once, at the batch's end.");
PyDoc_STRVAR(end_batch_doc, "end_batch() -> None\n\n"
                            "Ends the batch: the host is woken.");
PyDoc_STRVAR(set_state_doc,
             "set_state(app_index, state, message) -> int\n\n"
             "The app's readiness: APP_LOADING, APP_READY or APP_FAILED.");
PyDoc_STRVAR(strerror_doc, "strerror(code) -> str\n\n"
                           "The library's text for a result code.");
PyDoc_STRVAR(set_handlers_doc,
             "set_handlers(on_start, on_notify[, call_soon]) -> None\n\n"
             "The callables the library's start and notify callbacks call,\n"
             "and the loop's call_soon, which ends each batch (called on\n"
             "the loop's thread: only its sends are batched).");
PyDoc_STRVAR(wake_fd_doc,
             "wake_fd() -> int\n\n"
             "The eventfd that is readable when dispatch() has work.");
PyDoc_STRVAR(stopping_doc, "stopping() -> bool\n\n"
                           "True once the host began to exit.");
PyDoc_STRVAR(app_config_doc,
             "app_config(app_index) -> (str, str, str)\n\n"
             "The app's reference, its path lines and its lifespan mode.");
PyDoc_STRVAR(app_count_doc, "app_count() -> int\n\n"
                            "How many apps this process serves.");
PyDoc_STRVAR(server_doc,
             "server() -> str\n\n"
             "The host's name for messages: \"nginx\", \"Apache httpd\".");
PyDoc_STRVAR(shutdown_timeout_doc, "shutdown_timeout() -> float\n\n"
                                   "Seconds lifespan shutdown may take.");

static PyObject *py_sender(PyObject *self, PyObject *const *args,
                           Py_ssize_t nargs);
static PyObject *py_receiver(PyObject *self, PyObject *const *args,
                             Py_ssize_t nargs);

static PyMethodDef asgicore_methods[] = {
    {"receive", py_receive, METH_O, receive_doc},
    {"send", (PyCFunction) (void (*)(void)) py_send, METH_FASTCALL, send_doc},
    {"finish", (PyCFunction) (void (*)(void)) py_finish, METH_FASTCALL,
     finish_doc},
    {"dispatch", py_dispatch, METH_NOARGS, dispatch_doc},
    {"log", py_log, METH_VARARGS, log_doc},
    {"start_batch", py_start_batch, METH_NOARGS, start_batch_doc},
    {"end_batch", py_end_batch, METH_NOARGS, end_batch_doc},
    {"set_state", py_set_state, METH_VARARGS, set_state_doc},
    {"strerror", py_strerror, METH_O, strerror_doc},
    {"set_handlers", py_set_handlers, METH_VARARGS, set_handlers_doc},
    {"sender", (PyCFunction) (void (*)(void)) py_sender, METH_FASTCALL,
     "sender(scope, handle) -> the send callable of one request"},
    {"receiver", (PyCFunction) (void (*)(void)) py_receiver, METH_FASTCALL,
     "receiver(scope, handle) -> the receive callable of one request"},
    {"wake_fd", py_wake_fd, METH_NOARGS, wake_fd_doc},
    {"stopping", py_stopping, METH_NOARGS, stopping_doc},
    {"app_config", py_app_config, METH_O, app_config_doc},
    {"app_count", py_app_count, METH_NOARGS, app_count_doc},
    {"shutdown_timeout", py_shutdown_timeout, METH_NOARGS,
     shutdown_timeout_doc},
    {"server", py_server, METH_NOARGS, server_doc},
    {NULL, NULL, 0, NULL},
};

static void
handle_dealloc(PyObject *o)
{
    handle_t *h = (handle_t *) o;
    if (h->scope && !abandoned()) {
        /* Python lost the request without finishing it (the interpreter
         * is finalizing): end it, then let it go */
        handle_finish(h, 1, "the Python runtime let go of the request");
        asgicore_scope_drop(h->scope);
    }
    Py_TYPE(o)->tp_free(o);
}

static PyTypeObject handle_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "_asgicore.Handle",
    .tp_basicsize = sizeof(handle_t),
    .tp_dealloc = handle_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A request's scope, held while Python refers to it.",
};

/*
 * The `send` and `receive` an app is given (Sender), and what calling them
 * returns (SendOp): a coroutine (registered as collections.abc.Coroutine by
 * the runtime) that does nothing until it is awaited, as an `async def`
 * would. Its first step runs in C in the common case (no frame, no
 * StopIteration): a send when the runtime's batch is on and no earlier
 * send is pending, a receive when a message is there. Otherwise, and when
 * the library answers a send with anything but OK, it hands over to the
 * runtime's Python code (_Scope.send, _Scope._sent, _Scope.receive) and
 * passes every send, throw and close on to that coroutine.
 */
enum { OP_SEND, OP_RECEIVE };

typedef struct {
    PyObject_HEAD
    PyObject *st; /* the runtime's _Scope */
    PyObject *h;  /* its handle */
    int kind;     /* OP_SEND, OP_RECEIVE */
    vectorcallfunc vectorcall;
    PyObject *weakrefs;
} sender_t;

/* RUNNING: its first step is under way (code it runs may call the op) */
enum { SENDOP_NEW, SENDOP_RUNNING, SENDOP_INNER, SENDOP_DONE };

typedef struct {
    PyObject_HEAD
    PyObject *st, *h, *message; /* until the first step */
    PyObject *inner;            /* the Python coroutine it handed over to */
    PyObject *weakrefs;
    int state;
    int kind;
} sendop_t;

static PyTypeObject sender_type, sendop_type;

/* Names looked up on the runtime's _Scope, interned once. */
static PyObject *str_send_pending, *str_send, *str_sent, *str_throw,
    *str_close, *str_receive, *str_client_left;

static void
sendop_end(sendop_t *op)
{
    op->state = SENDOP_DONE;
    Py_CLEAR(op->st);
    Py_CLEAR(op->h);
    Py_CLEAR(op->message);
    Py_CLEAR(op->inner);
}

/* One step of the coroutine it handed over to. */
static PySendResult
sendop_step_inner(sendop_t *op, PyObject *value, PyObject **result)
{
    /* (held for the step: whatever the step runs may end the op) */
    PyObject *inner = Py_NewRef(op->inner);
    PySendResult r = PyIter_Send(inner, value, result);
    if (r != PYGEN_NEXT) {
        sendop_end(op);
    }
    Py_DECREF(inner);
    return r;
}

/* The first step of a receive: a message that is there is returned. */
static PySendResult
receiveop_first(sendop_t *op, PyObject **result)
{
    PyObject *message, *type;
    int left;
    *result = NULL;
    if (!(message = py_receive(NULL, op->h))) {
        sendop_end(op);
        return PYGEN_ERROR;
    }
    if (message != Py_None) {
        type = PyDict_GetItemWithError(message, k.type);
        left = type && PyUnicode_Check(type) &&
               (PyUnicode_Compare(type, k.http_disconnect) == 0 ||
                PyUnicode_Compare(type, k.ws_disconnect) == 0);
        if ((!type && PyErr_Occurred()) ||
            (left && PyObject_SetAttr(op->st, str_client_left, Py_True) < 0)) {
            Py_DECREF(message);
            sendop_end(op);
            return PYGEN_ERROR;
        }
        sendop_end(op);
        *result = message;
        return PYGEN_RETURN;
    }
    Py_DECREF(message);
    /* nothing yet: the Python receive waits for it */
    if (!(op->inner = PyObject_CallMethodNoArgs(op->st, str_receive))) {
        sendop_end(op);
        return PYGEN_ERROR;
    }
    op->state = SENDOP_INNER;
    return sendop_step_inner(op, Py_None, result);
}

/* The first step of a send: the send itself. */
static PySendResult
sendop_first(sendop_t *op, PyObject **result)
{
    PyObject *pending, *rc, *args[2];
    int busy;
    *result = NULL;
    if (batch_start() < 0) {
        sendop_end(op);
        return PYGEN_ERROR;
    }
    if (!(pending = PyObject_GetAttr(op->st, str_send_pending))) {
        sendop_end(op);
        return PYGEN_ERROR;
    }
    busy = !batch_on || PyObject_IsTrue(pending);
    Py_DECREF(pending);
    if (busy) {
        /* follow the pending send (or an error): Python's work */
        op->inner = PyObject_CallMethodOneArg(op->st, str_send, op->message);
    }
    else {
        args[0] = op->h;
        args[1] = op->message;
        if (!(rc = py_send(NULL, args, 2))) {
            sendop_end(op);
            return PYGEN_ERROR;
        }
        if (PyLong_CheckExact(rc) && PyLong_AsLong(rc) == ASGICORE_OK) {
            Py_DECREF(rc);
            sendop_end(op);
            *result = Py_NewRef(Py_None);
            return PYGEN_RETURN;
        }
        op->inner = PyObject_CallMethodObjArgs(op->st, str_sent, rc,
                                               op->message, NULL);
        Py_DECREF(rc);
    }
    if (!op->inner) {
        sendop_end(op);
        return PYGEN_ERROR;
    }
    op->state = SENDOP_INNER;
    Py_CLEAR(op->message);
    return sendop_step_inner(op, Py_None, result);
}

static PySendResult
sendop_am_send(PyObject *self, PyObject *value, PyObject **result)
{
    sendop_t *op = (sendop_t *) self;
    *result = NULL;
    switch (op->state) {
    case SENDOP_NEW:
        if (value != Py_None) {
            PyErr_SetString(PyExc_TypeError, "can't send non-None value to "
                                             "a just-started coroutine");
            return PYGEN_ERROR;
        }
        op->state = SENDOP_RUNNING;
        return op->kind == OP_RECEIVE ? receiveop_first(op, result)
                                      : sendop_first(op, result);
    case SENDOP_RUNNING:
        PyErr_SetString(PyExc_ValueError, "coroutine already executing");
        return PYGEN_ERROR;
    case SENDOP_INNER:
        return sendop_step_inner(op, value, result);
    default:
        PyErr_SetString(PyExc_RuntimeError,
                        "cannot reuse already awaited coroutine");
        return PYGEN_ERROR;
    }
}

static PyObject *
sendop_iternext(PyObject *self)
{
    PyObject *result;
    PySendResult r = sendop_am_send(self, Py_None, &result);
    if (r == PYGEN_RETURN) {
        if (result != Py_None) {
            _PyGen_SetStopIterationValue(result);
        }
        Py_DECREF(result);
        return NULL;
    }
    return result; /* yielded, or NULL with the error */
}

static PyObject *
sendop_send(PyObject *self, PyObject *value)
{
    PyObject *result;
    PySendResult r = sendop_am_send(self, value, &result);
    if (r == PYGEN_RETURN) {
        _PyGen_SetStopIterationValue(result);
        Py_DECREF(result);
        return NULL;
    }
    return result;
}

static PyObject *
sendop_throw(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    sendop_t *op = (sendop_t *) self;
    PyObject *method, *result;
    if (nargs < 1 || nargs > 3) {
        return PyErr_Format(PyExc_TypeError,
                            "throw expected at least 1 argument, got %zd",
                            nargs);
    }
    if (op->state == SENDOP_RUNNING) {
        return PyErr_Format(PyExc_ValueError, "coroutine already executing");
    }
    if (op->state == SENDOP_NEW) {
        /* a coroutine that never ran: Python's own raises at once */
        op->inner =
            op->kind == OP_RECEIVE
                ? PyObject_CallMethodNoArgs(op->st, str_receive)
                : PyObject_CallMethodOneArg(op->st, str_send, op->message);
        if (!op->inner) {
            sendop_end(op);
            return NULL;
        }
        op->state = SENDOP_INNER;
        Py_CLEAR(op->message);
    }
    if (op->state == SENDOP_DONE) {
        /* as a finished coroutine answers */
        return PyErr_Format(PyExc_RuntimeError,
                            "cannot reuse already awaited coroutine");
    }
    if (!(method = PyObject_GetAttr(op->inner, str_throw))) {
        sendop_end(op);
        return NULL;
    }
    /* (the bound method holds the coroutine for the call) */
    result = PyObject_Vectorcall(method, args, (size_t) nargs, NULL);
    Py_DECREF(method);
    if (!result) {
        sendop_end(op); /* it returned (StopIteration) or raised */
    }
    return result;
}

static PyObject *
sendop_close(PyObject *self, PyObject *unused)
{
    sendop_t *op = (sendop_t *) self;
    PyObject *r;
    PyObject *inner;
    if (op->state == SENDOP_RUNNING) {
        return PyErr_Format(PyExc_ValueError, "coroutine already executing");
    }
    if (op->state == SENDOP_INNER) {
        inner = Py_NewRef(op->inner);
        r = PyObject_CallMethodNoArgs(inner, str_close);
        sendop_end(op);
        Py_DECREF(inner);
        return r;
    }
    sendop_end(op);
    Py_RETURN_NONE;
}

static PyObject *
sendop_await(PyObject *self)
{
    return Py_NewRef(self);
}

static int
sendop_traverse(PyObject *self, visitproc visit, void *arg)
{
    sendop_t *op = (sendop_t *) self;
    Py_VISIT(op->st);
    Py_VISIT(op->h);
    Py_VISIT(op->message);
    Py_VISIT(op->inner);
    return 0;
}

static int
sendop_clear(PyObject *self)
{
    sendop_t *op = (sendop_t *) self;
    Py_CLEAR(op->st);
    Py_CLEAR(op->h);
    Py_CLEAR(op->message);
    Py_CLEAR(op->inner);
    return 0;
}

/* As Python warns of a coroutine nobody awaited or closed; a finalizer,
 * not dealloc, so that the warning (an exception under "error" filters,
 * reported as unraisable) may hold the object. */
static void
sendop_finalize(PyObject *self)
{
    sendop_t *op = (sendop_t *) self;
    PyObject *type, *value, *tb;
    if (op->state != SENDOP_NEW) {
        return;
    }
    op->state = SENDOP_DONE; /* warned once */
    PyErr_Fetch(&type, &value, &tb);
    if (PyErr_WarnEx(PyExc_RuntimeWarning,
                     op->kind == OP_RECEIVE
                         ? "coroutine 'receive' was never awaited"
                         : "coroutine 'send' was never awaited",
                     1) < 0) {
        PyErr_WriteUnraisable(self);
    }
    PyErr_Restore(type, value, tb);
}

static void
sendop_dealloc(PyObject *self)
{
    if (PyObject_CallFinalizerFromDealloc(self) < 0) {
        return; /* resurrected by the warning's handler */
    }
    PyObject_GC_UnTrack(self);
    if (((sendop_t *) self)->weakrefs) {
        PyObject_ClearWeakRefs(self);
    }
    sendop_clear(self);
    PyObject_GC_Del(self);
}

/* What introspection asks of a coroutine and its function. */
static PyObject *
op_name(int kind)
{
    return PyUnicode_FromString(kind == OP_RECEIVE ? "receive" : "send");
}

static PyObject *
sendop_get_name(PyObject *self, void *closure)
{
    return op_name(((sendop_t *) self)->kind);
}

static PyObject *
sender_get_name(PyObject *self, void *closure)
{
    return op_name(((sender_t *) self)->kind);
}

/* asyncio.iscoroutinefunction(send) is true, as for an async def (asgiref
 * warns when async_to_sync is given a callable without the mark) */
static PyObject *
sender_get_is_coroutine(PyObject *self, void *closure)
{
    PyObject *coroutines = PyImport_ImportModule("asyncio.coroutines"), *mark;
    if (!coroutines) {
        return NULL;
    }
    mark = PyObject_GetAttrString(coroutines, "_is_coroutine");
    Py_DECREF(coroutines);
    return mark;
}

static PyGetSetDef sendop_getset[] = {
    {"__name__", sendop_get_name, NULL, NULL, NULL},
    {"__qualname__", sendop_get_name, NULL, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyGetSetDef sender_getset[] = {
    {"__name__", sender_get_name, NULL, NULL, NULL},
    {"__qualname__", sender_get_name, NULL, NULL, NULL},
    {"_is_coroutine", sender_get_is_coroutine, NULL, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef sendop_methods[] = {
    {"send", sendop_send, METH_O, NULL},
    {"throw", (PyCFunction) (void (*)(void)) sendop_throw, METH_FASTCALL,
     NULL},
    {"close", sendop_close, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyAsyncMethods sendop_async = {
    .am_await = sendop_await,
    .am_send = sendop_am_send,
};

static PyTypeObject sendop_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "_asgicore.SendOp",
    .tp_basicsize = sizeof(sendop_t),
    .tp_dealloc = sendop_dealloc,
    .tp_as_async = &sendop_async,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "An ASGI send or receive, awaited as a coroutine.",
    .tp_traverse = sendop_traverse,
    .tp_clear = sendop_clear,
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = sendop_iternext,
    .tp_methods = sendop_methods,
    .tp_getset = sendop_getset,
    .tp_weaklistoffset = offsetof(sendop_t, weakrefs),
    .tp_finalize = sendop_finalize,
};

static PyObject *
sender_vectorcall(PyObject *self, PyObject *const *args, size_t nargsf,
                  PyObject *kwnames)
{
    sender_t *sender = (sender_t *) self;
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    PyObject *message = NULL;
    sendop_t *op;
    if (sender->kind == OP_RECEIVE) {
        if (nargs || kwnames) {
            return PyErr_Format(PyExc_TypeError,
                                "receive() takes no arguments");
        }
        message = Py_None;
    }
    else if (nargs == 1 && kwnames == NULL) {
        message = args[0];
    }
    else if (nargs == 0 && kwnames && PyTuple_GET_SIZE(kwnames) == 1 &&
             PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(kwnames, 0),
                                              "message") == 0) {
        message = args[0];
    }
    else {
        return PyErr_Format(PyExc_TypeError,
                            "send() takes one argument: the message");
    }
    op = PyObject_GC_New(sendop_t, &sendop_type);
    if (!op) {
        return NULL;
    }
    op->st = Py_NewRef(sender->st);
    op->h = Py_NewRef(sender->h);
    op->message = Py_NewRef(message);
    op->inner = NULL;
    op->weakrefs = NULL;
    op->state = SENDOP_NEW;
    op->kind = sender->kind;
    PyObject_GC_Track(op);
    return (PyObject *) op;
}

static PyObject *
sender_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    PyObject *st, *h;
    sender_t *sender;
    if (!PyArg_ParseTuple(args, "OO!:Sender", &st, &handle_type, &h)) {
        return NULL;
    }
    if (!(sender = (sender_t *) type->tp_alloc(type, 0))) {
        return NULL;
    }
    sender->st = Py_NewRef(st);
    sender->h = Py_NewRef(h);
    sender->kind = OP_SEND;
    sender->vectorcall = sender_vectorcall;
    return (PyObject *) sender;
}

static int
sender_traverse(PyObject *self, visitproc visit, void *arg)
{
    Py_VISIT(((sender_t *) self)->st);
    Py_VISIT(((sender_t *) self)->h);
    return 0;
}

static int
sender_clear(PyObject *self)
{
    Py_CLEAR(((sender_t *) self)->st);
    Py_CLEAR(((sender_t *) self)->h);
    return 0;
}

static void
sender_dealloc(PyObject *self)
{
    PyObject_GC_UnTrack(self);
    if (((sender_t *) self)->weakrefs) {
        PyObject_ClearWeakRefs(self);
    }
    sender_clear(self);
    Py_TYPE(self)->tp_free(self);
}

static PyObject *
make_sender(PyObject *const *args, Py_ssize_t nargs, int kind)
{
    sender_t *sender;
    if (nargs != 2 || !Py_IS_TYPE(args[1], &handle_type)) {
        return PyErr_Format(PyExc_TypeError, "expected (scope, handle)");
    }
    if (!(sender = PyObject_GC_New(sender_t, &sender_type))) {
        return NULL;
    }
    sender->st = Py_NewRef(args[0]);
    sender->h = Py_NewRef(args[1]);
    sender->weakrefs = NULL;
    sender->kind = kind;
    sender->vectorcall = sender_vectorcall;
    PyObject_GC_Track(sender);
    return (PyObject *) sender;
}

/* sender(scope, handle), receiver(scope, handle): a request's send and
 * receive callables, without the type call's parsing */
static PyObject *
py_sender(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    return make_sender(args, nargs, OP_SEND);
}

static PyObject *
py_receiver(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    return make_sender(args, nargs, OP_RECEIVE);
}

static PyTypeObject sender_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "_asgicore.Sender",
    .tp_basicsize = sizeof(sender_t),
    .tp_dealloc = sender_dealloc,
    .tp_vectorcall_offset = offsetof(sender_t, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_flags =
        Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_doc = "Sender(scope, handle): the send callable of one request.",
    .tp_traverse = sender_traverse,
    .tp_clear = sender_clear,
    .tp_new = sender_new,
    .tp_getset = sender_getset,
    .tp_weaklistoffset = offsetof(sender_t, weakrefs),
};

/* A new handle holding `scope`, which the app owns; NULL with an
 * exception if it cannot be held. */
static PyObject *
handle_new(asgicore_scope *scope)
{
    handle_t *h;
    int rc = asgicore_scope_hold(scope);
    if (rc != ASGICORE_OK) {
        return PyErr_Format(PyExc_RuntimeError, "cannot hold the scope: %s",
                            asgicore_strerror(rc));
    }
    h = PyObject_New(handle_t, &handle_type);
    if (!h) {
        asgicore_scope_drop(scope);
        return NULL;
    }
    h->scope = scope;
    h->finished = 0;
    asgicore_scope_set_app_data(scope, h); /* borrowed, for on_notify */
    return (PyObject *) h;
}

PyDoc_STRVAR(asgicore_module_doc,
             "The library's app-side calls for the runtime's asyncio side "
             "(asgicore_runtime.py).");

static struct PyModuleDef asgicore_module = {
    PyModuleDef_HEAD_INIT,
    "_asgicore",
    asgicore_module_doc,
    -1,
    asgicore_methods,
    NULL,
    NULL,
    NULL,
    NULL,
};

static PyObject *
init_asgicore(void)
{
    PyObject *m;
    if (intern_keys() < 0 || intern_scope_keys() < 0) {
        return NULL;
    }
    if (PyType_Ready(&handle_type) < 0 || PyType_Ready(&sender_type) < 0 ||
        PyType_Ready(&sendop_type) < 0) {
        return NULL;
    }
    if (!(str_send_pending = PyUnicode_InternFromString("send_pending")) ||
        !(str_send = PyUnicode_InternFromString("send")) ||
        !(str_sent = PyUnicode_InternFromString("_sent")) ||
        !(str_throw = PyUnicode_InternFromString("throw")) ||
        !(str_close = PyUnicode_InternFromString("close")) ||
        !(str_receive = PyUnicode_InternFromString("receive")) ||
        !(str_client_left = PyUnicode_InternFromString("client_left"))) {
        return NULL;
    }
    m = PyModule_Create(&asgicore_module);
    if (!m) {
        return NULL;
    }
    if (PyModule_AddObjectRef(m, "Sender", (PyObject *) &sender_type) < 0 ||
        PyModule_AddObjectRef(m, "SendOp", (PyObject *) &sendop_type) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    static const struct {
        const char *name;
        long value;
    } constants[] = {
        {"OK", ASGICORE_OK},
        {"PENDING", ASGICORE_PENDING},
        {"ERR_DISCONNECTED", ASGICORE_ERR_DISCONNECTED},
        {"ERR_FINISHED", ASGICORE_ERR_FINISHED},
        {"EVENT_REQUEST", ASGICORE_EVENT_HTTP_REQUEST},
        {"EVENT_DISCONNECT", ASGICORE_EVENT_HTTP_DISCONNECT},
        {"RECEIVE_READY", ASGICORE_NOTIFY_RECEIVE_READY},
        {"SEND_READY", ASGICORE_NOTIFY_SEND_READY},
        {"CANCEL", ASGICORE_NOTIFY_CANCEL},
        {"LOG_ERROR", ASGICORE_LOG_ERROR},
        {"LOG_WARN", ASGICORE_LOG_WARN},
        {"LOG_INFO", ASGICORE_LOG_INFO},
        {"LOG_DEBUG", ASGICORE_LOG_DEBUG},
        {"APP_READY", ASGICORE_APP_READY},
        {"APP_LOADING", ASGICORE_APP_LOADING},
        {"APP_FAILED", ASGICORE_APP_FAILED},
    };
    size_t i;
    for (i = 0; i < sizeof constants / sizeof constants[0]; i++) {
        if (PyModule_AddIntConstant(m, constants[i].name, constants[i].value) <
            0) {
            Py_DECREF(m);
            return NULL;
        }
    }
    if (PyModule_AddIntConstant(m, "SCHED_BATCH_SET", sched_batch_set) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}

/* ------------------------------------------------------------ callbacks */

/* Both run inside asgicore_app_dispatch, called from Python: the GIL is
 * held by this thread. */
static void
on_start(void *user, asgicore_scope *scope)
{
    pyapp_t *pa = user;
    PyObject *args[3], *r;
    if (!rt->on_start) {
        asgicore_finish(scope, 1, "the Python runtime is not running");
        return;
    }
    args[0] = handle_new(scope);
    if (!args[0]) {
        PyErr_Print();
        asgicore_finish(scope, 1, "the Python runtime failed to start it");
        return;
    }
    args[1] = PyLong_FromLong(pa->index);
    args[2] = scope_dict(scope);
    r = args[1] && args[2] ? PyObject_Vectorcall(rt->on_start, args, 3, NULL)
                           : NULL;
    if (!r) {
        PyErr_Print();
        handle_finish((handle_t *) args[0], 1,
                      "the Python runtime failed to start it");
    }
    Py_DECREF(args[0]);
    Py_XDECREF(args[1]);
    Py_XDECREF(args[2]);
    Py_XDECREF(r);
}

static void
on_notify(void *user, asgicore_scope *scope, int event, int status)
{
    PyObject *r, *h, *args[3];
    if (!rt->on_notify) {
        return;
    }
    /* set while the app owns the scope, which notifications require */
    h = asgicore_scope_get_app_data(scope);
    if (!h) {
        return;
    }
    args[0] = h;
    args[1] = PyLong_FromLong(event);
    args[2] = PyLong_FromLong(status);
    r = args[1] && args[2] ? PyObject_Vectorcall(rt->on_notify, args, 3, NULL)
                           : NULL;
    Py_XDECREF(args[1]);
    Py_XDECREF(args[2]);
    if (!r) {
        PyErr_Print();
    }
    Py_XDECREF(r);
}

static void
on_wake(void *user)
{
    uint64_t one = 1;
    if (write(rt->efd, &one, sizeof one) < 0) {
        /* already signalled */
    }
}

/* ------------------------------------------------------------ thread */

/* Without Python: answer every request with the app error, until stop. */
static void
serve_failed(void)
{
    int i;
    for (i = 0; i < napps(); i++) {
        if (app_of(i)) {
            asgicore_app_set_state(app_of(i), ASGICORE_APP_FAILED,
                                   "the Python runtime stopped (see the "
                                   "error log)");
        }
    }
    while (!stopping()) {
        uint64_t n;
        struct pollfd p = {rt->efd, POLLIN, 0};
        if (poll(&p, 1, 1000) > 0 && read(rt->efd, &n, sizeof n) > 0) {
            for (i = 0; i < napps(); i++) { /* on_start finishes them */
                if (app_of(i)) {
                    asgicore_app_dispatch(app_of(i));
                }
            }
        }
    }
}

/*
 * P1: nginx clears the environment of its workers, so the interpreter
 * would start in the C locale with ASCII file names, open() and subprocess
 * text. UTF-8 mode (PEP 540) makes it behave as python3 in a UTF-8 locale,
 * whatever the environment; PYTHONUTF8=0 (through nginx's "env") turns it
 * off, and LANG or LC_ALL passed with "env" still set the locale.
 */
static void
preinitialize(void)
{
    PyPreConfig pre;
    PyStatus status;
    const char *utf8 = getenv("PYTHONUTF8");

    PyPreConfig_InitPythonConfig(&pre);
    pre.utf8_mode = !(utf8 && strcmp(utf8, "0") == 0);
    status = Py_PreInitialize(&pre);
    if (PyStatus_Exception(status)) {
        fprintf(stderr, "asgi python: pre-initialization failed: %s\n",
                status.err_msg ? status.err_msg : "unknown error");
    }
}

/*
 * The runtime's thread runs with SCHED_BATCH: the same share of the CPU,
 * without preempting the host's thread when it wakes this one, so that the
 * host finishes its loop turn and hands over a batch (docs/performance.md).
 * A seccomp filter may kill a process for sched_setscheduler instead of
 * refusing it (systemd's SystemCallFilter=~@resources): under a filter the
 * call is tried in a child first. Before Python starts, so the child runs
 * no atfork handler of Python's.
 */
static int
seccomp_filtered(void)
{
    char line[128];
    int filtered = 1; /* unknown: assume a filter */
    FILE *f = fopen("/proc/self/status", "re");
    if (!f) {
        return filtered;
    }
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "Seccomp:", 8) == 0) {
            filtered = atoi(line + 8) != 0;
            break;
        }
    }
    fclose(f);
    return filtered;
}

static void
set_batch_policy(void)
{
    struct sched_param sp = {0};
    int status;
    pid_t pid;
    if (seccomp_filtered()) {
        /* A child that sends no SIGCHLD (clone's exit signal 0): the
         * host's own handler (nginx reaps every child it is signalled
         * for) leaves it to this waitpid. Raw system calls only in it. */
        pid = (pid_t) syscall(SYS_clone, 0, 0, 0, 0, 0);
        if (pid == 0) {
            syscall(SYS_exit_group,
                    syscall(SYS_sched_setscheduler, 0, SCHED_BATCH, &sp) == 0
                        ? 0
                        : 1);
        }
        if (pid < 0) {
            return;
        }
        while (waitpid(pid, &status, __WCLONE) < 0) {
            if (errno != EINTR) {
                return;
            }
        }
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            return; /* refused, or fatal: the default policy it is */
        }
    }
    sched_batch_set = sched_setscheduler(0, SCHED_BATCH, &sp) == 0;
}

static void *
runtime_main(void *arg)
{
    PyObject *sys_path, *dir, *mod = NULL, *r;
    (void) arg;
    set_batch_policy();
    /* nginx loads modules with RTLD_LOCAL: make libpython's symbols
     * visible to Python's own extension modules. */
    if (!dlopen(PYTHON_SONAME, RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD)) {
        fprintf(stderr, "asgi python: cannot promote %s: %s\n", PYTHON_SONAME,
                dlerror());
    }
    if (PyImport_AppendInittab("_asgicore", init_asgicore) < 0) {
        fprintf(stderr, "asgi python: cannot register _asgicore\n");
        serve_failed();
        return NULL;
    }
    preinitialize();
    Py_InitializeEx(0); /* no signal handlers: nginx owns the signals */
    /* asgicore_runtime.py first on sys.path */
    sys_path = PySys_GetObject("path"); /* borrowed */
    dir = PyUnicode_FromString(rt->runtime_dir);
    if (sys_path && dir && PyList_Insert(sys_path, 0, dir) == 0) {
        mod = PyImport_ImportModule("asgicore_runtime");
    }
    Py_XDECREF(dir);
    if (!mod) {
        PyErr_Print();
    }
    else {
        r = PyObject_CallMethod(mod, "serve", NULL);
        if (!r) {
            PyErr_Print();
        }
        Py_XDECREF(r);
        Py_DECREF(mod);
    }
    Py_XDECREF(rt->on_start);
    Py_XDECREF(rt->on_notify);
    rt->on_start = rt->on_notify = NULL;
    Py_FinalizeEx();
    if (!stopping()) {
        fprintf(stderr, "asgi python: the runtime stopped; requests get "
                        "500 until the worker exits\n");
        serve_failed();
    }
    return NULL;
}

/*
 * The argument of create(): one "name=value" setting per line, in any
 * order. A value runs to the end of its line, spaces and colons included.
 *
 *   app=module:attribute       required
 *   path=DIR                   any number: sys.path entries, in order
 *   lifespan=auto|on|off       default auto
 *   shutdown_timeout=SECONDS   default 10: bounds lifespan shutdown (one
 *                              per process: the last app's counts)
 *   server=NAME                the host's name in messages ("nginx",
 *                              "Apache httpd"); default "the server"
 */

typedef int (*setting_parser)(pyapp_t *pa, const char *value, size_t len,
                              char *error, size_t error_size);

static int
set_app(pyapp_t *pa, const char *value, size_t len, char *error,
        size_t error_size)
{
    if (len >= sizeof pa->app_ref) {
        snprintf(error, error_size, "app=: longer than %zu bytes",
                 sizeof pa->app_ref - 1);
        return -1;
    }
    if (!memchr(value, ':', len)) {
        snprintf(error, error_size, "\"%.*s\" is not module:attribute",
                 (int) len, value);
        return -1;
    }
    memcpy(pa->app_ref, value, len);
    pa->app_ref[len] = '\0';
    return 0;
}

static int
add_path(pyapp_t *pa, const char *value, size_t len, char *error,
         size_t error_size)
{
    size_t had = strlen(pa->path);
    char *more = realloc(pa->path, had + len + 2);

    if (!more) {
        snprintf(error, error_size, "out of memory");
        return -1;
    }
    memcpy(more + had, value, len);
    more[had + len] = '\n';
    more[had + len + 1] = '\0';
    pa->path = more;
    return 0;
}

static int
set_lifespan(pyapp_t *pa, const char *value, size_t len, char *error,
             size_t error_size)
{
    size_t i;

    for (i = 0; i < sizeof lifespan_modes / sizeof lifespan_modes[0]; i++) {
        if (strlen(lifespan_modes[i]) == len &&
            memcmp(lifespan_modes[i], value, len) == 0) {
            pa->lifespan = (int) i;
            return 0;
        }
    }
    snprintf(error, error_size,
             "lifespan=\"%.*s\": it must be auto, on or off", (int) len,
             value);
    return -1;
}

static int
set_shutdown_timeout(pyapp_t *pa, const char *value, size_t len, char *error,
                     size_t error_size)
{
    char number[32], *end;
    double seconds;

    if (len == 0 || len >= sizeof number) {
        snprintf(error, error_size,
                 "shutdown_timeout=\"%.*s\": not a "
                 "number of seconds",
                 (int) len, value);
        return -1;
    }
    memcpy(number, value, len);
    number[len] = '\0';
    errno = 0;
    seconds = strtod(number, &end);
    if (*end || errno || !(seconds >= 0 && seconds <= 86400)) {
        snprintf(error, error_size,
                 "shutdown_timeout=\"%s\": not a "
                 "number of seconds from 0 to 86400",
                 number);
        return -1;
    }
    pa->shutdown_timeout = seconds;
    return 0;
}

static int
set_server(pyapp_t *pa, const char *value, size_t len, char *error,
           size_t error_size)
{
    if (len == 0 || len >= sizeof pa->server) {
        snprintf(error, error_size, "server=: from 1 to %zu bytes",
                 sizeof pa->server - 1);
        return -1;
    }
    memcpy(pa->server, value, len);
    pa->server[len] = '\0';
    return 0;
}

static const struct {
    const char *name;
    setting_parser parse;
    int repeats; /* may be given more than once */
} settings[] = {
    {"app", set_app, 0},
    {"path", add_path, 1},
    {"lifespan", set_lifespan, 0},
    {"shutdown_timeout", set_shutdown_timeout, 0},
    {"server", set_server, 0},
};

static int
parse_argument(pyapp_t *pa, const char *argument, char *error,
               size_t error_size)
{
    const char *line, *end, *eq;
    unsigned seen = 0;
    size_t len, i, n = sizeof settings / sizeof settings[0];

    pa->lifespan = 0;
    pa->shutdown_timeout = 10.0;
    snprintf(pa->server, sizeof pa->server, "the server");
    pa->path = strdup(""); /* no entry yet, but never NULL */
    if (!pa->path) {
        snprintf(error, error_size, "out of memory");
        return -1;
    }
    for (line = argument; *line; line = *end ? end + 1 : end) {
        end = line + strcspn(line, "\n");
        len = (size_t) (end - line);
        if (len == 0) {
            continue;
        }
        eq = memchr(line, '=', len);
        if (!eq) {
            snprintf(error, error_size, "\"%.*s\" is not name=value",
                     (int) len, line);
            return -1;
        }
        for (i = 0; i < n; i++) {
            if (strlen(settings[i].name) == (size_t) (eq - line) &&
                memcmp(settings[i].name, line, (size_t) (eq - line)) == 0) {
                break;
            }
        }
        if (i == n) {
            snprintf(error, error_size, "unknown setting \"%.*s\"",
                     (int) (eq - line), line);
            return -1;
        }
        if ((seen & (1u << i)) && !settings[i].repeats) {
            snprintf(error, error_size, "%s= is given twice",
                     settings[i].name);
            return -1;
        }
        seen |= 1u << i;
        if (settings[i].parse(pa, eq + 1, (size_t) (end - eq - 1), error,
                              error_size) != 0) {
            return -1;
        }
    }
    if (!(seen & 1u)) {
        snprintf(error, error_size, "no app=module:attribute setting");
        return -1;
    }
    return 0;
}

static void *
create(const char *argument, int *mode, char *error, size_t error_size)
{
    Dl_info info;
    char self[1024];
    pyapp_t *pa;

    if (!rt) {
        rt = calloc(1, sizeof *rt);
        if (!rt) {
            snprintf(error, error_size, "out of memory");
            return NULL;
        }
        rt->efd = -1;
        /* asgicore_runtime.py lives in python/ next to this object */
        if (dladdr((void *) create, &info) && info.dli_fname) {
            snprintf(self, sizeof self, "%s", info.dli_fname);
            snprintf(rt->runtime_dir, sizeof rt->runtime_dir, "%s/python",
                     dirname(self));
        }
    }
    if (rt->napps == MAX_APPS) {
        snprintf(error, error_size, "too many Python apps in one worker");
        return NULL;
    }
    pa = calloc(1, sizeof *pa);
    if (!pa) {
        snprintf(error, error_size, "out of memory");
        return NULL;
    }
    if (parse_argument(pa, argument, error, error_size) != 0) {
        free(pa->path);
        free(pa);
        return NULL;
    }
    rt->shutdown_timeout = pa->shutdown_timeout;
    memcpy(rt->server, pa->server, sizeof rt->server);
    pa->index = rt->napps;
    rt->apps[rt->napps] = pa;
    /* the runtime thread may be running: publish the app whole */
    __atomic_store_n(&rt->napps, rt->napps + 1, __ATOMIC_RELEASE);
    *mode = ASGICORE_APP_THREADED | ASGICORE_APP_WEBSOCKET;
    return pa;
}

static int
attach(void *user, asgicore_app *app, char *error, size_t error_size)
{
    pyapp_t *pa = user;
    /* P8: loading until the runtime imported it and ran its startup */
    asgicore_app_set_state(app, ASGICORE_APP_LOADING, "importing");
    __atomic_store_n(&pa->app, app, __ATOMIC_RELEASE);
    if (rt->started) {
        return 0;
    }
    rt->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (rt->efd < 0 || pthread_create(&rt->thread, NULL, runtime_main, rt)) {
        snprintf(error, error_size, "cannot start the Python thread: %s",
                 strerror(errno));
        pa->app = NULL;
        return -1;
    }
    rt->started = 1;
    return 0;
}

/* The host destroys every app at worker exit: the first call stops the
 * interpreter's thread, the last frees the runtime. */
static void
destroy(void *user)
{
    pyapp_t *pa = user;
    struct timespec deadline;
    int i, left = 0;
    if (rt->started && !stopping()) {
        __atomic_store_n(&rt->stopping, 1, __ATOMIC_RELEASE);
        on_wake(rt);
        /* lifespan shutdown is bounded by shutdown_timeout; an app that
         * blocks the loop is not, and must not keep the worker forever */
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += (time_t) rt->shutdown_timeout + 3;
        if (pthread_timedjoin_np(rt->thread, NULL, &deadline) != 0) {
            __atomic_store_n(&rt->abandoned, 1, __ATOMIC_RELEASE);
            fprintf(stderr,
                    "asgi python: the Python thread did not stop "
                    "within %.0f s after the worker began exiting "
                    "(an app blocks its event loop); the worker "
                    "exits without it\n",
                    rt->shutdown_timeout + 3);
        }
        else {
            close(rt->efd);
        }
    }
    pa->app = NULL;
    if (rt->abandoned) {
        return; /* the thread may still read the runtime: keep it */
    }
    for (i = 0; i < rt->napps; i++) {
        left += rt->apps[i]->app != NULL;
    }
    if (!left) {
        for (i = 0; i < rt->napps; i++) {
            free(rt->apps[i]->path);
            free(rt->apps[i]);
        }
        free(rt);
        rt = NULL;
    }
}

__attribute__((visibility("default")))
const asgicore_native_app asgicore_app_entry = {
    ASGICORE_NATIVE_APP_V1,
    {on_start, on_notify, on_wake},
    create,
    attach,
    destroy,
};
