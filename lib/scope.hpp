// One ASGI HTTP connection scope: the state shared by the host, the app and
// the library's queues. Every field is guarded by the context's mutex,
// except `info`, which never changes after open.
#pragma once

#include "asgicore.h"
#include "intrusive_list.hpp"
#include "messages.hpp"
#include "timer_heap.hpp"
#include "ws_scope.hpp"

#include <cstdint>
#include <memory>

namespace asgicore {

class Context;
struct App;

enum class Response : unsigned char {
    none,       // no http.response.start yet
    started,    // head sent, body in progress
    body_done,  // body ended, trailers expected
    complete    // the app sent the last message of the response
};

// The states below are those docs/lifecycle.md draws; each moves forward
// only.

// The app's side.
enum class AppState : unsigned char {
    queued,          // opened, its start not delivered yet
    running,         // start delivered
    finished,        // asgicore_finish called
    not_dispatched,  // the client left before the queued start ran (L2)
};

// The client's side.
enum class ClientState : unsigned char {
    connected,
    gone,         // reported gone, and receive returns http.disconnect
    gone_unseen,  // reported gone, the app is not told: it is not running,
                  // or it ignores client aborts and has its body (L3)
};

// The request body, as the host feeds it.
enum class BodyState : unsigned char {
    expecting,  // more may be fed
    paused,     // the host was answered PENDING and waits for resume_body
    ended,      // the last chunk was fed
};

// How far the response got into the host.
enum class Delivery : unsigned char {
    nothing,  // nothing handed over: an app error can still be a 500
    head,     // the head handed over
    last,     // the last message handed over, the host backlogged
    drained,  // the last message handed over, the host not backlogged (S8)
};

// The host's done callback.
enum class Done : unsigned char {
    not_yet,
    wanted,  // due once the host has taken what the scope holds
    reported,
};

// Work for the host thread (bits of Scope::host_work).
enum HostWork : unsigned char {
    host_flush = 1,   // hand queued output to the host
    host_resume = 2,  // tell the host to feed more body
    host_gone = 4,    // scope_gone, after the release (P9)
};

// Notifications for the app (bits of Scope::app_work), delivered in this
// order.
enum AppWork : unsigned char {
    app_start = 1,
    app_receive_ready = 2,
    app_send_ready = 4,
    app_cancel = 8,
};

struct Scope {
    Context *ctx;
    App *app;
    void *host_data;
    void *app_data = nullptr;
    // Holders: the host until release, the app until finish (and until
    // each of its holds is dropped), and each queue, heap or in-progress
    // callback that refers to the scope.
    uint32_t refs = 0;
    uint32_t app_holds = 0;  // asgicore_scope_hold, not yet dropped

    asgicore_scope_info info;
    uint64_t grace_ns;

    // Who still holds the scope.
    bool host_open = true;
    // host_data may still be passed (to log lines): until the release, or
    // with a scope_gone callback until that is delivered (P9).
    bool host_data_live = true;
    AppState app_state = AppState::queued;
    bool late_receive_logged = false;  // a call after finish was logged
    bool late_send_logged = false;     // (L6), once per kind

    // The client side.
    ClientState client = ClientState::connected;
    int disconnect_reason = 0;

    // The request body.
    BodyState body_state = BodyState::expecting;
    bool receive_armed = false;
    size_t body_buffered = 0;
    Fifo<BodyChunk> body;
    BodyChunk *delivered = nullptr;  // bytes the app is reading now

    // The response.
    Response response = Response::none;
    bool expects_trailers = false;
    bool reframed = false;         // the host ends the body its own way
    bool has_body = true;          // false: 204, 205, 304 or HEAD (S7)
    int64_t declared_length = -1;  // the app's content-length (S6)
    uint64_t body_sent = 0;        // body bytes the app sent
    bool send_waiting = false;
    bool host_blocked = false;
    Delivery delivery = Delivery::nothing;
    bool response_failed = false;  // ended by an app error (500 or cut)
    size_t out_buffered = 0;
    Fifo<OutMessage> out;

    // The end.
    bool poisoned = false;  // a protocol error: later sends fail
    bool app_error = false;
    bool cancel_delivered = false;
    Done done = Done::not_yet;
    int outcome = ASGICORE_OUTCOME_NONE;

    // Queues and timer.
    unsigned char host_work = 0;
    unsigned char app_work = 0;
    int send_ready_status = 0;
    ListLink<Scope> host_link;  // Context::host_queue_
    ListLink<Scope> app_link;   // the app's notification queue
    ListLink<Scope> all_link;   // Context::all_scopes_
    asgicore_time deadline = ASGICORE_TIME_NEVER;
    size_t heap_index = TimerHeap::npos;

    // Websocket scopes only.
    std::unique_ptr<WsData> ws;

    // The small messages above: in the scope's own allocation, after the
    // request data.
    ScopeArena arena;

    bool app_running() const noexcept
    {
        return app_state == AppState::queued || app_state == AppState::running;
    }
    bool client_gone() const noexcept
    {
        return client != ClientState::connected;
    }
    bool app_sees_disconnect() const noexcept
    {
        return client == ClientState::gone;
    }
    // S6, S7: the app sent every byte its response promises (all of its
    // content-length, or the head of a response without a body), though
    // it has not ended the body yet.
    bool sent_whole() const noexcept
    {
        if (response != Response::started || expects_trailers || ws || reframed)
            return false;
        return !has_body ||
               (declared_length >= 0 &&
                body_sent == static_cast<uint64_t>(declared_length));
    }
    // The client has the app's response: its last message left the host,
    // or (sent_whole) all that it promised did before the client left. (A
    // 500 the library sent in its place is not the app's.)
    bool response_delivered() const noexcept
    {
        return response == Response::complete ||
               (response == Response::started && !response_failed &&
                delivery == Delivery::drained);
    }
    void want_done() noexcept
    {
        if (done == Done::not_yet)
            done = Done::wanted;
    }
    bool in_timer() const noexcept { return heap_index != TimerHeap::npos; }
};

}  // namespace asgicore

struct asgicore_scope : asgicore::Scope {};

namespace asgicore {

// Every Scope is allocated as an asgicore_scope: the C handle.
inline asgicore_scope *handle(Scope *s) noexcept
{
    return static_cast<asgicore_scope *>(s);
}

}  // namespace asgicore
