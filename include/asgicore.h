/*
 * asgicore: ASGI HTTP connection-scope semantics for servers that are not
 * written in Python.
 *
 * Copyright (c) 2026 The asgicore authors. BSD-2-Clause, see LICENSE.
 *
 * This is the only public header. It compiles as C99 and as C++.
 *
 * The library is sans-I/O: it reads no socket and no clock. The HOST (a
 * server such as nginx) feeds it request events and the current time; the
 * library asks the host, through callbacks, to write response data, to arm
 * its one timer and to wake up. The APP (a native shared object, or a
 * language runtime such as the Python one) receives ASGI events and sends
 * ASGI messages through the app-side calls.
 *
 * Threads
 *   - Host-side calls (asgicore_ctx_* but ctx_new and ctx_counters,
 *     asgicore_scope_open, _feed_body, _disconnect, _write_ready, _release,
 *     _outcome) are made on the host's loop thread only.
 *   - Every host callback except `wake` is invoked on the host thread, from
 *     inside a host-side call. Any host-side call may invoke callbacks for
 *     any scope. `wake` may be invoked from any thread.
 *   - App-side calls (asgicore_receive, asgicore_send_*, asgicore_finish,
 *     asgicore_scope_hold, asgicore_scope_drop, asgicore_scope_get_info,
 *     asgicore_scope_*_app_data, asgicore_app_dispatch, asgicore_app_log,
 *     asgicore_app_batch) are safe from any one thread at a time per scope,
 *     concurrently with the host thread. They never invoke
 *     a host callback other than `wake`; an app's log line reaches the
 *     host's `log` callback on the host thread.
 *   - Apps are inline (callbacks run on the host thread, inside host-side
 *     calls) or threaded (callbacks run on the thread that calls
 *     asgicore_app_dispatch, after the library invoked the app's `wake`).
 *   - A callback may make app-side calls, and the host may disconnect or
 *     release a scope from its callbacks; nothing else re-enters the
 *     library from a callback.
 *
 * Errors are negative int codes; asgicore_strerror() describes them. The two
 * non-negative results are ASGICORE_OK and ASGICORE_PENDING. Each function
 * below says on which thread it may be called ("Thread:") and what it
 * returns ("Returns:"). Besides the codes listed there, every function that
 * returns int may return ASGICORE_ERR_INVALID (a NULL handle or pointer
 * argument), ASGICORE_ERR_NOMEM (an allocation failed; nothing changed) and
 * ASGICORE_ERR_INTERNAL (a bug in the library, which logs it). The fuzz
 * target t/fuzz/fuzz_scopes checks every result against these lists.
 *
 * Ownership: the library copies what it is given (scope data, headers,
 * bodies, messages) and never frees the caller's memory; pointers it hands
 * out are valid for the time each function states.
 *
 * Structs passed in are versioned: the caller passes the version it was
 * compiled with (the macros below do it) and the library reads that layout.
 */
#ifndef ASGICORE_H
#define ASGICORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define ASGICORE_API __attribute__((visibility("default")))
#else
#define ASGICORE_API
#endif

#define ASGICORE_VERSION_MAJOR 0
#define ASGICORE_VERSION_MINOR 3
#define ASGICORE_VERSION_PATCH 0
#define ASGICORE_VERSION_STRING "0.3.0"
#define ASGICORE_VERSION_NUM                                                  \
    ((ASGICORE_VERSION_MAJOR << 16) | (ASGICORE_VERSION_MINOR << 8)           \
     | ASGICORE_VERSION_PATCH)

/* ---------------------------------------------------------------- results */

enum {
    ASGICORE_OK = 0,
    /* Accepted; completion is announced later (a notification or callback,
     * see each call). Not an error. */
    ASGICORE_PENDING = 1,

    ASGICORE_ERR_INVALID = -1,      /* a NULL or out-of-range argument */
    ASGICORE_ERR_NOMEM = -2,        /* allocation failed; nothing changed */
    ASGICORE_ERR_VERSION = -3,      /* unknown struct version */
    ASGICORE_ERR_STATE = -4,        /* call not valid in the scope's state */
    ASGICORE_ERR_DISCONNECTED = -5, /* the client has gone; nothing written */
    ASGICORE_ERR_PROTOCOL = -6,     /* message out of order or length */
    ASGICORE_ERR_BAD_HEADER = -7,   /* CR, LF or NUL in a header, bad name */
    ASGICORE_ERR_BUSY = -8,         /* the previous send has not completed,
                                     * or the host fed body while paused */
    ASGICORE_ERR_FINISHED = -9,     /* the app already finished this scope */
    ASGICORE_ERR_INTERNAL = -10     /* a bug in the library; logged */
};

/* Thread: any. A static string for any code (unknown ones included). */
ASGICORE_API const char *asgicore_strerror(int code);
/* Thread: any. The library's version, as ASGICORE_VERSION_STRING and
 * ASGICORE_VERSION_NUM were when it was built. */
ASGICORE_API const char *asgicore_version(void);
ASGICORE_API unsigned asgicore_version_number(void);

/* ---------------------------------------------------------------- types */

typedef struct asgicore_ctx asgicore_ctx;
typedef struct asgicore_app asgicore_app;
typedef struct asgicore_scope asgicore_scope;

/* Monotonic time in nanoseconds, chosen by the host (any epoch). */
typedef uint64_t asgicore_time;
#define ASGICORE_TIME_NEVER UINT64_MAX

/* Bytes, not necessarily NUL-terminated. data may be NULL when len is 0. */
typedef struct asgicore_str {
    const char *data;
    size_t len;
} asgicore_str;

typedef struct asgicore_header {
    asgicore_str name;
    asgicore_str value;
} asgicore_header;

/* A socket address. host.data == NULL means "none" (e.g. a unix socket). */
typedef struct asgicore_addr {
    asgicore_str host;
    int port;
} asgicore_addr;

/* ---------------------------------------------------------------- settings */

typedef struct asgicore_settings {
    /* Time between a disconnect and the cancellation of an app that has not
     * finished. 0 cancels at once. Default 3 s. */
    uint64_t grace_period_ns;
    /* Unread request body buffered per scope before the host is told to
     * stop reading (asgicore_scope_feed_body returns ASGICORE_PENDING).
     * Default 64 KiB. Must be > 0. */
    size_t body_buffer_limit;
    /* Response bytes a scope may hold before a send reports
     * ASGICORE_PENDING. 0: every send with data waits until the host took
     * it and is not blocked. Default 64 KiB. */
    size_t send_buffer_limit;
} asgicore_settings;

#define ASGICORE_SETTINGS_V1 1
#define ASGICORE_SETTINGS_VERSION ASGICORE_SETTINGS_V1

/* Fills *s with the defaults above.
 * Thread: any. Returns: ASGICORE_OK; ASGICORE_ERR_VERSION. */
ASGICORE_API int asgicore_settings_default_versioned(int settings_version,
                                                     asgicore_settings *s);
#define asgicore_settings_default(s)                                          \
    asgicore_settings_default_versioned(ASGICORE_SETTINGS_VERSION, (s))

/* ---------------------------------------------------------------- host side */

enum asgicore_log_level {
    ASGICORE_LOG_ERROR = 1,
    ASGICORE_LOG_WARN = 2,
    ASGICORE_LOG_INFO = 3,
    ASGICORE_LOG_DEBUG = 4
};

/* Why a scope ends; asgicore_outcome_name() gives the access-log word. */
enum asgicore_outcome {
    ASGICORE_OUTCOME_NONE = 0,                /* not decided yet */
    ASGICORE_OUTCOME_COMPLETE = 1,            /* "complete" */
    ASGICORE_OUTCOME_CLIENT_DISCONNECTED = 2, /* "client_disconnected" */
    ASGICORE_OUTCOME_CANCELLED = 3,           /* "cancelled_after_grace" */
    ASGICORE_OUTCOME_APP_ERROR = 4            /* "app_error" */
};

/* Thread: any. A static string; "unknown" for an unknown outcome. */
ASGICORE_API const char *asgicore_outcome_name(int outcome);

/* What the host saw happen to the client. */
enum asgicore_disconnect_reason {
    ASGICORE_DISCONNECT_CLOSED = 1,          /* FIN */
    ASGICORE_DISCONNECT_RESET = 2,           /* RST */
    ASGICORE_DISCONNECT_HALF_CLOSED = 3,     /* client shut down writing */
    ASGICORE_DISCONNECT_STREAM_RESET = 4,    /* HTTP/2 RST_STREAM */
    ASGICORE_DISCONNECT_CONNECTION_LOST = 5, /* HTTP/2 or /3 connection */
    ASGICORE_DISCONNECT_WRITE_ERROR = 6,
    ASGICORE_DISCONNECT_TIMEOUT = 7,         /* e.g. client_body_timeout */
    ASGICORE_DISCONNECT_SERVER = 8           /* the host gave up (shutdown) */
};
/* One past the highest reason: the size of asgicore_counters.disconnects. */
#define ASGICORE_DISCONNECT_REASONS 9

/* Thread: any. A static string; "unknown reason" for an unknown one. */
ASGICORE_API const char *asgicore_disconnect_reason_name(int reason);

/*
 * Host callbacks. `user` is the pointer given to asgicore_ctx_new;
 * `host_data` is the pointer given to asgicore_scope_open. All but `wake`
 * run on the host thread; none runs after the scope was released.
 */
typedef struct asgicore_callbacks {
    /* Write the response head. has_trailers: trailers will follow the body.
     * Return ASGICORE_OK when the host can take more now, ASGICORE_PENDING
     * when it took the data but is backlogged (call asgicore_scope_write_ready
     * when drained), or a negative code when writing failed. For an exact
     * grace period, report a failed write from the callback with
     * asgicore_scope_disconnect(ASGICORE_DISCONNECT_WRITE_ERROR, now); a bare
     * negative result counts as that disconnect at the latest time the host
     * passed in. The host copies what it keeps: the pointers are valid for
     * the call only. The library checked the headers (and trailers): names
     * are tokens (RFC 9110 tchar), values hold no control byte but HTAB. */
    int (*send_head)(void *user, asgicore_scope *scope, void *host_data,
                     int status, const asgicore_header *headers,
                     size_t header_count, int has_trailers);
    /* Write body bytes; last: the response ends here (no trailers follow).
     * Same results as send_head. */
    int (*send_body)(void *user, asgicore_scope *scope, void *host_data,
                     const void *data, size_t len, int last);
    /* Write trailers; last: the response ends here. */
    int (*send_trailers)(void *user, asgicore_scope *scope, void *host_data,
                         const asgicore_header *trailers, size_t count,
                         int last);
    /* The app consumed buffered body, or first asked for it
     * (ASGICORE_SCOPE_BODY_ON_DEMAND): feed more. Comes only after the
     * pause it answers began; harmless when not paused. */
    void (*resume_body)(void *user, asgicore_scope *scope, void *host_data);
    /* The host can end the request: the last byte of the response was
     * handed over and the host is not backlogged (a send that returned
     * ASGICORE_PENDING was followed by asgicore_scope_write_ready), or the
     * app finished, or it was cancelled, or it was never started, or an
     * app error ended the response. `outcome` is final (an app that runs
     * on after its response ended, e.g. background work, does not change
     * it). response_complete is 0 when the response could not be
     * finished: close the connection rather than end the response. At
     * most once per scope; the host may release the scope from it. */
    void (*done)(void *user, asgicore_scope *scope, void *host_data,
                 int outcome, int response_complete);
    /* The earliest deadline changed: call asgicore_ctx_handle_expiry at
     * `deadline` (ASGICORE_TIME_NEVER: no timer is needed). A new deadline
     * replaces the previous one. The timer is one-shot: once it fired
     * (asgicore_ctx_handle_expiry was called) the host holds none until
     * the next set_timer. */
    void (*set_timer)(void *user, asgicore_time deadline);
    /* Work was posted from outside a host-side call: call
     * asgicore_ctx_process soon, on the host thread. Thread-safe; coalesced
     * (not called again until asgicore_ctx_process ran). May be NULL when
     * only inline apps are used and they only call from callbacks. */
    void (*wake)(void *user);
    /* A log line; host_data is NULL when no scope applies. May be NULL. */
    void (*log)(void *user, int level, void *host_data, const char *message);
    /* Since 0.3.0 (ASGICORE_CALLBACKS_V2). With it, a scope's log lines
     * keep its host_data after asgicore_scope_release, for as long as the
     * app works on it, so that a host which keeps its request's context
     * until then logs an app's late lines (its cleanup after a cancel)
     * with their request. Called once per scope, on the host thread, when
     * the host has released it and the app has finished: host_data is
     * never passed again. Not called for scopes asgicore_ctx_free frees.
     * May be NULL: host_data is then passed only until the release. */
    void (*scope_gone)(void *user, void *host_data);
    /* Since 0.3.0 (ASGICORE_CALLBACKS_V3). Bytes for a connection the host
     * took over (a WebSocket after its 101): written as they are, in order.
     * Same results as send_body. Its presence says the host can take a
     * connection over; NULL: WebSocket requests reach apps as HTTP. */
    int (*send_raw)(void *user, asgicore_scope *scope, void *host_data,
                    const void *data, size_t len);
} asgicore_callbacks;

#define ASGICORE_CALLBACKS_V1 1
#define ASGICORE_CALLBACKS_V2 2
#define ASGICORE_CALLBACKS_V3 3
#define ASGICORE_CALLBACKS_VERSION ASGICORE_CALLBACKS_V3

/* Creates a context: one per host event loop (e.g. per nginx worker). The
 * settings and callbacks are copied. NULL settings means defaults. The
 * caller owns *out and frees it with asgicore_ctx_free.
 * Thread: any; the thread that then makes host-side calls is the host
 * thread. Returns: ASGICORE_OK; ASGICORE_ERR_VERSION;
 * ASGICORE_ERR_INVALID (also: body_buffer_limit is 0). */
ASGICORE_API int asgicore_ctx_new_versioned(
    int settings_version, const asgicore_settings *settings,
    int callbacks_version, const asgicore_callbacks *callbacks, void *user,
    asgicore_ctx **out);
#define asgicore_ctx_new(settings, callbacks, user, out)                      \
    asgicore_ctx_new_versioned(ASGICORE_SETTINGS_VERSION, (settings),         \
                               ASGICORE_CALLBACKS_VERSION, (callbacks),       \
                               (user), (out))

/* Frees the context, its apps and every scope, released or not. Stop every
 * app thread first: their scope pointers become invalid. NULL is a no-op.
 * Thread: host. */
ASGICORE_API void asgicore_ctx_free(asgicore_ctx *ctx);

/* Runs work posted from app-side calls (after `wake`): callbacks follow.
 * Thread: host. Returns: ASGICORE_OK. */
ASGICORE_API int asgicore_ctx_process(asgicore_ctx *ctx);

/* The earliest deadline, or ASGICORE_TIME_NEVER (also for NULL).
 * Thread: host. */
ASGICORE_API asgicore_time asgicore_ctx_get_expiry(asgicore_ctx *ctx);

/* Runs every deadline <= now (grace periods ending: apps are cancelled).
 * Thread: host. Returns: ASGICORE_OK. */
ASGICORE_API int asgicore_ctx_handle_expiry(asgicore_ctx *ctx,
                                            asgicore_time now);

/* Counters of one context. Outcome counters are disjoint: once every scope
 * was released and decided, opened == completed + disconnected + cancelled
 * + app_errors. */
typedef struct asgicore_counters {
    uint64_t opened;         /* scopes opened */
    uint64_t live;           /* opened and not yet released by the host */
    uint64_t completed;      /* outcome "complete" */
    uint64_t disconnected;   /* outcome "client_disconnected" */
    uint64_t cancelled;      /* outcome "cancelled_after_grace" */
    uint64_t app_errors;     /* outcome "app_error" */
    uint64_t not_dispatched; /* client left before the app started (also
                              * counted in disconnected) */
    uint64_t running_apps;   /* apps started and not finished */
    uint64_t abandoned;      /* released by the host while the app ran on */
    /* ASGICORE_COUNTERS_V2: scopes whose client left, by the first reason
     * the host gave (asgicore_disconnect_reason; index 0 stays 0). */
    uint64_t disconnects[ASGICORE_DISCONNECT_REASONS];
} asgicore_counters;

#define ASGICORE_COUNTERS_V1 1 /* up to abandoned */
#define ASGICORE_COUNTERS_V2 2 /* with disconnects */
#define ASGICORE_COUNTERS_VERSION ASGICORE_COUNTERS_V2

/* A snapshot of the counters into *out. With ASGICORE_COUNTERS_V1 only the
 * fields up to `abandoned` are written (the struct as version 1 had it).
 * Thread: any. Returns: ASGICORE_OK; ASGICORE_ERR_VERSION. */
ASGICORE_API int asgicore_ctx_counters_versioned(asgicore_ctx *ctx,
                                                 int counters_version,
                                                 asgicore_counters *out);
#define asgicore_ctx_counters(ctx, out)                                       \
    asgicore_ctx_counters_versioned((ctx), ASGICORE_COUNTERS_VERSION, (out))

/* The ASGI HTTP scope of one request, given by the host to
 * asgicore_scope_open. The library copies everything. */
typedef struct asgicore_scope_info {
    asgicore_str method;       /* "GET" */
    asgicore_str scheme;       /* "http" or "https" */
    asgicore_str http_version; /* "1.0", "1.1", "2" or "3" */
    asgicore_str path;         /* percent-decoded, UTF-8 */
    asgicore_str raw_path;     /* as received, without the query */
    asgicore_str query_string; /* without '?' */
    asgicore_str root_path;    /* mount point, "" by default */
    const asgicore_header *headers; /* as received, names lower-cased */
    size_t header_count;
    asgicore_addr client;
    asgicore_addr server;
    /* Per-scope grace period; negative: the context's setting. */
    int64_t grace_period_ns;
    /* ASGICORE_SCOPE_* flags. */
    uint32_t flags;
    /* ASGICORE_SCOPE_INFO_V2 (since 0.3.0): a WebSocket scope's limits.
     * 0 for each default: 1 MiB messages, a ping after 20 s without a
     * byte from the client (and lost when another 20 s bring none), a 5 s
     * close handshake. A negative ping interval: no pings. */
    uint64_t websocket_max_message;
    int64_t websocket_ping_interval_ns;
    uint64_t websocket_close_timeout_ns;
    /* ASGICORE_SCOPE_INFO_V3 (since 0.3.0): what the host can do for this
     * request, ASGICORE_CAP_* bits. Apps offer only these (the Python
     * runtime names the extensions in the scope). With V1 and V2 the
     * library takes ASGICORE_CAP_TRAILERS, as those hosts promised. */
    uint32_t capabilities;
} asgicore_scope_info;

#define ASGICORE_SCOPE_INFO_V1 1 /* up to flags */
#define ASGICORE_SCOPE_INFO_V2 2 /* up to websocket_close_timeout_ns */
#define ASGICORE_SCOPE_INFO_V3 3
#define ASGICORE_SCOPE_INFO_VERSION ASGICORE_SCOPE_INFO_V3

/* The host can send response trailers for this request (its send_trailers
 * callback writes them: HTTP/2, or chunked HTTP/1.1). Without it, an app
 * that announces trailers anyway gets its body through, ended when its
 * last http.response.trailers comes; the trailers are dropped, with one
 * log line. */
#define ASGICORE_CAP_TRAILERS 0x1u

/* A client abort after the whole body arrived is hidden from the app: it
 * runs to completion, its output is discarded. */
#define ASGICORE_SCOPE_IGNORE_CLIENT_ABORT 0x1u
/* Since 0.3.0. The host reads the body only when the app first asks for
 * it (HTTP/1.1 "Expect: 100-continue": the host answers "100 Continue"
 * then): the scope starts paused, asgicore_scope_feed_body returns
 * ASGICORE_ERR_BUSY until the resume_body callback. For requests with a
 * body. */
#define ASGICORE_SCOPE_BODY_ON_DEMAND 0x2u
/* Since 0.3.0. The client left before the scope was opened (its FIN came
 * with the request): the app is never started; the scope counts as
 * opened, disconnected and not dispatched, and `done` follows at once. */
#define ASGICORE_SCOPE_CLIENT_GONE 0x4u
/* Since 0.3.0. The request asks for a WebSocket ("Upgrade: websocket") and
 * the host can take the connection over (it has send_raw). An app that
 * takes WebSockets (ASGICORE_APP_WEBSOCKET) gets a websocket scope: the
 * library checks the handshake (an invalid one is answered 400, or 426
 * with "Sec-WebSocket-Version: 13", without starting the app), the app
 * receives websocket.connect and answers with asgicore_websocket_accept
 * (the 101; then the host feeds the client's bytes with
 * asgicore_scope_feed_raw and writes send_raw's), asgicore_websocket_close
 * (a 403) or an HTTP response (the denial). Other apps get the request
 * as HTTP. */
#define ASGICORE_SCOPE_WEBSOCKET 0x8u

/*
 * Opens a scope for one request and starts `app` for it: an inline app's
 * start callback runs before this returns, a threaded app's is queued.
 * Callbacks for the scope may run before this returns; *out is set first.
 * The host must call asgicore_scope_release exactly once.
 * Thread: host. Returns: ASGICORE_OK; ASGICORE_ERR_VERSION;
 * ASGICORE_ERR_INVALID (also: the app belongs to another context, a string
 * or header with NULL data and a length, headers NULL with a count).
 */
ASGICORE_API int asgicore_scope_open_versioned(asgicore_ctx *ctx,
                                               asgicore_app *app,
                                               int info_version,
                                               const asgicore_scope_info *info,
                                               void *host_data,
                                               asgicore_scope **out);
#define asgicore_scope_open(ctx, app, info, host_data, out)                   \
    asgicore_scope_open_versioned((ctx), (app), ASGICORE_SCOPE_INFO_VERSION,  \
                                  (info), (host_data), (out))

/*
 * Feeds request body bytes (copied); more == 0 ends the body. A request
 * without a body is fed (NULL, 0, 0) once.
 * Thread: host. Returns: ASGICORE_OK: keep feeding. ASGICORE_PENDING:
 * taken, but stop reading until the resume_body callback.
 * ASGICORE_ERR_BUSY: not taken, paused. ASGICORE_ERR_DISCONNECTED: not
 * taken, the client is gone. ASGICORE_ERR_STATE: the body already ended, or
 * the scope was released. ASGICORE_ERR_INVALID (also: data NULL with a
 * length).
 */
ASGICORE_API int asgicore_scope_feed_body(asgicore_scope *scope,
                                          const void *data, size_t len,
                                          int more);

/*
 * Since 0.3.0: the client's bytes on a connection taken over (after the
 * 101 of a websocket scope), all taken. ASGICORE_PENDING: stop reading
 * until resume_body (the app has not received what came). A connection
 * that ends without a close frame is asgicore_scope_disconnect.
 * Thread: host. Returns: ASGICORE_OK; ASGICORE_PENDING; ASGICORE_ERR_STATE
 * (not taken over, or released); ASGICORE_ERR_DISCONNECTED (closed).
 */
ASGICORE_API int asgicore_scope_feed_raw(asgicore_scope *scope,
                                         const void *data, size_t len,
                                         asgicore_time now);

/*
 * Since 0.3.0: the host is stopping (a graceful shutdown, a reload). An
 * open WebSocket (after its 101) closes with 1001 "going away": the close
 * frame, then the client's reply or the close timeout, as when the app
 * closes; the app's receive() gets websocket.disconnect once the close
 * handshake ends. Nothing happens when a close is under way already.
 * Thread: host. Returns: ASGICORE_OK; ASGICORE_ERR_STATE (not an open
 * websocket scope, or released); ASGICORE_ERR_DISCONNECTED (closing or
 * closed already).
 */
ASGICORE_API int asgicore_scope_going_away(asgicore_scope *scope,
                                           asgicore_time now);

/* The client went away. Idempotent: only the first report counts.
 * Thread: host. Returns: ASGICORE_OK; ASGICORE_ERR_STATE (released);
 * ASGICORE_ERR_INVALID (also: an unknown reason). */
ASGICORE_API int asgicore_scope_disconnect(asgicore_scope *scope, int reason,
                                           asgicore_time now);

/* The host drained what it took after returning ASGICORE_PENDING.
 * Thread: host. Returns: ASGICORE_OK; ASGICORE_ERR_STATE (released). */
ASGICORE_API int asgicore_scope_write_ready(asgicore_scope *scope);

/* The host does not end this response's body where the app's
 * content-length does (a filter of its own compresses or rewrites it and
 * frames it anew): a client that leaves before the app's last message did
 * not have the whole response, even with all of the content-length
 * written. Call it from send_head, or before the first body bytes go out.
 * Since 0.3.0. Thread: host, or inside a host callback. Returns:
 * ASGICORE_OK; ASGICORE_ERR_STATE (released). */
ASGICORE_API int asgicore_scope_reframed(asgicore_scope *scope);

/* The host is done with the scope; no callback for it follows. If the app
 * is still running and its response is incomplete, the app sees a
 * disconnect (ASGICORE_DISCONNECT_SERVER) at `now` and is cancelled after
 * the grace period. The handle is invalid for the host afterwards.
 * Thread: host. Returns: ASGICORE_OK; ASGICORE_ERR_STATE (released
 * already, seen only while the app still holds the scope). */
ASGICORE_API int asgicore_scope_release(asgicore_scope *scope,
                                        asgicore_time now);

/* The scope's outcome so far (ASGICORE_OUTCOME_NONE until decided).
 * Thread: host. Returns: an asgicore_outcome (>= 0). */
ASGICORE_API int asgicore_scope_outcome(asgicore_scope *scope);

/* ---------------------------------------------------------------- app side */

enum asgicore_notify {
    /* asgicore_receive would now return an event. Sent once after a
     * receive returned ASGICORE_PENDING. */
    ASGICORE_NOTIFY_RECEIVE_READY = 1,
    /* A send that returned ASGICORE_PENDING completed: status is ASGICORE_OK
     * or ASGICORE_ERR_DISCONNECTED. */
    ASGICORE_NOTIFY_SEND_READY = 2,
    /* The grace period after a disconnect ended: stop. Sent at most once
     * and never after asgicore_finish. */
    ASGICORE_NOTIFY_CANCEL = 3
};

typedef struct asgicore_app_callbacks {
    /* A new scope: the app owns the scope until it calls asgicore_finish. */
    void (*start)(void *app_user, asgicore_scope *scope);
    /* An ASGICORE_NOTIFY_* event for a scope the app owns. */
    void (*notify)(void *app_user, asgicore_scope *scope, int event,
                   int status);
    /* Threaded apps only: call asgicore_app_dispatch on the app thread.
     * Thread-safe; coalesced until asgicore_app_dispatch runs. */
    void (*wake)(void *app_user);
} asgicore_app_callbacks;

#define ASGICORE_APP_CALLBACKS_V1 1
#define ASGICORE_APP_CALLBACKS_VERSION ASGICORE_APP_CALLBACKS_V1

/* Callbacks run on the host thread, inside host-side calls. */
#define ASGICORE_APP_INLINE 0
/* Callbacks run in asgicore_app_dispatch, on the app's own thread. */
#define ASGICORE_APP_THREADED 1
/* Since 0.3.0, or-ed into the mode: the app takes websocket scopes (it
 * receives with asgicore_receive_versioned). */
#define ASGICORE_APP_WEBSOCKET 0x100

/* Registers an app with a context; the context owns it (asgicore_app_free,
 * or asgicore_ctx_free frees it).
 * Thread: host. Returns: ASGICORE_OK; ASGICORE_ERR_VERSION;
 * ASGICORE_ERR_INVALID (also: an unknown mode, no start or notify callback,
 * a threaded app without wake). */
ASGICORE_API int asgicore_app_new_versioned(
    asgicore_ctx *ctx, int callbacks_version,
    const asgicore_app_callbacks *callbacks, void *app_user, int mode,
    asgicore_app **out);
#define asgicore_app_new(ctx, callbacks, app_user, mode, out)                 \
    asgicore_app_new_versioned((ctx), ASGICORE_APP_CALLBACKS_VERSION,         \
                               (callbacks), (app_user), (mode), (out))

/* Unregisters and frees an app.
 * Thread: host. Returns: ASGICORE_OK; ASGICORE_ERR_BUSY (it still owns a
 * scope). */
ASGICORE_API int asgicore_app_free(asgicore_app *app);

/* An app's readiness (since 0.3.0), for the host to show (nginx:
 * asgi_status) and to log. Requests reach an app in any state: one that is
 * loading makes them wait, one that failed answers them with an error. */
enum asgicore_app_state {
    ASGICORE_APP_READY = 0,   /* serving: the state of a new app */
    ASGICORE_APP_LOADING = 1, /* starting (importing, running its startup) */
    ASGICORE_APP_FAILED = 2   /* it could not start */
};

/* message (may be NULL): what failed, or what is loading; copied, at most
 * 1023 bytes kept (cut before a UTF-8 character that does not fit).
 * Thread: any. Returns: ASGICORE_OK; ASGICORE_ERR_INVALID (also: an
 * unknown state). */
ASGICORE_API int asgicore_app_set_state(asgicore_app *app, int state,
                                        const char *message);

/* Copies the state's message, NUL-terminated and cut to fit (before a
 * UTF-8 character that does not), into buf when buf is not NULL.
 * Thread: any. Returns: an asgicore_app_state (>= 0). */
ASGICORE_API int asgicore_app_get_state(asgicore_app *app, char *buf,
                                        size_t size);

/* Threaded apps: runs queued callbacks on the calling thread.
 * Thread: the app's. Returns: how many scopes were notified (>= 0);
 * ASGICORE_ERR_STATE (an inline app). */
ASGICORE_API int asgicore_app_dispatch(asgicore_app *app);

/*
 * A log line from the app (since 0.2.0), for the host's log callback: it
 * reaches the host on the host thread, like the library's own lines, so
 * an app thread may call this at any time. scope (NULL for none) must be
 * a scope the app owns: the host then logs the line with that request.
 * level is an asgicore_log_level. The message is copied.
 * Thread: any. Returns: ASGICORE_OK; ASGICORE_ERR_FINISHED (the scope is
 * finished, or another app's); ASGICORE_ERR_INVALID (also: an unknown
 * level).
 */
ASGICORE_API int asgicore_app_log(asgicore_app *app, asgicore_scope *scope,
                                  int level, const char *message);

/*
 * Threaded apps, since 0.2.0: batches the calling thread's app-side calls.
 * While on, the calls do not wake the host; turning it off wakes the host
 * once if any call needed it. An app thread that makes many calls per turn
 * of its loop (many requests in flight) brackets the turn with on/off, so
 * the host wakes once per turn instead of once per response.
 * Thread: the app's. Returns: ASGICORE_OK; ASGICORE_ERR_STATE (an inline
 * app); ASGICORE_ERR_BUSY (the thread batches for another context).
 */
ASGICORE_API int asgicore_app_batch(asgicore_app *app, int on);

/* The scope data, valid until asgicore_finish (or the last drop of a held
 * scope). Strings are not NUL-terminated; grace_period_ns holds the
 * effective value; path is valid UTF-8 (invalid sequences of the host's
 * path are replaced by U+FFFD since 0.3.0). The library owns it.
 * Thread: the app's (or any, while the app holds the scope). NULL for a
 * NULL scope. */
ASGICORE_API const asgicore_scope_info *asgicore_scope_get_info(
    asgicore_scope *scope);

/* One pointer the app keeps with the scope (NULL at first); the library
 * never uses it. Thread: the app's. */
ASGICORE_API void asgicore_scope_set_app_data(asgicore_scope *scope,
                                              void *data);
ASGICORE_API void *asgicore_scope_get_app_data(asgicore_scope *scope);

enum asgicore_event_type {
    ASGICORE_EVENT_HTTP_REQUEST = 1,   /* "http.request" */
    ASGICORE_EVENT_HTTP_DISCONNECT = 2, /* "http.disconnect" */
    /* Since 0.3.0, through asgicore_receive_versioned only. */
    ASGICORE_EVENT_WEBSOCKET_CONNECT = 3,   /* "websocket.connect" */
    ASGICORE_EVENT_WEBSOCKET_RECEIVE = 4,   /* "websocket.receive" */
    ASGICORE_EVENT_WEBSOCKET_DISCONNECT = 5 /* "websocket.disconnect" */
};

/* Filled by asgicore_receive. Its layout is frozen for this SONAME (it
 * has no version field); CHANGES.md plans its successor. */
typedef struct asgicore_event {
    int type;
    /* http.request only: body bytes, valid until the next asgicore_receive
     * or asgicore_finish on this scope. */
    const void *body;
    size_t body_len;
    int more_body;
} asgicore_event;

/* Filled by asgicore_receive_versioned (since 0.3.0). */
typedef struct asgicore_event_v2 {
    int type;
    /* http.request: body bytes; websocket.receive: the message;
     * websocket.disconnect: the close reason. Valid until the next
     * receive or asgicore_finish on this scope. */
    const void *data;
    size_t len;
    int more_body; /* http.request */
    int text;      /* websocket.receive: 1 for text (UTF-8), 0 for bytes */
    int code;      /* websocket.disconnect: the client's close code, 1005
                    * when it gave none, 1006 when the connection was lost */
} asgicore_event_v2;

#define ASGICORE_EVENT_V1 1 /* asgicore_event */
#define ASGICORE_EVENT_V2 2 /* asgicore_event_v2 */

/*
 * asgicore_receive with the event struct of `event_version`: V1 fills an
 * asgicore_event (HTTP scopes only), V2 an asgicore_event_v2 (any scope).
 * Thread: the app's. Returns: as asgicore_receive; ASGICORE_ERR_VERSION;
 * ASGICORE_ERR_STATE (V1 on a websocket scope).
 */
ASGICORE_API int asgicore_receive_versioned(asgicore_scope *scope,
                                            int event_version, void *event);

/*
 * Non-blocking receive. ASGICORE_OK: *event is filled. ASGICORE_PENDING:
 * nothing yet; ASGICORE_NOTIFY_RECEIVE_READY follows when there is. A
 * caller that stops waiting simply does not call again: no event is lost.
 * Thread: the app's. Returns: ASGICORE_OK; ASGICORE_PENDING;
 * ASGICORE_ERR_FINISHED (called after asgicore_finish on a held scope).
 */
ASGICORE_API int asgicore_receive(asgicore_scope *scope,
                                  asgicore_event *event);

/*
 * "http.response.start". status 200..999 (a 1xx is not a final response:
 * an app error). trailers: the app will send "http.response.trailers"
 * after the body. Header values may hold no control character but HTAB.
 * A content-length is a promise the library keeps for the app (since
 * 0.3.0): an invalid value or conflicting values are an app error; a body
 * beyond it, or ending short of it, is an app error that cuts the
 * response, and no byte beyond it is written. 204, 205 and 304 responses,
 * and responses to HEAD, carry no body: body bytes are dropped (a 205's
 * content-length is sent as 0, a 204's not at all). Results of every send:
 * ASGICORE_OK: done, send again at will. ASGICORE_PENDING: taken; do not
 * send again before ASGICORE_NOTIFY_SEND_READY. ASGICORE_ERR_DISCONNECTED:
 * nothing written, not an app error. ASGICORE_ERR_PROTOCOL,
 * ASGICORE_ERR_BAD_HEADER, ASGICORE_ERR_INVALID: an app error, logged; later
 * sends fail too. ASGICORE_ERR_BUSY: the previous send is pending.
 * ASGICORE_ERR_FINISHED: called after asgicore_finish on a held scope.
 * Thread: the app's. Returns: ASGICORE_OK; ASGICORE_PENDING;
 * ASGICORE_ERR_DISCONNECTED; ASGICORE_ERR_PROTOCOL; ASGICORE_ERR_BAD_HEADER;
 * ASGICORE_ERR_BUSY; ASGICORE_ERR_FINISHED; ASGICORE_ERR_INVALID (also: a
 * status outside 100..999, an app error).
 */
ASGICORE_API int asgicore_send_start(asgicore_scope *scope, int status,
                                     const asgicore_header *headers,
                                     size_t header_count, int trailers);

/* "http.response.body"; more_body == 0 ends the body. Bytes are copied.
 * Thread: the app's. Returns: ASGICORE_OK; ASGICORE_PENDING;
 * ASGICORE_ERR_DISCONNECTED; ASGICORE_ERR_PROTOCOL; ASGICORE_ERR_BUSY;
 * ASGICORE_ERR_FINISHED (see asgicore_send_start). */
ASGICORE_API int asgicore_send_body(asgicore_scope *scope, const void *data,
                                    size_t len, int more_body);

/* "http.response.trailers"; more_trailers == 0 ends the response.
 * Thread: the app's. Returns: ASGICORE_OK; ASGICORE_PENDING;
 * ASGICORE_ERR_DISCONNECTED; ASGICORE_ERR_PROTOCOL; ASGICORE_ERR_BAD_HEADER;
 * ASGICORE_ERR_BUSY; ASGICORE_ERR_FINISHED (see asgicore_send_start). */
ASGICORE_API int asgicore_send_trailers(asgicore_scope *scope,
                                        const asgicore_header *trailers,
                                        size_t count, int more_trailers);

/*
 * The app is done with the scope. failed != 0 reports an application error
 * (message, may be NULL, is logged once). An app that returns normally
 * without completing the response while the client is still there is an
 * app error too. An app error ends the response at once: the client gets a
 * 500 while the host had no part of the response yet, else the response
 * is cut (done with response_complete 0).
 *
 * After finish the handle is invalid for the app unless it holds it (see
 * asgicore_scope_hold): the library may free the scope and reuse its
 * memory for another request's scope, so an unheld handle must not be
 * passed to any call, ever again.
 * Thread: the app's. Returns: ASGICORE_OK; ASGICORE_ERR_FINISHED (already
 * finished, or never started: a held scope's second finish).
 */
ASGICORE_API int asgicore_finish(asgicore_scope *scope, int failed,
                                 const char *message);

/*
 * Since 0.3.0. Keeps the handle valid for the app beyond asgicore_finish,
 * until the matching asgicore_scope_drop, for code that may still use it
 * when the request is over (in Python, a task that outlives its request).
 * Only the scope's owner may take a hold, before it finishes
 * (ASGICORE_ERR_FINISHED after). On a finished scope every call but
 * asgicore_scope_drop, asgicore_scope_get_info and the app data calls is
 * refused, and logged once: asgicore_receive and asgicore_finish return
 * ASGICORE_ERR_FINISHED; the sends return ASGICORE_ERR_DISCONNECTED if
 * the client had left, else ASGICORE_ERR_FINISHED; nothing is written.
 * Holds are counted; each needs its drop (ASGICORE_ERR_STATE when none is
 * left). Drop every hold before asgicore_ctx_free.
 * Thread: the app's. Returns (hold): ASGICORE_OK; ASGICORE_ERR_FINISHED.
 * Returns (drop): ASGICORE_OK; ASGICORE_ERR_STATE.
 */
ASGICORE_API int asgicore_scope_hold(asgicore_scope *scope);
ASGICORE_API int asgicore_scope_drop(asgicore_scope *scope);

/*
 * Since 0.3.0: a websocket scope (ASGICORE_SCOPE_WEBSOCKET).
 *
 * "websocket.accept": the 101, with Upgrade, Connection and
 * Sec-WebSocket-Accept, the subprotocol (NULL for none; it must be one
 * the client offered) and the app's headers. An invalid subprotocol or
 * header is an app error. Once, after websocket.connect was received.
 * Thread: the app's. Returns: ASGICORE_OK; ASGICORE_ERR_DISCONNECTED;
 * ASGICORE_ERR_PROTOCOL (twice, or after a response); ASGICORE_ERR_BAD_HEADER;
 * ASGICORE_ERR_STATE (not a websocket scope); ASGICORE_ERR_FINISHED.
 */
ASGICORE_API int asgicore_websocket_accept(asgicore_scope *scope,
                                           const asgicore_str *subprotocol,
                                           const asgicore_header *headers,
                                           size_t header_count);

/*
 * "websocket.send": one message, text (valid UTF-8, else an app error) or
 * bytes. Results as asgicore_send_body: ASGICORE_PENDING while the host is
 * backlogged (SEND_READY follows), ASGICORE_ERR_DISCONNECTED once the
 * connection closes, not an app error.
 * Thread: the app's. Returns: ASGICORE_OK; ASGICORE_PENDING;
 * ASGICORE_ERR_DISCONNECTED; ASGICORE_ERR_PROTOCOL (before accept);
 * ASGICORE_ERR_BUSY; ASGICORE_ERR_STATE; ASGICORE_ERR_FINISHED.
 */
ASGICORE_API int asgicore_websocket_send(asgicore_scope *scope, int text,
                                         const void *data, size_t len);

/*
 * "websocket.close": before accept, a 403; after, the close handshake
 * (the client's reply is awaited for the close timeout). code 1000, or any
 * code a peer may send (not 1005, 1006, 1015); reason at most 123 bytes of
 * UTF-8. An invalid code or reason is an app error.
 * After an app error the library has closed with 1011 already.
 * Thread: the app's. Returns: ASGICORE_OK; ASGICORE_ERR_DISCONNECTED;
 * ASGICORE_ERR_INVALID; ASGICORE_ERR_PROTOCOL (after an app error);
 * ASGICORE_ERR_STATE; ASGICORE_ERR_FINISHED.
 */
ASGICORE_API int asgicore_websocket_close(asgicore_scope *scope, int code,
                                          const char *reason,
                                          size_t reason_len);

/* ------------------------------------------------------------ native apps */

/*
 * A native app is a shared object (any language with a C FFI) that exports
 * one `const asgicore_native_app asgicore_app_entry` object. A host loads
 * it (nginx: `asgi_native_app /path/app.so [argument];`), and in each worker
 * process, after fork: create(argument) -> asgicore_app_new(ctx, &callbacks,
 * app_user, mode) -> attach(app_user, app). At worker exit: destroy(), then
 * the context is freed.
 */
typedef struct asgicore_native_app {
    int abi_version; /* ASGICORE_NATIVE_APP_V1 */
    asgicore_app_callbacks callbacks;
    /* Returns the app's user pointer and sets *mode (ASGICORE_APP_INLINE
     * or ASGICORE_APP_THREADED); NULL with a message in `error` on
     * failure. `argument` is "" when none was given. */
    void *(*create)(const char *argument, int *mode, char *error,
                    size_t error_size);
    /* The app's handle; a threaded app starts its thread here. 0, or -1
     * with a message in `error`. May be NULL. */
    int (*attach)(void *app_user, asgicore_app *app, char *error,
                  size_t error_size);
    /* Worker exit: stop threads and free the app. No app-side call may
     * follow. May be NULL. */
    void (*destroy)(void *app_user);
} asgicore_native_app;

#define ASGICORE_NATIVE_APP_SYMBOL "asgicore_app_entry"
#define ASGICORE_NATIVE_APP_V1 1

#ifdef __cplusplus
}
#endif

#endif /* ASGICORE_H */
