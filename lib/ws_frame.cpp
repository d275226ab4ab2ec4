#include "ws_frame.hpp"

#include <algorithm>
#include <cstring>

namespace asgicore::ws {

namespace {

// XOR with the 4-byte key starting at key byte `phase`, eight bytes at a
// time: byte by byte it was most of a large message's cost.
void unmask(uint8_t *p, size_t n, const uint8_t key[4], size_t phase) noexcept
{
    uint8_t k8[8];
    for (size_t i = 0; i < 8; i++)
        k8[i] = key[(phase + i) & 3];
    uint64_t k;
    std::memcpy(&k, k8, 8);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        std::memcpy(&w, p + i, 8);
        w ^= k;
        std::memcpy(p + i, &w, 8);
    }
    for (; i < n; i++)
        p[i] ^= k8[i & 7];
}

}  // namespace

bool close_code_valid_on_wire(unsigned code) noexcept
{
    // 1004-1006 and 1015 are reserved; 1012-1014 are registered with IANA
    // (service restart, try again later, bad gateway).
    if (code >= 1000 && code <= 1014)
        return code != 1004 && code != 1005 && code != 1006;
    return code >= 3000 && code <= 4999;
}

Decoded Decoder::violation(Frame &out, unsigned code, const char *why) noexcept
{
    state_ = State::ended;
    out.close_code = code;
    out.error = why;
    return Decoded::violation;
}

Decoded Decoder::next(const uint8_t **p, const uint8_t *end, Frame &out)
{
    for (;;) {
        switch (state_) {
        case State::ended: return Decoded::need_more;

        case State::header: {
            if (*p == end)
                return Decoded::need_more;
            head_[head_len_++] = *(*p)++;
            if (head_len_ == 2) {
                // Everything the first two bytes decide, before waiting
                // for an extended length.
                uint8_t op = head_[0] & 0x0f;
                bool control = op & 0x08;
                if (head_[0] & 0x70)
                    return violation(out, close_protocol_error,
                                     "reserved bits set (no extension was "
                                     "negotiated)");
                if (op != op_continuation && op != op_text && op != op_binary &&
                    op != op_close && op != op_ping && op != op_pong)
                    return violation(out, close_protocol_error,
                                     "a reserved opcode");
                if (!(head_[1] & 0x80))
                    return violation(out, close_protocol_error,
                                     "an unmasked frame");
                if (control && !(head_[0] & 0x80))
                    return violation(out, close_protocol_error,
                                     "a fragmented control frame");
                if (control && (head_[1] & 0x7f) > 125)
                    return violation(out, close_protocol_error,
                                     "a control frame over 125 bytes");
                if (op == op_continuation && !in_message_)
                    return violation(out, close_protocol_error,
                                     "a continuation frame outside a message");
                if ((op == op_text || op == op_binary) && in_message_)
                    return violation(out, close_protocol_error,
                                     "a new message before the last one ended");
            }
            if (head_len_ < 2)
                continue;
            uint8_t len7 = head_[1] & 0x7f;
            size_t need = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + 4;
            if (head_len_ < need)
                continue;
            Decoded d = header_done(out);
            if (d != Decoded::need_more)
                return d;
            break;
        }

        case State::payload: {
            if (remaining_ > 0 && *p == end)
                return Decoded::need_more;
            size_t n =
                static_cast<size_t>(std::min<uint64_t>(remaining_, end - *p));
            bool control = opcode_ & 0x08;
            std::string &to = control ? control_ : message_;
            size_t at = to.size();
            if (to.capacity() - at < remaining_)
                to.reserve(at + static_cast<size_t>(remaining_));  // once:
            // the length was checked against the limit before any byte
            to.append(reinterpret_cast<const char *>(*p), n);
            *p += n;
            remaining_ -= n;
            auto *bytes = reinterpret_cast<uint8_t *>(to.data() + at);
            unmask(bytes, n, mask_, mask_pos_);
            mask_pos_ += n;
            if (!control && message_text_ && !utf8_.feed(bytes, n))
                return violation(out, close_invalid_data,
                                 "a text message that is not UTF-8");
            if (remaining_ == 0) {
                Decoded d = frame_done(out);
                if (d != Decoded::need_more)
                    return d;
            }
            break;
        }
        }
    }
}

Decoded Decoder::header_done(Frame &out)
{
    fin_ = head_[0] & 0x80;
    opcode_ = head_[0] & 0x0f;
    uint8_t len7 = head_[1] & 0x7f;
    size_t at = 2;
    uint64_t len = len7;
    if (len7 == 126) {
        len = (uint64_t(head_[2]) << 8) | head_[3];
        at = 4;
    } else if (len7 == 127) {
        len = 0;
        for (size_t i = 2; i < 10; i++)
            len = (len << 8) | head_[i];
        at = 10;
        if (len >> 63)
            return violation(out, close_protocol_error,
                             "a payload length with its top bit set");
    }
    std::memcpy(mask_, head_ + at, 4);
    mask_pos_ = 0;
    head_len_ = 0;
    remaining_ = len;

    if (opcode_ == op_text || opcode_ == op_binary) {
        in_message_ = true;
        message_text_ = opcode_ == op_text;
        message_.clear();
        utf8_.reset();
    }
    if (!(opcode_ & 0x08) &&
        (len > max_message_ || message_.size() > max_message_ - len))
        // W8: judged on the declared length, before any byte is stored
        return violation(out, close_too_big, "a message over the size limit");
    if (opcode_ & 0x08)
        control_.clear();

    state_ = State::payload;
    if (remaining_ == 0)
        return frame_done(out);
    return Decoded::need_more;
}

Decoded Decoder::frame_done(Frame &out)
{
    state_ = State::header;
    switch (opcode_) {
    case op_ping: out.payload = control_; return Decoded::ping;
    case op_pong: out.payload = control_; return Decoded::pong;
    case op_close: {
        state_ = State::ended;
        if (control_.empty()) {
            out.close_code = close_no_status;
            out.payload.clear();
            return Decoded::close;
        }
        if (control_.size() == 1)
            return violation(out, close_protocol_error,
                             "a close frame with a one-byte payload");
        auto *c = reinterpret_cast<const uint8_t *>(control_.data());
        unsigned code = (unsigned(c[0]) << 8) | c[1];
        if (!close_code_valid_on_wire(code))
            return violation(out, close_protocol_error,
                             "an invalid close code");
        Utf8Validator reason;
        if (!reason.feed(c + 2, control_.size() - 2) || !reason.complete())
            return violation(out, close_protocol_error,
                             "a close reason that is not UTF-8");
        out.close_code = code;
        out.payload.assign(control_, 2);
        return Decoded::close;
    }
    default:
        if (!fin_)
            return Decoded::need_more;  // the message goes on
        if (message_text_ && !utf8_.complete())
            return violation(out, close_invalid_data,
                             "a text message that is not UTF-8");
        in_message_ = false;
        out.text = message_text_;
        out.payload = std::move(message_);
        message_.clear();
        return Decoded::message;
    }
}

size_t encode_header(uint8_t head[max_header], Opcode op, size_t len,
                     bool fin) noexcept
{
    size_t n = 2;
    head[0] = (fin ? 0x80 : 0) | op;
    if (len < 126) {
        head[1] = static_cast<uint8_t>(len);
    } else if (len <= 0xffff) {
        head[1] = 126;
        head[2] = static_cast<uint8_t>(len >> 8);
        head[3] = static_cast<uint8_t>(len);
        n = 4;
    } else {
        head[1] = 127;
        for (int i = 0; i < 8; i++)
            head[2 + i] = static_cast<uint8_t>(uint64_t(len) >> (56 - 8 * i));
        n = 10;
    }
    return n;
}

void encode_frame(std::string &out, Opcode op, const void *data, size_t len,
                  bool fin)
{
    uint8_t head[max_header];
    size_t n = encode_header(head, op, len, fin);
    out.reserve(out.size() + n + len);
    out.append(reinterpret_cast<const char *>(head), n);
    out.append(static_cast<const char *>(data), len);
}

void encode_close(std::string &out, unsigned code, const char *reason,
                  size_t reason_len)
{
    if (code == close_no_status) {
        encode_frame(out, op_close, "", 0);
        return;
    }
    std::string payload;
    payload.reserve(2 + reason_len);
    payload.push_back(static_cast<char>(code >> 8));
    payload.push_back(static_cast<char>(code & 0xff));
    payload.append(reason, reason_len);
    encode_frame(out, op_close, payload.data(), payload.size());
}

}  // namespace asgicore::ws
