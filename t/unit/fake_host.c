#include "fake_host.h"

#include <stdio.h>
#include <string.h>

const asgicore_header text_plain[1] = {
    {{"content-type", 12}, {"text/plain", 10}},
};

static void append(char *buf, size_t cap, const char *data, size_t len)
{
    size_t used = strlen(buf);
    if (used + len + 1 > cap)
        len = cap - used - 1;
    memcpy(buf + used, data, len);
    buf[used + len] = '\0';
}

static void append_headers(char *buf, size_t cap, const asgicore_header *h,
                           size_t n)
{
    for (size_t i = 0; i < n; i++) {
        append(buf, cap, h[i].name.data, h[i].name.len);
        append(buf, cap, ": ", 2);
        append(buf, cap, h[i].value.data, h[i].value.len);
        append(buf, cap, "\n", 1);
    }
}

static int cb_send_head(void *user, asgicore_scope *scope, void *host_data,
                        int status, const asgicore_header *headers,
                        size_t count, int has_trailers)
{
    fake_req *req = host_data;
    assert_ptr_equal(req->scope, scope);
    assert_false(req->released);
    req->head_writes++;
    req->status = status;
    req->has_trailers = has_trailers;
    append_headers(req->headers, sizeof req->headers, headers, count);
    if (req->during_head)
        req->during_head(req);
    return req->write_result;
}

static int cb_send_body(void *user, asgicore_scope *scope, void *host_data,
                        const void *data, size_t len, int last)
{
    fake_req *req = host_data;
    assert_ptr_equal(req->scope, scope);
    assert_false(req->released);
    assert_false(req->last_written);
    size_t room = sizeof req->body - req->body_len;
    if (req->body_len < sizeof req->body)
        memcpy(req->body + req->body_len, data, len < room ? len : room);
    req->body_len += len;
    req->body_writes++;
    req->last_written = last;
    return req->write_result;
}

static int cb_send_raw(void *user, asgicore_scope *scope, void *host_data,
                       const void *data, size_t len)
{
    fake_req *req = host_data;
    assert_ptr_equal(req->scope, scope);
    assert_false(req->released);
    size_t room = sizeof req->raw - req->raw_len;
    memcpy(req->raw + req->raw_len, data, len < room ? len : room);
    req->raw_len += len < room ? len : room;
    req->raw_writes++;
    return req->write_result;
}

static int cb_send_trailers(void *user, asgicore_scope *scope, void *host_data,
                            const asgicore_header *t, size_t count, int last)
{
    fake_req *req = host_data;
    assert_false(req->released);
    req->trailer_writes++;
    req->last_written = last;
    append_headers(req->trailers, sizeof req->trailers, t, count);
    return req->write_result;
}

static void cb_resume_body(void *user, asgicore_scope *scope, void *host_data)
{
    fake_req *req = host_data;
    assert_false(req->released);
    req->resumes++;
}

static void cb_done(void *user, asgicore_scope *scope, void *host_data,
                    int outcome, int response_complete)
{
    fake_host *fh = user;
    fake_req *req = host_data;
    assert_false(req->released);
    req->done_calls++;
    req->outcome = outcome;
    req->response_complete = response_complete;
    if (req->release_in_done)
        fake_release(fh, req);
}

static void cb_set_timer(void *user, asgicore_time deadline)
{
    fake_host *fh = user;
    fh->timer = deadline;
    fh->timer_sets++;
}

static void cb_wake(void *user)
{
    fake_host *fh = user;
    fh->wakes++;
}

static void cb_log(void *user, int level, void *host_data, const char *msg)
{
    fake_host *fh = user;
    char line[1024];
    assert_true(level >= ASGICORE_LOG_ERROR && level <= ASGICORE_LOG_DEBUG);
    fh->log_lines[level]++;
    fh->last_log_host_data = host_data;
    snprintf(line, sizeof line, "%d: %s\n", level, msg);
    append(fh->log, sizeof fh->log, line, strlen(line));
}

static void cb_scope_gone(void *user, void *host_data)
{
    fake_req *req = host_data;
    assert_true(req->released);
    assert_int_equal(req->gone, 0);
    req->gone++;
}

void fake_host_init(fake_host *fh, const asgicore_settings *settings)
{
    static const asgicore_callbacks cb = {
        cb_send_head,  cb_send_body, cb_send_trailers, cb_resume_body,
        cb_done,       cb_set_timer, cb_wake,          cb_log,
        cb_scope_gone, cb_send_raw,
    };
    memset(fh, 0, sizeof *fh);
    fh->now = 1000 * SEC; /* any epoch */
    fh->timer = ASGICORE_TIME_NEVER;
    fh->capabilities = ASGICORE_CAP_TRAILERS;
    assert_int_equal(asgicore_ctx_new(settings, &cb, fh, &fh->ctx),
                     ASGICORE_OK);
}

void fake_host_init_v1(fake_host *fh, const asgicore_settings *settings)
{
    /* exactly the 0.2 struct: a V1 host's memory ends after `log` */
    static const struct {
        int (*send_head)(void *, asgicore_scope *, void *, int,
                         const asgicore_header *, size_t, int);
        int (*send_body)(void *, asgicore_scope *, void *, const void *, size_t,
                         int);
        int (*send_trailers)(void *, asgicore_scope *, void *,
                             const asgicore_header *, size_t, int);
        void (*resume_body)(void *, asgicore_scope *, void *);
        void (*done)(void *, asgicore_scope *, void *, int, int);
        void (*set_timer)(void *, asgicore_time);
        void (*wake)(void *);
        void (*log)(void *, int, void *, const char *);
    } cb = {
        cb_send_head, cb_send_body, cb_send_trailers, cb_resume_body,
        cb_done,      cb_set_timer, cb_wake,          cb_log,
    };
    memset(fh, 0, sizeof *fh);
    fh->now = 1000 * SEC;
    fh->timer = ASGICORE_TIME_NEVER;
    fh->info_version = ASGICORE_SCOPE_INFO_V1;
    assert_int_equal(
        asgicore_ctx_new_versioned(
            ASGICORE_SETTINGS_VERSION, settings, ASGICORE_CALLBACKS_V1,
            (const asgicore_callbacks *)(const void *)&cb, fh, &fh->ctx),
        ASGICORE_OK);
}

void fake_host_fini(fake_host *fh)
{
    asgicore_counters c = fake_counters(fh);
    assert_int_equal(c.live, 0);
    asgicore_ctx_free(fh->ctx);
    fh->ctx = NULL;
}

static void app_start(void *user, asgicore_scope *scope)
{
    fake_app *fa = user;
    if (fa->starts < 64)
        fa->started[fa->starts] = scope;
    fa->starts++;
    if (fa->on_start)
        fa->on_start(fa, scope);
}

static void app_notify(void *user, asgicore_scope *scope, int event, int status)
{
    fake_app *fa = user;
    assert_true(event >= 1 && event <= 3);
    fa->notifications[event]++;
    if (event == ASGICORE_NOTIFY_SEND_READY)
        fa->last_status = status;
    if (fa->on_notify)
        fa->on_notify(fa, scope, event, status);
}

static void app_wake(void *user)
{
    fake_app *fa = user;
    fa->wakes++;
}

void fake_app_init(fake_host *fh, fake_app *fa, int mode)
{
    static const asgicore_app_callbacks cb = {app_start, app_notify, app_wake};
    memset(fa, 0, sizeof *fa);
    fa->threaded = (mode & ~ASGICORE_APP_WEBSOCKET) == ASGICORE_APP_THREADED;
    assert_int_equal(asgicore_app_new(fh->ctx, &cb, fa, mode, &fa->app),
                     ASGICORE_OK);
}

static asgicore_str str(const char *s)
{
    asgicore_str r = {s, strlen(s)};
    return r;
}

/* The addresses every fake request has, and the open. */
static asgicore_scope *open_scope(fake_host *fh, fake_app *fa, fake_req *req,
                                  asgicore_scope_info *info)
{
    info->client.host = str("127.0.0.1");
    info->client.port = 50000;
    info->server.host = str("127.0.0.1");
    info->server.port = 8080;
    info->capabilities = fh->capabilities;
    memset(req, 0, sizeof *req);
    req->write_result = ASGICORE_OK;
    assert_int_equal(
        asgicore_scope_open_versioned(
            fh->ctx, fa->app,
            fh->info_version ? fh->info_version : ASGICORE_SCOPE_INFO_VERSION,
            info, req, &req->scope),
        ASGICORE_OK);
    return req->scope;
}

asgicore_scope *fake_open_with(fake_host *fh, fake_app *fa, fake_req *req,
                               int64_t grace_ns, uint32_t flags)
{
    return fake_open_as(fh, fa, req, "GET", "/", grace_ns, flags);
}

asgicore_scope *fake_open_as(fake_host *fh, fake_app *fa, fake_req *req,
                             const char *method, const char *path,
                             int64_t grace_ns, uint32_t flags)
{
    static const asgicore_header headers[] = {
        {{"host", 4}, {"localhost", 9}},
        {{"user-agent", 10}, {"unit", 4}},
    };
    asgicore_scope_info info;
    memset(&info, 0, sizeof info);
    info.method = str(method);
    info.scheme = str("http");
    info.http_version = str("1.1");
    info.path = str(path);
    info.raw_path = str(path);
    info.headers = headers;
    info.header_count = 2;
    info.grace_period_ns = grace_ns;
    info.flags = flags;
    return open_scope(fh, fa, req, &info);
}

asgicore_scope *fake_open(fake_host *fh, fake_app *fa, fake_req *req)
{
    return fake_open_with(fh, fa, req, -1, 0);
}

asgicore_scope *fake_open_ws(fake_host *fh, fake_app *fa, fake_req *req,
                             const char *extra_name, const char *extra_value,
                             const asgicore_scope_info *info_limits)
{
    asgicore_header headers[] = {
        {{"host", 4}, {"localhost", 9}},
        {{"upgrade", 7}, {"websocket", 9}},
        {{"connection", 10}, {"Upgrade", 7}},
        {{"sec-websocket-key", 17}, {"dGhlIHNhbXBsZSBub25jZQ==", 24}},
        {{"sec-websocket-version", 21}, {"13", 2}},
        {{"x", 1}, {"y", 1}},
    };
    size_t count = 5;
    if (extra_name) {
        /* replaces the header of that name, or is added */
        size_t i;
        for (i = 0; i < count; i++)
            if (strcmp(headers[i].name.data, extra_name) == 0)
                break;
        headers[i].name = str(extra_name);
        headers[i].value = str(extra_value);
        if (i == count)
            count++;
    }
    asgicore_scope_info info;
    memset(&info, 0, sizeof info);
    if (info_limits)
        info = *info_limits;
    info.method = str("GET");
    info.scheme = str("http");
    info.http_version = str("1.1");
    info.path = str("/ws");
    info.raw_path = str("/ws");
    info.headers = headers;
    info.header_count = count;
    info.grace_period_ns = -1;
    info.flags = ASGICORE_SCOPE_WEBSOCKET;
    return open_scope(fh, fa, req, &info);
}

void fake_pump(fake_host *fh)
{
    while (fh->wakes) {
        fh->wakes = 0;
        assert_int_equal(asgicore_ctx_process(fh->ctx), ASGICORE_OK);
    }
}

void fake_advance(fake_host *fh, asgicore_time ns)
{
    fh->now += ns;
    if (fh->timer != ASGICORE_TIME_NEVER && fh->timer <= fh->now) {
        fh->timer = ASGICORE_TIME_NEVER; /* one-shot, as a host's timer */
        assert_int_equal(asgicore_ctx_handle_expiry(fh->ctx, fh->now),
                         ASGICORE_OK);
    }
}

void fake_release(fake_host *fh, fake_req *req)
{
    assert_false(req->released);
    req->released = 1;
    assert_int_equal(asgicore_scope_release(req->scope, fh->now), ASGICORE_OK);
}

void expect_request(asgicore_scope *scope, const char *body, int more)
{
    asgicore_event ev;
    assert_int_equal(asgicore_receive(scope, &ev), ASGICORE_OK);
    assert_int_equal(ev.type, ASGICORE_EVENT_HTTP_REQUEST);
    assert_int_equal(ev.body_len, strlen(body));
    if (ev.body_len)
        assert_memory_equal(ev.body, body, ev.body_len);
    assert_int_equal(ev.more_body, more);
}

void expect_disconnect(asgicore_scope *scope)
{
    asgicore_event ev;
    assert_int_equal(asgicore_receive(scope, &ev), ASGICORE_OK);
    assert_int_equal(ev.type, ASGICORE_EVENT_HTTP_DISCONNECT);
    /* R4: a disconnect carries its type and nothing else. */
    assert_null(ev.body);
    assert_int_equal(ev.body_len, 0);
    assert_int_equal(ev.more_body, 0);
}

void expect_pending(asgicore_scope *scope)
{
    asgicore_event ev;
    assert_int_equal(asgicore_receive(scope, &ev), ASGICORE_PENDING);
}

asgicore_counters fake_counters(fake_host *fh)
{
    asgicore_counters c;
    assert_int_equal(asgicore_ctx_counters(fh->ctx, &c), ASGICORE_OK);
    return c;
}

int fake_logged(fake_host *fh, const char *text)
{
    return strstr(fh->log, text) != NULL;
}

int fake_setup(void **st)
{
    static fake_state s;
    memset(&s, 0, sizeof s);
    fake_host_init(&s.fh, NULL);
    fake_app_init(&s.fh, &s.fa, ASGICORE_APP_INLINE);
    *st = &s;
    return 0;
}

int fake_teardown(void **st)
{
    fake_state *s = *st;
    if (s->req.scope && !s->req.released)
        fake_release(&s->fh, &s->req);
    fake_host_fini(&s->fh);
    return 0;
}

void fake_state_reinit(fake_state *s, const asgicore_settings *settings)
{
    fake_host_fini(&s->fh);
    fake_host_init(&s->fh, settings);
    fake_app_init(&s->fh, &s->fa, ASGICORE_APP_INLINE);
}
