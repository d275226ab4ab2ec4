/*
 * The Python ASGI runtime, as a threaded native app of libasgicore: one
 * interpreter per worker process, created after fork on the runtime's own
 * thread, which runs an asyncio loop (asgicore_runtime.py). The host's
 * thread never takes the GIL: it only writes the eventfd behind `wake`.
 *
 * Argument: "module:attribute [path=DIR[:DIR...]] [lifespan=on|off|auto]
 * [shutdown_timeout=SECONDS]". Each create() adds
 * one ASGI app (one asgicore_app, one queue); all share the process's one
 * interpreter and its thread, started by the first attach() and stopped by
 * the first destroy() (the host destroys every app at worker exit).
 *
 * The built-in module `_asgicore` gives the Python side the library's
 * app-side calls; scope handles cross as integers.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <asgicore.h>

#include <dlfcn.h>
#include <errno.h>
#include <libgen.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define MAX_APPS 64

typedef struct {
    int index;
    char app_ref[512];   /* module:attribute */
    char path[2048];     /* extra sys.path entries, ':'-separated */
    char lifespan[8];    /* on, off or auto */
    asgicore_app *app;
} pyapp_t;

typedef struct {
    pyapp_t *apps[MAX_APPS];
    int napps;
    char runtime_dir[1024];
    pthread_t thread;
    int started;
    int efd;
    volatile int stopping;
    double shutdown_timeout;  /* seconds, for lifespan shutdown */
    PyObject *on_start;  /* set by the runtime, called with the GIL */
    PyObject *on_notify;
} runtime_t;

/* One runtime per process: the interpreter is process-wide anyway. */
static runtime_t *rt;

#define SCOPE(o) ((asgicore_scope *) (uintptr_t) PyLong_AsUnsignedLongLong(o))

/* Apps are added by the host thread while the runtime thread runs. */
static int napps(void)
{
    return __atomic_load_n(&rt->napps, __ATOMIC_ACQUIRE);
}

static asgicore_app *app_of(int i)
{
    return __atomic_load_n(&rt->apps[i]->app, __ATOMIC_ACQUIRE);
}

/* ------------------------------------------------------------ _asgicore */

static PyObject *str_or_none(asgicore_str s, int decode)
{
    if (s.data == NULL)
        Py_RETURN_NONE;
    if (decode)
        return PyUnicode_DecodeUTF8(s.data, (Py_ssize_t) s.len,
                                    "surrogateescape");
    return PyBytes_FromStringAndSize(s.data, (Py_ssize_t) s.len);
}

static PyObject *addr(asgicore_addr a)
{
    if (a.host.data == NULL)
        Py_RETURN_NONE;
    return Py_BuildValue("(s#i)", a.host.data, (Py_ssize_t) a.host.len,
                         a.port);
}

static PyObject *py_scope_info(PyObject *self, PyObject *arg)
{
    const asgicore_scope_info *i = asgicore_scope_get_info(SCOPE(arg));
    PyObject *headers, *d;
    size_t k;
    if (!i)
        return PyErr_Format(PyExc_ValueError, "no such scope");
    headers = PyList_New((Py_ssize_t) i->header_count);
    for (k = 0; k < i->header_count; k++)
        PyList_SET_ITEM(headers, (Py_ssize_t) k,
                        Py_BuildValue("(y#y#)", i->headers[k].name.data,
                                      (Py_ssize_t) i->headers[k].name.len,
                                      i->headers[k].value.data,
                                      (Py_ssize_t) i->headers[k].value.len));
    d = Py_BuildValue(
        "{s:N,s:N,s:N,s:N,s:N,s:N,s:N,s:N,s:N,s:N}",
        "method", str_or_none(i->method, 1),
        "scheme", str_or_none(i->scheme, 1),
        "http_version", str_or_none(i->http_version, 1),
        "path", str_or_none(i->path, 1),
        "raw_path", str_or_none(i->raw_path, 0),
        "query_string", str_or_none(i->query_string, 0),
        "root_path", str_or_none(i->root_path, 1),
        "headers", headers,
        "client", addr(i->client),
        "server", addr(i->server));
    return d;
}

/* receive(h) -> (type, body, more_body) | None when nothing yet */
static PyObject *py_receive(PyObject *self, PyObject *arg)
{
    asgicore_event ev;
    int rc = asgicore_receive(SCOPE(arg), &ev);
    if (rc == ASGICORE_PENDING)
        Py_RETURN_NONE;
    if (rc != ASGICORE_OK)
        return PyErr_Format(PyExc_RuntimeError, "receive: %s",
                            asgicore_strerror(rc));
    return Py_BuildValue("(iy#i)", ev.type, (const char *) ev.body,
                         (Py_ssize_t) ev.body_len, ev.more_body);
}

static int parse_headers(PyObject *seq, asgicore_header **out, size_t *n)
{
    PyObject *fast = PySequence_Fast(seq, "headers must be a sequence");
    Py_ssize_t k, len;
    if (!fast)
        return -1;
    len = PySequence_Fast_GET_SIZE(fast);
    *out = calloc((size_t) (len ? len : 1), sizeof **out);
    *n = (size_t) len;
    for (k = 0; k < len; k++) {
        PyObject *pair = PySequence_Fast_GET_ITEM(fast, k);
        char *name, *value;
        Py_ssize_t nl, vl;
        if (!PyArg_ParseTuple(pair, "y#y#;a header is (bytes, bytes)", &name,
                              &nl, &value, &vl)) {
            Py_DECREF(fast);
            free(*out);
            return -1;
        }
        (*out)[k].name.data = name;
        (*out)[k].name.len = (size_t) nl;
        (*out)[k].value.data = value;
        (*out)[k].value.len = (size_t) vl;
    }
    /* the byte strings live in `seq`, which the caller holds */
    Py_DECREF(fast);
    return 0;
}

static PyObject *py_send_start(PyObject *self, PyObject *args)
{
    PyObject *h, *headers;
    int status, trailers, rc;
    asgicore_header *hs;
    size_t n;
    if (!PyArg_ParseTuple(args, "OiOp", &h, &status, &headers, &trailers))
        return NULL;
    if (parse_headers(headers, &hs, &n) < 0)
        return NULL;
    rc = asgicore_send_start(SCOPE(h), status, hs, n, trailers);
    free(hs);
    return PyLong_FromLong(rc);
}

static PyObject *py_send_body(PyObject *self, PyObject *args)
{
    PyObject *h;
    Py_buffer body;
    int more, rc;
    if (!PyArg_ParseTuple(args, "Oy*p", &h, &body, &more))
        return NULL;
    rc = asgicore_send_body(SCOPE(h), body.buf, (size_t) body.len, more);
    PyBuffer_Release(&body);
    return PyLong_FromLong(rc);
}

static PyObject *py_finish(PyObject *self, PyObject *args)
{
    PyObject *h;
    int failed;
    const char *message = NULL;
    if (!PyArg_ParseTuple(args, "Op|z", &h, &failed, &message))
        return NULL;
    return PyLong_FromLong(asgicore_finish(SCOPE(h), failed, message));
}

static PyObject *py_dispatch(PyObject *self, PyObject *noargs)
{
    uint64_t n;
    int i, total = 0;
    while (read(rt->efd, &n, sizeof n) == sizeof n)
        ;
    /* the callbacks run here, on this thread, with the GIL held */
    for (i = 0; i < napps(); i++) {
        asgicore_app *app = app_of(i);
        if (app)
            total += asgicore_app_dispatch(app);
    }
    return PyLong_FromLong(total);
}

static PyObject *py_set_handlers(PyObject *self, PyObject *args)
{
    PyObject *start, *notify;
    if (!PyArg_ParseTuple(args, "OO", &start, &notify))
        return NULL;
    Py_XINCREF(start);
    Py_XINCREF(notify);
    rt->on_start = start;
    rt->on_notify = notify;
    Py_RETURN_NONE;
}

static PyObject *py_wake_fd(PyObject *self, PyObject *noargs)
{
    return PyLong_FromLong(rt->efd);
}

static PyObject *py_stopping(PyObject *self, PyObject *noargs)
{
    return PyBool_FromLong(rt->stopping);
}

static PyObject *py_app_config(PyObject *self, PyObject *arg)
{
    long i = PyLong_AsLong(arg);
    if (i < 0 || i >= napps())
        return PyErr_Format(PyExc_IndexError, "no app %ld", i);
    return Py_BuildValue("(sss)", rt->apps[i]->app_ref, rt->apps[i]->path,
                         rt->apps[i]->lifespan);
}

static PyObject *py_app_count(PyObject *self, PyObject *noargs)
{
    return PyLong_FromLong(napps());
}

static PyObject *py_shutdown_timeout(PyObject *self, PyObject *noargs)
{
    return PyFloat_FromDouble(rt->shutdown_timeout);
}

static PyMethodDef asgicore_methods[] = {
    {"scope_info", py_scope_info, METH_O, NULL},
    {"receive", py_receive, METH_O, NULL},
    {"send_start", py_send_start, METH_VARARGS, NULL},
    {"send_body", py_send_body, METH_VARARGS, NULL},
    {"finish", py_finish, METH_VARARGS, NULL},
    {"dispatch", py_dispatch, METH_NOARGS, NULL},
    {"set_handlers", py_set_handlers, METH_VARARGS, NULL},
    {"wake_fd", py_wake_fd, METH_NOARGS, NULL},
    {"stopping", py_stopping, METH_NOARGS, NULL},
    {"app_config", py_app_config, METH_O, NULL},
    {"app_count", py_app_count, METH_NOARGS, NULL},
    {"shutdown_timeout", py_shutdown_timeout, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef asgicore_module = {
    PyModuleDef_HEAD_INIT, "_asgicore", NULL, -1, asgicore_methods,
    NULL, NULL, NULL, NULL,
};

static PyObject *init_asgicore(void)
{
    PyObject *m = PyModule_Create(&asgicore_module);
    if (!m)
        return NULL;
    PyModule_AddIntConstant(m, "OK", ASGICORE_OK);
    PyModule_AddIntConstant(m, "PENDING", ASGICORE_PENDING);
    PyModule_AddIntConstant(m, "ERR_DISCONNECTED", ASGICORE_ERR_DISCONNECTED);
    PyModule_AddIntConstant(m, "EVENT_REQUEST", ASGICORE_EVENT_HTTP_REQUEST);
    PyModule_AddIntConstant(m, "EVENT_DISCONNECT",
                            ASGICORE_EVENT_HTTP_DISCONNECT);
    PyModule_AddIntConstant(m, "RECEIVE_READY", ASGICORE_NOTIFY_RECEIVE_READY);
    PyModule_AddIntConstant(m, "SEND_READY", ASGICORE_NOTIFY_SEND_READY);
    PyModule_AddIntConstant(m, "CANCEL", ASGICORE_NOTIFY_CANCEL);
    return m;
}

/* ------------------------------------------------------------ callbacks */

/* Both run inside asgicore_app_dispatch, called from Python: the GIL is
 * held by this thread. */
static void on_start(void *user, asgicore_scope *scope)
{
    pyapp_t *pa = user;
    PyObject *r;
    if (!rt->on_start) {
        asgicore_finish(scope, 1, "the Python runtime is not running");
        return;
    }
    r = PyObject_CallFunction(rt->on_start, "Ki",
                              (unsigned long long) (uintptr_t) scope,
                              pa->index);
    if (!r) {
        PyErr_Print();
        asgicore_finish(scope, 1, "the Python runtime failed to start it");
        return;
    }
    Py_DECREF(r);
}

static void on_notify(void *user, asgicore_scope *scope, int event,
                      int status)
{
    PyObject *r;
    if (!rt->on_notify)
        return;
    r = PyObject_CallFunction(
        rt->on_notify, "Kii", (unsigned long long) (uintptr_t) scope, event,
        status);
    if (!r)
        PyErr_Print();
    Py_XDECREF(r);
}

static void on_wake(void *user)
{
    uint64_t one = 1;
    if (write(rt->efd, &one, sizeof one) < 0) {
        /* already signalled */
    }
}

/* ------------------------------------------------------------ thread */

/* Without Python: answer every request with the app error, until stop. */
static void serve_failed(void)
{
    while (!rt->stopping) {
        uint64_t n;
        struct pollfd p = {rt->efd, POLLIN, 0};
        int i;
        if (poll(&p, 1, 1000) > 0 && read(rt->efd, &n, sizeof n) > 0)
            for (i = 0; i < napps(); i++)  /* on_start finishes them */
                if (app_of(i))
                    asgicore_app_dispatch(app_of(i));
    }
}

static void *runtime_main(void *arg)
{
    PyObject *sys_path, *dir, *mod, *r;
    (void) arg;
    /* nginx loads modules with RTLD_LOCAL: make libpython's symbols
     * visible to Python's own extension modules. */
    if (!dlopen(PYTHON_SONAME, RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD))
        fprintf(stderr, "asgi python: cannot promote %s: %s\n", PYTHON_SONAME,
                dlerror());
    PyImport_AppendInittab("_asgicore", init_asgicore);
    Py_InitializeEx(0);  /* no signal handlers: nginx owns the signals */
    sys_path = PySys_GetObject("path");
    dir = PyUnicode_FromString(rt->runtime_dir);
    PyList_Insert(sys_path, 0, dir);
    Py_DECREF(dir);
    mod = PyImport_ImportModule("asgicore_runtime");
    if (!mod) {
        PyErr_Print();
    } else {
        r = PyObject_CallMethod(mod, "serve", NULL);
        if (!r)
            PyErr_Print();
        Py_XDECREF(r);
        Py_DECREF(mod);
    }
    Py_XDECREF(rt->on_start);
    Py_XDECREF(rt->on_notify);
    rt->on_start = rt->on_notify = NULL;
    Py_FinalizeEx();
    if (!rt->stopping) {
        fprintf(stderr, "asgi python: the runtime stopped; requests get "
                        "500 until the worker exits\n");
        serve_failed();
    }
    return NULL;
}

static void *create(const char *argument, int *mode, char *error,
                    size_t error_size)
{
    Dl_info info;
    char self[1024];
    const char *path;
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
    sscanf(argument, "%511s", pa->app_ref);
    if (!strchr(pa->app_ref, ':')) {
        snprintf(error, error_size, "\"%s\" is not module:attribute",
                 pa->app_ref);
        free(pa);
        return NULL;
    }
    path = strstr(argument, "path=");
    if (path)
        sscanf(path + 5, "%2047s", pa->path);
    snprintf(pa->lifespan, sizeof pa->lifespan, "auto");
    path = strstr(argument, "lifespan=");
    if (path)
        sscanf(path + 9, "%7[a-z]", pa->lifespan);
    path = strstr(argument, "shutdown_timeout=");
    rt->shutdown_timeout = path ? atof(path + 17) : 10.0;
    pa->index = rt->napps;
    rt->apps[rt->napps] = pa;
    /* the runtime thread may be running: publish the app whole */
    __atomic_store_n(&rt->napps, rt->napps + 1, __ATOMIC_RELEASE);
    *mode = ASGICORE_APP_THREADED;
    return pa;
}

static int attach(void *user, asgicore_app *app, char *error,
                  size_t error_size)
{
    pyapp_t *pa = user;
    __atomic_store_n(&pa->app, app, __ATOMIC_RELEASE);
    if (rt->started)
        return 0;
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
static void destroy(void *user)
{
    pyapp_t *pa = user;
    int i, left = 0;
    if (rt->started && !rt->stopping) {
        rt->stopping = 1;
        on_wake(rt);
        pthread_join(rt->thread, NULL);
        close(rt->efd);
    }
    pa->app = NULL;
    for (i = 0; i < rt->napps; i++)
        left += rt->apps[i]->app != NULL;
    if (!left) {
        for (i = 0; i < rt->napps; i++)
            free(rt->apps[i]);
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
