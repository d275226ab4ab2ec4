#include "utf8_validator.hpp"

namespace asgicore {

bool Utf8Validator::feed(const uint8_t *data, size_t len) noexcept
{
    if (!valid_)
        return false;
    for (size_t i = 0; i < len; i++) {
        uint8_t c = data[i];
        if (need_ > 0) {
            if (c < lo_ || c > hi_) {
                valid_ = false;
                return false;
            }
            need_--;
            lo_ = 0x80;
            hi_ = 0xbf;
            continue;
        }
        if (c < 0x80)
            continue;
        if (c >= 0xc2 && c <= 0xdf) {
            need_ = 1;
        } else if (c >= 0xe0 && c <= 0xef) {
            need_ = 2;
            if (c == 0xe0)
                lo_ = 0xa0;  // no overlong forms
            else if (c == 0xed)
                hi_ = 0x9f;  // no surrogates
        } else if (c >= 0xf0 && c <= 0xf4) {
            need_ = 3;
            if (c == 0xf0)
                lo_ = 0x90;
            else if (c == 0xf4)
                hi_ = 0x8f;  // nothing above U+10FFFF
        } else {
            valid_ = false;
            return false;
        }
    }
    return true;
}

}  // namespace asgicore
