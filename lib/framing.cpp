#include "framing.hpp"

#include <cstdint>
#include <cstring>

namespace asgicore {

namespace {

template <size_t N>
bool equals_lowercase(const asgicore_str &s, const char (&lower)[N]) noexcept
{
    constexpr size_t n = N - 1;
    if (s.len != n)
        return false;
    // (c | 0x20) lower-cases letters; `lower` holds letters and '-', which
    // only CR also maps to, and the names were checked as tokens before
    if constexpr (n >= 8) {
        // eight bytes at a time, the last word overlapping the one before
        constexpr uint64_t kLower = 0x2020202020202020u;
        auto word = [](const char *p) {
            uint64_t w;
            std::memcpy(&w, p, 8);
            return w;
        };
        for (size_t i = 0; i + 8 <= n; i += 8)
            if ((word(s.data + i) | kLower) != word(lower + i))
                return false;
        return n % 8 == 0 ||
               (word(s.data + n - 8) | kLower) == word(lower + n - 8);
    }
    for (size_t i = 0; i < n; i++)
        if ((s.data[i] | 0x20) != lower[i])
            return false;
    return true;
}

bool is_ows(char c) noexcept
{
    return c == ' ' || c == '\t';
}

// One field value: a comma-separated list of equal decimal numbers.
int64_t parse_value(const asgicore_str &v) noexcept
{
    constexpr int64_t max = INT64_MAX / 10 - 9;
    int64_t result = kNoLength;
    size_t i = 0;
    for (;;) {
        while (i < v.len && is_ows(v.data[i]))
            i++;
        if (i == v.len || v.data[i] < '0' || v.data[i] > '9')
            return kBadLength;
        int64_t n = 0;
        while (i < v.len && v.data[i] >= '0' && v.data[i] <= '9') {
            if (n > max)
                return kBadLength;
            n = n * 10 + (v.data[i++] - '0');
        }
        while (i < v.len && is_ows(v.data[i]))
            i++;
        if (result != kNoLength && n != result)
            return kConflictingLength;
        result = n;
        if (i == v.len)
            return result;
        if (v.data[i++] != ',')
            return kBadLength;
    }
}

}  // namespace

bool is_content_length(const asgicore_str &name) noexcept
{
    return equals_lowercase(name, "content-length");
}

int64_t declared_length(const asgicore_header *headers, size_t count) noexcept
{
    int64_t result = kNoLength;
    for (size_t i = 0; i < count; i++) {
        if (!is_content_length(headers[i].name))
            continue;
        int64_t n = parse_value(headers[i].value);
        if (n < 0)
            return n;
        if (result != kNoLength && n != result)
            return kConflictingLength;
        result = n;
    }
    return result;
}

bool response_has_body(int status, const asgicore_str &method) noexcept
{
    if (status == 204 || status == 205 || status == 304)
        return false;
    return !(method.len == 4 && std::memcmp(method.data, "HEAD", 4) == 0);
}

}  // namespace asgicore
