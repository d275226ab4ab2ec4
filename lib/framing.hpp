// How a response is framed: its declared content-length (S6) and whether
// its status or the request's method allows a body at all (S7).
#pragma once

#include "asgicore.h"

#include <cstdint>

namespace asgicore {

// The length the headers declare: kNoLength without a content-length,
// kBadLength for a value that is not a decimal number, kConflictingLength
// for values that disagree. "5, 5" and repeated equal fields count as one
// value, as RFC 9110 lets a recipient read them.
inline constexpr int64_t kNoLength = -1;
inline constexpr int64_t kBadLength = -2;
inline constexpr int64_t kConflictingLength = -3;
int64_t declared_length(const asgicore_header *headers, size_t count) noexcept;

bool is_content_length(const asgicore_str &name) noexcept;

// 204, 205 and 304 responses, and responses to HEAD, carry no body.
bool response_has_body(int status, const asgicore_str &method) noexcept;

}  // namespace asgicore
