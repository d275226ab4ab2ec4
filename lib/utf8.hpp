// UTF-8 repair for scope strings apps decode (R12): each maximal invalid
// subpart becomes U+FFFD, as Python's errors="replace" and uvicorn's
// unquote() do, so an app never sees lone surrogates.
#pragma once

#include <cstddef>

namespace asgicore {

// The length of `s` once repaired; *valid: it is valid UTF-8 already (a
// plain copy will do).
size_t utf8_repaired_length(const char *s, size_t len, bool *valid) noexcept;

// Writes the repaired copy to `out` (utf8_repaired_length bytes).
void utf8_repair(const char *s, size_t len, char *out) noexcept;

}  // namespace asgicore
