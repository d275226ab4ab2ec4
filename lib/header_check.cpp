#include "header_check.hpp"

#include <cstring>

namespace asgicore {

namespace {

// RFC 9110 tchar.
bool is_tchar(unsigned char c) noexcept
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
        (c >= 'A' && c <= 'Z'))
        return true;
    return c != 0 && std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

}  // namespace

bool header_name_valid(const asgicore_str &name) noexcept
{
    if (name.len == 0 || name.data == nullptr)
        return false;
    for (size_t i = 0; i < name.len; i++)
        if (!is_tchar(static_cast<unsigned char>(name.data[i])))
            return false;
    return true;
}

bool header_value_valid(const asgicore_str &value) noexcept
{
    if (value.len && value.data == nullptr)
        return false;
    // RFC 9110 field-value: visible bytes, SP, HTAB and obs-text; CR, LF
    // and NUL would split or cut the response, other controls are refused
    // as peers refuse them.
    for (size_t i = 0; i < value.len; i++) {
        auto c = static_cast<unsigned char>(value.data[i]);
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return false;
    }
    return true;
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
