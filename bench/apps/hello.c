/*
 * The native hello app of make bench: the least an app can do, so that the
 * figure measures the module and the library, not the app. Answers every
 * request with 200 "Hello, world!\n" from its start callback, as nginx's
 * `return 200` does, without reading a body.
 *
 * Argument: "inline" (callbacks on the nginx thread, the default) or
 * "threaded" (its own thread, woken through an eventfd; it batches the
 * responses of each wake-up, as the Python runtime does).
 */
#include <asgicore.h>

#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

typedef struct {
    asgicore_app *handle;
    int threaded;
    int efd;
    volatile int stop;
    pthread_t thread;
} hello_t;

static const asgicore_header headers[] = {
    {{"content-type", 12}, {"text/plain", 10}},
    {{"content-length", 14}, {"14", 2}},
};

static void hello_start(void *user, asgicore_scope *scope)
{
    (void)user;
    asgicore_send_start(scope, 200, headers, 2, 0);
    asgicore_send_body(scope, "Hello, world!\n", 14, 0);
    asgicore_finish(scope, 0, NULL);
}

static void hello_notify(void *user, asgicore_scope *scope, int event,
                         int status)
{
    (void)user;
    (void)scope;
    (void)event;
    (void)status; /* it has finished before anything could arrive */
}

static void hello_wake(void *user)
{
    hello_t *h = user;
    uint64_t one = 1;
    if (write(h->efd, &one, sizeof one) != sizeof one) {
        /* already signalled */
    }
}

static void *hello_thread(void *arg)
{
    hello_t *h = arg;
    while (!h->stop) {
        struct pollfd p = {h->efd, POLLIN, 0};
        uint64_t n;
        if (poll(&p, 1, 1000) > 0 && read(h->efd, &n, sizeof n) == sizeof n) {
            asgicore_app_batch(h->handle, 1);
            asgicore_app_dispatch(h->handle);
            asgicore_app_batch(h->handle, 0);
        }
    }
    return NULL;
}

static void *hello_create(const char *argument, int *mode, char *error,
                          size_t error_size)
{
    hello_t *h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(error, error_size, "out of memory");
        return NULL;
    }
    h->threaded = strstr(argument, "threaded") != NULL;
    h->efd = -1;
    *mode = h->threaded ? ASGICORE_APP_THREADED : ASGICORE_APP_INLINE;
    return h;
}

static int hello_attach(void *user, asgicore_app *handle, char *error,
                        size_t error_size)
{
    hello_t *h = user;
    h->handle = handle;
    if (!h->threaded)
        return 0;
    h->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (h->efd < 0 || pthread_create(&h->thread, NULL, hello_thread, h)) {
        snprintf(error, error_size, "cannot start the app thread");
        return -1;
    }
    return 0;
}

static void hello_destroy(void *user)
{
    hello_t *h = user;
    if (h->threaded && h->efd >= 0) {
        h->stop = 1;
        hello_wake(h);
        pthread_join(h->thread, NULL);
        close(h->efd);
    }
    free(h);
}

__attribute__((visibility("default")))
const asgicore_native_app asgicore_app_entry = {
    ASGICORE_NATIVE_APP_V1, {hello_start, hello_notify, hello_wake},
    hello_create,           hello_attach,
    hello_destroy,
};
