#include "utf8.hpp"

#include <cstring>

namespace asgicore {

namespace {

constexpr char replacement[] = "\xef\xbf\xbd";  // U+FFFD

// The bytes at `s[i]` that form one character (`valid`), or the maximal
// subpart of an invalid sequence (at least one byte).
struct Step {
    size_t len;
    bool valid;
};

Step step(const unsigned char *s, size_t i, size_t n) noexcept
{
    unsigned char c = s[i];
    if (c < 0x80)
        return {1, true};
    unsigned need;
    unsigned char lo, hi;  // the second byte's range
    if (!utf8_lead(c, need, lo, hi))
        return {1, false};
    size_t j = i + 1;
    for (size_t k = 0; k < need; k++, j++) {
        if (j == n || s[j] < lo || s[j] > hi)
            return {j - i, false};
        lo = 0x80;
        hi = 0xbf;
    }
    return {j - i, true};
}

// The length of the ASCII prefix: most paths are ASCII whole.
size_t ascii_prefix(const unsigned char *u, size_t len) noexcept
{
    size_t i = 0;
    while (i < len && u[i] < 0x80)
        i++;
    return i;
}

}  // namespace

bool utf8_lead(unsigned char c, unsigned &need, unsigned char &lo,
               unsigned char &hi) noexcept
{
    lo = 0x80;
    hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
        need = 1;
    } else if (c >= 0xe0 && c <= 0xef) {
        need = 2;
        if (c == 0xe0)
            lo = 0xa0;  // no overlong forms
        else if (c == 0xed)
            hi = 0x9f;  // no surrogates
    } else if (c >= 0xf0 && c <= 0xf4) {
        need = 3;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;  // nothing above U+10FFFF
    } else {
        return false;
    }
    return true;
}

size_t utf8_repaired_length(const char *s, size_t len, bool *valid) noexcept
{
    auto *u = reinterpret_cast<const unsigned char *>(s);
    size_t i = ascii_prefix(u, len);
    size_t out = i;
    *valid = true;
    while (i < len) {
        Step st = step(u, i, len);
        if (st.valid) {
            out += st.len;
        } else {
            out += sizeof replacement - 1;
            *valid = false;
        }
        i += st.len;
    }
    return out;
}

void utf8_repair(const char *s, size_t len, char *out) noexcept
{
    auto *u = reinterpret_cast<const unsigned char *>(s);
    size_t i = ascii_prefix(u, len);
    std::memcpy(out, s, i);
    out += i;
    while (i < len) {
        Step st = step(u, i, len);
        if (st.valid) {
            for (size_t k = 0; k < st.len; k++)
                *out++ = s[i + k];
        } else {
            std::memcpy(out, replacement, sizeof replacement - 1);
            out += sizeof replacement - 1;
        }
        i += st.len;
    }
}

}  // namespace asgicore
