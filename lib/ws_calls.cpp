// Websocket scopes: the handshake's answer (accept, deny, refuse), the
// session between the host's raw bytes and the app's messages, and its
// timers next to the grace period (W1-W16).
#include "call_guards.hpp"
#include "context.hpp"
#include "header_check.hpp"

#include <algorithm>
#include <cstring>
#include <string>
#include <strings.h>
#include <vector>

namespace asgicore {

namespace {

asgicore_str str_of(const std::string &s) noexcept
{
    return asgicore_str{s.data(), s.size()};
}

asgicore_str str_of(const char *s) noexcept
{
    return asgicore_str{s, std::strlen(s)};
}

}  // namespace

// W1: a handshake the library refuses never reaches the app: the client
// gets 400, or 426 naming the version the library speaks.
void Context::ws_refuse(Scope *s, int status, const char *why)
{
    std::string body = std::string(why) + "\n";
    std::string length = std::to_string(body.size());
    asgicore_header headers[] = {
        {str_of("content-type"), str_of("text/plain; charset=utf-8")},
        {str_of("content-length"), str_of(length)},
        {str_of("sec-websocket-version"), str_of("13")},
    };
    size_t count = status == 426 ? 3 : 2;
    OutMessage *head =
        OutMessage::make_head(&s->arena, status, headers, count, false);
    OutMessage *msg =
        OutMessage::make_body(&s->arena, body.data(), body.size(), true);
    if (head && msg) {
        s->out.push(head);
        s->out.push(msg);
    } else {
        // without memory for the answer the host closes the connection
        if (head)
            OutMessage::destroy(head);
        if (msg)
            OutMessage::destroy(msg);
        s->want_done();
    }
    s->ws->state = WsState::denied;
    s->response = Response::complete;
    log(ASGICORE_LOG_INFO, s,
        "WebSocket handshake refused with " + std::to_string(status) + ": " +
            why);
    queue_host(s, host_flush);
}

// W2: websocket.close before accept is a 403 (an app error before accept,
// a 500: fail_response).
void Context::ws_deny(Scope *s, int status)
{
    static const asgicore_header headers[] = {
        {{"content-length", 14}, {"0", 1}},
    };
    OutMessage *head =
        OutMessage::make_head(&s->arena, status, headers, 1, false);
    OutMessage *body = OutMessage::make_body(&s->arena, nullptr, 0, true);
    if (!head || !body) {
        if (head)
            OutMessage::destroy(head);
        if (body)
            OutMessage::destroy(body);
        s->want_done();  // the host closes the connection
    } else {
        s->out.push(head);
        s->out.push(body);
    }
    s->ws->state = WsState::denied;
    s->response = Response::complete;
    make_receive_ready(s);  // a waiting receive says disconnect
    queue_host(s, host_flush);
}

// After the session changed: its frames go to the host, its events wake
// the app, the app hears once that the connection ended (and gets its
// grace period), the end of the close handshake lets the host close, and
// the timer follows the session's deadline.
void Context::ws_settle(Scope *s)
{
    WsData &w = *s->ws;
    ws::Session &session = *w.session;
    bool closed = session.phase() == ws::Phase::closed;
    std::string &out = session.output();
    if (!out.empty() && !s->client_gone()) {
        OutMessage *msg =
            OutMessage::make_raw(&s->arena, out.data(), out.size(), closed);
        if (msg) {  // else it stays in the session for the next settle
            s->out.push(msg);
            s->out_buffered += out.size();
            out.clear();
        }
    } else if (closed && s->delivery == Delivery::head) {
        s->delivery = Delivery::last;  // nothing more to write
    }
    if (session.has_event())
        make_receive_ready(s);
    if (session.disconnect_code() && !w.app_told) {
        // W11: told, then the grace period; a waiting send is released
        w.app_told = true;
        if (session.violation())  // W8: the one line that says why
            log(ASGICORE_LOG_INFO, s,
                "WebSocket closed with " +
                    std::to_string(session.disconnect_code()) +
                    ": the client sent " + session.violation());
        if (s->app_running()) {
            if (s->send_waiting) {
                s->send_waiting = false;
                queue_app(s, app_send_ready, ASGICORE_ERR_DISCONNECTED);
            }
            start_grace(s, last_now_);
        }
    }
    queue_host(s, host_flush);
    ws_arm_timer(s);
}

// One heap entry per scope: the earlier of the grace period's end and the
// session's deadline.
void Context::ws_arm_timer(Scope *s)
{
    WsData &w = *s->ws;
    asgicore_time d = s->app_running() ? w.grace_deadline : ASGICORE_TIME_NEVER;
    if (w.session && s->host_open)
        // a stale clock: expire at once, to learn the host's time
        d = std::min(d, w.clock_stale ? 0 : w.session->deadline());
    if (s->in_timer()) {
        if (s->deadline == d)
            return;
        timers_.remove(s);
        if (d == ASGICORE_TIME_NEVER) {
            s->deadline = d;
            unref(s);  // the timer's reference; the caller holds another
            return;
        }
        s->deadline = d;
        timers_.push(s);  // the entry it had
        return;
    }
    if (d == ASGICORE_TIME_NEVER)
        return;
    s->deadline = d;
    timers_.push(s);  // capacity reserved in open_scope
    s->refs++;
}

void Context::ws_expire(Scope *s, asgicore_time now)
{
    WsData &w = *s->ws;
    if (w.grace_deadline <= now) {
        w.grace_deadline = ASGICORE_TIME_NEVER;
        cancel(s);
    }
    w.refresh_clock(now);
    if (w.session && s->host_open && w.session->deadline() <= now &&
        s->host_blocked && w.session->phase() != ws::Phase::closed) {
        // W7, W9: the client cannot answer a close or a ping still queued
        // behind what it is reading: while the host is backlogged the
        // timers wait (the host's send timeout bounds a client that reads
        // nothing)
        w.session->restart_clock(now);
        ws_arm_timer(s);
        return;
    }
    if (w.session && s->host_open && w.session->deadline() <= now) {
        bool was_closed = w.session->phase() == ws::Phase::closed;
        w.session->expire(now);
        if (!was_closed && w.session->phase() == ws::Phase::closed) {
            // W9: no pong within the interval, or W7: no reply to our
            // close within the close timeout: the client is gone
            mark_client_gone(s, ASGICORE_DISCONNECT_TIMEOUT, now);
        }
        ws_settle(s);
        return;
    }
    ws_arm_timer(s);
}

// W13, and a client that sends pings but reads no pongs: the host stops
// reading while the app has not received a message limit's worth, or while
// the frames for the client exceed the send buffer.
bool Context::ws_reading_blocked(Scope *s) const noexcept
{
    return s->ws->session->paused() ||
           s->out_buffered > settings_.send_buffer_limit;
}

void Context::ws_maybe_resume(Scope *s)
{
    WsData &w = *s->ws;
    if (w.reading_paused && w.session && !ws_reading_blocked(s)) {
        w.reading_paused = false;
        queue_host(s, host_resume);
    }
}

int Context::feed_raw(Scope *s, const void *data, size_t len, asgicore_time now)
{
    HostCall call(*this);
    if (!s->host_open || !s->ws || s->ws->state != WsState::accepted)
        return ASGICORE_ERR_STATE;
    if (len && !data)
        return ASGICORE_ERR_INVALID;
    if (s->client_gone() || s->ws->session->phase() == ws::Phase::closed)
        return ASGICORE_ERR_DISCONNECTED;
    last_now_ = std::max(last_now_, now);
    WsData &w = *s->ws;
    w.refresh_clock(now);
    w.session->feed(data, len, now);
    ws_settle(s);
    if (!ws_reading_blocked(s))
        return ASGICORE_OK;
    w.reading_paused = true;
    // An inline app may receive in this call's loop and lift the pause:
    // resume_body must never come before the PENDING it answers, so the
    // answer is settled after the loop (as feed_body does).
    s->refs++;
    call.run_loop();
    bool paused = s->host_open && w.reading_paused;
    unref(s);
    return paused ? ASGICORE_PENDING : ASGICORE_OK;
}

// W15: the host is stopping: the close handshake with 1001, as an app's
// close, unless one is under way.
int Context::going_away(Scope *s, asgicore_time now)
{
    HostCall call(*this);
    if (!s->host_open || !s->ws || s->ws->state != WsState::accepted)
        return ASGICORE_ERR_STATE;
    if (s->client_gone())
        return ASGICORE_ERR_DISCONNECTED;
    last_now_ = std::max(last_now_, now);
    WsData &w = *s->ws;
    w.refresh_clock(now);
    int rc = w.session->close(ws::close_going_away, {}, now);
    if (rc != ASGICORE_OK)
        return rc;
    ws_settle(s);
    ws_maybe_resume(s);  // W7: the reply is read, even from a paused app
    return ASGICORE_OK;
}

int Context::receive_v1(Scope *s, asgicore_event &ev)
{
    if (s->ws)
        return ASGICORE_ERR_STATE;  // its app receives with version 2
    return receive(s, ev);
}

int Context::receive_v2(Scope *s, asgicore_event_v2 &ev)
{
    if (!s->ws) {
        asgicore_event v1;
        int rc = receive(s, v1);
        if (rc == ASGICORE_OK)
            ev = asgicore_event_v2{v1.type,      v1.body, v1.body_len,
                                   v1.more_body, 0,       0};
        return rc;
    }
    AppCall call(*this);
    if (s->app_state == AppState::finished)
        return late_call(s, "receive", false);
    WsData &w = *s->ws;
    if (!w.connect_delivered) {
        w.connect_delivered = true;  // W1: always first
        ev = asgicore_event_v2{
            ASGICORE_EVENT_WEBSOCKET_CONNECT, nullptr, 0, 0, 0, 0};
        return ASGICORE_OK;
    }
    if (w.state == WsState::accepted) {
        ws::Event e;
        bool resume = false;
        bool was_paused = w.session->paused();
        if (w.session->take_event(e, &resume)) {
            if (was_paused && !w.session->paused()) {
                // the kept bytes were decoded: their pongs or echo go
                // out, the keepalive restarts (W9, W13)
                ws_settle(s);
            }
            if (resume)
                ws_maybe_resume(s);  // W13: read again
            w.delivered = std::move(e);
            if (w.delivered.kind == ws::Event::disconnect)
                w.disconnect_delivered = true;
        } else if (!w.disconnect_delivered) {
            s->receive_armed = true;
            return ASGICORE_PENDING;
        }
        // after the disconnect, every receive says it again
        bool gone = w.delivered.kind == ws::Event::disconnect;
        ev = asgicore_event_v2{gone ? ASGICORE_EVENT_WEBSOCKET_DISCONNECT
                                    : ASGICORE_EVENT_WEBSOCKET_RECEIVE,
                               w.delivered.payload.data(),
                               w.delivered.payload.size(),
                               0,
                               w.delivered.text ? 1 : 0,
                               static_cast<int>(w.delivered.code)};
        return ASGICORE_OK;
    }
    if (w.state == WsState::denied || s->app_sees_disconnect()) {
        // the client left before the answer (1006), or was answered
        ev = asgicore_event_v2{ASGICORE_EVENT_WEBSOCKET_DISCONNECT,
                               nullptr,
                               0,
                               0,
                               0,
                               s->client_gone() ? ws::close_abnormal
                                                : ws::close_normal};
        return ASGICORE_OK;
    }
    s->receive_armed = true;
    return ASGICORE_PENDING;
}

// The checks every websocket message begins with; 0 to go on.
int Context::ws_precheck(Scope *s, const char *message, bool gone_refused)
{
    if (s->app_state == AppState::finished)
        return late_call(s, message, true);
    if (!s->ws)
        return ASGICORE_ERR_STATE;
    if (s->poisoned)
        return ASGICORE_ERR_PROTOCOL;
    if (gone_refused && s->app_sees_disconnect())
        return ASGICORE_ERR_DISCONNECTED;  // W10: not an app error
    return 0;
}

int Context::ws_accept(Scope *s, const asgicore_str *subprotocol,
                       const asgicore_header *headers, size_t count)
{
    AppCall call(*this);
    if (int rc = ws_precheck(s, "websocket.accept", false))
        return rc;
    WsData &w = *s->ws;
    if (w.state != WsState::connecting || s->response != Response::none)
        return send_failed(s, ASGICORE_ERR_PROTOCOL,
                           "websocket.accept after the handshake was "
                           "answered");
    if (s->app_sees_disconnect())
        return ASGICORE_ERR_DISCONNECTED;
    std::string sub = subprotocol && subprotocol->len
                          ? std::string(subprotocol->data, subprotocol->len)
                          : std::string();
    if (!sub.empty() && std::find(w.handshake.subprotocols.begin(),
                                  w.handshake.subprotocols.end(),
                                  sub) == w.handshake.subprotocols.end())
        return send_failed(s, ASGICORE_ERR_BAD_HEADER,
                           "websocket.accept with the subprotocol \"" + sub +
                               "\", which the client did not offer");
    if (!headers_valid(headers, count))
        return send_failed(s, ASGICORE_ERR_BAD_HEADER,
                           "websocket.accept header with an invalid name, or "
                           "a control character in a value: not written");
    // W3: the handshake's own headers are the server's (a second Upgrade
    // or Sec-WebSocket-Accept fails the client; a length frames nothing)
    static const char *const reserved[] = {"upgrade",
                                           "connection",
                                           "sec-websocket-accept",
                                           "sec-websocket-protocol",
                                           "sec-websocket-extensions",
                                           "content-length",
                                           "transfer-encoding",
                                           "keep-alive"};
    for (size_t i = 0; i < count; i++)
        for (const char *name : reserved)
            if (headers[i].name.len == std::strlen(name) &&
                strncasecmp(headers[i].name.data, name, headers[i].name.len) ==
                    0)
                return send_failed(s, ASGICORE_ERR_BAD_HEADER,
                                   std::string("websocket.accept header \"") +
                                       name +
                                       "\" is the server's to set (a "
                                       "subprotocol goes in \"subprotocol\")");
    std::vector<asgicore_header> all = {
        {str_of("upgrade"), str_of("websocket")},
        {str_of("connection"), str_of("Upgrade")},
        {str_of("sec-websocket-accept"), str_of(w.handshake.accept)},
    };
    if (!sub.empty())
        all.push_back({str_of("sec-websocket-protocol"), str_of(sub)});
    all.insert(all.end(), headers, headers + count);
    w.session.emplace(w.settings, last_now_);
    OutMessage *msg =
        OutMessage::make_head(&s->arena, 101, all.data(), all.size(), false);
    if (!msg) {
        w.session.reset();
        return ASGICORE_ERR_NOMEM;
    }
    s->out.push(msg);
    s->response = Response::complete;  // the HTTP part
    w.state = WsState::accepted;
    w.clock_stale = true;  // the keepalive starts at the host's next time
    queue_host(s, host_flush);
    ws_arm_timer(s);
    return ASGICORE_OK;
}

int Context::ws_send(Scope *s, bool text, const void *data, size_t len)
{
    AppCall call(*this);
    if (int rc = ws_precheck(s, "websocket.send", true))
        return rc;
    WsData &w = *s->ws;
    if (w.state != WsState::accepted)
        return send_failed(s, ASGICORE_ERR_PROTOCOL,
                           w.state == WsState::connecting
                               ? "websocket.send before websocket.accept"
                               : "websocket.send after an HTTP response");
    if (s->send_waiting)
        return ASGICORE_ERR_BUSY;
    std::string &out = w.session->output();
    int rc = w.session->check_send(text, data, len);
    if (rc == ASGICORE_ERR_INVALID)
        return send_failed(s, ASGICORE_ERR_INVALID,
                           "websocket.send of text that is not UTF-8");
    if (rc != ASGICORE_OK)
        return rc;  // W10: closing or closed
    // Frames the session queued (pongs) go first; the message is framed
    // straight into its output message: one copy of the payload.
    uint8_t head[ws::max_header];
    size_t head_len =
        ws::encode_header(head, text ? ws::op_text : ws::op_binary, len);
    OutMessage *queued = nullptr;
    if (!out.empty()) {
        queued = OutMessage::make_raw(&s->arena, out.data(), out.size(), false);
        if (!queued)
            return ASGICORE_ERR_NOMEM;
    }
    OutMessage *msg =
        OutMessage::make_raw2(&s->arena, head, head_len, data, len);
    if (!msg) {
        if (queued)
            OutMessage::destroy(queued);
        return ASGICORE_ERR_NOMEM;
    }
    if (queued) {
        size_t queued_bytes = out.size();
        out.clear();
        s->out.push(queued);
        s->out_buffered += queued_bytes;
    }
    return queue_output(s, msg, head_len + len);  // W12: PENDING while
                                                  // backlogged
}

int Context::ws_close(Scope *s, int code, const char *reason, size_t len)
{
    AppCall call(*this);
    if (int rc = ws_precheck(s, "websocket.close", true))
        return rc;
    WsData &w = *s->ws;
    if (w.state == WsState::denied)
        return ASGICORE_ERR_DISCONNECTED;
    if (w.state == WsState::connecting) {
        if (s->response != Response::none)
            return send_failed(s, ASGICORE_ERR_PROTOCOL,
                               "websocket.close during an HTTP response");
        ws_deny(s, 403);  // W2
        return ASGICORE_OK;
    }
    int rc = w.session->close(code < 0 ? 0u : static_cast<unsigned>(code),
                              std::string_view(reason ? reason : "", len),
                              last_now_);
    if (rc == ASGICORE_ERR_INVALID)
        return send_failed(s, ASGICORE_ERR_INVALID,
                           "websocket.close with code " + std::to_string(code) +
                               " or a reason that may not go on the wire");
    if (rc != ASGICORE_OK)
        return rc;
    w.clock_stale = true;  // the close timeout starts at the host's time
    ws_settle(s);          // W7: the frame, then the close timeout
    ws_maybe_resume(s);    // the reply is read, even if the app is behind
    return ASGICORE_OK;
}

// W14: an app that returns without closing closes with 1000, one that
// failed with 1011 (its error line is finish's); before its answer, a 403
// (a 500 when it failed: fail_response).
void Context::ws_finish(Scope *s, bool failed)
{
    WsData &w = *s->ws;
    if (s->client_gone())
        return;
    if (w.state == WsState::connecting && s->response == Response::none &&
        !failed && !s->response_failed) {
        ws_deny(s, 403);
        return;
    }
    if (w.state != WsState::accepted)
        return;
    if (w.session->phase() == ws::Phase::open &&
        !w.session->disconnect_code()) {
        w.session->close(failed || s->app_error ? ws::close_internal_error
                                                : ws::close_normal,
                         "", last_now_);
        w.clock_stale = true;
    }
    // nobody receives now: the client's close reply must still be read
    w.session->app_gone();
    ws_settle(s);
    ws_maybe_resume(s);
}

// S2 for a websocket scope: an app error on an open connection closes it
// with 1011 at once.
void Context::ws_fail(Scope *s)
{
    WsData &w = *s->ws;
    if (w.state != WsState::accepted || s->client_gone() ||
        w.session->phase() != ws::Phase::open)
        return;
    w.session->close(ws::close_internal_error, "", last_now_);
    w.clock_stale = true;
    ws_settle(s);
}

}  // namespace asgicore
