// Human-readable names for the codes of the public header.
#pragma once

namespace asgicore {

const char *error_text(int code) noexcept;
const char *outcome_name(int outcome) noexcept;
const char *disconnect_reason_name(int reason) noexcept;

}  // namespace asgicore
