// The opening handshake of RFC 6455 section 4.2.1, checked on the request
// the host parsed (W1), and the accept key of its answer.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace asgicore::ws {

struct HeaderView {
    std::string_view name;  // lower-case
    std::string_view value;
};

struct Handshake {
    // 0 when the request is a valid opening handshake; otherwise the
    // status to refuse it with (400, or 426 when the version is not 13,
    // with "Sec-WebSocket-Version: 13"), `error` saying why.
    int status = 0;
    const char *error = nullptr;
    std::string accept;                     // Sec-WebSocket-Accept
    std::vector<std::string> subprotocols;  // offered, in order
};

// May throw std::bad_alloc.
Handshake check_handshake(std::string_view method,
                          std::string_view http_version,
                          const std::vector<HeaderView> &headers);

// Whether a comma-separated header value holds `token` (case-insensitive,
// optional whitespace around elements, empty elements ignored).
bool has_token(std::string_view value, std::string_view token) noexcept;

// The Sec-WebSocket-Accept value for a Sec-WebSocket-Key.
std::string accept_key(std::string_view key);

}  // namespace asgicore::ws
