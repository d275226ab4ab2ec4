// Incremental UTF-8 validation (RFC 3629) for WebSocket text messages and
// close reasons: bytes arrive in pieces, and a text message must be failed
// as soon as a byte makes it invalid, not when it ends.
#pragma once

#include <cstddef>
#include <cstdint>

namespace asgicore {

class Utf8Validator {
public:
    // False as soon as `data` makes the bytes fed so far invalid; the
    // validator then stays invalid.
    bool feed(const uint8_t *data, size_t len) noexcept;
    // The bytes fed so far end on a character boundary (and are valid).
    bool complete() const noexcept { return valid_ && need_ == 0; }
    bool valid() const noexcept { return valid_; }
    void reset() noexcept { *this = Utf8Validator(); }

private:
    uint8_t need_ = 0;               // continuation bytes still expected
    uint8_t lo_ = 0x80, hi_ = 0xbf;  // the next continuation byte's range
    bool valid_ = true;
};

}  // namespace asgicore
