
/*
 * Copyright (C) The asgicore authors. BSD-2-Clause, see LICENSE.
 *
 * Directives, configuration and the worker process hooks.
 */


#include "ngx_http_asgi_module.h"

#include <dlfcn.h>


static ngx_int_t ngx_http_asgi_init(ngx_conf_t *cf);
static ngx_int_t ngx_http_asgi_check_python_apps(ngx_conf_t *cf);
static void ngx_http_asgi_top_module(ngx_str_t *ref, ngx_str_t *top);
static ngx_int_t ngx_http_asgi_find_module(ngx_conf_t *cf,
    ngx_http_asgi_app_t *app, ngx_str_t *top, ngx_str_t *where);
static void *ngx_http_asgi_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_asgi_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_asgi_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_http_asgi_native_app(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_asgi_status(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_asgi_python_runtime(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_asgi_python_app(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_asgi_python_argument(ngx_conf_t *cf,
    ngx_http_asgi_loc_conf_t *alcf);
static char *ngx_http_asgi_set_lifespan(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_asgi_set_root_path(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_asgi_serve_app(ngx_conf_t *cf,
    ngx_http_asgi_loc_conf_t *alcf, ngx_http_asgi_app_t *app);
static char *ngx_http_asgi_positive_size(ngx_conf_t *cf, void *post,
    void *data);
static char *ngx_http_asgi_positive_msec(ngx_conf_t *cf, void *post,
    void *data);
static ngx_int_t ngx_http_asgi_init_module(ngx_cycle_t *cycle);
static ngx_int_t ngx_http_asgi_init_process(ngx_cycle_t *cycle);
static void ngx_http_asgi_exit_process(ngx_cycle_t *cycle);


/* asgi_lifespan's values, indexed by NGX_HTTP_ASGI_LIFESPAN_* */
static ngx_str_t  ngx_http_asgi_lifespans[] = {
    ngx_string("auto"), ngx_string("on"), ngx_string("off")
};


static ngx_conf_post_t  ngx_http_asgi_positive_size_post = {
    ngx_http_asgi_positive_size
};

static ngx_conf_post_t  ngx_http_asgi_positive_msec_post = {
    ngx_http_asgi_positive_msec
};


static ngx_command_t  ngx_http_asgi_commands[] = {

    { ngx_string("asgi_native_app"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE12,
      ngx_http_asgi_native_app,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("asgi_app"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_asgi_python_app,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("asgi_python_runtime"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_asgi_python_runtime,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("asgi_python_path"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_array_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_asgi_loc_conf_t, python_path),
      NULL },

    { ngx_string("asgi_lifespan"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_asgi_set_lifespan,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("asgi_root_path"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_asgi_set_root_path,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_asgi_loc_conf_t, root_path),
      NULL },

    { ngx_string("asgi_disconnect_grace_period"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_asgi_loc_conf_t, grace_period),
      NULL },

    { ngx_string("asgi_scheme"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_set_complex_value_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_asgi_loc_conf_t, scheme),
      NULL },

    { ngx_string("asgi_body_buffer_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_asgi_loc_conf_t, body_buffer_size),
      NULL },

    { ngx_string("asgi_ignore_client_abort"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_asgi_loc_conf_t, ignore_client_abort),
      NULL },

    { ngx_string("asgi_websocket_max_message"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_asgi_loc_conf_t, websocket_max_message),
      &ngx_http_asgi_positive_size_post },

    { ngx_string("asgi_websocket_ping_interval"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_asgi_loc_conf_t, websocket_ping_interval),
      NULL },

    { ngx_string("asgi_websocket_close_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_asgi_loc_conf_t, websocket_close_timeout),
      &ngx_http_asgi_positive_msec_post },

    { ngx_string("asgi_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_asgi_status,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_asgi_module_ctx = {
    ngx_http_asgi_add_variables,           /* preconfiguration */
    ngx_http_asgi_init,                    /* postconfiguration */

    ngx_http_asgi_create_main_conf,        /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_asgi_create_loc_conf,         /* create location configuration */
    ngx_http_asgi_merge_loc_conf           /* merge location configuration */
};


ngx_module_t  ngx_http_asgi_module = {
    NGX_MODULE_V1,
    &ngx_http_asgi_module_ctx,             /* module context */
    ngx_http_asgi_commands,                /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    ngx_http_asgi_init_module,             /* init module */
    ngx_http_asgi_init_process,            /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_asgi_exit_process,            /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_int_t
ngx_http_asgi_init(ngx_conf_t *cf)
{
    if (ngx_http_asgi_fleet_add_zone(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_asgi_check_python_apps(cf);
}


/*
 * P3: the Python apps of a worker share one interpreter, so one sys.modules.
 * Two apps whose module comes from two directories would both run the one
 * imported first: refused here when the files show it (the runtime refuses
 * what only an import shows).
 */

static ngx_int_t
ngx_http_asgi_check_python_apps(ngx_conf_t *cf)
{
    ngx_str_t                   top_i, top_j, where_i, where_j;
    ngx_uint_t                  i, j;
    ngx_http_asgi_app_t       **apps;
    ngx_http_asgi_main_conf_t  *amcf;

    amcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_asgi_module);
    apps = amcf->apps.elts;

    for (i = 0; i < amcf->apps.nelts; i++) {
        if (apps[i]->python_app.len == 0) {
            continue;
        }

        ngx_http_asgi_top_module(&apps[i]->python_app, &top_i);

        for (j = i + 1; j < amcf->apps.nelts; j++) {
            if (apps[j]->python_app.len == 0) {
                continue;
            }

            ngx_http_asgi_top_module(&apps[j]->python_app, &top_j);

            if (top_i.len != top_j.len
                || ngx_strncmp(top_i.data, top_j.data, top_i.len) != 0)
            {
                continue;
            }

            if (ngx_http_asgi_find_module(cf, apps[i], &top_i, &where_i)
                != NGX_OK
                || ngx_http_asgi_find_module(cf, apps[j], &top_j, &where_j)
                   != NGX_OK)
            {
                continue;
            }

            if (where_i.len == where_j.len
                && ngx_strncmp(where_i.data, where_j.data, where_i.len) == 0)
            {
                continue;
            }

            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "the ASGI app \"%V\" would import the module "
                               "\"%V\" from \"%V\", but the ASGI app \"%V\" "
                               "imports it from \"%V\": the Python apps of "
                               "one nginx worker share sys.modules, so one "
                               "would run the other's code",
                               &apps[j]->python_app, &top_j, &where_j,
                               &apps[i]->python_app, &where_i);
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* "pkg" of "pkg.sub:attr" */

static void
ngx_http_asgi_top_module(ngx_str_t *ref, ngx_str_t *top)
{
    top->data = ref->data;

    for (top->len = 0; top->len < ref->len; top->len++) {
        if (ref->data[top->len] == '.' || ref->data[top->len] == ':') {
            break;
        }
    }
}


/* The real path of the first of the app's directories that holds the
 * module (a regular package, or a .py file; a namespace package spans
 * directories); NGX_DECLINED if none. */

static ngx_int_t
ngx_http_asgi_find_module(ngx_conf_t *cf, ngx_http_asgi_app_t *app,
    ngx_str_t *top, ngx_str_t *where)
{
    u_char           *path, *real;
    ngx_str_t        *dirs, found;
    ngx_uint_t        i, k;
    ngx_file_info_t   fi;

    static const char  *suffixes[] = { "/__init__.py", ".py" };

    if (app->python_path == NULL) {
        return NGX_DECLINED;
    }

    dirs = app->python_path->elts;

    for (i = 0; i < app->python_path->nelts; i++) {
        for (k = 0; k < 2; k++) {
            path = ngx_pnalloc(cf->temp_pool,
                               dirs[i].len + top->len + sizeof("/__init__.py")
                               + 1);
            if (path == NULL) {
                return NGX_ERROR;
            }

            ngx_sprintf(path, "%V/%V%s%Z", &dirs[i], top, suffixes[k]);

            if (ngx_file_info(path, &fi) == NGX_FILE_ERROR
                || !ngx_is_file(&fi))
            {
                continue;
            }

            real = (u_char *) realpath((char *) path, NULL);
            if (real == NULL) {
                continue;
            }

            found.len = ngx_strlen(real);
            found.data = real;

            *where = found;
            where->data = ngx_pstrdup(cf->pool, &found);
            free(real);

            return where->data ? NGX_OK : NGX_ERROR;
        }
    }

    return NGX_DECLINED;
}


static void *
ngx_http_asgi_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_asgi_main_conf_t  *amcf;

    amcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_asgi_main_conf_t));
    if (amcf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&amcf->apps, cf->pool, 4,
                       sizeof(ngx_http_asgi_app_t *))
        != NGX_OK)
    {
        return NULL;
    }

    return amcf;
}


static void *
ngx_http_asgi_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_asgi_loc_conf_t  *alcf;

    alcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_asgi_loc_conf_t));
    if (alcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     alcf->app = NULL;
     *     alcf->status = 0;
     *     alcf->root_path = { 0, NULL };
     */

    alcf->grace_period = NGX_CONF_UNSET_MSEC;
    alcf->ignore_client_abort = NGX_CONF_UNSET;
    alcf->python_path = NGX_CONF_UNSET_PTR;
    alcf->lifespan = NGX_CONF_UNSET_UINT;
    alcf->body_buffer_size = NGX_CONF_UNSET_SIZE;
    alcf->scheme = NGX_CONF_UNSET_PTR;
    alcf->websocket_max_message = NGX_CONF_UNSET_SIZE;
    alcf->websocket_ping_interval = NGX_CONF_UNSET_MSEC;
    alcf->websocket_close_timeout = NGX_CONF_UNSET_MSEC;

    return alcf;
}


static char *
ngx_http_asgi_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_asgi_loc_conf_t *prev = parent;
    ngx_http_asgi_loc_conf_t *conf = child;

    ngx_http_core_loc_conf_t  *clcf;

    ngx_conf_merge_msec_value(conf->grace_period, prev->grace_period, 3000);
    ngx_conf_merge_size_value(conf->body_buffer_size,
                              prev->body_buffer_size, 256 * 1024);

    /*
     * nginx reads a streamed request body into one buffer of
     * client_body_buffer_size; at its default (8k or 16k) an upload costs
     * a read, a copy and a wake-up of the app per few kilobytes. The
     * buffer exists only while a body is read, so an ASGI location reads
     * with at least asgi_body_buffer_size.
     */
    if (conf->app) {
        clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

        if (clcf->client_body_buffer_size < conf->body_buffer_size) {
            clcf->client_body_buffer_size = conf->body_buffer_size;
        }
    }

    ngx_conf_merge_value(conf->ignore_client_abort,
                         prev->ignore_client_abort, 0);
    ngx_conf_merge_size_value(conf->websocket_max_message,
                              prev->websocket_max_message, 1024 * 1024);
    ngx_conf_merge_msec_value(conf->websocket_ping_interval,
                              prev->websocket_ping_interval, 20000);
    ngx_conf_merge_msec_value(conf->websocket_close_timeout,
                              prev->websocket_close_timeout, 5000);
    ngx_conf_merge_ptr_value(conf->python_path, prev->python_path, NULL);
    ngx_conf_merge_str_value(conf->root_path, prev->root_path, "");
    ngx_conf_merge_ptr_value(conf->scheme, prev->scheme, NULL);
    ngx_conf_merge_uint_value(conf->lifespan, prev->lifespan,
                              NGX_HTTP_ASGI_LIFESPAN_AUTO);

    /* asgi_python_path may come after asgi_app, or from an outer level */
    if (conf->app && conf->app->python_app.len) {
        return ngx_http_asgi_python_argument(cf, conf);
    }

    return NGX_CONF_OK;
}


/*
 * The Python runtime's argument: one "name=value" setting per line (the
 * runtime's own format, lib/python/asgi_python.c): app=, lifespan=,
 * shutdown_timeout=, server= (the name its messages give the host), then
 * path= for each directory (a value runs to the end of its line: it may
 * hold spaces or colons). Lifespan shutdown is bounded by
 * worker_shutdown_timeout, or 10 s when it is not set.
 */

static char *
ngx_http_asgi_python_argument(ngx_conf_t *cf, ngx_http_asgi_loc_conf_t *alcf)
{
    u_char           *p;
    size_t            len;
    ngx_str_t        *dirs, *mode;
    ngx_msec_t        timeout;
    ngx_uint_t        i, n;
    ngx_core_conf_t  *ccf;

    dirs = alcf->python_path ? alcf->python_path->elts : NULL;
    n = alcf->python_path ? alcf->python_path->nelts : 0;
    alcf->app->python_path = alcf->python_path;
    mode = &ngx_http_asgi_lifespans[alcf->lifespan];

    ccf = (ngx_core_conf_t *) ngx_get_conf(cf->cycle->conf_ctx,
                                           ngx_core_module);
    timeout = (ccf && ccf->shutdown_timeout != NGX_CONF_UNSET_MSEC
               && ccf->shutdown_timeout)
              ? ccf->shutdown_timeout : 10000;

    len = sizeof("app=\nlifespan=\nshutdown_timeout=.000\nserver=nginx") - 1
          + alcf->app->python_app.len + mode->len + NGX_INT_T_LEN;

    for (i = 0; i < n; i++) {
        if (ngx_strlchr(dirs[i].data, dirs[i].data + dirs[i].len, '\n')) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"asgi_python_path\" \"%V\" holds a line "
                               "break", &dirs[i]);
            return NGX_CONF_ERROR;
        }

        len += sizeof("\npath=") - 1 + dirs[i].len;
    }

    p = ngx_pnalloc(cf->pool, len + 1);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    alcf->app->argument.data = p;
    p = ngx_sprintf(p, "app=%V\nlifespan=%V\nshutdown_timeout=%M.%03M"
                    "\nserver=nginx", &alcf->app->python_app, mode,
                    timeout / 1000, timeout % 1000);

    for (i = 0; i < n; i++) {
        p = ngx_sprintf(p, "\npath=%V", &dirs[i]);
    }

    *p = '\0';
    alcf->app->argument.len = p - alcf->app->argument.data;

    return NGX_CONF_OK;
}


/* Registers a loaded app for the workers and serves the location with it. */

static char *
ngx_http_asgi_serve_app(ngx_conf_t *cf, ngx_http_asgi_loc_conf_t *alcf,
    ngx_http_asgi_app_t *app)
{
    ngx_http_asgi_app_t        **slot;
    ngx_http_core_loc_conf_t    *clcf;
    ngx_http_asgi_main_conf_t   *amcf;

    amcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_asgi_module);

    slot = ngx_array_push(&amcf->apps);
    if (slot == NULL) {
        return NGX_CONF_ERROR;
    }

    *slot = app;
    alcf->app = app;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_asgi_handler;

    return NGX_CONF_OK;
}


static char *
ngx_http_asgi_native_app(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_asgi_loc_conf_t *alcf = conf;

    char                 *rv;
    ngx_str_t            *value;
    ngx_http_asgi_app_t  *app;

    if (alcf->app || alcf->status) {
        return "is duplicate";
    }

    value = cf->args->elts;

    app = ngx_pcalloc(cf->pool, sizeof(ngx_http_asgi_app_t));
    if (app == NULL) {
        return NGX_CONF_ERROR;
    }

    app->path = value[1];

    if (cf->args->nelts == 3) {
        app->argument = value[2];

    } else {
        ngx_str_set(&app->argument, "");
    }

    rv = ngx_http_asgi_load_app(cf, app);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    return ngx_http_asgi_serve_app(cf, alcf, app);
}


/* asgi_app module:attribute: a Python app, served by the Python runtime
 * that sits next to this module (asgi_python.so). */

/* The Python runtime every asgi_app uses, instead of the asgi_python.so
 * beside this module: it is loaded when the first asgi_app is read, so the
 * directive comes before it. */

static char *
ngx_http_asgi_python_runtime(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_asgi_main_conf_t *amcf = conf;

    ngx_str_t  *value, name;

    if (amcf->python_runtime.data) {
        return "is duplicate";
    }

    if (amcf->python_runtime_used) {
        return "must come before the first \"asgi_app\"";
    }

    value = cf->args->elts;
    name = value[1];

    if (ngx_conf_full_name(cf->cycle, &name, 0) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    /* a NUL-terminated copy: dlopen takes it */

    amcf->python_runtime.data = ngx_pnalloc(cf->pool, name.len + 1);
    if (amcf->python_runtime.data == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memcpy(amcf->python_runtime.data, name.data, name.len);
    amcf->python_runtime.data[name.len] = '\0';
    amcf->python_runtime.len = name.len;

    return NGX_CONF_OK;
}


static char *
ngx_http_asgi_python_app(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_asgi_loc_conf_t *alcf = conf;

    char                       *rv;
    u_char                     *p;
    Dl_info                     info;
    ngx_str_t                  *value, dir;
    ngx_http_asgi_app_t        *app;
    ngx_http_asgi_main_conf_t  *amcf;

    if (alcf->app || alcf->status) {
        return "is duplicate";
    }

    value = cf->args->elts;

    for (p = value[1].data; p < value[1].data + value[1].len; p++) {
        if (*p <= ' ' || *p == 0x7f) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid ASGI app \"%V\" in \"asgi_app\": "
                               "a space or control character", &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    if (value[1].len > NGX_HTTP_ASGI_APP_REF_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid ASGI app in \"asgi_app\": longer than "
                           "%d bytes", NGX_HTTP_ASGI_APP_REF_MAX);
        return NGX_CONF_ERROR;
    }

    p = ngx_strlchr(value[1].data, value[1].data + value[1].len, ':');
    if (p == NULL || p == value[1].data
        || p == value[1].data + value[1].len - 1)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid ASGI app \"%V\" in \"asgi_app\": "
                           "expected module:attribute", &value[1]);
        return NGX_CONF_ERROR;
    }

    if (!dladdr((void *) &ngx_http_asgi_module, &info)
        || info.dli_fname == NULL)
    {
        return "cannot locate this module's file";
    }

    dir.data = (u_char *) info.dli_fname;
    dir.len = ngx_strlen(info.dli_fname);

    while (dir.len && dir.data[dir.len - 1] != '/') {
        dir.len--;
    }

    app = ngx_pcalloc(cf->pool, sizeof(ngx_http_asgi_app_t));
    if (app == NULL) {
        return NGX_CONF_ERROR;
    }

    app->path.len = dir.len + sizeof("asgi_python.so") - 1;
    app->path.data = ngx_pnalloc(cf->pool, app->path.len + 1);
    if (app->path.data == NULL) {
        return NGX_CONF_ERROR;
    }

    p = ngx_cpymem(app->path.data, dir.data, dir.len);
    p = ngx_cpymem(p, "asgi_python.so", sizeof("asgi_python.so") - 1);
    *p = '\0';

    /* asgi_python_runtime names another one for every app */

    amcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_asgi_module);
    amcf->python_runtime_used = 1;

    if (amcf->python_runtime.len) {
        app->path = amcf->python_runtime;
    }

    app->python_app = value[1];  /* the argument is built in merge */

    rv = ngx_http_asgi_load_app(cf, app);
    if (rv != NGX_CONF_OK) {
        if (amcf->python_runtime.len) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"asgi_app\" needs the Python runtime "
                               "\"%V\" that \"asgi_python_runtime\" names",
                               &app->path);

        } else {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"asgi_app\" needs the Python runtime "
                               "\"%V\" beside the module: install the "
                               "package libnginx-mod-http-asgi-python (or, "
                               "from source, build it with python3-dev "
                               "installed)", &app->path);
        }

        return rv;
    }

    return ngx_http_asgi_serve_app(cf, alcf, app);
}


/* nginx's enum slot does not name the directive in its error */

static char *
ngx_http_asgi_set_lifespan(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_asgi_loc_conf_t *alcf = conf;

    ngx_str_t   *value, *modes;
    ngx_uint_t   i;

    modes = ngx_http_asgi_lifespans;

    if (alcf->lifespan != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    for (i = 0; i < sizeof(ngx_http_asgi_lifespans) / sizeof(ngx_str_t); i++)
    {
        if (value[1].len == modes[i].len
            && ngx_strncmp(value[1].data, modes[i].data, modes[i].len) == 0)
        {
            alcf->lifespan = i;
            return NGX_CONF_OK;
        }
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid value \"%V\" in \"%V\" directive, "
                       "it must be \"on\", \"off\" or \"auto\"",
                       &value[1], &cmd->name);

    return NGX_CONF_ERROR;
}


/* "/prefix": starts with a slash, does not end with one */

static char *
ngx_http_asgi_set_root_path(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char       *rv;
    ngx_str_t  *value;

    rv = ngx_conf_set_str_slot(cf, cmd, conf);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    value = cf->args->elts;

    if (value[1].len < 2 || value[1].data[0] != '/'
        || value[1].data[value[1].len - 1] == '/')
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" in \"%V\" directive, "
                           "it must be a path such as \"/api\": starting "
                           "with \"/\", not ending with one",
                           &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_asgi_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_asgi_loc_conf_t *alcf = conf;

    ngx_http_core_loc_conf_t   *clcf;
    ngx_http_asgi_main_conf_t  *amcf;

    if (alcf->app || alcf->status) {
        return "is duplicate";
    }

    alcf->status = 1;

    amcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_asgi_module);
    amcf->status_used = 1;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_asgi_status_handler;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_asgi_init_module(ngx_cycle_t *cycle)
{
    ngx_http_asgi_fleet_new_generation(cycle);

    return NGX_OK;
}


static ngx_int_t
ngx_http_asgi_init_process(ngx_cycle_t *cycle)
{
    return ngx_http_asgi_worker_init(cycle);
}


static void
ngx_http_asgi_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_asgi_worker_exit(cycle);
}


static char *
ngx_http_asgi_positive_size(ngx_conf_t *cf, void *post, void *data)
{
    size_t  *sp = data;

    if (*sp == 0) {
        return "must be at least 1 byte";
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_asgi_positive_msec(ngx_conf_t *cf, void *post, void *data)
{
    ngx_msec_t  *mp = data;

    if (*mp == 0) {
        return "must be more than 0";
    }

    return NGX_CONF_OK;
}
