/*
 * Copyright (c) 2026 The asgicore authors. BSD-2-Clause, see LICENSE.
 *
 * The server's figures across its children, for ASGIStatus: the parent
 * makes one shared segment (kept across graceful restarts), each child
 * claims a slot in it and its host thread copies the library's counters
 * and the apps' states there after each turn of its loop. A child that
 * exits adds its counters to the retired totals and frees its slot; the
 * slot of a child that was killed is retired by the next reader.
 */

#include "mod_asgi.h"

#include <stdio.h>
#include <unistd.h>

#include "ap_mpm.h"
#include "apr_shm.h"

#define FLEET_KEY "mod_asgi fleet"

typedef struct {
    atomic_uint seq;              /* odd while its child writes */
    atomic_int pid;               /* 0: free */
    int generation;
    asgicore_counters counters;
    unsigned char app_state[ASGI_FLEET_APPS];
} fleet_slot;

typedef struct {
    pthread_mutex_t lock;         /* process-shared: retiring slots */
    asgicore_counters retired;    /* children gone: their totals */
    int nslots;
    fleet_slot slots[];
} fleet_shm;

static fleet_shm *fleet;          /* in each process, after setup */
static fleet_slot *mine;          /* this child's, NULL: none */

/* In post_config, in the parent. The segment lives as long as the parent:
 * children of an old generation keep writing to it across a restart. */
const char *asgi_fleet_setup(server_rec *s)
{
    apr_pool_t *pool = s->process->pool;
    apr_shm_t *shm = NULL;
    pthread_mutexattr_t attr;
    int limit = 0, nslots;
    apr_status_t rv;

    apr_pool_userdata_get((void **)&shm, FLEET_KEY, pool);
    if (shm) {
        fleet = apr_shm_baseaddr_get(shm);
        return NULL;
    }
    /* the children of a generation, and room for exiting ones */
    ap_mpm_query(AP_MPMQ_HARD_LIMIT_DAEMONS, &limit);
    nslots = limit > 0 ? 2 * limit : 64;
    if (nslots > 4096)
        nslots = 4096;
    rv = apr_shm_create(&shm,
                        sizeof(fleet_shm) + (size_t)nslots * sizeof(fleet_slot),
                        NULL, pool);
    if (rv != APR_SUCCESS)
        return "cannot create the shared memory of ASGIStatus";
    fleet = apr_shm_baseaddr_get(shm);
    memset(fleet, 0, apr_shm_size_get(shm));
    fleet->nslots = nslots;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(&fleet->lock, &attr);
    pthread_mutexattr_destroy(&attr);
    apr_pool_userdata_set(shm, FLEET_KEY, apr_pool_cleanup_null, pool);
    return NULL;
}

static void fleet_lock(void)
{
    if (pthread_mutex_lock(&fleet->lock) == EOWNERDEAD)
        pthread_mutex_consistent(&fleet->lock); /* a child was killed */
}

/* The counters that add up over time; the gauges (live, running_apps)
 * end with their child. */
static void add_totals(asgicore_counters *to, const asgicore_counters *c)
{
    to->opened += c->opened;
    to->completed += c->completed;
    to->disconnected += c->disconnected;
    to->cancelled += c->cancelled;
    to->app_errors += c->app_errors;
    to->not_dispatched += c->not_dispatched;
    to->abandoned += c->abandoned;
    for (int i = 0; i < ASGICORE_DISCONNECT_REASONS; i++)
        to->disconnects[i] += c->disconnects[i];
}

/* A consistent copy of a slot; 0 if it is free. A writer holds the slot
 * odd for a few stores; one killed there leaves it odd for good, so the
 * wait is bounded and the copy then taken as it is (its child is dead:
 * the slot is being retired). */
static int read_slot(fleet_slot *slot, fleet_slot *out)
{
    for (int tries = 0;; tries++) {
        unsigned seq = atomic_load(&slot->seq);
        int pid, stuck = tries >= 1000;
        if ((seq & 1) && !stuck) {
            sched_yield();
            continue;
        }
        pid = atomic_load(&slot->pid);
        out->generation = slot->generation;
        memcpy(&out->counters, &slot->counters, sizeof out->counters);
        memcpy(out->app_state, slot->app_state, sizeof out->app_state);
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load(&slot->seq) == seq || stuck) {
            atomic_store(&out->pid, pid);
            return pid != 0;
        }
    }
}

/* Whether pid is still a child of this server (not a reused pid). */
static int child_alive(int pid)
{
    char path[64], text[512], *p;
    FILE *f;
    int ppid = 0;
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    f = fopen(path, "r");
    if (!f)
        return 0;
    p = fgets(text, sizeof text, f) ? strrchr(text, ')') : NULL;
    fclose(f);
    if (!p || sscanf(p + 1, " %*c %d", &ppid) != 1)
        return 0;
    return ppid == getppid();
}

/* Under the lock: the slot's last figures join the retired ones. */
static void retire(fleet_slot *slot)
{
    fleet_slot copy;
    read_slot(slot, &copy);
    add_totals(&fleet->retired, &copy.counters);
    /* a child killed with requests in flight: they end with it, counted
     * as the server's (an exiting child has none left) */
    fleet->retired.abandoned += copy.counters.live;
    memset(&slot->counters, 0, sizeof slot->counters);
    memset(slot->app_state, 0, sizeof slot->app_state);
    atomic_store(&slot->seq, 0); /* a writer killed mid-update left it odd */
    atomic_store(&slot->pid, 0);
}

static void retire_dead(void)
{
    for (int i = 0; i < fleet->nslots; i++) {
        int pid = atomic_load(&fleet->slots[i].pid);
        if (pid && pid != getpid() && !child_alive(pid))
            retire(&fleet->slots[i]);
    }
}

/* In the child, before it serves. */
void asgi_fleet_join(void)
{
    int generation = 0;
    if (!fleet)
        return;
    ap_mpm_query(AP_MPMQ_GENERATION, &generation);
    fleet_lock();
    retire_dead();
    for (int i = 0; i < fleet->nslots && !mine; i++) {
        if (atomic_load(&fleet->slots[i].pid) == 0) {
            mine = &fleet->slots[i];
            mine->generation = generation;
            atomic_store(&mine->pid, getpid());
        }
    }
    pthread_mutex_unlock(&fleet->lock);
}

/* On the host thread, after each turn of its loop. 1: an app is still
 * loading (its state changes on its own thread, without a turn). */
int asgi_fleet_update(asgicore_ctx *ctx, const asgi_app *apps)
{
    asgicore_counters c;
    int i = 0, loading = 0;
    if (!mine || asgicore_ctx_counters(ctx, &c) != ASGICORE_OK)
        return 0;
    atomic_fetch_add(&mine->seq, 1);
    atomic_thread_fence(memory_order_release);
    mine->counters = c;
    for (const asgi_app *a = apps; a && i < ASGI_FLEET_APPS; a = a->next) {
        int state = asgi_app_state(a, NULL, 0);
        loading |= state == ASGI_STATE_LOADING;
        mine->app_state[i++] = (unsigned char)state;
    }
    atomic_thread_fence(memory_order_release);
    atomic_fetch_add(&mine->seq, 1);
    return loading;
}

/* As the child exits, after its apps stopped. */
void asgi_fleet_leave(void)
{
    if (!mine)
        return;
    fleet_lock();
    retire(mine);
    pthread_mutex_unlock(&fleet->lock);
    mine = NULL;
}

/* The server's figures, for the status handler: 0 when this process has
 * no slot (the figures are then its own alone, as the caller reads). */
int asgi_fleet_read(apr_pool_t *pool, asgi_fleet_view *v)
{
    int generation = 0;
    memset(v, 0, sizeof *v);
    if (!fleet || !mine)
        return 0;
    ap_mpm_query(AP_MPMQ_GENERATION, &generation);
    v->children = apr_pcalloc(pool, fleet->nslots * sizeof *v->children);
    fleet_lock();
    retire_dead();
    v->totals = fleet->retired;
    for (int i = 0; i < fleet->nslots; i++) {
        fleet_slot copy;
        asgi_fleet_child *w = &v->children[v->nchildren];
        if (!read_slot(&fleet->slots[i], &copy))
            continue;
        w->pid = atomic_load(&copy.pid);
        w->current = copy.generation == generation;
        w->counters = copy.counters;
        memcpy(w->app_state, copy.app_state, sizeof w->app_state);
        add_totals(&v->totals, &copy.counters);
        v->totals.live += copy.counters.live;
        v->totals.running_apps += copy.counters.running_apps;
        v->nchildren++;
    }
    pthread_mutex_unlock(&fleet->lock);
    return 1;
}
