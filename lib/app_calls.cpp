// App-side calls: receive, the three sends, finish, and dispatch of queued
// notifications for threaded apps.
#include "call_guards.hpp"
#include "context.hpp"
#include "framing.hpp"
#include "header_check.hpp"

#include <algorithm>
#include <string>

namespace asgicore {

int Context::dispatch(App *app)
{
    Lock lk(mu_);
    if (!app->threaded)
        return ASGICORE_ERR_STATE;
    app->wake_armed = false;
    // Only what is queued now: a callback that re-arms is served next time.
    ScopeQueue batch;
    batch.splice_back(app->queue);
    int delivered = 0;
    while (Scope *s = batch.pop_front()) {
        deliver_app_work(s, lk);
        unref(s);
        delivered++;
    }
    fire_wakes(lk);
    return delivered;
}

int Context::app_log(App *app, Scope *s, int level, const char *message)
{
    AppCall call(*this);
    if (level < ASGICORE_LOG_ERROR || level > ASGICORE_LOG_DEBUG)
        return ASGICORE_ERR_INVALID;
    if (s && (s->app != app || s->app_state == AppState::finished))
        return ASGICORE_ERR_FINISHED;
    log(level, s, message);
    return ASGICORE_OK;
}

int Context::app_batch(App *app, bool on)
{
    AppCall call(*this);
    if (!app->threaded)
        return ASGICORE_ERR_STATE;
    if (on && batching_ && batching_ != this)
        return ASGICORE_ERR_BUSY;  // one context's batch per thread
    batching_ = on ? this : nullptr;
    return ASGICORE_OK;  // ending it fires the deferred wake, if any
}

namespace {

// The length of s cut to at most `max` bytes without splitting a UTF-8
// character: a message the host shows as JSON stays valid UTF-8.
size_t utf8_cut(const std::string &s, size_t max) noexcept
{
    if (s.size() <= max)
        return s.size();
    size_t n = max;
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xc0) == 0x80)
        n--;
    return n;
}

}  // namespace

int Context::set_app_state(App *app, int state, const char *message)
{
    if (state < ASGICORE_APP_READY || state > ASGICORE_APP_FAILED)
        return ASGICORE_ERR_INVALID;
    std::string text = message ? message : "";
    text.resize(utf8_cut(text, 1023));
    Lock lk(mu_);
    app->state = state;
    app->state_message.swap(text);
    return ASGICORE_OK;
}

int Context::app_state(App *app, char *buf, size_t size)
{
    Lock lk(mu_);
    if (buf && size) {
        size_t n = utf8_cut(app->state_message, size - 1);
        app->state_message.copy(buf, n);
        buf[n] = '\0';
    }
    return app->state;
}

int Context::receive(Scope *s, asgicore_event &ev)
{
    AppCall call(*this);
    if (s->app_state == AppState::finished)
        return late_call(s, "receive", false);
    if (s->delivered) {
        BodyChunk::destroy(s->delivered);
        s->delivered = nullptr;
    }
    // R5, R7, R8: a disconnect or a complete response ends the request.
    if (s->app_sees_disconnect() || s->response == Response::complete) {
        ev = asgicore_event{ASGICORE_EVENT_HTTP_DISCONNECT, nullptr, 0, 0};
        return ASGICORE_OK;
    }
    // Chunks that queued up while the app was busy go as one message: an
    // app's cost is per message (a Python round trip), a copy is cheap.
    BodyChunk *chunk =
        merge_front(s->body, settings_.body_buffer_limit, &s->arena);
    if (!chunk)
        chunk = s->body.pop();
    if (chunk) {
        s->body_buffered -= chunk->len;
        s->delivered = chunk;
        ev = asgicore_event{ASGICORE_EVENT_HTTP_REQUEST, chunk->data(),
                            chunk->len, chunk->last ? 0 : 1};
        if (s->body_state == BodyState::paused &&
            s->body_buffered < settings_.body_buffer_limit) {
            s->body_state = BodyState::expecting;
            queue_host(s, host_resume);
        }
        return ASGICORE_OK;
    }
    // R6: body not yet here, or all delivered: wait for more or for the
    // client to leave.
    s->receive_armed = true;
    if (s->body_state == BodyState::paused) {
        // Only a scope opened with ASGICORE_SCOPE_BODY_ON_DEMAND is paused
        // with nothing buffered: the app asks for its body now.
        s->body_state = BodyState::expecting;
        queue_host(s, host_resume);
    }
    return ASGICORE_PENDING;
}

// L6: a call with a scope the app has finished (in Python, a task that
// outlived its request) is refused, and logged once per kind (receive,
// send). The handle is still
// valid memory: the app holds it (asgicore_scope_hold).
int Context::late_call(Scope *s, const char *what, bool is_send)
{
    bool left = s->client_gone();
    bool &logged = is_send ? s->late_send_logged : s->late_receive_logged;
    if (!logged) {
        std::string line = std::string("late call: ") + what +
                           " after the app finished the request (a task "
                           "that outlived it?): ";
        line += !is_send ? "the request is over"
                : left   ? "refused, the client had disconnected"
                         : "refused";
        logged = true;
        log(is_send && !left ? ASGICORE_LOG_ERROR : ASGICORE_LOG_INFO, s,
            std::move(line));
    }
    return is_send && left ? ASGICORE_ERR_DISCONNECTED : ASGICORE_ERR_FINISHED;
}

int Context::send_precheck(Scope *s, const char *message)
{
    if (s->app_state == AppState::finished)
        return late_call(s, message, true);
    if (s->poisoned)
        return ASGICORE_ERR_PROTOCOL;
    if (s->app_sees_disconnect())
        return ASGICORE_ERR_DISCONNECTED;  // S3: not an app error
    if (s->send_waiting)
        return ASGICORE_ERR_BUSY;
    return ASGICORE_OK;
}

int Context::send_failed(Scope *s, int code, const std::string &what)
{
    // S2: an app error; later sends fail too and the response ends now.
    std::string line = "app error: " + what;  // may throw: nothing changed
    s->poisoned = true;
    s->app_error = true;
    log(ASGICORE_LOG_ERROR, s, std::move(line));
    fail_response(s);
    return code;
}

namespace {

constexpr char error_body[] = "Internal Server Error\n";

}  // namespace

// B2, S6: an app error ends the response at once. While the host has no
// part of it, the client gets a whole 500; otherwise the response is cut
// (done with response_complete 0: the host closes the connection, or
// resets the stream). A complete response is not undone.
void Context::fail_response(Scope *s)
{
    if (s->ws)
        ws_fail(s);
    if (s->response_failed || s->response == Response::complete ||
        !s->host_open || s->client_gone())
        return;
    s->response_failed = true;
    if (s->delivery == Delivery::nothing) {
        static const asgicore_header headers[] = {
            {{"content-type", 12}, {"text/plain; charset=utf-8", 25}},
            {{"content-length", 14}, {"22", 2}},
        };
        static_assert(sizeof error_body - 1 == 22);
        discard_output(s);  // nothing of it reached the host
        OutMessage *head =
            OutMessage::make_head(&s->arena, 500, headers, 2, false);
        // S7: the answer to HEAD has the length of the 500, not its bytes
        size_t len =
            response_has_body(500, s->info.method) ? sizeof error_body - 1 : 0;
        OutMessage *body =
            OutMessage::make_body(&s->arena, error_body, len, true);
        if (head && body) {
            s->out.push(head);
            s->out.push(body);
        } else {
            // Without memory for a 500 the host closes the connection.
            if (head)
                OutMessage::destroy(head);
            if (body)
                OutMessage::destroy(body);
        }
    }
    want_done(s);
}

int Context::queue_output(Scope *s, OutMessage *msg, size_t bytes)
{
    s->out.push(msg);
    s->out_buffered += bytes;
    queue_host(s, host_flush);
    // S5: the app waits while the host is backlogged.
    if (s->host_blocked || s->out_buffered > settings_.send_buffer_limit) {
        s->send_waiting = true;
        return ASGICORE_PENDING;
    }
    return ASGICORE_OK;
}

namespace {

const char *late_message_error(Response r) noexcept
{
    switch (r) {
    case Response::none: return "http.response.start must come first";
    case Response::started: return "the response body has not ended";
    case Response::body_done: return "http.response.trailers expected";
    case Response::complete: break;
    }
    return "message sent after the response ended";
}

}  // namespace

namespace {

// S7: a 205 says "no content" with a zero length; a 204 has no length at
// all. The head's copy is adjusted, the app's headers are not.
void frame_bodyless_head(OutMessage *msg) noexcept
{
    static const char zero[] = "0";
    size_t kept = 0;
    for (size_t i = 0; i < msg->header_count; i++) {
        asgicore_header &h = msg->headers[i];
        if (is_content_length(h.name)) {
            if (msg->status == 204)
                continue;
            h.value = asgicore_str{zero, 1};
        }
        msg->headers[kept++] = h;
    }
    msg->header_count = kept;
}

}  // namespace

int Context::send_start(Scope *s, int status, const asgicore_header *headers,
                        size_t count, bool trailers)
{
    AppCall call(*this);
    if (int rc = send_precheck(s, "http.response.start"))
        return rc;
    if (s->response != Response::none)
        return send_failed(s, ASGICORE_ERR_PROTOCOL,
                           s->response == Response::complete
                               ? "http.response.start sent after the "
                                 "response ended"
                               : "http.response.start sent twice");
    if (status < 100 || status > 999)
        return send_failed(s, ASGICORE_ERR_INVALID,
                           "invalid status " + std::to_string(status) +
                               " in http.response.start");
    if (status < 200)
        return send_failed(s, ASGICORE_ERR_PROTOCOL,
                           "status " + std::to_string(status) +
                               " in http.response.start: a 1xx status is "
                               "not a final response");
    if (!headers_valid(headers, count))
        return send_failed(s, ASGICORE_ERR_BAD_HEADER,
                           "response header with an invalid name, or a "
                           "control character in a value: not written");
    int64_t length = declared_length(headers, count);
    if (length == kBadLength)
        return send_failed(s, ASGICORE_ERR_BAD_HEADER,
                           "invalid content-length in http.response.start");
    if (length == kConflictingLength)
        return send_failed(s, ASGICORE_ERR_BAD_HEADER,
                           "conflicting content-length values in "
                           "http.response.start");
    if (s->ws) {
        // W2: the denial response, only instead of an accept
        if (s->ws->state != WsState::connecting)
            return send_failed(s, ASGICORE_ERR_PROTOCOL,
                               "http.response.start after websocket.accept");
        s->ws->state = WsState::denied;
    }
    s->has_body = response_has_body(status, s->info.method);
    s->declared_length = length;
    if (s->client_gone()) {
        s->response = Response::started;  // hidden abort: goes nowhere
        s->expects_trailers = trailers;
        return ASGICORE_OK;
    }
    // Trailers the host cannot write are the library's to drop: the host
    // sees a response without them
    bool host_trailers =
        trailers && (s->info.capabilities & ASGICORE_CAP_TRAILERS);
    OutMessage *msg =
        OutMessage::make_head(&s->arena, status, headers, count, host_trailers);
    if (!msg)
        return ASGICORE_ERR_NOMEM;
    if (status == 204 || status == 205)
        frame_bodyless_head(msg);
    s->response = Response::started;
    s->expects_trailers = trailers;
    return queue_output(s, msg, 0);
}

int Context::send_body(Scope *s, const void *data, size_t len, bool more)
{
    AppCall call(*this);
    if (!len && s->response == Response::started &&
        s->delivery == Delivery::drained && s->app_running() && !s->poisoned) {
        // The client left after it had the whole response: the app ending
        // its body then is no error, and nothing is written.
        if (!more)
            s->response = Response::complete;
        return ASGICORE_OK;
    }
    if (int rc = send_precheck(s, "http.response.body"))
        return rc;
    if (len && !data)
        return send_failed(s, ASGICORE_ERR_INVALID,
                           "http.response.body with NULL data");
    if (s->response != Response::started)
        return send_failed(
            s, ASGICORE_ERR_PROTOCOL,
            s->response == Response::none
                ? "http.response.body sent before http.response.start"
                : late_message_error(s->response));
    bool ends_body = !more;
    if (!s->has_body) {
        len = 0;  // S7: a response without a body; nothing is written
    } else if (s->declared_length >= 0) {
        // S6: the content-length is a promise: never a byte beyond it,
        // and a body that ends short is cut, not passed off as whole.
        auto declared = static_cast<uint64_t>(s->declared_length);
        uint64_t total = s->body_sent + len;
        if (total > declared)
            return send_failed(s, ASGICORE_ERR_PROTOCOL,
                               "http.response.body beyond the " +
                                   std::to_string(declared) +
                                   " bytes of the response's "
                                   "content-length: the response is cut");
        if (ends_body && total < declared)
            return send_failed(s, ASGICORE_ERR_PROTOCOL,
                               "the response body ended after " +
                                   std::to_string(total) + " of the " +
                                   std::to_string(declared) +
                                   " bytes of its content-length: the "
                                   "response is cut");
    }
    bool ends_response = ends_body && !s->expects_trailers;
    OutMessage *msg = nullptr;
    if (!s->client_gone() && (len || ends_response)) {
        msg = OutMessage::make_body(&s->arena, data, len, ends_response);
        if (!msg)
            return ASGICORE_ERR_NOMEM;  // nothing changed
    }
    s->body_sent += len;
    if (ends_body)
        s->response = ends_response ? Response::complete : Response::body_done;
    if (ends_response)
        make_receive_ready(s);  // R7: a waiting receive gets a disconnect
    return msg ? queue_output(s, msg, len) : ASGICORE_OK;
}

int Context::send_trailers(Scope *s, const asgicore_header *trailers,
                           size_t count, bool more)
{
    AppCall call(*this);
    if (int rc = send_precheck(s, "http.response.trailers"))
        return rc;
    if (s->response != Response::body_done)
        return send_failed(
            s, ASGICORE_ERR_PROTOCOL,
            s->response == Response::started && !s->expects_trailers
                ? "http.response.trailers without trailers announced in "
                  "http.response.start"
                : late_message_error(s->response));
    if (!headers_valid(trailers, count))
        return send_failed(s, ASGICORE_ERR_BAD_HEADER,
                           "response trailer with an invalid name, or a "
                           "control character in a value: not written");
    bool host_trailers = s->info.capabilities & ASGICORE_CAP_TRAILERS;
    // before the allocation below, which must not leak if this throws
    if (!host_trailers && !more)
        log(ASGICORE_LOG_INFO, s,
            "http.response.trailers dropped: the server cannot send "
            "trailers for this request (its scope does not offer the "
            "extension)");
    OutMessage *msg = nullptr;
    if (!s->client_gone() && (host_trailers || !more)) {
        msg = host_trailers
                  ? OutMessage::make_trailers(&s->arena, trailers, count, !more)
                  : OutMessage::make_body(&s->arena, nullptr, 0, true);
        if (!msg)
            return ASGICORE_ERR_NOMEM;
    }
    if (!more) {
        s->response = Response::complete;
        make_receive_ready(s);
    }
    return msg ? queue_output(s, msg, 0) : ASGICORE_OK;
}

namespace {

// The line a finish logs, and its level (0: none). It allocates: it comes
// before any change, so that a failed finish changes nothing.
struct FinishLine {
    int level = 0;
    std::string text;
};

FinishLine finish_line(const Scope &s, bool failed, const char *message)
{
    std::string detail = message ? std::string(": ") + message : "";
    if (failed && s.cancel_delivered)
        return {ASGICORE_LOG_INFO, "app ended after cancellation" + detail};
    if (failed)
        return {ASGICORE_LOG_ERROR, "app failed" + detail};
    if (s.response != Response::complete && !s.client_gone() && !s.poisoned) {
        return {ASGICORE_LOG_ERROR,
                s.response == Response::none
                    ? "app returned without sending a response"
                    : "app returned before completing its response"};
    }
    return {};
}

}  // namespace

int Context::finish(Scope *s, bool failed, const char *message)
{
    AppCall call(*this);
    if (!s->app_running())
        return ASGICORE_ERR_FINISHED;
    if (s->ws)
        ws_finish(s, failed);
    FinishLine line = finish_line(*s, failed, message);

    end_app(s, AppState::finished);
    let_go_of_app_side(s);
    if (line.level == ASGICORE_LOG_ERROR)
        s->app_error = true;
    if (line.level)
        log(line.level, s, std::move(line.text));
    // B2: a 500 while the host has nothing of the response, else a cut.
    if (s->app_error)
        fail_response(s);
    want_done(s);
    maybe_gone(s);
    unref(s);  // the app's reference
    return ASGICORE_OK;
}

// What only the app could still use: waits, the chunk it was reading, the
// grace timer, the unread body.
void Context::let_go_of_app_side(Scope *s) noexcept
{
    s->receive_armed = false;
    s->send_waiting = false;
    if (s->delivered) {
        BodyChunk::destroy(s->delivered);
        s->delivered = nullptr;
    }
    if (s->ws) {
        // G4: no cancel; the session's timers run on (a close timeout)
        s->ws->grace_deadline = ASGICORE_TIME_NEVER;
        ws_arm_timer(s);
    } else if (s->in_timer()) {
        timers_.remove(s);  // G4: an app that finished is never cancelled
        unref(s);           // the timer's reference; the app's remains
    }
    drop_body(s);
}

int Context::hold(Scope *s)
{
    AppCall call(*this);
    if (!s->app_running())
        return ASGICORE_ERR_FINISHED;  // only its owner may hold it
    s->app_holds++;
    s->refs++;
    return ASGICORE_OK;
}

int Context::drop(Scope *s)
{
    AppCall call(*this);
    if (s->app_holds == 0)
        return ASGICORE_ERR_STATE;
    s->app_holds--;
    unref(s);
    return ASGICORE_OK;
}

}  // namespace asgicore
