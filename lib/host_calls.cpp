// Host-side calls: scopes opened, fed, disconnected, drained and released;
// time passed in; apps registered.
#include "call_guards.hpp"
#include "context.hpp"
#include "utf8.hpp"

#include <algorithm>
#include <cstring>
#include <memory>
#include <new>
#include <string_view>
#include <vector>

namespace asgicore {

namespace {

bool str_valid(const asgicore_str &s) noexcept
{
    return s.len == 0 || s.data != nullptr;
}

// Copies a string into `*cursor` and advances it.
asgicore_str copy_str(const asgicore_str &from, char **cursor) noexcept
{
    asgicore_str to{*cursor, from.len};
    if (from.len)
        std::memcpy(*cursor, from.data, from.len);
    *cursor += from.len;
    return to;
}

asgicore_addr copy_addr(const asgicore_addr &from, char **cursor) noexcept
{
    asgicore_addr to{{nullptr, 0}, from.port};
    if (from.host.data)
        to.host = copy_str(from.host, cursor);
    return to;
}

// A websocket scope's handshake, checked, and its limits (W1).
std::unique_ptr<WsData> websocket_data(const asgicore_scope_info &info)
{
    auto w = std::make_unique<WsData>();
    std::vector<ws::HeaderView> headers;
    headers.reserve(info.header_count);
    for (size_t i = 0; i < info.header_count; i++)
        headers.push_back({std::string_view(info.headers[i].name.data,
                                            info.headers[i].name.len),
                           std::string_view(info.headers[i].value.data,
                                            info.headers[i].value.len)});
    w->handshake = ws::check_handshake(
        std::string_view(info.method.data, info.method.len),
        std::string_view(info.http_version.data, info.http_version.len),
        headers);
    if (info.websocket_max_message)
        w->settings.max_message = info.websocket_max_message;
    w->settings.read_buffer_limit = w->settings.max_message;
    if (info.websocket_ping_interval_ns < 0)
        w->settings.ping_interval_ns = 0;
    else if (info.websocket_ping_interval_ns > 0)
        w->settings.ping_interval_ns =
            static_cast<uint64_t>(info.websocket_ping_interval_ns);
    if (info.websocket_close_timeout_ns)
        w->settings.close_timeout_ns = info.websocket_close_timeout_ns;
    return w;
}

}  // namespace

int Context::process()
{
    HostCall call(*this);
    host_wake_armed_ = false;
    return ASGICORE_OK;
}

asgicore_time Context::expiry()
{
    Lock lk(mu_);
    return timers_.earliest();
}

int Context::handle_expiry(asgicore_time now)
{
    HostCall call(*this);
    last_now_ = std::max(last_now_, now);
    // The host's timer fired: it holds none until told again.
    host_timer_ = ASGICORE_TIME_NEVER;
    while (Scope *s = timers_.top()) {
        if (s->deadline > now)
            break;
        timers_.remove(s);
        s->deadline = ASGICORE_TIME_NEVER;
        if (s->ws)
            ws_expire(s, now);  // its session's deadline, or its grace's
        else
            cancel(s);
        unref(s);
    }
    return ASGICORE_OK;
}

void Context::counters(asgicore_counters &out)
{
    Lock lk(mu_);
    out = counters_;
}

int Context::open_scope(App *app, const asgicore_scope_info &info,
                        void *host_data, asgicore_scope **out)
{
    HostCall call(*this);
    if (app->ctx != this)
        return ASGICORE_ERR_INVALID;
    const asgicore_str *strs[] = {
        &info.method,    &info.scheme,      &info.http_version,
        &info.path,      &info.raw_path,    &info.query_string,
        &info.root_path, &info.client.host, &info.server.host};
    size_t extra = 0;
    for (const asgicore_str *str : strs) {
        if (!str_valid(*str))
            return ASGICORE_ERR_INVALID;
        extra += str->len;
    }
    // R12: the decoded path is handed to apps as UTF-8; invalid sequences
    // become U+FFFD (raw_path keeps the bytes).
    bool path_valid;
    size_t path_len =
        utf8_repaired_length(info.path.data, info.path.len, &path_valid);
    extra += path_len - info.path.len;
    if (info.header_count && !info.headers)
        return ASGICORE_ERR_INVALID;
    for (size_t i = 0; i < info.header_count; i++)
        if (!str_valid(info.headers[i].name) ||
            !str_valid(info.headers[i].value))
            return ASGICORE_ERR_INVALID;
    // The header array comes first: the scope object's size keeps it
    // aligned.
    static_assert(sizeof(asgicore_scope) % alignof(asgicore_header) == 0);
    extra += headers_storage_size(info.headers, info.header_count);

    std::unique_ptr<WsData> ws;
    try {
        timers_.reserve(timers_.size() + 1 + counters_.live);
        if ((info.flags & ASGICORE_SCOPE_WEBSOCKET) && app->websocket &&
            cb_.send_raw)
            ws = websocket_data(info);
    } catch (const std::bad_alloc &) {
        return ASGICORE_ERR_NOMEM;
    }
    // The messages' arena follows the request data, aligned.
    size_t arena_at =
        (sizeof(asgicore_scope) + extra + ScopeArena::alignment - 1) &
        ~(ScopeArena::alignment - 1);
    size_t arena_size = ScopeArena::size_after(arena_at);
    size_t total = arena_at + arena_size;
    void *mem = total == ScopeBlocks::size ? scope_blocks_.take() : nullptr;
    if (!mem)
        mem = ::operator new(total, std::nothrow);
    if (!mem)
        return ASGICORE_ERR_NOMEM;
    auto *s = new (mem) asgicore_scope();
    s->arena.init(static_cast<char *>(mem) + arena_at, arena_size);
    char *cursor = reinterpret_cast<char *>(s + 1);
    s->ctx = this;
    s->app = app;
    s->host_data = host_data;
    s->info = info;
    s->info.headers = copy_headers(info.headers, info.header_count, cursor);
    cursor += headers_storage_size(info.headers, info.header_count);
    s->info.method = copy_str(info.method, &cursor);
    s->info.scheme = copy_str(info.scheme, &cursor);
    s->info.http_version = copy_str(info.http_version, &cursor);
    if (path_valid) {
        s->info.path = copy_str(info.path, &cursor);
    } else {
        utf8_repair(info.path.data, info.path.len, cursor);
        s->info.path = asgicore_str{cursor, path_len};
        cursor += path_len;
    }
    s->info.raw_path = copy_str(info.raw_path, &cursor);
    s->info.query_string = copy_str(info.query_string, &cursor);
    s->info.root_path = copy_str(info.root_path, &cursor);
    s->info.client = copy_addr(info.client, &cursor);
    s->info.server = copy_addr(info.server, &cursor);
    s->grace_ns = info.grace_period_ns < 0
                      ? settings_.grace_period_ns
                      : static_cast<uint64_t>(info.grace_period_ns);
    s->info.grace_period_ns = static_cast<int64_t>(s->grace_ns);

    s->ws = std::move(ws);
    s->refs = 2;  // the host's and the app's
    s->host_data_live = cb_.scope_gone != nullptr;
    all_scopes_.push_back(s);
    app->owned_scopes++;
    counters_.opened++;
    counters_.live++;
    counters_.running_apps++;
    *out = s;  // before any callback can run (in the guard's loop)
    if (info.flags & ASGICORE_SCOPE_CLIENT_GONE) {
        // L2: the host saw the client leave before the app could start.
        mark_client_gone(s, ASGICORE_DISCONNECT_CLOSED, last_now_);
        return ASGICORE_OK;
    }
    if (s->ws && s->ws->handshake.status) {
        // W1: refused by the library, the app never starts
        ws_refuse(s, s->ws->handshake.status, s->ws->handshake.error);
        end_app(s, AppState::finished);
        maybe_gone(s);
        unref(s);  // the app's reference
        return ASGICORE_OK;
    }
    if (info.flags & ASGICORE_SCOPE_BODY_ON_DEMAND)
        s->body_state = BodyState::paused;  // until the app asks for it
    queue_app(s, app_start);
    return ASGICORE_OK;
}

int Context::feed_body(Scope *s, const void *data, size_t len, bool more)
{
    HostCall call(*this);
    int rc = feed_body_locked(s, data, len, more);
    if (rc != ASGICORE_PENDING)
        return rc;
    // The app (on its thread, or inline in this call's loop) may consume
    // the body at once and lift the pause. The host must never get
    // resume_body before the PENDING it answers: settle the result after
    // this call's own callbacks, while the lock keeps later ones out.
    s->refs++;  // the host may release the scope from a callback
    call.run_loop();
    rc = s->host_open && s->body_state == BodyState::paused ? ASGICORE_PENDING
                                                            : ASGICORE_OK;
    unref(s);
    return rc;
}

int Context::feed_body_locked(Scope *s, const void *data, size_t len, bool more)
{
    if (!s->host_open || s->body_state == BodyState::ended)
        return ASGICORE_ERR_STATE;
    if (len && !data)
        return ASGICORE_ERR_INVALID;
    if (s->client_gone())
        return ASGICORE_ERR_DISCONNECTED;
    if (s->body_state == BodyState::paused)
        return ASGICORE_ERR_BUSY;
    bool last = !more;
    if (!s->app_running() || s->app_sees_disconnect()) {
        if (last)
            s->body_state = BodyState::ended;  // nobody will read it
        return ASGICORE_OK;
    }
    if (len == 0) {
        if (!last)
            return ASGICORE_OK;
        if (BodyChunk *tail = s->body.back()) {
            // Still unread, so the app is not waiting: no notification.
            tail->last = true;
            s->body_state = BodyState::ended;
            return ASGICORE_OK;
        }
    }
    BodyChunk *chunk = BodyChunk::make(&s->arena, data, len, last);
    if (!chunk)
        return ASGICORE_ERR_NOMEM;
    s->body.push(chunk);
    s->body_buffered += len;
    if (last)
        s->body_state = BodyState::ended;
    make_receive_ready(s);
    if (!last && s->body_buffered >= settings_.body_buffer_limit) {
        s->body_state = BodyState::paused;
        return ASGICORE_PENDING;
    }
    return ASGICORE_OK;
}

int Context::disconnect(Scope *s, int reason, asgicore_time now)
{
    HostCall call(*this);
    if (!s->host_open)
        return ASGICORE_ERR_STATE;
    if (reason < ASGICORE_DISCONNECT_CLOSED ||
        reason > ASGICORE_DISCONNECT_SERVER)
        return ASGICORE_ERR_INVALID;
    last_now_ = std::max(last_now_, now);
    if (s->ws && s->ws->session && !s->client_gone() &&
        s->ws->session->phase() == ws::Phase::closed &&
        s->delivery == Delivery::drained) {
        // the close handshake had ended, our close frame written: this is
        // only the TCP close (a connection lost before is 1006, and one
        // lost before our reply left ends the scope: mark_client_gone)
        ws_settle(s);
        return ASGICORE_OK;
    }
    mark_client_gone(s, reason, now);
    return ASGICORE_OK;
}

int Context::write_ready(Scope *s)
{
    HostCall call(*this);
    if (!s->host_open)
        return ASGICORE_ERR_STATE;
    s->host_blocked = false;
    queue_host(s, host_flush);
    return ASGICORE_OK;
}

int Context::reframed(Scope *s)
{
    HostCall call(*this);
    if (!s->host_open)
        return ASGICORE_ERR_STATE;
    s->reframed = true;
    return ASGICORE_OK;
}

int Context::release(Scope *s, asgicore_time now)
{
    HostCall call(*this);
    if (!s->host_open)
        return ASGICORE_ERR_STATE;
    last_now_ = std::max(last_now_, now);
    bool ws_open = s->ws && s->ws->state == WsState::accepted &&
                   !s->ws->app_told && !s->client_gone();
    if (s->app_running() && (!s->response_delivered() || ws_open)) {
        mark_client_gone(s, ASGICORE_DISCONNECT_SERVER, now);  // W5: 1006
        if (s->app_running())
            counters_.abandoned++;
    }
    if (s->send_waiting) {
        // S8: the host let go of data it had not written (it ended the
        // request): the app's send must not wait for it forever.
        s->send_waiting = false;
        queue_app(s, app_send_ready, ASGICORE_ERR_DISCONNECTED);
    }
    decide_outcome(s);
    s->host_open = false;
    counters_.live--;
    if (s->ws)
        ws_arm_timer(s);  // the session's timers end with the connection
    // L3: an app that ignores the abort still reads its whole body; any
    // other app has been told the client left, its unread body is dropped.
    bool app_reads_on =
        s->app_running() && s->client == ClientState::gone_unseen;
    if (!app_reads_on)
        drop_body(s);
    discard_output(s);
    s->host_work = 0;
    if (s->host_link.linked()) {
        host_queue_.remove(s);
        unref(s);
    }
    maybe_gone(s);
    unref(s);  // the host's reference
    return ASGICORE_OK;
}

int Context::outcome(Scope *s)
{
    Lock lk(mu_);
    return s->outcome;
}

int Context::new_app(const asgicore_app_callbacks &cb, void *user,
                     bool threaded, App **out)
{
    HostCall call(*this);
    if (!cb.start || !cb.notify || (threaded && !cb.wake))
        return ASGICORE_ERR_INVALID;
    auto *app = new (std::nothrow) asgicore_app();
    if (!app)
        return ASGICORE_ERR_NOMEM;
    try {
        // Each app is queued for a wake at most once: with this capacity,
        // queue_app never allocates.
        size_t count = 1;
        for (App *a = apps_.front(); a; a = a->link.next->owner)
            count++;
        app_wakes_.reserve(count);
    } catch (const std::bad_alloc &) {
        delete app;
        return ASGICORE_ERR_NOMEM;
    }
    app->ctx = this;
    app->cb = cb;
    app->user = user;
    app->threaded = threaded;
    app->pending = threaded ? &app->queue : &inline_queue_;
    apps_.push_back(app);
    *out = app;
    return ASGICORE_OK;
}

int Context::free_app(App *app)
{
    HostCall call(*this);
    if (app->owned_scopes)
        return ASGICORE_ERR_BUSY;
    // Finished scopes may still sit in a queue with stale notifications.
    for (Scope *s = all_scopes_.front(); s;) {
        Scope *next = s->all_link.next->owner;
        if (s->app == app && s->app_link.linked()) {
            ScopeQueue::remove(s);
            s->app_work = 0;
            unref(s);
        }
        s = next;
    }
    app_wakes_.erase(std::remove(app_wakes_.begin(), app_wakes_.end(), app),
                     app_wakes_.end());
    apps_.remove(app);
    delete static_cast<asgicore_app *>(app);
    return ASGICORE_OK;
}

}  // namespace asgicore
