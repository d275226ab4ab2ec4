
/*
 * Copyright (C) The asgicore authors. BSD-2-Clause, see LICENSE.
 *
 * The server-wide figures asgi_status shows, whichever worker answers.
 * Each worker publishes its library counters and its apps' states into its
 * own slot of a shared zone, claimed by pid. A worker that exits adds its
 * totals to the zone's "retired" figures and frees its slot, so totals
 * survive reloads and an exited worker leaves no live counts behind; the
 * slot of a worker that died without exiting is retired by the next reader.
 */


#include "ngx_http_asgi_module.h"


/* workers of the running configuration and of the ones still exiting */
#define NGX_HTTP_ASGI_FLEET_SLOTS      512

/* a worker without a slot (all taken) tries again at this interval */
#define NGX_HTTP_ASGI_FLEET_RETRY      1000

/* while scopes or apps run, or apps load, the worker republishes at this
 * interval: app threads change the figures without waking nginx */
#define NGX_HTTP_ASGI_FLEET_REPUBLISH  200

/* figures that change publish at most once per this interval: once per
 * turn of the event loop cost a lock and a copy per app on every request;
 * the answering worker's own figures are always current */
#define NGX_HTTP_ASGI_FLEET_SPACING    10


typedef struct {
    ngx_atomic_t                   pid;        /* 0: a free slot */
    ngx_uint_t                     generation;
    asgicore_counters              counters;
    u_char                         app_state[NGX_HTTP_ASGI_FLEET_APPS];
} ngx_http_asgi_fleet_slot_t;


typedef struct {
    ngx_uint_t                     generation; /* configuration loads */
    asgicore_counters              retired;    /* totals of exited workers */
    ngx_http_asgi_fleet_slot_t     slots[NGX_HTTP_ASGI_FLEET_SLOTS];
} ngx_http_asgi_fleet_sh_t;


static ngx_int_t ngx_http_asgi_fleet_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static void ngx_http_asgi_fleet_retire(ngx_http_asgi_fleet_sh_t *sh,
    asgicore_counters *c);
static void ngx_http_asgi_fleet_add(asgicore_counters *to,
    asgicore_counters *c, ngx_uint_t gauges);
static void ngx_http_asgi_fleet_reap(ngx_http_asgi_fleet_sh_t *sh);
static void ngx_http_asgi_fleet_claim(void);
static void ngx_http_asgi_fleet_publish(void);
static void ngx_http_asgi_fleet_publish_handler(ngx_event_t *ev);


static ngx_str_t  ngx_http_asgi_fleet_zone_name =
    ngx_string("asgi_status");

/* this worker's zone, slot and events */
static ngx_shm_zone_t              *ngx_http_asgi_fleet_zone;
static ngx_http_asgi_main_conf_t   *ngx_http_asgi_fleet_conf;
static ngx_http_asgi_fleet_slot_t  *ngx_http_asgi_fleet_slot;
static ngx_event_t                  ngx_http_asgi_fleet_posted;
static ngx_event_t                  ngx_http_asgi_fleet_timer;
static ngx_event_t                  ngx_http_asgi_fleet_soon;
static ngx_msec_t                   ngx_http_asgi_fleet_published;
static ngx_msec_t                   ngx_http_asgi_fleet_tried;
static ngx_uint_t                   ngx_http_asgi_fleet_warned;


ngx_int_t
ngx_http_asgi_fleet_add_zone(ngx_conf_t *cf)
{
    size_t                      size;
    ngx_shm_zone_t             *zone;
    ngx_http_asgi_main_conf_t  *amcf;

    amcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_asgi_module);

    if (amcf->apps.nelts == 0 && !amcf->status_used) {
        /* loaded but not used: no zone to clash with another's name */
        return NGX_OK;
    }

    /* the slab pool's own pages, then the figures */
    size = 8 * ngx_pagesize
           + ngx_align(sizeof(ngx_http_asgi_fleet_sh_t), ngx_pagesize);

    zone = ngx_shared_memory_add(cf, &ngx_http_asgi_fleet_zone_name, size,
                                 &ngx_http_asgi_module);
    if (zone == NULL) {
        return NGX_ERROR;
    }

    zone->init = ngx_http_asgi_fleet_init_zone;
    amcf->fleet_zone = zone;

    return NGX_OK;
}


static ngx_int_t
ngx_http_asgi_fleet_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_slab_pool_t           *shpool;
    ngx_http_asgi_fleet_sh_t  *sh;

    if (data) {
        /* a reload kept the zone: the exiting workers' slots stay */
        shm_zone->data = data;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        shm_zone->data = shpool->data;
        return NGX_OK;
    }

    sh = ngx_slab_calloc(shpool, sizeof(ngx_http_asgi_fleet_sh_t));
    if (sh == NULL) {
        return NGX_ERROR;
    }

    shpool->data = sh;
    shm_zone->data = sh;

    return NGX_OK;
}


/* A new configuration runs (its sockets are open, nothing failed): its
 * workers are the current ones. Not in the zone's init, which a reload
 * that fails later (a port in use) runs too. */

void
ngx_http_asgi_fleet_new_generation(ngx_cycle_t *cycle)
{
    ngx_http_asgi_fleet_sh_t   *sh;
    ngx_http_asgi_main_conf_t  *amcf;

    amcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_asgi_module);

    if (amcf == NULL || amcf->fleet_zone == NULL
        || amcf->fleet_zone->data == NULL)
    {
        return;
    }

    sh = amcf->fleet_zone->data;
    sh->generation++;
}


void
ngx_http_asgi_fleet_join(ngx_cycle_t *cycle, ngx_http_asgi_main_conf_t *amcf)
{
    ngx_shm_zone_t  *zone;

    zone = amcf->fleet_zone;
    ngx_http_asgi_fleet_zone = zone;
    ngx_http_asgi_fleet_conf = amcf;
    ngx_http_asgi_fleet_slot = NULL;

    if (zone == NULL || zone->data == NULL) {
        return;
    }

    /* data: debug logging reads an event's data as a connection */
    ngx_http_asgi_fleet_posted.handler = ngx_http_asgi_fleet_publish_handler;
    ngx_http_asgi_fleet_posted.data = ngx_http_asgi_worker->wake;
    ngx_http_asgi_fleet_posted.log = cycle->log;
    ngx_http_asgi_fleet_timer.handler = ngx_http_asgi_fleet_publish_handler;
    ngx_http_asgi_fleet_timer.data = ngx_http_asgi_worker->wake;
    ngx_http_asgi_fleet_timer.log = cycle->log;
    ngx_http_asgi_fleet_timer.cancelable = 1;
    ngx_http_asgi_fleet_soon.handler = ngx_http_asgi_fleet_publish_handler;
    ngx_http_asgi_fleet_soon.data = ngx_http_asgi_worker->wake;
    ngx_http_asgi_fleet_soon.log = cycle->log;
    ngx_http_asgi_fleet_soon.cancelable = 1;

    ngx_http_asgi_fleet_claim();
}


/* A free slot for this worker; the slots of dead workers are freed first.
 * Without one (more workers than slots, as during the reload of a large
 * server) the worker tries again when its figures change, at most once a
 * second: its counters are totals, nothing is lost meanwhile. */

static void
ngx_http_asgi_fleet_claim(void)
{
    ngx_uint_t                 i;
    ngx_slab_pool_t           *shpool;
    ngx_http_asgi_fleet_sh_t  *sh;

    sh = ngx_http_asgi_fleet_zone->data;
    shpool = (ngx_slab_pool_t *) ngx_http_asgi_fleet_zone->shm.addr;
    ngx_http_asgi_fleet_tried = ngx_current_msec;

    ngx_shmtx_lock(&shpool->mutex);

    ngx_http_asgi_fleet_reap(sh);

    for (i = 0; i < NGX_HTTP_ASGI_FLEET_SLOTS; i++) {
        if (sh->slots[i].pid == 0) {
            ngx_memzero(&sh->slots[i], sizeof(ngx_http_asgi_fleet_slot_t));
            sh->slots[i].generation = sh->generation;
            sh->slots[i].pid = ngx_pid;
            ngx_http_asgi_fleet_slot = &sh->slots[i];
            break;
        }
    }

    ngx_shmtx_unlock(&shpool->mutex);

    if (ngx_http_asgi_fleet_slot == NULL) {
        if (!ngx_http_asgi_fleet_warned) {
            ngx_http_asgi_fleet_warned = 1;
            ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                          "asgi: asgi_status has no free slot for this "
                          "worker (%d in use): its figures join the totals "
                          "once a slot is free", NGX_HTTP_ASGI_FLEET_SLOTS);
        }

        return;
    }

    if (ngx_http_asgi_fleet_warned) {
        ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                      "asgi: asgi_status has a slot for this worker now");
    }

    ngx_http_asgi_fleet_publish();
}


/* The worker exits: its totals join the retired figures, its slot is
 * free. The library context still exists. */

void
ngx_http_asgi_fleet_leave(void)
{
    asgicore_counters          c;
    ngx_slab_pool_t           *shpool;
    ngx_http_asgi_fleet_sh_t  *sh;

    if (ngx_http_asgi_fleet_slot == NULL) {
        return;
    }

    if (ngx_http_asgi_fleet_posted.posted) {
        ngx_delete_posted_event(&ngx_http_asgi_fleet_posted);
    }

    if (ngx_http_asgi_fleet_timer.timer_set) {
        ngx_del_timer(&ngx_http_asgi_fleet_timer);
    }

    if (ngx_http_asgi_fleet_soon.timer_set) {
        ngx_del_timer(&ngx_http_asgi_fleet_soon);
    }

    sh = ngx_http_asgi_fleet_zone->data;
    shpool = (ngx_slab_pool_t *) ngx_http_asgi_fleet_zone->shm.addr;

    if (ngx_http_asgi_worker == NULL
        || asgicore_ctx_counters(ngx_http_asgi_worker->ctx, &c)
           != ASGICORE_OK)
    {
        c = ngx_http_asgi_fleet_slot->counters;
    }

    ngx_shmtx_lock(&shpool->mutex);

    ngx_http_asgi_fleet_retire(sh, &c);
    ngx_http_asgi_fleet_slot->pid = 0;

    ngx_shmtx_unlock(&shpool->mutex);

    ngx_http_asgi_fleet_slot = NULL;
}


/* The counters that are totals, not gauges, added to the retired ones. */

static void
ngx_http_asgi_fleet_retire(ngx_http_asgi_fleet_sh_t *sh,
    asgicore_counters *c)
{
    ngx_http_asgi_fleet_add(&sh->retired, c, 0);
}


/* c added to `to`; the gauges (live, running_apps) too when `gauges` */

static void
ngx_http_asgi_fleet_add(asgicore_counters *to, asgicore_counters *c,
    ngx_uint_t gauges)
{
    ngx_uint_t  i;

    to->opened += c->opened;
    to->completed += c->completed;
    to->disconnected += c->disconnected;
    to->cancelled += c->cancelled;
    to->app_errors += c->app_errors;
    to->not_dispatched += c->not_dispatched;
    to->abandoned += c->abandoned;

    if (gauges) {
        to->live += c->live;
        to->running_apps += c->running_apps;
    }

    for (i = 0; i < ASGICORE_DISCONNECT_REASONS; i++) {
        to->disconnects[i] += c->disconnects[i];
    }
}


/* Slots of workers that died without exiting (a crash, a kill -9): their
 * totals are retired, their gauges dropped. Called with the zone locked. */

static void
ngx_http_asgi_fleet_reap(ngx_http_asgi_fleet_sh_t *sh)
{
    ngx_pid_t   pid;
    ngx_uint_t  i;

    for (i = 0; i < NGX_HTTP_ASGI_FLEET_SLOTS; i++) {
        pid = (ngx_pid_t) sh->slots[i].pid;

        if (pid == 0 || pid == ngx_pid
            || kill(pid, 0) == 0 || ngx_errno != NGX_ESRCH)
        {
            continue;
        }

        ngx_http_asgi_fleet_retire(sh, &sh->slots[i].counters);
        sh->slots[i].pid = 0;
    }
}


/* Something may have changed the figures: publish them once this turn of
 * the event loop is over, or the spacing after the last publication. */

void
ngx_http_asgi_fleet_changed(void)
{
    ngx_msec_t  elapsed;

    if (ngx_http_asgi_fleet_slot == NULL) {
        if (ngx_http_asgi_fleet_zone != NULL
            && ngx_http_asgi_fleet_zone->data != NULL
            && ngx_current_msec - ngx_http_asgi_fleet_tried
               >= NGX_HTTP_ASGI_FLEET_RETRY)
        {
            ngx_http_asgi_fleet_claim();
        }

        return;
    }

    if (ngx_http_asgi_fleet_posted.posted
        || ngx_http_asgi_fleet_soon.timer_set)
    {
        return;
    }

    elapsed = ngx_current_msec - ngx_http_asgi_fleet_published;

    if (elapsed >= NGX_HTTP_ASGI_FLEET_SPACING) {
        ngx_post_event(&ngx_http_asgi_fleet_posted, &ngx_posted_events);
        return;
    }

    ngx_add_timer(&ngx_http_asgi_fleet_soon,
                  NGX_HTTP_ASGI_FLEET_SPACING - elapsed);
}


static void
ngx_http_asgi_fleet_publish_handler(ngx_event_t *ev)
{
    ngx_http_asgi_fleet_publish();
}


static void
ngx_http_asgi_fleet_publish(void)
{
    ngx_uint_t                   i, n, state, busy;
    asgicore_counters            c;
    ngx_http_asgi_app_t        **apps;
    ngx_http_asgi_main_conf_t   *amcf = ngx_http_asgi_fleet_conf;
    ngx_http_asgi_fleet_slot_t  *slot = ngx_http_asgi_fleet_slot;

    if (slot == NULL || ngx_http_asgi_worker == NULL
        || asgicore_ctx_counters(ngx_http_asgi_worker->ctx, &c)
           != ASGICORE_OK)
    {
        return;
    }

    ngx_http_asgi_fleet_published = ngx_current_msec;

    if (ngx_http_asgi_fleet_soon.timer_set) {
        ngx_del_timer(&ngx_http_asgi_fleet_soon);
    }

    slot->counters = c;
    busy = (c.live > 0 || c.running_apps > 0);

    apps = amcf->apps.elts;
    n = ngx_min(amcf->apps.nelts, NGX_HTTP_ASGI_FLEET_APPS);

    for (i = 0; i < n; i++) {
        state = ngx_http_asgi_app_state(apps[i], NULL, 0);
        slot->app_state[i] = (u_char) state;

        if (state == NGX_HTTP_ASGI_APP_LOADING) {
            busy = 1;
        }
    }

    if (busy && !ngx_http_asgi_fleet_timer.timer_set && !ngx_exiting) {
        ngx_add_timer(&ngx_http_asgi_fleet_timer,
                      NGX_HTTP_ASGI_FLEET_REPUBLISH);
    }
}


/*
 * The server's figures: the retired totals plus every live worker's, and
 * each live worker's own (for the answering worker, as of now).
 */

ngx_int_t
ngx_http_asgi_fleet_read(ngx_pool_t *pool, ngx_http_asgi_fleet_t *f)
{
    ngx_uint_t                   i;
    ngx_slab_pool_t             *shpool;
    asgicore_counters           *t;
    ngx_http_asgi_fleet_sh_t    *sh;
    ngx_http_asgi_fleet_slot_t  *slot;

    ngx_memzero(f, sizeof(ngx_http_asgi_fleet_t));

    if (ngx_http_asgi_fleet_zone == NULL
        || ngx_http_asgi_fleet_zone->data == NULL)
    {
        return NGX_DECLINED;
    }

    f->workers = ngx_pcalloc(pool, NGX_HTTP_ASGI_FLEET_SLOTS
                                   * sizeof(ngx_http_asgi_fleet_worker_t));
    if (f->workers == NULL) {
        return NGX_ERROR;
    }

    ngx_http_asgi_fleet_publish();

    sh = ngx_http_asgi_fleet_zone->data;
    shpool = (ngx_slab_pool_t *) ngx_http_asgi_fleet_zone->shm.addr;
    t = &f->totals;

    ngx_shmtx_lock(&shpool->mutex);

    ngx_http_asgi_fleet_reap(sh);

    *t = sh->retired;

    for (i = 0; i < NGX_HTTP_ASGI_FLEET_SLOTS; i++) {
        slot = &sh->slots[i];

        if (slot->pid == 0) {
            continue;
        }

        f->workers[f->nworkers].pid = (ngx_pid_t) slot->pid;
        f->workers[f->nworkers].current =
                                      (slot->generation == sh->generation);
        f->workers[f->nworkers].counters = slot->counters;
        ngx_memcpy(f->workers[f->nworkers].app_state, slot->app_state,
                   NGX_HTTP_ASGI_FLEET_APPS);

        ngx_http_asgi_fleet_add(t, &f->workers[f->nworkers].counters, 1);
        f->nworkers++;
    }

    ngx_shmtx_unlock(&shpool->mutex);

    return NGX_OK;
}
