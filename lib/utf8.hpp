// UTF-8 repair for scope strings apps decode (R12): each maximal invalid
// subpart becomes U+FFFD, as Python's errors="replace" and uvicorn's
// unquote() do, so an app never sees lone surrogates.
#pragma once

#include <cstddef>

namespace asgicore {

// A lead byte (RFC 3629): how many continuation bytes follow it and the
// range of the first (no overlong forms, no surrogates, nothing above
// U+10FFFF); false for a byte that cannot start a character.
bool utf8_lead(unsigned char c, unsigned &need, unsigned char &lo,
               unsigned char &hi) noexcept;

// The length of `s` once repaired; *valid: it is valid UTF-8 already (a
// plain copy will do).
size_t utf8_repaired_length(const char *s, size_t len, bool *valid) noexcept;

// Writes the repaired copy to `out` (utf8_repaired_length bytes).
void utf8_repair(const char *s, size_t len, char *out) noexcept;

}  // namespace asgicore
