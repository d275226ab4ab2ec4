// SHA-1 (FIPS 180-4), for the WebSocket handshake's accept key only (RFC
// 6455 fixes the algorithm; nothing here relies on it for security).
#pragma once

#include <cstddef>
#include <cstdint>

namespace asgicore {

void sha1(const void *data, size_t len, uint8_t digest[20]) noexcept;

}  // namespace asgicore
