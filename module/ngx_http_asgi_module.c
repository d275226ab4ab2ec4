
/*
 * Copyright (C) The asgicore authors. BSD-2-Clause, see LICENSE.
 *
 * Directives, configuration and the worker process hooks.
 */


#include "ngx_http_asgi_module.h"


static ngx_int_t ngx_http_asgi_postconfiguration(ngx_conf_t *cf);
static void *ngx_http_asgi_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_asgi_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_asgi_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_http_asgi_native_app(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_asgi_status(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_asgi_init_process(ngx_cycle_t *cycle);
static void ngx_http_asgi_exit_process(ngx_cycle_t *cycle);


static ngx_command_t  ngx_http_asgi_commands[] = {

    { ngx_string("asgi_native_app"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE12,
      ngx_http_asgi_native_app,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("asgi_disconnect_grace_period"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_asgi_loc_conf_t, grace_period),
      NULL },

    { ngx_string("asgi_ignore_client_abort"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_asgi_loc_conf_t, ignore_client_abort),
      NULL },

    { ngx_string("asgi_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_asgi_status,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_asgi_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_http_asgi_postconfiguration,       /* postconfiguration */

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
    NULL,                                  /* init module */
    ngx_http_asgi_init_process,            /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_asgi_exit_process,            /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_int_t
ngx_http_asgi_postconfiguration(ngx_conf_t *cf)
{
    return ngx_http_asgi_add_variables(cf);
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
     */

    alcf->grace_period = NGX_CONF_UNSET_MSEC;
    alcf->ignore_client_abort = NGX_CONF_UNSET;

    return alcf;
}


static char *
ngx_http_asgi_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_asgi_loc_conf_t *prev = parent;
    ngx_http_asgi_loc_conf_t *conf = child;

    ngx_conf_merge_msec_value(conf->grace_period, prev->grace_period, 3000);
    ngx_conf_merge_value(conf->ignore_client_abort,
                         prev->ignore_client_abort, 0);

    return NGX_CONF_OK;
}


static char *
ngx_http_asgi_native_app(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_asgi_loc_conf_t *alcf = conf;

    char                        *rv;
    ngx_str_t                   *value;
    ngx_http_asgi_app_t         *app, **slot;
    ngx_http_core_loc_conf_t    *clcf;
    ngx_http_asgi_main_conf_t   *amcf;

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
ngx_http_asgi_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_asgi_loc_conf_t *alcf = conf;

    ngx_http_core_loc_conf_t  *clcf;

    if (alcf->app || alcf->status) {
        return "is duplicate";
    }

    alcf->status = 1;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_asgi_status_handler;

    return NGX_CONF_OK;
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
