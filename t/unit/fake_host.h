/*
 * A fake host and a fake app for the unit tests: they drive libasgicore
 * through its public header only, with a manual clock, and record every
 * callback so a test can assert on it.
 */
#ifndef FAKE_HOST_H
#define FAKE_HOST_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "asgicore.h"

#define MS 1000000ull /* nanoseconds */
#define SEC 1000000000ull

/* One request as the host sees it: the host_data of its scope. */
typedef struct fake_req {
    asgicore_scope *scope;
    int released;
    int gone; /* scope_gone calls: host_data not passed again */
    /* What the host was asked to write. */
    int head_writes;
    int status;
    int has_trailers;
    char headers[1024]; /* "name: value\n" lines */
    size_t body_len;    /* total, even beyond the copy below */
    char body[65536];
    int body_writes;
    int last_written; /* a message with last=1 was written */
    int trailer_writes;
    char trailers[512];
    /* Bytes of a connection taken over (send_raw). */
    size_t raw_len;
    char raw[65536];
    int raw_writes;
    /* The host's answer to send_* (ASGICORE_OK or ASGICORE_PENDING). */
    int write_result;
    /* Other callbacks. */
    int resumes;
    int done_calls;
    int outcome;
    int response_complete;
    int release_in_done; /* release the scope from the done callback */
    /* Called at the end of send_head: another thread's calls while the
     * host writes the head (a callback may make app-side calls). */
    void (*during_head)(struct fake_req *req);
} fake_req;

typedef struct fake_host {
    asgicore_ctx *ctx;
    asgicore_time now;   /* the manual clock */
    asgicore_time timer; /* the host's one timer, as last set */
    int timer_sets;
    int wakes;
    int log_lines[5];         /* per level */
    char log[8192];           /* every line, "level: message\n" */
    void *last_log_host_data; /* of the latest line */
    /* How fake_open* open scopes: the scope info version (0: the
     * header's) and, with V3, the capabilities (all by default). */
    int info_version;
    uint32_t capabilities;
} fake_host;

typedef struct fake_app fake_app;
typedef void (*fake_start_fn)(fake_app *fa, asgicore_scope *scope);
typedef void (*fake_notify_fn)(fake_app *fa, asgicore_scope *scope, int event,
                               int status);

/* An app that records its callbacks; hooks add behaviour. */
struct fake_app {
    asgicore_app *app;
    int threaded;
    int starts;
    asgicore_scope *started[64];
    int notifications[4]; /* per ASGICORE_NOTIFY_* */
    int last_status;      /* of the latest SEND_READY */
    int wakes;            /* threaded: wake calls */
    fake_start_fn on_start;
    fake_notify_fn on_notify;
    void *data;
};

/* A context with `settings` (NULL: defaults). */
void fake_host_init(fake_host *fh, const asgicore_settings *settings);
/* The same as a host compiled against 0.2 (callbacks V1: no scope_gone). */
void fake_host_init_v1(fake_host *fh, const asgicore_settings *settings);
/* Frees the context; the test's scopes must be released first. */
void fake_host_fini(fake_host *fh);

void fake_app_init(fake_host *fh, fake_app *fa, int mode);

/* Opens a GET scope for `req` served by `fa`; flags: ASGICORE_SCOPE_*. */
asgicore_scope *fake_open(fake_host *fh, fake_app *fa, fake_req *req);
asgicore_scope *fake_open_with(fake_host *fh, fake_app *fa, fake_req *req,
                               int64_t grace_ns, uint32_t flags);
/* The same with another method and path (raw_path is the same bytes). */
asgicore_scope *fake_open_as(fake_host *fh, fake_app *fa, fake_req *req,
                             const char *method, const char *path,
                             int64_t grace_ns, uint32_t flags);

/* Opens a WebSocket handshake (GET, HTTP/1.1, the RFC's example key) with
 * ASGICORE_SCOPE_WEBSOCKET; extra: one more header "name: value" or NULL;
 * info_limits: the scope info's websocket fields or NULL. */
asgicore_scope *fake_open_ws(fake_host *fh, fake_app *fa, fake_req *req,
                             const char *extra_name, const char *extra_value,
                             const asgicore_scope_info *info_limits);

/* Runs the host side as its loop would: asgicore_ctx_process when woken. */
void fake_pump(fake_host *fh);
/* Advances the manual clock, firing the timer when it is due. */
void fake_advance(fake_host *fh, asgicore_time ns);
void fake_release(fake_host *fh, fake_req *req);

/* Assertions on what asgicore_receive returns. */
void expect_request(asgicore_scope *scope, const char *body, int more);
void expect_disconnect(asgicore_scope *scope);
void expect_pending(asgicore_scope *scope);

asgicore_counters fake_counters(fake_host *fh);
/* Whether the log holds `text`. */
int fake_logged(fake_host *fh, const char *text);

/* The fixture most tests share: a context with default settings, an
 * inline app and one request. */
typedef struct fake_state {
    fake_host fh;
    fake_app fa;
    fake_req req;
} fake_state;

int fake_setup(void **state);
/* Releases the request if the test did not, and checks nothing is live. */
int fake_teardown(void **state);

/* Rebuilds the fixture's context with other settings. */
void fake_state_reinit(fake_state *s, const asgicore_settings *settings);

/* Headers for sends. */
extern const asgicore_header text_plain[1];

#endif
