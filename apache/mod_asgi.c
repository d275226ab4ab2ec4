/*
 * Copyright (c) 2026 The asgicore authors. BSD-2-Clause, see LICENSE.
 *
 * mod_asgi: the directives, the configuration checks and the hooks. See
 * docs/apache.md.
 */

#define ASGI_DECLARES_MODULE
#include "mod_asgi.h"

#include <dlfcn.h>
#include <libgen.h>
#include <string.h>
#include <unistd.h>

#include "ap_mpm.h"
#include "mpm_common.h" /* child_stopping, since 2.4.49 */
#include "http_core.h"
#include "http_protocol.h"
#include "http_request.h"

/* The apps of the configuration being read, then of the running one. */
static asgi_app *asgi_apps;
static asgicore_time asgi_max_grace_ns;

static const char *lifespan_names[] = {"auto", "on", "off"};

const asgi_app *asgi_apps_list(void)
{
    return asgi_apps;
}

/* ------------------------------------------------------------ config */

static void *create_dir_conf(apr_pool_t *p, char *dir)
{
    asgi_dir_conf *conf = apr_pcalloc(p, sizeof *conf);
    (void)dir;
    conf->grace_ms = ASGI_UNSET;
    conf->ignore_client_abort = ASGI_UNSET;
    conf->lifespan = ASGI_UNSET;
    conf->python_path = apr_array_make(p, 2, sizeof(const char *));
    return conf;
}

static void *merge_dir_conf(apr_pool_t *p, void *base_, void *add_)
{
    asgi_dir_conf *base = base_, *add = add_;
    asgi_dir_conf *conf = apr_pcalloc(p, sizeof *conf);
    /* a section serves an app or the status, the innermost one says */
    conf->app = add->app ? add->app : add->status ? NULL : base->app;
    conf->status = add->status ? 1 : add->app ? 0 : base->status;
    conf->root_path = add->root_path ? add->root_path : base->root_path;
    conf->grace_ms = add->grace_ms != ASGI_UNSET ? add->grace_ms
                                                 : base->grace_ms;
    conf->ignore_client_abort = add->ignore_client_abort != ASGI_UNSET
                                    ? add->ignore_client_abort
                                    : base->ignore_client_abort;
    conf->lifespan = add->lifespan != ASGI_UNSET ? add->lifespan
                                                 : base->lifespan;
    conf->python_path = apr_array_append(p, add->python_path,
                                         base->python_path);
    return conf;
}

/* Loads a native app (a Python runtime is one) and checks its entry. */
static const char *load_app(cmd_parms *cmd, asgi_app *app)
{
    const char *err;
    app->dl = dlopen(app->path, RTLD_NOW | RTLD_LOCAL);
    if (!app->dl)
        return apr_psprintf(cmd->pool, "%s: cannot load \"%s\": %s",
                            cmd->cmd->name, app->path, dlerror());
    app->native = dlsym(app->dl, ASGICORE_NATIVE_APP_SYMBOL);
    err = dlerror();
    if (!app->native)
        return apr_psprintf(cmd->pool,
                            "%s: \"%s\" is not a native ASGI app: no \""
                            ASGICORE_NATIVE_APP_SYMBOL "\" symbol (%s)",
                            cmd->cmd->name, app->path, err ? err : "null");
    if (app->native->abi_version != ASGICORE_NATIVE_APP_V1
        || !app->native->create || !app->native->callbacks.start
        || !app->native->callbacks.notify)
        return apr_psprintf(cmd->pool,
                            "%s: native app \"%s\" has ABI version %d or "
                            "lacks create, start or notify; this module "
                            "expects version %d",
                            cmd->cmd->name, app->path,
                            app->native->abi_version, ASGICORE_NATIVE_APP_V1);
    return NULL;
}

static apr_status_t unload_app(void *data)
{
    asgi_app *app = data;
    if (app->dl)
        dlclose(app->dl);
    app->dl = NULL;
    return APR_SUCCESS;
}

/* Apps belong to the server or a <Location>: a <Directory>, <Files> or
 * <If> section is not where a request's URL picks its app. */
static const char *app_context(cmd_parms *cmd)
{
    /* (NOT_IN_DIRECTORY covers <If> too) */
    return ap_check_cmd_context(cmd, NOT_IN_DIRECTORY | NOT_IN_FILES);
}

static const char *add_app(cmd_parms *cmd, asgi_dir_conf *conf,
                           asgi_app *app)
{
    const char *err;
    if ((err = app_context(cmd)) != NULL)
        return err;
    if (conf->app)
        return apr_psprintf(cmd->pool, "%s: this section serves an app "
                            "already (%s)", cmd->cmd->name, conf->app->name);
    if (conf->status)
        return apr_psprintf(cmd->pool, "%s: this section serves ASGIStatus "
                            "already", cmd->cmd->name);
    err = load_app(cmd, app);
    apr_pool_cleanup_register(cmd->pool, app, unload_app,
                              apr_pool_cleanup_null);
    if (err)
        return err;
    app->section = conf;
    /* in the configuration's order: the first app imports first (P3) */
    {
        asgi_app **tail = &asgi_apps;
        while (*tail)
            tail = &(*tail)->next;
        *tail = app;
    }
    conf->app = app;
    return NULL;
}

static const char *set_native_app(cmd_parms *cmd, void *dc, const char *path,
                                  const char *argument)
{
    asgi_app *app = apr_pcalloc(cmd->pool, sizeof *app);
    app->path = ap_server_root_relative(cmd->pool, path);
    if (!app->path)
        return apr_psprintf(cmd->pool, "%s: bad path \"%s\"",
                            cmd->cmd->name, path);
    app->argument = argument ? argument : "";
    app->name = app->path;
    return add_app(cmd, dc, app);
}

/* asgi_python.so beside this module (a build), or in ../asgi/ (an
 * installation: Apache's modules directory holds modules only), unless
 * ASGIPythonRuntime names one. */
static const char *python_runtime;

static const char *set_python_runtime(cmd_parms *cmd, void *dc,
                                      const char *path)
{
    (void)dc;
    if (python_runtime)
        return apr_psprintf(cmd->pool, "ASGIPythonRuntime is given twice "
                            "(%s first)", python_runtime);
    for (asgi_app *a = asgi_apps; a; a = a->next)
        if (a->python_app)
            return apr_psprintf(cmd->pool, "ASGIPythonRuntime must come "
                                "before the first ASGIApp (%s loaded %s)",
                                a->name, a->path);
    python_runtime = ap_server_root_relative(cmd->pool, path);
    return python_runtime ? NULL : "ASGIPythonRuntime: bad path";
}

static const char *default_runtime(apr_pool_t *p)
{
    Dl_info info;
    if (python_runtime)
        return python_runtime;
    const char *dir, *beside;
    if (!dladdr((void *)&asgi_module, &info) || !info.dli_fname)
        return NULL;
    dir = ap_make_dirstr_parent(p, info.dli_fname);
    beside = apr_pstrcat(p, dir, "asgi_python.so", NULL);
    if (access(beside, F_OK) == 0)
        return beside;
    return apr_pstrcat(p, dir, "../asgi/asgi_python.so", NULL);
}

static const char *set_python_app(cmd_parms *cmd, void *dc, const char *spec)
{
    asgi_app *app = apr_pcalloc(cmd->pool, sizeof *app);
    const char *colon = strchr(spec, ':');
    if (!colon || colon == spec || !colon[1] || strchr(spec, '\n'))
        return apr_psprintf(cmd->pool, "ASGIApp: \"%s\" is not "
                            "\"module:attribute\" (e.g. main:app)", spec);
    app->path = default_runtime(cmd->pool);
    if (!app->path)
        return "ASGIApp: cannot find the Python runtime (asgi_python.so); "
               "name it with ASGIPythonRuntime";
    app->python_app = spec;
    app->name = spec;
    return add_app(cmd, dc, app);
}

static const char *add_python_path(cmd_parms *cmd, void *dc, const char *dir)
{
    asgi_dir_conf *conf = dc;
    if (strchr(dir, '\n'))
        return "ASGIPythonPath: the directory name holds a line break";
    *(const char **)apr_array_push(conf->python_path) =
        ap_server_root_relative(cmd->pool, dir);
    return NULL;
}

static const char *set_lifespan(cmd_parms *cmd, void *dc, const char *v)
{
    asgi_dir_conf *conf = dc;
    (void)cmd;
    for (int i = 0; i < 3; i++) {
        if (strcasecmp(v, lifespan_names[i]) == 0) {
            conf->lifespan = i;
            return NULL;
        }
    }
    return apr_psprintf(cmd->pool, "ASGILifespan: \"%s\": it must be auto, "
                        "on or off", v);
}

static const char *set_grace(cmd_parms *cmd, void *dc, const char *v)
{
    asgi_dir_conf *conf = dc;
    apr_interval_time_t t;
    size_t digits = strspn(v, "0123456789");
    const char *unit = v + digits;
    /* a number and one of Apache's units, nothing after (its parser
     * stops early: "2sx" would be 2 s) */
    if (!digits
        || (*unit && strcmp(unit, "ms") != 0 && strcmp(unit, "s") != 0
            && strcmp(unit, "mi") != 0 && strcmp(unit, "h") != 0)
        || ap_timeout_parameter_parse(v, &t, "s") != APR_SUCCESS || t < 0
        || t > apr_time_from_sec(86400))
        return apr_psprintf(cmd->pool, "ASGIDisconnectGracePeriod: \"%s\" "
                            "is not a time (e.g. 3, 3s or 500ms, at most a "
                            "day)", v);
    conf->grace_ms = apr_time_as_msec(t);
    return NULL;
}

static const char *set_ignore_abort(cmd_parms *cmd, void *dc, int on)
{
    (void)cmd;
    ((asgi_dir_conf *)dc)->ignore_client_abort = on;
    return NULL;
}

static const char *set_root_path(cmd_parms *cmd, void *dc, const char *v)
{
    asgi_dir_conf *conf = dc;
    size_t n = strlen(v);
    if (v[0] != '/' || (n > 1 && v[n - 1] == '/'))
        return apr_psprintf(cmd->pool, "ASGIRootPath: \"%s\" must start "
                            "with \"/\" and not end with one", v);
    conf->root_path = n == 1 ? "" : v;
    return NULL;
}

static const char *set_status(cmd_parms *cmd, void *dc, const char *args)
{
    asgi_dir_conf *conf = dc;
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIRECTORY
                                                    | NOT_IN_FILES);
    if (*args)
        return "ASGIStatus takes no argument";
    if (err)
        return err;
    if (!cmd->path)
        return "ASGIStatus belongs in a <Location> section: at server level "
               "it would answer every URL no app serves";
    if (conf->app)
        return apr_psprintf(cmd->pool, "ASGIStatus: this section serves an "
                            "app already (%s)", conf->app->name);
    conf->status = 1;
    return NULL;
}

static const command_rec asgi_cmds[] = {
    AP_INIT_TAKE1("ASGIApp", set_python_app, NULL, RSRC_CONF | ACCESS_CONF,
                  "a Python ASGI app, as module:attribute"),
    AP_INIT_TAKE12("ASGINativeApp", set_native_app, NULL,
                   RSRC_CONF | ACCESS_CONF,
                   "a native ASGI app (shared object) and its argument"),
    AP_INIT_ITERATE("ASGIPythonPath", add_python_path, NULL,
                    RSRC_CONF | ACCESS_CONF,
                    "directories (or a virtual environment's "
                    "site-packages) the Python apps import from"),
    AP_INIT_TAKE1("ASGIPythonRuntime", set_python_runtime, NULL, RSRC_CONF,
                  "the Python runtime (default: asgi_python.so beside "
                  "mod_asgi.so)"),
    AP_INIT_TAKE1("ASGILifespan", set_lifespan, NULL,
                  RSRC_CONF | ACCESS_CONF, "auto, on or off"),
    AP_INIT_TAKE1("ASGIDisconnectGracePeriod", set_grace, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "time an app may run on after its client left "
                  "(default 3s)"),
    AP_INIT_FLAG("ASGIIgnoreClientAbort", set_ignore_abort, NULL,
                 RSRC_CONF | ACCESS_CONF,
                 "hide a client that left after sending the whole body"),
    AP_INIT_TAKE1("ASGIRootPath", set_root_path, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "the prefix the app is mounted at (scope root_path)"),
    AP_INIT_RAW_ARGS("ASGIStatus", set_status, NULL, RSRC_CONF | ACCESS_CONF,
                    "serve the library's counters here"),
    {NULL}};

/* ------------------------------------------------------------ hooks */

static int asgi_pre_config(apr_pool_t *pconf, apr_pool_t *plog,
                           apr_pool_t *ptemp)
{
    (void)pconf;
    (void)plog;
    (void)ptemp;
    asgi_apps = NULL; /* a restart reads the configuration again */
    python_runtime = NULL;
    asgi_max_grace_ns = 0;
    return OK;
}

/* The Python runtime's argument: one name=value per line (its format,
 * lib/python/asgi_python.c). */
static void python_argument(apr_pool_t *p, asgi_app *app, server_rec *s)
{
    asgi_dir_conf *conf = app->section;
    asgi_dir_conf *top = ap_get_module_config(s->lookup_defaults,
                                              &asgi_module);
    int lifespan = conf->lifespan != ASGI_UNSET  ? conf->lifespan
                   : top->lifespan != ASGI_UNSET ? top->lifespan
                                                 : ASGI_LIFESPAN_AUTO;
    char *arg = apr_psprintf(p, "app=%s\nlifespan=%s\nshutdown_timeout=10"
                             "\nserver=Apache httpd",
                             app->python_app, lifespan_names[lifespan]);
    apr_array_header_t *lists[2] = {conf->python_path, top->python_path};
    for (int k = 0; k < 2; k++) {
        if (k == 1 && conf == top)
            break;
        for (int i = 0; i < lists[k]->nelts; i++)
            arg = apr_pstrcat(p, arg, "\npath=",
                              ((const char **)lists[k]->elts)[i], NULL);
    }
    app->argument = arg;
}

static int asgi_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                            apr_pool_t *ptemp, server_rec *s)
{
    int threaded = 0, python = 0;
    const char *err;
    (void)plog;
    (void)ptemp;
    if (!asgi_apps)
        return OK;
    for (asgi_app *a = asgi_apps; a; a = a->next) {
        if (a->python_app) {
            python_argument(pconf, a, s);
            python = 1;
        }
        if (a->section->grace_ms != ASGI_UNSET
            && (asgicore_time)a->section->grace_ms * 1000000
                   > asgi_max_grace_ns)
            asgi_max_grace_ns = (asgicore_time)a->section->grace_ms * 1000000;
    }
    if (ap_mpm_query(AP_MPMQ_IS_THREADED, &threaded) != APR_SUCCESS
        || threaded == AP_MPMQ_NOT_SUPPORTED) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                     "mod_asgi needs a threaded MPM (event or worker): "
                     "under prefork each process serves one request at a "
                     "time, so every slow request or long-lived response "
                     "would hold a whole process and its Python "
                     "interpreter. Load mpm_event instead of mpm_prefork.");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (python && (ap_find_linked_module("mod_wsgi.c")
                   || ap_find_linked_module("mod_python.c"))) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                     "mod_asgi cannot run Python apps in a server that "
                     "loads %s: one process has one Python interpreter, and "
                     "that module owns it. Serve the WSGI and ASGI apps "
                     "from two Apache instances.",
                     ap_find_linked_module("mod_wsgi.c") ? "mod_wsgi"
                                                         : "mod_python");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if ((err = asgi_fleet_setup(s)) != NULL) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, "mod_asgi: %s", err);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    /* an exiting child waits for apps in their grace period */
    asgi_exit_wait_ns = (asgi_max_grace_ns > 3000000000ull
                             ? asgi_max_grace_ns
                             : 3000000000ull)
                        + 1000000000ull;
    return OK;
}

static void asgi_child_init(apr_pool_t *pchild, server_rec *s)
{
    const char *err;
    if (!asgi_apps)
        return;
    err = asgi_host_start(s, pchild, asgi_apps);
    if (err)
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                     "mod_asgi cannot start in this child (its ASGI apps "
                     "answer 503): %s", err);
}

/* A stop that does not wait (apache2 -k stop; a graceful one that ran
 * out of GracefulShutdownTimeout): the apps hear their clients leave. */
static void asgi_child_stopping(apr_pool_t *pchild, int graceful)
{
    (void)pchild;
    if (!asgi_apps)
        return;
    if (!graceful)
        asgi_host_stopping();
    else if (ap_graceful_shutdown_timeout > 0)
        /* Apache ends the child then without telling this hook again:
         * the apps are told when it comes, and have their grace period
         * while Apache's SIGTERMs follow (about 6 s before its SIGKILL) */
        asgi_host_stop_at(asgi_now() + (asgicore_time)
                                           ap_graceful_shutdown_timeout
                                           * 1000000000);
}

/* ASGI locations map to no file: no directory walk, no file checks. */
static int asgi_map_to_storage(request_rec *r)
{
    asgi_dir_conf *conf = ap_get_module_config(r->per_dir_config,
                                               &asgi_module);
    return conf && (conf->app || conf->status) ? OK : DECLINED;
}

static int asgi_handler(request_rec *r)
{
    asgi_dir_conf *conf = ap_get_module_config(r->per_dir_config,
                                               &asgi_module);
    if (!conf || r->main)
        return DECLINED;
    if (conf->status)
        return asgi_status_handler(r);
    if (!conf->app)
        return DECLINED;
    return asgi_serve(r, conf);
}

static void asgi_register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_pre_config(asgi_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(asgi_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(asgi_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_stopping(asgi_child_stopping, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_map_to_storage(asgi_map_to_storage, NULL, NULL,
                           APR_HOOK_FIRST);
    ap_hook_handler(asgi_handler, NULL, NULL, APR_HOOK_FIRST);
}

AP_DECLARE_MODULE(asgi) = {STANDARD20_MODULE_STUFF,
                           create_dir_conf,
                           merge_dir_conf,
                           NULL,
                           NULL,
                           asgi_cmds,
                           asgi_register_hooks};
