/*
 * Copyright (c) 2026 The asgicore authors. BSD-2-Clause, see LICENSE.
 *
 * mod_asgi: ASGI apps inside Apache httpd children, through libasgicore.
 *
 * Apache 2.4 serves each request on a worker thread that blocks in its
 * reads and writes; the library wants its host-side calls made on one
 * loop thread. So each child runs one "host thread" that owns the
 * library's context, its timer and its wake-up (asgi_host.c), and each
 * request's handler thread is the "pump" of its request (asgi_request.c):
 * it does every read and write of the request and exchanges commands with
 * the host thread.
 */

#ifndef MOD_ASGI_H
#define MOD_ASGI_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* POLLRDHUP */
#endif

#include <pthread.h>
#include <stdatomic.h>

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "apr_strings.h"

#include "asgicore.h"

#ifndef ASGI_DECLARES_MODULE /* AP_DECLARE_MODULE says it there */
APLOG_USE_MODULE(asgi);
#endif

extern module AP_MODULE_DECLARE_DATA asgi_module;

/* An app as configured (ASGIApp, ASGINativeApp); loaded in each child. */
typedef struct asgi_dir_conf asgi_dir_conf;

typedef struct asgi_app {
    const char *path;            /* the shared object */
    const char *argument;        /* "" when none */
    const char *name;            /* for logs: module:app or the path */
    const char *python_app;      /* ASGIApp's module:app, or NULL */
    asgi_dir_conf *section;      /* ASGIPythonPath, ASGILifespan there */
    void *dl;
    const asgicore_native_app *native;
    void *app_user;              /* per child */
    asgicore_app *app;           /* NULL: failed to start (503) */
    struct asgi_app *next;
} asgi_app;

enum { ASGI_LIFESPAN_AUTO = 0, ASGI_LIFESPAN_ON, ASGI_LIFESPAN_OFF };

#define ASGI_UNSET -1

struct asgi_dir_conf {
    asgi_app *app;
    const char *root_path;       /* NULL: unset */
    apr_int64_t grace_ms;        /* ASGI_UNSET: the default, 3 s */
    int ignore_client_abort;     /* ASGI_UNSET: off */
    apr_array_header_t *python_path;
    int lifespan;                /* ASGI_UNSET: auto */
    int status;                  /* ASGIStatus in this section */
};

/* The pump's commands to the host thread, as bits of asgi_req.cmds. */
enum {
    ASGI_CMD_OPEN = 0x1,
    ASGI_CMD_FEED = 0x2,
    ASGI_CMD_DISCONNECT = 0x4,
    ASGI_CMD_WRITE_READY = 0x8,
    ASGI_CMD_RELEASE = 0x10
};

/* A piece of the response, from the host thread to the pump. */
typedef struct asgi_out {
    struct asgi_out *next;
    enum { ASGI_OUT_HEAD, ASGI_OUT_BODY, ASGI_OUT_TRAILERS } kind;
    int status;                  /* head */
    size_t header_count;         /* head, trailers: data holds each name,
                                  * then value, each a size_t length and
                                  * its bytes */
    int last;                    /* body, trailers: the response ends */
    size_t len;
    char data[];
} asgi_out;

/*
 * One request, shared by its pump and the host thread; lock guards the
 * fields below it. Allocated with malloc: the library may log with it
 * after the handler returned, until scope_gone.
 */
typedef struct asgi_req {
    atomic_int refs;             /* the pump's and the library's */
    asgi_app *app;
    asgicore_scope *scope;       /* set and used on the host thread */
    asgicore_scope_info info;    /* pointers into the request's pool */
    server_rec *server;
    char client[80];             /* for log lines: "ip:port" */
    int wake_fd;                 /* the pump's eventfd */
    struct asgi_req *next_cmd;   /* in the host thread's command queue */
    struct asgi_req *next_batch; /* in the batch the host thread runs */
    int queued;

    pthread_mutex_t lock;
    unsigned cmds;               /* ASGI_CMD_* waiting for the host */
    const char *feed_data;       /* ASGI_CMD_FEED: the chunk, the pump's */
    size_t feed_len;
    int feed_more;
    int feed_busy;               /* the host has not taken the chunk yet */
    int paused;                  /* the library asked to stop reading */
    int disconnect_reason;
    asgi_out *out_head, *out_tail;
    size_t out_bytes;
    int blocked;                 /* a callback returned PENDING */
    int done;                    /* the done callback came */
    int outcome;
    int response_complete;
    int open_failed;             /* scope_open returned an error */
    int server_stop;             /* the child stops now: the client goes */
    struct asgi_req *live_prev, *live_next; /* in flight (asgi_host.c) */
} asgi_req;

/* asgi_host.c */
extern asgicore_time asgi_exit_wait_ns;
const char *asgi_host_start(server_rec *s, apr_pool_t *pool, asgi_app *apps);
void asgi_host_post(asgi_req *req, unsigned cmds);
void asgi_req_unref(asgi_req *req);
void asgi_host_track(asgi_req *req);
void asgi_host_untrack(asgi_req *req);
void asgi_host_stopping(void);
void asgi_host_stop_at(asgicore_time deadline);
int asgi_host_counters(asgicore_counters *out);
asgicore_time asgi_now(void);
int asgi_wait_fd(void);

/* asgi_request.c */
int asgi_serve(request_rec *r, asgi_dir_conf *conf);

/* mod_asgi.c */
const asgi_app *asgi_apps_list(void);

/* asgi_status.c */
int asgi_status_handler(request_rec *r);

/* An app's state as ASGIStatus shows it. */
enum {
    ASGI_STATE_UNKNOWN = 0,
    ASGI_STATE_LOADING,
    ASGI_STATE_READY,
    ASGI_STATE_FAILED
};
/* The app's ASGI_STATE_*; its message into message[size] unless NULL. */
int asgi_app_state(const asgi_app *a, char *message, size_t size);

/* asgi_fleet.c: every child's figures, for ASGIStatus */
#define ASGI_FLEET_APPS 128 /* apps whose states children share */

typedef struct {
    int pid;
    int current;                 /* of the running configuration */
    asgicore_counters counters;
    unsigned char app_state[ASGI_FLEET_APPS];
} asgi_fleet_child;

typedef struct {
    asgicore_counters totals;    /* exited children's too */
    int nchildren;
    asgi_fleet_child *children;
} asgi_fleet_view;

const char *asgi_fleet_setup(server_rec *s);
void asgi_fleet_join(void);
int asgi_fleet_update(asgicore_ctx *ctx, const asgi_app *apps);
void asgi_fleet_leave(void);
int asgi_fleet_read(apr_pool_t *pool, asgi_fleet_view *v);

#endif /* MOD_ASGI_H */
