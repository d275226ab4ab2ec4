/*
 * An app thread as the Python runtime runs one: its own loop on an eventfd
 * that the library's app `wake` writes, calling asgicore_app_dispatch. For
 * the threaded unit suites.
 */
#ifndef APP_THREAD_H
#define APP_THREAD_H

#include "fake_host.h"

#include <poll.h>
#include <stdatomic.h>
#include <unistd.h>

typedef struct {
    int efd;
    asgicore_app *app;
    atomic_int quit;
} app_thread;

static void app_wake(void *user)
{
    app_thread *at = user;
    uint64_t one = 1;
    assert_int_equal(write(at->efd, &one, sizeof one), sizeof one);
}

static void *app_main(void *arg)
{
    app_thread *at = arg;
    while (!atomic_load(&at->quit)) {
        struct pollfd p = {at->efd, POLLIN, 0};
        if (poll(&p, 1, 100) <= 0)
            continue;
        uint64_t n;
        if (read(at->efd, &n, sizeof n) != sizeof n)
            continue;
        assert_true(asgicore_app_dispatch(at->app) >= 0);
    }
    return NULL;
}

/* One turn of a host thread's loop: process what the app thread woke it
 * for (waiting up to 1 ms on the host's eventfd), advance the manual clock
 * by 1 ms, and fire the library's timer when it is due. */
static void host_tick(asgicore_ctx *ctx, int efd, asgicore_time *now,
                      asgicore_time *timer)
{
    struct pollfd p = {efd, POLLIN, 0};
    if (poll(&p, 1, 1) > 0) {
        uint64_t n;
        if (read(efd, &n, sizeof n) == sizeof n)
            assert_int_equal(asgicore_ctx_process(ctx), ASGICORE_OK);
    }
    *now += 1 * MS;
    if (*timer <= *now) {
        *timer = ASGICORE_TIME_NEVER;
        assert_int_equal(asgicore_ctx_handle_expiry(ctx, *now), ASGICORE_OK);
    }
}

#endif
