#include "utf8_validator.hpp"

#include "utf8.hpp"

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
        unsigned need;
        if (!utf8_lead(c, need, lo_, hi_)) {
            valid_ = false;
            return false;
        }
        need_ = static_cast<uint8_t>(need);
    }
    return true;
}

}  // namespace asgicore
