// Validation of response header fields sent by an app (S4, docs/behaviours.md).
#pragma once

#include "asgicore.h"

namespace asgicore {

// A name must be a non-empty HTTP token; a value must hold no control byte
// but HTAB (CR, LF and NUL would split or truncate the response): such
// fields are never written.
bool header_name_valid(const asgicore_str &name) noexcept;
bool header_value_valid(const asgicore_str &value) noexcept;
bool headers_valid(const asgicore_header *headers, size_t count) noexcept;

}  // namespace asgicore
