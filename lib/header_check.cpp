#include "header_check.hpp"

#include <array>
#include <cstdint>
#include <cstring>

namespace asgicore {

namespace {

// Byte classes, one table lookup per byte (these run on every header of
// every response).
constexpr unsigned char kTchar = 1;      // RFC 9110 tchar
constexpr unsigned char kFieldByte = 2;  // allowed in a field value

constexpr std::array<unsigned char, 256> make_classes() noexcept
{
    std::array<unsigned char, 256> t{};
    for (int c = 0; c < 256; c++) {
        bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                     (c >= 'A' && c <= 'Z');
        bool tchar = alnum;
        for (const char *p = "!#$%&'*+-.^_`|~"; *p; p++)
            tchar = tchar || c == static_cast<unsigned char>(*p);
        // RFC 9110 field-value: visible bytes, SP, HTAB and obs-text; CR,
        // LF and NUL would split or cut the response, other controls are
        // refused as peers refuse them.
        bool field = !((c < 0x20 && c != '\t') || c == 0x7f);
        t[static_cast<size_t>(c)] = static_cast<unsigned char>(
            (tchar ? kTchar : 0) | (field ? kFieldByte : 0));
    }
    return t;
}

constexpr std::array<unsigned char, 256> kClasses = make_classes();

bool all_of_class(const char *p, size_t len, unsigned char cls) noexcept
{
    for (size_t i = 0; i < len; i++)
        if (!(kClasses[static_cast<unsigned char>(p[i])] & cls))
            return false;
    return true;
}

// Field values are most of a response head's bytes: eight at a time, and
// only a word that holds a byte below 0x20 or DEL (HTAB, or a bad byte) is
// looked at byte by byte. Both tests are exact about whether such a byte
// is in the word (they may misplace it, which the bytes' check settles).
bool field_value_bytes_valid(const char *p, size_t len) noexcept
{
    constexpr uint64_t kOnes = 0x0101010101010101u;
    constexpr uint64_t kHighs = 0x8080808080808080u;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        std::memcpy(&w, p + i, 8);
        uint64_t below_space = (w - kOnes * 0x20) & ~w & kHighs;
        uint64_t x = w ^ (kOnes * 0x7f);
        uint64_t del = (x - kOnes) & ~x & kHighs;
        if ((below_space | del) && !all_of_class(p + i, 8, kFieldByte))
            return false;
    }
    return all_of_class(p + i, len - i, kFieldByte);
}

}  // namespace

bool header_name_valid(const asgicore_str &name) noexcept
{
    if (name.len == 0 || name.data == nullptr)
        return false;
    return all_of_class(name.data, name.len, kTchar);
}

bool header_value_valid(const asgicore_str &value) noexcept
{
    if (value.len && value.data == nullptr)
        return false;
    return field_value_bytes_valid(value.data, value.len);
}

bool headers_valid(const asgicore_header *headers, size_t count) noexcept
{
    if (count && headers == nullptr)
        return false;
    for (size_t i = 0; i < count; i++)
        if (!header_name_valid(headers[i].name) ||
            !header_value_valid(headers[i].value))
            return false;
    return true;
}

}  // namespace asgicore
