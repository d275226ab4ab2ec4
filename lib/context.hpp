// The library's context: one per host event loop. It owns the scopes, the
// apps, the timer heap and the queues between host and app, and implements
// the connection-scope rules (docs/lifecycle.md).
//
// Locking: one mutex guards everything. No callback is ever invoked with it
// held, so callbacks may make app-side calls (and the host may release or
// disconnect a scope from its own callbacks).
#pragma once

#include "app.hpp"
#include "asgicore.h"
#include "brief_spin_mutex.hpp"
#include "intrusive_list.hpp"
#include "scope.hpp"
#include "scope_blocks.hpp"
#include "timer_heap.hpp"

#include <mutex>
#include <string>
#include <vector>

namespace asgicore {

class Context {
public:
    Context(const asgicore_settings &settings, const asgicore_callbacks &cb,
            void *user) noexcept;
    ~Context();
    Context(const Context &) = delete;
    Context &operator=(const Context &) = delete;

    // Host side (host thread).
    int process();
    asgicore_time expiry();
    int handle_expiry(asgicore_time now);
    void counters(asgicore_counters &out);
    int open_scope(App *app, const asgicore_scope_info &info, void *host_data,
                   asgicore_scope **out);
    int feed_body(Scope *s, const void *data, size_t len, bool more);
    int feed_raw(Scope *s, const void *data, size_t len, asgicore_time now);
    int going_away(Scope *s, asgicore_time now);
    int disconnect(Scope *s, int reason, asgicore_time now);
    int write_ready(Scope *s);
    int reframed(Scope *s);
    int release(Scope *s, asgicore_time now);
    int outcome(Scope *s);
    int new_app(const asgicore_app_callbacks &cb, void *user, bool threaded,
                App **out);
    int free_app(App *app);

    // App side (any one thread per scope).
    int dispatch(App *app);
    int app_log(App *app, Scope *s, int level, const char *message);
    int app_batch(App *app, bool on);
    int set_app_state(App *app, int state, const char *message);
    int app_state(App *app, char *buf, size_t size);
    int receive(Scope *s, asgicore_event &ev);
    int receive_v1(Scope *s, asgicore_event &ev);
    int receive_v2(Scope *s, asgicore_event_v2 &ev);
    int ws_accept(Scope *s, const asgicore_str *subprotocol,
                  const asgicore_header *headers, size_t count);
    int ws_send(Scope *s, bool text, const void *data, size_t len);
    int ws_close(Scope *s, int code, const char *reason, size_t len);
    int send_start(Scope *s, int status, const asgicore_header *headers,
                   size_t count, bool trailers);
    int send_body(Scope *s, const void *data, size_t len, bool more);
    int send_trailers(Scope *s, const asgicore_header *trailers, size_t count,
                      bool more);
    int finish(Scope *s, bool failed, const char *message);
    int hold(Scope *s);
    int drop(Scope *s);

private:
    using Lock = std::unique_lock<BriefSpinMutex>;
    class HostCall;
    class AppCall;

    struct LogRecord {
        int level;
        Scope *scope;  // holds a ref until emitted; may be null
        void *host_data;
        std::string message;
    };

    // Queueing (lock held).
    void queue_host(Scope *s, unsigned char work);
    void queue_app(Scope *s, unsigned char work, int status = 0);
    void log(int level, Scope *s, std::string message);
    void maybe_gone(Scope *s);
    void want_host_loop();
    void unref(Scope *s) noexcept;
    void destroy(Scope *s) noexcept;

    // Rules (lock held).
    void make_receive_ready(Scope *s);
    void mark_client_gone(Scope *s, int reason, asgicore_time now);
    void cancel(Scope *s);
    void start_grace(Scope *s, asgicore_time now);
    // Websocket scopes (ws_calls.cpp).
    void ws_refuse(Scope *s, int status, const char *why);
    void ws_deny(Scope *s, int status);
    void ws_settle(Scope *s);
    bool ws_reading_blocked(Scope *s) const noexcept;
    int ws_precheck(Scope *s, const char *message, bool gone_refused);
    void ws_maybe_resume(Scope *s);
    void ws_arm_timer(Scope *s);
    void ws_expire(Scope *s, asgicore_time now);
    void ws_finish(Scope *s, bool failed);
    void ws_fail(Scope *s);
    void want_done(Scope *s);
    void end_app(Scope *s, AppState end) noexcept;
    void let_go_of_app_side(Scope *s) noexcept;
    void decide_outcome(Scope *s);
    int send_failed(Scope *s, int code, const std::string &what);
    void fail_response(Scope *s);
    int late_call(Scope *s, const char *what, bool is_send);
    int queue_output(Scope *s, OutMessage *msg, size_t bytes);
    void discard_output(Scope *s) noexcept;
    void drop_body(Scope *s) noexcept;
    int send_precheck(Scope *s, const char *message);
    int feed_body_locked(Scope *s, const void *data, size_t len, bool more);

    // The host loop and its steps (lock held; they unlock around callbacks).
    void run_host_loop(Lock &lk);
    void serve_host(Scope *s, Lock &lk);
    void flush_output(Scope *s, Lock &lk);
    void report_done(Scope *s, Lock &lk);
    void deliver_app_work(Scope *s, Lock &lk);
    void fire_wakes(Lock &lk);

    BriefSpinMutex mu_;
    asgicore_settings settings_;
    asgicore_callbacks cb_;
    void *user_;

    IntrusiveList<Scope, &Scope::all_link> all_scopes_;
    IntrusiveList<Scope, &Scope::host_link> host_queue_;
    ScopeQueue inline_queue_;  // notifications for inline apps
    IntrusiveList<App, &App::link> apps_;
    TimerHeap timers_;
    std::vector<LogRecord> logs_;
    std::vector<LogRecord> log_batch_;  // logs_ being delivered
    std::vector<App *> app_wakes_;      // app wakes to fire once unlocked

    ScopeBlocks scope_blocks_;  // destroyed after the scopes
    asgicore_counters counters_{};
    asgicore_time host_timer_ = ASGICORE_TIME_NEVER;  // what the host has
    asgicore_time last_now_ = 0;  // latest time the host passed in
    bool in_host_call_ = false;   // a host-side call is running its loop
    bool host_wake_armed_ = false;
    bool host_wake_due_ = false;  // fire cb_.wake once unlocked
    // The calling thread batches its app-side calls for this context: its
    // host wake waits for the batch's end (asgicore_app_batch).
    static thread_local const Context *batching_;
};

}  // namespace asgicore

struct asgicore_ctx : asgicore::Context {
    using Context::Context;
};
