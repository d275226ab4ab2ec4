// The RFC 6455 frame codec, server side, transport-neutral: client bytes in,
// whole messages and control frames out; server frames encoded unmasked.
// Every protocol violation is reported with the close code the RFC gives
// it (W8); a message's size is judged on the declared frame lengths before
// its bytes are stored.
#pragma once

#include "utf8_validator.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

namespace asgicore::ws {

enum Opcode : uint8_t {
    op_continuation = 0x0,
    op_text = 0x1,
    op_binary = 0x2,
    op_close = 0x8,
    op_ping = 0x9,
    op_pong = 0xa,
};

// Close codes (RFC 6455 section 7.4.1).
enum CloseCode : uint16_t {
    close_normal = 1000,
    close_going_away = 1001,
    close_protocol_error = 1002,
    close_no_status = 1005,  // never on the wire
    close_abnormal = 1006,   // never on the wire
    close_invalid_data = 1007,
    close_too_big = 1009,
    close_internal_error = 1011,
};

// A code a peer may send in a close frame: the RFC's and IANA's registered
// codes that are not reserved for local use, and 3000-4999.
bool close_code_valid_on_wire(unsigned code) noexcept;

// What Decoder::next found.
enum class Decoded {
    need_more,  // every byte given was consumed
    message,    // text or binary, whole: `text`, `payload`
    ping,       // `payload`
    pong,       // `payload`
    close,      // `close_code` (close_no_status without one), `payload`
                // holds the reason; the decoder takes no more bytes
    violation,  // `close_code` to close with, `error` says why; no more
};

struct Frame {
    bool text = false;
    std::string payload;
    unsigned close_code = 0;
    const char *error = nullptr;
};

class Decoder {
public:
    explicit Decoder(size_t max_message) noexcept
        : max_message_(max_message)
    {
    }

    // Decodes from [*p, end), advancing *p past what it consumed, until it
    // has something to say. After close or violation it consumes nothing.
    // May throw std::bad_alloc (the bytes consumed stay consumed).
    Decoded next(const uint8_t **p, const uint8_t *end, Frame &out);

    // Bytes of a message being assembled (for memory accounting).
    size_t buffered() const noexcept { return message_.size(); }

private:
    Decoded violation(Frame &out, unsigned code, const char *why) noexcept;
    Decoded header_done(Frame &out);
    Decoded frame_done(Frame &out);

    enum class State { header, payload, ended };
    State state_ = State::header;
    size_t max_message_;

    uint8_t head_[14];  // the frame header read so far
    size_t head_len_ = 0;

    // the current frame
    bool fin_ = false;
    uint8_t opcode_ = 0;
    uint8_t mask_[4] = {};
    uint64_t remaining_ = 0;  // payload bytes still to read
    size_t mask_pos_ = 0;

    // the message being assembled (data frames) and the control frame
    bool in_message_ = false;
    bool message_text_ = false;
    std::string message_;
    std::string control_;
    Utf8Validator utf8_;
};

// Appends one unmasked server frame to `out`. May throw std::bad_alloc.
// A server frame's header (unmasked) for `len` payload bytes: its size.
constexpr size_t max_header = 10;
size_t encode_header(uint8_t head[max_header], Opcode op, size_t len,
                     bool fin = true) noexcept;
void encode_frame(std::string &out, Opcode op, const void *data, size_t len,
                  bool fin = true);

// Appends a close frame: the code (none for close_no_status) and reason.
void encode_close(std::string &out, unsigned code, const char *reason,
                  size_t reason_len);

}  // namespace asgicore::ws
