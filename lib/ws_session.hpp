// One WebSocket connection after its 101, sans-I/O: client bytes in, the
// app's events out; the app's messages and closes in, frames for the host
// out; a manual clock for keepalive pings and the close handshake's
// timeout. The protocol rules of the websocket scope live here (W5-W9,
// W13); the context adds the ASGI scope around it (threads, grace,
// cancel, counters).
#pragma once

#include "asgicore.h"
#include "ws_frame.hpp"

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>

namespace asgicore::ws {

struct Settings {
    size_t max_message = 1 << 20;        // a message over it: 1009
    size_t read_buffer_limit = 1 << 20;  // undelivered bytes before pausing
    uint64_t ping_interval_ns = 20'000'000'000;  // 0: no keepalive pings
    uint64_t close_timeout_ns = 5'000'000'000;
};

// What the app receives, in order; nothing follows a disconnect.
struct Event {
    enum Kind { message, disconnect } kind = message;
    bool text = false;
    std::string payload;  // the message, or the close reason
    unsigned code = 0;    // disconnect: 1000.., 1005 (no code), 1006 (lost)
};

enum class Phase {
    open,
    closing,  // our close frame is out: the peer's reply or the timeout
    closed,   // the close handshake is over, or failed: close TCP once the
              // output is written
};

class Session {
public:
    // May throw std::bad_alloc.
    Session(const Settings &settings, asgicore_time now);

    // Client bytes (all taken). Returns true while the host should stop
    // reading: the app has read_buffer_limit bytes it has not received
    // (W13); resume once take_event() says so. May throw std::bad_alloc.
    bool feed(const void *data, size_t len, asgicore_time now);
    // The connection is gone without a close frame (EOF, reset, a failed
    // write): the app gets 1006 after what it had not received yet.
    void lost();

    // The app's next event; false when none. *resume: the host may read
    // again (the pause of feed() is over).
    bool take_event(Event &out, bool *resume);
    bool has_event() const noexcept
    {
        return !events_.empty() || (disconnected_ && !disconnect_taken_);
    }
    bool paused() const noexcept { return paused_; }

    // The app's messages. ASGICORE_OK; ASGICORE_ERR_DISCONNECTED once the
    // connection closes or closed (nothing written); ASGICORE_ERR_INVALID
    // for a close code that may not go on the wire or a reason over 123
    // bytes. May throw std::bad_alloc.
    int send(bool text, const void *data, size_t len);
    int close(unsigned code, std::string_view reason, asgicore_time now);
    // What send() checks, without encoding: the caller frames the message
    // itself (one copy of a large one instead of two).
    int check_send(bool text, const void *data, size_t len) const;

    // Frames for the host, in order; the host takes them all.
    std::string &output() noexcept { return out_; }

    // The next time expire() must run (ASGICORE_TIME_NEVER: none).
    asgicore_time deadline() const noexcept;
    void expire(asgicore_time now);

    // The app will receive nothing more (it finished): messages are read
    // and dropped, and a pause for them ends.
    void app_gone() noexcept;
    // The times so far came from a clock that may be stale (an app call
    // carries none): the keepalive and the close timeout start again from
    // `now`.
    void restart_clock(asgicore_time now) noexcept;

    Phase phase() const noexcept { return phase_; }
    // The code of the disconnect the app got (0: not yet).
    unsigned disconnect_code() const noexcept { return disconnect_code_; }
    // What the client did wrong, when a violation ended the connection.
    const char *violation() const noexcept { return violation_; }

private:
    void decode(bool ignore_pause);
    // Never allocates: the end of the connection reaches the app even
    // when memory ran out.
    void disconnect(unsigned code, std::string &&reason) noexcept;

    Settings settings_;
    Decoder decoder_;
    Phase phase_ = Phase::open;
    std::string in_;  // client bytes not decoded yet (while paused)
    std::string out_;
    std::deque<Event> events_;
    size_t event_bytes_ = 0;
    bool paused_ = false;
    bool app_gone_ = false;
    // the app's disconnect, after every message (kept out of events_, so
    // that deciding it allocates nothing)
    bool disconnected_ = false;
    bool disconnect_taken_ = false;
    unsigned disconnect_code_ = 0;
    const char *violation_ = nullptr;
    std::string disconnect_reason_;

    asgicore_time last_heard_;     // the client's last bytes
    asgicore_time last_now_;       // the latest time given
    asgicore_time ping_sent_ = 0;  // an unanswered ping, or 0
    // While paused: the last ping sent without a deadline (or the pause's
    // start). It is answered or not: a client that closed its socket
    // answers it with a reset, which tells the host it left.
    asgicore_time probe_from_ = 0;
    asgicore_time close_deadline_ = ASGICORE_TIME_NEVER;
    uint32_t pings_ = 0;
};

}  // namespace asgicore::ws
