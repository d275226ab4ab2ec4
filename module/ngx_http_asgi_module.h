
/*
 * Copyright (C) The asgicore authors. BSD-2-Clause, see LICENSE.
 *
 * ngx_http_asgi_module: nginx's request lifecycle and client aborts wired
 * into libasgicore. No ASGI rule lives here: the module translates nginx
 * events into library calls and library callbacks into nginx output,
 * timers and finalization.
 */


#ifndef _NGX_HTTP_ASGI_MODULE_H_INCLUDED_
#define _NGX_HTTP_ASGI_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <asgicore.h>


/* An app named by a directive: loaded at configuration time (so that
 * "nginx -t" checks it), created in each worker after fork. */
typedef struct {
    ngx_str_t                      path;
    ngx_str_t                      argument;
    void                          *dl;
    const asgicore_native_app     *native;
    void                          *app_user;
    asgicore_app                  *app;
    ngx_log_t                     *log;
    ngx_str_t                      python_app;  /* asgi_app's module:attr */
    ngx_array_t                   *python_path; /* its directories */
} ngx_http_asgi_app_t;


typedef struct {
    ngx_array_t                    apps;       /* ngx_http_asgi_app_t * */
    ngx_str_t                      python_runtime; /* NUL-terminated */
    ngx_flag_t                     python_runtime_used;
    ngx_shm_zone_t                *fleet_zone; /* asgi_status's figures */
    ngx_flag_t                     status_used;
} ngx_http_asgi_main_conf_t;


/* the longest module:attribute the Python runtime takes */
#define NGX_HTTP_ASGI_APP_REF_MAX    511


/* An app's state, as asgi_status shows it. */
#define NGX_HTTP_ASGI_APP_UNKNOWN    0
#define NGX_HTTP_ASGI_APP_LOADING    1
#define NGX_HTTP_ASGI_APP_READY      2
#define NGX_HTTP_ASGI_APP_FAILED     3

/* apps whose state each worker shares with the others */
#define NGX_HTTP_ASGI_FLEET_APPS     128


/* One worker's figures in the server-wide view. */
typedef struct {
    ngx_pid_t                      pid;
    ngx_uint_t                     current;    /* of the running config */
    asgicore_counters              counters;
    u_char                         app_state[NGX_HTTP_ASGI_FLEET_APPS];
} ngx_http_asgi_fleet_worker_t;


typedef struct {
    asgicore_counters              totals;     /* exited workers' too */
    ngx_uint_t                     nworkers;
    ngx_http_asgi_fleet_worker_t  *workers;
} ngx_http_asgi_fleet_t;


typedef struct {
    ngx_http_asgi_app_t           *app;
    ngx_array_t                   *python_path;  /* of ngx_str_t */
    ngx_str_t                      root_path;    /* asgi_root_path */
    ngx_http_complex_value_t      *scheme;       /* asgi_scheme */
    ngx_uint_t                     lifespan;     /* NGX_HTTP_ASGI_LIFESPAN_ */
    ngx_msec_t                     grace_period;
    ngx_flag_t                     ignore_client_abort;
    ngx_flag_t                     status;
    size_t                         body_buffer_size;
    size_t                         websocket_max_message;
    ngx_msec_t                     websocket_ping_interval;  /* 0: off */
    ngx_msec_t                     websocket_close_timeout;
} ngx_http_asgi_loc_conf_t;


#define NGX_HTTP_ASGI_LIFESPAN_AUTO  0
#define NGX_HTTP_ASGI_LIFESPAN_ON    1
#define NGX_HTTP_ASGI_LIFESPAN_OFF   2


/* One per worker process. */
typedef struct {
    asgicore_ctx                  *ctx;
    ngx_event_t                    timer;
    ngx_event_t                    shutdown_hold; /* while scopes live */
    ngx_uint_t                     scopes;     /* opened, not released */
    ngx_connection_t              *wake;       /* the eventfd */
    ngx_msec_t                     max_grace;  /* of the scopes opened */
    ngx_msec_t                     apps_until; /* see shutdown_hold */
    ngx_msec_t                     exiting_since;
    ngx_log_t                     *log;
} ngx_http_asgi_worker_t;


/*
 * The handle of one request, shared with the library as the scope's
 * host_data. nginx may free the request at any moment (its cleanup
 * handlers run early when it terminates a request), so the handle lives in
 * heap memory with a reference count. The request's cleanup handler clears
 * `r` and releases the scope; the request's reference is dropped by a
 * cleanup of its pool, which runs after the access log was written (the
 * log variables read the handle). Every module function that calls into
 * the library holds another reference for the duration of the call.
 */
typedef struct {
    ngx_uint_t                     refs;
    ngx_http_request_t            *r;
    asgicore_scope                *scope;
    ngx_event_t                    finalize;   /* posted by "done" */
    ngx_event_t                    resume;     /* posted by resume_body */
    ngx_event_t                    flush_head; /* posted by send_head */

    ngx_chain_t                   *free;       /* output buffers */
    ngx_chain_t                   *busy;

    /* a WebSocket after its 101: what the socket did not take yet, and
     * the list of open ones (for the 1001 of a shutdown) */
    u_char                        *raw;
    size_t                         raw_pos;
    size_t                         raw_len;
    size_t                         raw_size;
    ngx_queue_t                    ws_link;

    /* P9: the request's log context, for an app's lines after nginx
     * finalized the request (copied at the end of this allocation) */
    ngx_atomic_uint_t              log_connection;
    ngx_str_t                      log_client;
    ngx_str_t                      log_server;
    ngx_str_t                      log_request;
    ngx_str_t                      log_host;

    ngx_msec_t                     start;
    ngx_msec_t                     app_time;
    int                            outcome;
    ngx_uint_t                     error_status; /* 400, 408, 413 ... */

    unsigned                       reading_body:1;
    unsigned                       body_paused:1;
    unsigned                       body_ended:1;
    unsigned                       write_blocked:1;
    unsigned                       client_gone:1;
    unsigned                       done:1;
    unsigned                       response_complete:1;
    unsigned                       head_pending:1;   /* not written yet */
    unsigned                       expect_continue:1;
    unsigned                       websocket:1;      /* taken over */
    unsigned                       ws_requested:1;   /* Upgrade asked */
    unsigned                       ws_read_done:1;
    unsigned                       going_away:1;
    unsigned                       cork_full:1;      /* answered PENDING */
} ngx_http_asgi_req_t;


extern ngx_module_t  ngx_http_asgi_module;
extern ngx_http_asgi_worker_t  *ngx_http_asgi_worker;


/* what ended, for ngx_http_asgi_shutdown_hold_check */
#define NGX_HTTP_ASGI_APP_ENDED        0
#define NGX_HTTP_ASGI_SCOPE_ENDED      1  /* its app may have its grace */
#define NGX_HTTP_ASGI_SCOPE_CANCELLED  2  /* its app's grace is spent */

/* ngx_http_asgi_worker.c */
ngx_int_t ngx_http_asgi_worker_init(ngx_cycle_t *cycle);
void ngx_http_asgi_worker_exit(ngx_cycle_t *cycle);
asgicore_time ngx_http_asgi_now(void);
void ngx_http_asgi_shutdown_hold_arm(void);
void ngx_http_asgi_shutdown_hold_check(ngx_uint_t ended);
void ngx_http_asgi_shutdown_hold_soon(void);
char *ngx_http_asgi_load_app(ngx_conf_t *cf, ngx_http_asgi_app_t *app);

/* ngx_http_asgi_request.c */
ngx_int_t ngx_http_asgi_handler(ngx_http_request_t *r);
void ngx_http_asgi_req_ref(ngx_http_asgi_req_t *req);
void ngx_http_asgi_req_unref(ngx_http_asgi_req_t *req);
void ngx_http_asgi_client_gone(ngx_http_asgi_req_t *req, int reason);
int ngx_http_asgi_error_reason(ngx_http_request_t *r, ngx_event_t *ev,
    int fallback);
void ngx_http_asgi_done(void *user, asgicore_scope *scope, void *host_data,
    int outcome, int response_complete);
void ngx_http_asgi_scope_gone(void *user, void *host_data);

/* ngx_http_asgi_body.c */
void ngx_http_asgi_body_start(ngx_http_request_t *r);
void ngx_http_asgi_resume_handler(ngx_event_t *ev);
void ngx_http_asgi_resume_body(void *user, asgicore_scope *scope,
    void *host_data);
void ngx_http_asgi_check_broken_connection(ngx_http_request_t *r);
ngx_int_t ngx_http_asgi_client_left(ngx_http_request_t *r);

/* ngx_http_asgi_scope.c */
ngx_int_t ngx_http_asgi_scope_info(ngx_http_request_t *r,
    asgicore_scope_info *info);

/* ngx_http_asgi_output.c */
int ngx_http_asgi_send_head(void *user, asgicore_scope *scope,
    void *host_data, int status, const asgicore_header *headers,
    size_t count, int has_trailers);
int ngx_http_asgi_send_body(void *user, asgicore_scope *scope,
    void *host_data, const void *data, size_t len, int last);
int ngx_http_asgi_send_trailers(void *user, asgicore_scope *scope,
    void *host_data, const asgicore_header *trailers, size_t count,
    int last);
void ngx_http_asgi_flush_head_handler(ngx_event_t *ev);
void ngx_http_asgi_subrequest_writer(ngx_http_request_t *r);

/* ngx_http_asgi_websocket.c */
ngx_uint_t ngx_http_asgi_websocket_requested(ngx_http_request_t *r);
ngx_uint_t ngx_http_asgi_websocket_over_http2(ngx_http_request_t *r);
ngx_int_t ngx_http_asgi_websocket_start(ngx_http_asgi_req_t *req);
void ngx_http_asgi_websocket_end(ngx_http_asgi_req_t *req);
void ngx_http_asgi_websocket_hand_over(ngx_http_asgi_req_t *req);
void ngx_http_asgi_websocket_read(ngx_http_asgi_req_t *req);
void ngx_http_asgi_websocket_shutdown(void);
int ngx_http_asgi_send_raw(void *user, asgicore_scope *scope,
    void *host_data, const void *data, size_t len);

/* ngx_http_asgi_status.c */
ngx_int_t ngx_http_asgi_status_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_asgi_add_variables(ngx_conf_t *cf);
ngx_uint_t ngx_http_asgi_app_state(ngx_http_asgi_app_t *app, u_char *message,
    size_t size);

/* ngx_http_asgi_fleet.c */
ngx_int_t ngx_http_asgi_fleet_add_zone(ngx_conf_t *cf);
void ngx_http_asgi_fleet_new_generation(ngx_cycle_t *cycle);
void ngx_http_asgi_fleet_join(ngx_cycle_t *cycle,
    ngx_http_asgi_main_conf_t *amcf);
void ngx_http_asgi_fleet_leave(void);
void ngx_http_asgi_fleet_changed(void);
ngx_int_t ngx_http_asgi_fleet_read(ngx_pool_t *pool,
    ngx_http_asgi_fleet_t *f);


#endif /* _NGX_HTTP_ASGI_MODULE_H_INCLUDED_ */
