#include "ws_session.hpp"

#include "utf8_validator.hpp"

#include <new>

namespace asgicore::ws {

namespace {

// What an undelivered message costs beyond its payload: empty messages
// must count against the pause too.
constexpr size_t event_overhead = sizeof(Event) + 32;

// now + ns, short of ASGICORE_TIME_NEVER (now is never NEVER itself)
asgicore_time later(asgicore_time now, uint64_t ns) noexcept
{
    return ns >= ASGICORE_TIME_NEVER - 1 - now ? ASGICORE_TIME_NEVER - 1
                                               : now + ns;
}

}  // namespace

Session::Session(const Settings &settings, asgicore_time now)
    : settings_(settings)
    , decoder_(settings.max_message)
    , last_heard_(now)
    , last_now_(now)
{
}

bool Session::feed(const void *data, size_t len, asgicore_time now)
{
    last_now_ = now;
    if (phase_ == Phase::closed)
        return false;  // nothing more is read
    if (len) {
        // any byte shows the peer is there (W9)
        last_heard_ = now;
        ping_sent_ = 0;
        in_.append(static_cast<const char *>(data), len);
    }
    decode(false);
    return paused_;
}

void Session::lost()
{
    if (phase_ != Phase::closed) {
        // W6: what arrived before the loss is still delivered (as far as
        // memory allows: the disconnect itself must get through)
        try {
            decode(true);
        } catch (const std::bad_alloc &) {
        }
        phase_ = Phase::closed;
    }
    in_.clear();
    disconnect(close_abnormal, std::string());
}

void Session::decode(bool ignore_pause)
{
    auto *begin = reinterpret_cast<const uint8_t *>(in_.data());
    const uint8_t *p = begin, *end = begin + in_.size();
    while (p < end && phase_ != Phase::closed && (!paused_ || ignore_pause)) {
        Frame f;
        switch (decoder_.next(&p, end, f)) {
        case Decoded::need_more: break;
        case Decoded::message:
            if (phase_ != Phase::open || disconnected_ || app_gone_)
                break;  // W7: read and dropped while our close is out
            event_bytes_ += f.payload.size() + event_overhead;
            events_.push_back(
                Event{Event::message, f.text, std::move(f.payload), 0});
            if (event_bytes_ >= settings_.read_buffer_limit && !paused_) {
                paused_ = true;  // W13
                probe_from_ = last_now_;
            }
            break;
        case Decoded::ping:
            if (phase_ == Phase::open)  // W9: the same payload
                encode_frame(out_, op_pong, f.payload.data(), f.payload.size());
            break;
        case Decoded::pong: break;
        case Decoded::close: {
            // W5: the client's code; the reply to our close ends ours
            bool echo = phase_ == Phase::open;
            disconnect(f.close_code, std::move(f.payload));
            phase_ = Phase::closed;
            close_deadline_ = ASGICORE_TIME_NEVER;
            if (echo)  // W7: at once, with its code (none for none)
                encode_close(out_, f.close_code, nullptr, 0);
            break;
        }
        case Decoded::violation: {
            // W8: failed with the RFC's code; the app is told that code
            bool send = phase_ == Phase::open;
            if (!violation_)
                violation_ = f.error;
            disconnect(send ? f.close_code : unsigned(close_abnormal),
                       std::string());
            phase_ = Phase::closed;
            close_deadline_ = ASGICORE_TIME_NEVER;
            if (send)
                encode_close(out_, f.close_code, nullptr, 0);
            break;
        }
        }
    }
    if (phase_ == Phase::closed)
        in_.clear();
    else
        in_.erase(0, static_cast<size_t>(p - begin));
}

bool Session::take_event(Event &out, bool *resume)
{
    *resume = false;
    if (events_.empty()) {
        if (!disconnected_ || disconnect_taken_)
            return false;
        disconnect_taken_ = true;
        out.kind = Event::disconnect;
        out.text = false;
        out.code = disconnect_code_;
        out.payload = std::move(disconnect_reason_);
        return true;
    }
    out = std::move(events_.front());
    events_.pop_front();
    if (out.kind == Event::message)
        event_bytes_ -= out.payload.size() + event_overhead;
    if (paused_ && event_bytes_ < settings_.read_buffer_limit) {
        paused_ = false;
        // W9: no pong could be read while paused: the wait starts again
        last_heard_ = last_now_;
        ping_sent_ = 0;
        decode(false);
        *resume = !paused_ && phase_ != Phase::closed;
    }
    return true;
}

int Session::check_send(bool text, const void *data, size_t len) const
{
    if (phase_ != Phase::open || disconnected_)
        return ASGICORE_ERR_DISCONNECTED;  // W10
    if (len && !data)
        return ASGICORE_ERR_INVALID;
    if (text) {
        Utf8Validator v;
        if (!v.feed(static_cast<const uint8_t *>(data), len) || !v.complete())
            return ASGICORE_ERR_INVALID;  // the client would fail us: 1007
    }
    return ASGICORE_OK;
}

int Session::send(bool text, const void *data, size_t len)
{
    if (int rc = check_send(text, data, len))
        return rc;
    encode_frame(out_, text ? op_text : op_binary, data, len);
    return ASGICORE_OK;
}

int Session::close(unsigned code, std::string_view reason, asgicore_time now)
{
    last_now_ = now;
    if (!close_code_valid_on_wire(code) || reason.size() > 123)
        return ASGICORE_ERR_INVALID;  // W5: 1005, 1006, 1015 never sent
    Utf8Validator v;
    if (!v.feed(reinterpret_cast<const uint8_t *>(reason.data()),
                reason.size()) ||
        !v.complete())
        return ASGICORE_ERR_INVALID;
    if (phase_ != Phase::open || disconnected_)
        return ASGICORE_ERR_DISCONNECTED;
    encode_close(out_, code, reason.data(), reason.size());
    // W7: the peer's reply is awaited, reading on, until the timeout; a
    // pause ends, as what comes now is dropped (the app keeps what it has)
    phase_ = Phase::closing;
    close_deadline_ = later(now, settings_.close_timeout_ns);
    if (paused_) {
        paused_ = false;
        decode(false);
    }
    return ASGICORE_OK;
}

asgicore_time Session::deadline() const noexcept
{
    switch (phase_) {
    case Phase::closed: return ASGICORE_TIME_NEVER;
    case Phase::closing: return close_deadline_;
    case Phase::open: break;
    }
    if (settings_.ping_interval_ns == 0 || disconnected_)
        return ASGICORE_TIME_NEVER;
    if (paused_)  // W13: pings go on, without a pong timeout
        return later(probe_from_, settings_.ping_interval_ns);
    return later(ping_sent_ ? ping_sent_ : last_heard_,
                 settings_.ping_interval_ns);
}

void Session::app_gone() noexcept
{
    app_gone_ = true;
    events_.clear();
    event_bytes_ = 0;
    if (paused_) {
        // the bytes kept are decoded with the next feed()
        paused_ = false;
        last_heard_ = last_now_;
        ping_sent_ = 0;
    }
}

void Session::restart_clock(asgicore_time now) noexcept
{
    last_now_ = now;
    if (paused_)
        probe_from_ = now;  // W13: the probe is what waits
    else if (ping_sent_ == 0)
        last_heard_ = now;
    else
        ping_sent_ = now;
    if (phase_ == Phase::closing)
        close_deadline_ = later(now, settings_.close_timeout_ns);
}

void Session::expire(asgicore_time now)
{
    last_now_ = now;
    if (now < deadline())
        return;
    if (phase_ == Phase::closing) {
        // W7: no reply within the close timeout
        phase_ = Phase::closed;
        close_deadline_ = ASGICORE_TIME_NEVER;
        in_.clear();
        disconnect(close_abnormal, std::string());
        return;
    }
    if (ping_sent_ == 0 || paused_) {
        // W9: an idle connection is pinged; W13: a paused one too, with no
        // deadline for the pong (it waits unread behind what the app has
        // not received), so that a client that closed its socket answers
        // with a reset the host sees
        uint8_t payload[4] = {uint8_t(pings_ >> 24), uint8_t(pings_ >> 16),
                              uint8_t(pings_ >> 8), uint8_t(pings_)};
        pings_++;
        encode_frame(out_, op_ping, payload, sizeof payload);
        if (paused_)
            probe_from_ = now;
        else
            ping_sent_ = now;
        return;
    }
    // W9: no answer within the interval: the connection is lost
    phase_ = Phase::closed;
    in_.clear();
    disconnect(close_abnormal, std::string());
}

void Session::disconnect(unsigned code, std::string &&reason) noexcept
{
    if (disconnected_)
        return;
    disconnected_ = true;
    disconnect_code_ = code;
    disconnect_reason_ = std::move(reason);
}

}  // namespace asgicore::ws
