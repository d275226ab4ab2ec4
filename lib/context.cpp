// The context's machinery: call guards, queues, references and the host
// loop that hands work to host and inline-app callbacks.
#include "context.hpp"
#include "call_guards.hpp"

#include <algorithm>
#include <new>
#include <utility>

namespace asgicore {

Context::Context(const asgicore_settings &settings,
                 const asgicore_callbacks &cb, void *user) noexcept
    : settings_(settings)
    , cb_(cb)
    , user_(user)
{
}

Context::~Context()
{
    while (Scope *s = all_scopes_.front()) {
        if (s->host_link.linked())
            host_queue_.remove(s);
        if (s->app_link.linked())
            ScopeQueue::remove(s);
        destroy(s);
    }
    while (App *app = apps_.pop_front())
        delete static_cast<asgicore_app *>(app);
}

// ------------------------------------------------------------ queueing

void Context::want_host_loop()
{
    // Inside a host-side call the loop runs before it returns; otherwise
    // the host must be woken to call asgicore_ctx_process.
    if (!in_host_call_ && !host_wake_armed_) {
        host_wake_armed_ = true;
        host_wake_due_ = true;
    }
}

void Context::queue_host(Scope *s, unsigned char work)
{
    if (!s->host_open)
        return;  // (scope_gone is queued by maybe_gone)
    s->host_work |= work;
    if (!s->host_link.linked()) {
        host_queue_.push_back(s);
        s->refs++;
    }
    want_host_loop();
}

void Context::queue_app(Scope *s, unsigned char work, int status)
{
    // Nothing reaches an app about a scope it has finished.
    if (!s->app_running())
        return;
    s->app_work |= work;
    if (work & app_send_ready)
        s->send_ready_status = status;
    App *app = s->app;
    if (!s->app_link.linked()) {
        app->pending->push_back(s);
        s->refs++;
    }
    if (!app->threaded) {
        want_host_loop();
    } else if (!app->wake_armed) {
        app->wake_armed = true;
        app_wakes_.push_back(app);  // capacity reserved in new_app
    }
}

void Context::log(int level, Scope *s, std::string message)
{
    if (!cb_.log)
        return;
    try {
        logs_.push_back(LogRecord{level, s, nullptr, std::move(message)});
    } catch (const std::bad_alloc &) {
        return;  // a log line is not worth failing the call
    }
    if (s)
        s->refs++;
    want_host_loop();
}

// P9: once the host released the scope and the app finished, the host
// hears that host_data will not come again, after the scope's log lines
// queued before (the host loop delivers log lines first). Through the
// host queue: nothing to allocate, so it cannot be lost.
void Context::maybe_gone(Scope *s)
{
    if (s->host_open || s->app_running() || !s->host_data_live)
        return;
    if (!cb_.scope_gone) {
        s->host_data_live = false;
        return;
    }
    s->host_work |= host_gone;
    if (!s->host_link.linked()) {
        host_queue_.push_back(s);
        s->refs++;
    }
    want_host_loop();
}

void Context::unref(Scope *s) noexcept
{
    if (--s->refs == 0)
        destroy(s);
}

void Context::destroy(Scope *s) noexcept
{
    all_scopes_.remove(s);
    if (s->in_timer())
        timers_.remove(s);
    s->body.clear();
    s->out.clear();
    if (s->delivered)
        BodyChunk::destroy(s->delivered);
    auto *handle = static_cast<asgicore_scope *>(s);
    size_t total = static_cast<size_t>(
        s->arena.end() - reinterpret_cast<unsigned char *>(handle));
    handle->~asgicore_scope();
    if (total != ScopeBlocks::size || !scope_blocks_.keep(handle))
        ::operator delete(handle);
}

void Context::discard_output(Scope *s) noexcept
{
    s->out.clear();
    s->out_buffered = 0;
}

void Context::drop_body(Scope *s) noexcept
{
    s->body.clear();
    s->body_buffered = 0;
}

// ------------------------------------------------------------ host loop

void Context::run_host_loop(Lock &lk)
{
    for (;;) {
        // Log lines first: a scope's lines reach the host before its
        // scope_gone.
        if (!logs_.empty()) {
            // Both vectors keep their capacity: a scope_gone per request
            // costs no allocation.
            std::vector<LogRecord> &batch = log_batch_;
            batch.swap(logs_);
            for (LogRecord &r : batch) {
                Scope *s = r.scope;
                if (s && (s->host_open || s->host_data_live))
                    r.host_data = s->host_data;
            }
            lk.unlock();
            for (const LogRecord &r : batch)
                cb_.log(user_, r.level, r.host_data, r.message.c_str());
            lk.lock();
            for (LogRecord &r : batch)
                if (r.scope)
                    unref(r.scope);
            batch.clear();
            continue;
        }
        if (Scope *s = host_queue_.pop_front()) {
            serve_host(s, lk);
            unref(s);
            continue;
        }
        if (Scope *s = inline_queue_.pop_front()) {
            deliver_app_work(s, lk);
            unref(s);
            continue;
        }
        asgicore_time next = timers_.earliest();
        if (next != host_timer_) {
            host_timer_ = next;
            if (cb_.set_timer) {
                lk.unlock();
                cb_.set_timer(user_, next);
                lk.lock();
            }
            continue;
        }
        return;
    }
}

void Context::serve_host(Scope *s, Lock &lk)
{
    unsigned char work = s->host_work;
    s->host_work = 0;
    if (!s->host_open) {
        if ((work & host_gone) && s->host_data_live) {
            s->host_data_live = false;
            void *host_data = s->host_data;
            lk.unlock();
            cb_.scope_gone(user_, host_data);
            lk.lock();
        }
        return;
    }
    if (work & host_flush)
        flush_output(s, lk);
    if ((work & host_resume) && s->host_open && !s->client_gone() &&
        cb_.resume_body) {
        lk.unlock();
        cb_.resume_body(user_, handle(s), s->host_data);
        lk.lock();
    }
    report_done(s, lk);
}

void Context::flush_output(Scope *s, Lock &lk)
{
    while (s->host_open && !s->host_blocked && !s->client_gone()) {
        OutMessage *msg = s->out.pop();
        if (!msg)
            break;
        if (msg->kind == OutKind::body || msg->kind == OutKind::raw)
            s->out_buffered -= msg->len;
        // B2: from here the head is the host's. An app failing on its
        // thread meanwhile cuts the response; a 500 would be a second head.
        if (msg->kind == OutKind::head && s->delivery == Delivery::nothing)
            s->delivery = Delivery::head;
        void *host_data = s->host_data;
        int rc = ASGICORE_OK;
        lk.unlock();
        switch (msg->kind) {
        case OutKind::head:
            if (cb_.send_head)
                rc = cb_.send_head(user_, handle(s), host_data, msg->status,
                                   msg->headers, msg->header_count,
                                   msg->has_trailers);
            break;
        case OutKind::body:
            if (cb_.send_body)
                rc = cb_.send_body(user_, handle(s), host_data, msg->data,
                                   msg->len, msg->last);
            break;
        case OutKind::trailers:
            if (cb_.send_trailers)
                rc =
                    cb_.send_trailers(user_, handle(s), host_data, msg->headers,
                                      msg->header_count, msg->last);
            break;
        case OutKind::raw:
            rc = cb_.send_raw(user_, handle(s), host_data, msg->data, msg->len);
            break;
        }
        bool last = msg->last;
        lk.lock();
        OutMessage::destroy(msg);  // (its scope's arena is locked too)
        if (rc < 0) {
            mark_client_gone(s, ASGICORE_DISCONNECT_WRITE_ERROR, last_now_);
            break;
        }
        if (rc == ASGICORE_PENDING)
            s->host_blocked = true;
        if (last)
            s->delivery = Delivery::last;
    }
    if (s->delivery == Delivery::last && !s->host_blocked &&
        !s->client_gone()) {
        // S8: the whole response left the host's buffers: the request can
        // end even if the app runs on (background work after the
        // response). Until then a client that leaves is a disconnect.
        s->delivery = Delivery::drained;
        s->want_done();
    }
    if (s->send_waiting && !s->host_blocked && !s->client_gone() &&
        s->out_buffered <= settings_.send_buffer_limit) {
        s->send_waiting = false;
        queue_app(s, app_send_ready, ASGICORE_OK);
    }
    if (s->ws && !s->host_blocked && !s->client_gone())
        ws_maybe_resume(s);  // the frames for the client drained
}

void Context::report_done(Scope *s, Lock &lk)
{
    if (s->done != Done::wanted || !s->host_open)
        return;
    if (s->ws && s->ws->state == WsState::accepted &&
        s->delivery != Delivery::drained && !s->client_gone())
        return;  // W7: the close handshake is not over
    if (!s->out.empty() && !s->client_gone())
        return;  // the host has not taken everything yet
    if (s->delivery == Delivery::last && !s->client_gone())
        return;  // S8: the end of the response is still in its buffers
    s->done = Done::reported;
    decide_outcome(s);
    if (!cb_.done)
        return;
    int outcome = s->outcome;
    int complete = s->delivery == Delivery::drained;
    lk.unlock();
    cb_.done(user_, handle(s), s->host_data, outcome, complete);
    lk.lock();
}

void Context::deliver_app_work(Scope *s, Lock &lk)
{
    unsigned char work = s->app_work;
    int status = s->send_ready_status;
    s->app_work = 0;
    App *app = s->app;
    if ((work & app_start) && s->app_state == AppState::queued) {
        s->app_state = AppState::running;
        lk.unlock();
        app->cb.start(app->user, handle(s));
        lk.lock();
    }
    static constexpr struct {
        unsigned char bit;
        int event;
    } order[] = {
        {app_receive_ready, ASGICORE_NOTIFY_RECEIVE_READY},
        {app_send_ready, ASGICORE_NOTIFY_SEND_READY},
        {app_cancel, ASGICORE_NOTIFY_CANCEL},
    };
    for (const auto &n : order) {
        // The app may have finished inside an earlier callback.
        if (!(work & n.bit) || s->app_state != AppState::running)
            continue;
        lk.unlock();
        app->cb.notify(app->user, handle(s), n.event,
                       n.bit == app_send_ready ? status : ASGICORE_OK);
        lk.lock();
    }
}

thread_local const Context *Context::batching_ = nullptr;

void Context::fire_wakes(Lock &lk)
{
    for (;;) {
        App *apps[8];
        size_t n = 0;
        while (n < 8 && !app_wakes_.empty()) {
            apps[n++] = app_wakes_.back();
            app_wakes_.pop_back();
        }
        // A batching thread's wake waits for the batch's end; any other
        // caller fires it.
        bool host = host_wake_due_ && batching_ != this;
        if (host)
            host_wake_due_ = false;
        if (!n && !host)
            break;
        lk.unlock();
        if (host && cb_.wake)
            cb_.wake(user_);
        for (size_t i = 0; i < n; i++)
            apps[i]->cb.wake(apps[i]->user);
        lk.lock();
    }
}

// ------------------------------------------------------------ rules

void Context::make_receive_ready(Scope *s)
{
    if (s->receive_armed) {
        s->receive_armed = false;
        queue_app(s, app_receive_ready);
    }
}

void Context::want_done(Scope *s)
{
    s->want_done();
    queue_host(s, host_flush);
}

// The app let go of the scope (finished, or never started): it no longer
// counts as running, nor as its app's.
void Context::end_app(Scope *s, AppState end) noexcept
{
    s->app_state = end;
    s->app->owned_scopes--;
    counters_.running_apps--;
}

void Context::mark_client_gone(Scope *s, int reason, asgicore_time now)
{
    if (s->client_gone())
        return;  // idempotent (G6): one http.disconnect, one timer
    s->client = ClientState::gone_unseen;  // until the app is told, below
    s->disconnect_reason = reason;
    if (s->ws) {
        // W5: the app's receive says 1006 (after what arrived), once
        if (s->ws->session)
            s->ws->session->lost();
        s->ws->app_told = true;
    }
    if (reason > 0 && reason < ASGICORE_DISCONNECT_REASONS)
        counters_.disconnects[reason]++;
    if (s->sent_whole() && s->out.empty() && !s->host_blocked &&
        reason != ASGICORE_DISCONNECT_WRITE_ERROR) {
        // The client left with every byte it was promised: no abort. An
        // app that ends its body only later (Starlette's HTTP middleware,
        // after the request's background tasks) is not cancelled for it.
        s->delivery = Delivery::drained;
    }
    discard_output(s);  // nothing more can reach the client

    if (!s->app_running()) {
        if (s->done != Done::not_yet)
            queue_host(s, host_flush);
        return;
    }
    if (s->app_state == AppState::queued) {
        // The start is still queued for a threaded app: never run it (L2).
        end_app(s, AppState::not_dispatched);
        counters_.not_dispatched++;
        drop_body(s);
        want_done(s);
        maybe_gone(s);
        unref(s);  // the app's reference; the caller holds another
        return;
    }
    bool hidden = (s->info.flags & ASGICORE_SCOPE_IGNORE_CLIENT_ABORT) &&
                  s->body_state == BodyState::ended;
    if (hidden) {
        // The app runs to completion, its output goes nowhere (L3).
        if (s->send_waiting) {
            s->send_waiting = false;
            queue_app(s, app_send_ready, ASGICORE_OK);
        }
        return;
    }
    s->client = ClientState::gone;
    drop_body(s);  // unread body is dropped (R8)
    make_receive_ready(s);
    if (s->send_waiting) {
        s->send_waiting = false;
        queue_app(s, app_send_ready, ASGICORE_ERR_DISCONNECTED);
    }
    if (s->response_delivered()) {
        // The app sent its whole response; nothing left to cancel, and
        // nothing for the host to wait for (S8). A websocket scope's app
        // still runs its connection: it gets its grace period (W11).
        want_done(s);
        if (!s->ws)
            return;
    }
    start_grace(s, now);
}

// G1: the app that was told the client left gets the grace period, then
// one cancel.
void Context::start_grace(Scope *s, asgicore_time now)
{
    if (s->grace_ns == 0) {
        cancel(s);
        return;
    }
    asgicore_time end = now > ASGICORE_TIME_NEVER - s->grace_ns
                            ? ASGICORE_TIME_NEVER - 1
                            : now + s->grace_ns;
    if (s->ws) {
        s->ws->grace_deadline = end;
        ws_arm_timer(s);
        return;
    }
    s->deadline = end;
    timers_.push(s);  // capacity reserved in open_scope
    s->refs++;
}

void Context::cancel(Scope *s)
{
    if (!s->app_running() || s->cancel_delivered)
        return;
    s->cancel_delivered = true;
    if (cb_.log) {  // building the message costs allocations
        try {
            log(ASGICORE_LOG_INFO, s,
                "the app did not finish within the grace period of " +
                    std::to_string(s->grace_ns / 1000000) +
                    " ms after the client disconnected; cancelling it");
        } catch (const std::bad_alloc &) {
            // the cancel matters, its log line does not
        }
    }
    queue_app(s, app_cancel);
    want_done(s);
}

void Context::decide_outcome(Scope *s)
{
    if (s->outcome != ASGICORE_OUTCOME_NONE)
        return;
    if (s->cancel_delivered) {
        s->outcome = ASGICORE_OUTCOME_CANCELLED;
        counters_.cancelled++;
    } else if (s->client_gone() && s->delivery != Delivery::drained) {
        s->outcome = ASGICORE_OUTCOME_CLIENT_DISCONNECTED;
        counters_.disconnected++;
    } else if (s->app_error) {
        s->outcome = ASGICORE_OUTCOME_APP_ERROR;
        counters_.app_errors++;
    } else {
        s->outcome = ASGICORE_OUTCOME_COMPLETE;
        counters_.completed++;
    }
}

}  // namespace asgicore
