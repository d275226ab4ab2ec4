/*
 * The demo served by `make run`: a native ASGI app on its own thread.
 *
 *   /            a page explaining what to try
 *   /clock       streams the time once a second until the browser tab
 *                closes; the app sees http.disconnect and stops at once
 *   /slow        answers after 10 s; close the tab before that and the app
 *                is cancelled when the grace period ends
 *   /cleanup     waits for you to leave, then "cleans up" for 1 s inside
 *                the grace period and is never cancelled
 *
 * Watch the terminal running `make run`: the access log line of each
 * request shows its status (499 when you left) and $asgi_outcome.
 */
#define _GNU_SOURCE
#include <asgicore.h>

#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

typedef struct demo demo_t;

typedef struct page {
    demo_t *demo;
    asgicore_scope *scope;
    char path[64];
    int ticks;
    int left;     /* the client has gone */
    uint64_t due; /* ms deadline of its next step, 0 = none */
    struct page *next;
} page_t;

struct demo {
    asgicore_app *app;
    pthread_t thread;
    int efd;
    volatile int stop;
    page_t *pages;
};

static const char index_html[] =
    "<!doctype html><html><head><meta charset=utf-8>"
    "<title>asgicore demo</title><style>body{font-family:sans-serif;"
    "max-width:44em;margin:2em auto;line-height:1.5}code{background:#eee;"
    "padding:0 .2em}</style></head><body>"
    "<h1>asgicore in nginx</h1>"
    "<p>This page comes from a native ASGI app running inside the nginx "
    "worker, on its own thread, through <code>ngx_http_asgi_module</code> "
    "and <code>libasgicore</code>. What the library adds is what happens "
    "when the client goes away: the app receives "
    "<code>http.disconnect</code>, gets a grace period to clean up, and is "
    "cancelled only after it.</p>"
    "<ul>"
    "<li><a href=\"/clock\" target=_blank>/clock</a> streams the time once a "
    "second. Close its tab: the app notices at once and stops; the terminal "
    "shows <code>499 client_disconnected</code>.</li>"
    "<li><a href=\"/slow\" target=_blank>/slow</a> answers after 10 seconds "
    "and ignores the disconnect. Close its tab early: 3 seconds later (the "
    "default <code>asgi_disconnect_grace_period</code>) it is cancelled: "
    "<code>499 cancelled_after_grace</code>.</li>"
    "<li><a href=\"/cleanup\" target=_blank>/cleanup</a> waits for you to "
    "leave, then spends 1 second cleaning up, inside the grace period, and "
    "is never cancelled.</li>"
    "<li><a href=\"/asgi_status\">/asgi_status</a> shows this worker's "
    "counters (<a href=\"/asgi_status?format=json\">as JSON</a>).</li>"
    "</ul></body></html>\n";

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void send_text(asgicore_scope *scope, const char *type, const char *text,
                      int more)
{
    asgicore_header h = {{"content-type", 12}, {type, strlen(type)}};
    asgicore_send_start(scope, 200, &h, 1, 0);
    asgicore_send_body(scope, text, strlen(text), more);
}

static void done(page_t *p)
{
    page_t **pp;
    asgicore_finish(p->scope, 0, NULL);
    for (pp = &p->demo->pages; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    free(p);
}

/* Reads what is there; returns 1 once the client has gone. After that,
 * every receive answers http.disconnect at once: stop reading then. */
static int client_left(page_t *p)
{
    asgicore_event ev;
    while (!p->left && asgicore_receive(p->scope, &ev) == ASGICORE_OK)
        if (ev.type == ASGICORE_EVENT_HTTP_DISCONNECT)
            p->left = 1;
    return p->left;
}

static void step(page_t *p)
{
    char line[64];
    time_t t;

    if (!strcmp(p->path, "/clock")) {
        if (client_left(p)) {
            done(p); /* the stream stops the moment the tab closes */
            return;
        }
        t = time(NULL);
        strftime(line, sizeof line, "%H:%M:%S\n", localtime(&t));
        if (p->ticks++ == 0) {
            send_text(p->scope, "text/plain; charset=utf-8",
                      "The time, once a second, until you close this tab.\n",
                      1);
        }
        if (asgicore_send_body(p->scope, line, strlen(line), 1) ==
            ASGICORE_ERR_DISCONNECTED) {
            done(p);
            return;
        }
        p->due = now_ms() + 1000;
    } else if (!strcmp(p->path, "/slow")) {
        /* ignores the disconnect: the grace period ends it */
        if (!p->due) {
            p->due = now_ms() + 10000;
            return;
        }
        send_text(p->scope, "text/plain", "Here you are, after 10 s.\n", 0);
        done(p);
    } else if (!strcmp(p->path, "/cleanup")) {
        if (p->due) {
            done(p); /* cleaned up within the grace period */
            return;
        }
        if (!p->ticks++)
            send_text(p->scope, "text/plain",
                      "Close this tab: the app then cleans up for 1 s.\n", 1);
        if (client_left(p))
            p->due = now_ms() + 1000;
    } else {
        send_text(p->scope, "text/html; charset=utf-8", index_html, 0);
        done(p);
    }
}

static void on_start(void *user, asgicore_scope *scope)
{
    demo_t *d = user;
    const asgicore_scope_info *info = asgicore_scope_get_info(scope);
    page_t *p = calloc(1, sizeof *p);
    size_t n = info->path.len < sizeof p->path - 1 ? info->path.len
                                                   : sizeof p->path - 1;
    p->demo = d;
    p->scope = scope;
    memcpy(p->path, info->path.data, n);
    p->next = d->pages;
    d->pages = p;
    asgicore_scope_set_app_data(scope, p);
    step(p);
}

static void on_notify(void *user, asgicore_scope *scope, int event, int status)
{
    page_t *p = asgicore_scope_get_app_data(scope);
    if (event == ASGICORE_NOTIFY_CANCEL) {
        done(p);
        return;
    }
    if (event != ASGICORE_NOTIFY_RECEIVE_READY)
        return;
    if (!strcmp(p->path, "/clock") && client_left(p))
        done(p); /* the tab closed: stop now, not at the next tick */
    else if (!strcmp(p->path, "/cleanup") && !p->due)
        step(p);
}

static void on_wake(void *user)
{
    demo_t *d = user;
    uint64_t one = 1;
    if (write(d->efd, &one, sizeof one) < 0) {
        /* already woken */
    }
}

static void *run(void *arg)
{
    demo_t *d = arg;
    while (!d->stop) {
        uint64_t n, now = now_ms();
        page_t *p;
        struct pollfd pfd = {d->efd, POLLIN, 0};
        if (poll(&pfd, 1, 100) > 0 && read(d->efd, &n, sizeof n) > 0)
            asgicore_app_dispatch(d->app);
        now = now_ms();
        for (p = d->pages; p; p = p->next)
            if (p->due && p->due <= now) {
                step(p); /* may free p: one per turn */
                break;
            }
    }
    return NULL;
}

static void *create(const char *argument, int *mode, char *error,
                    size_t error_size)
{
    demo_t *d = calloc(1, sizeof *d);
    if (!d)
        snprintf(error, error_size, "out of memory");
    *mode = ASGICORE_APP_THREADED;
    return d;
}

static int attach(void *user, asgicore_app *app, char *error, size_t error_size)
{
    demo_t *d = user;
    d->app = app;
    d->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (d->efd < 0 || pthread_create(&d->thread, NULL, run, d) != 0) {
        snprintf(error, error_size, "cannot start the demo thread");
        return -1;
    }
    return 0;
}

static void destroy(void *user)
{
    demo_t *d = user;
    d->stop = 1;
    on_wake(d);
    pthread_join(d->thread, NULL);
    close(d->efd);
    while (d->pages) {
        page_t *p = d->pages;
        d->pages = p->next;
        free(p);
    }
    free(d);
}

__attribute__((visibility("default")))
const asgicore_native_app asgicore_app_entry = {
    ASGICORE_NATIVE_APP_V1,
    {on_start, on_notify, on_wake},
    create,
    attach,
    destroy,
};
