// The part of a Scope only websocket scopes have (ASGICORE_SCOPE_WEBSOCKET
// with an app that takes them): the handshake, then the session.
#pragma once

#include "ws_handshake.hpp"
#include "ws_session.hpp"

#include <optional>

namespace asgicore {

enum class WsState : unsigned char {
    connecting,  // websocket.connect due or delivered, no answer yet
    accepted,    // the 101 is queued: the session runs
    denied,      // answered with an HTTP response (403, denial, error)
};

struct WsData {
    WsState state = WsState::connecting;
    bool connect_delivered = false;
    ws::Handshake handshake;
    ws::Settings settings;
    std::optional<ws::Session> session;
    ws::Event delivered;  // what the app reads now
    bool disconnect_delivered = false;
    bool app_told = false;  // the app was told the connection ended
    // feed_raw answered PENDING: the host reads again on resume_body
    bool reading_paused = false;
    // the session's times came from an app call (no clock): the host's
    // next time restarts them
    bool clock_stale = false;
    asgicore_time grace_deadline = ASGICORE_TIME_NEVER;

    // The host's time `now` reaches the session's timers if they are stale.
    void refresh_clock(asgicore_time now)
    {
        if (session && clock_stale) {
            clock_stale = false;
            session->restart_clock(now);
        }
    }
};

}  // namespace asgicore
