#include "ws_handshake.hpp"

#include "sha1.hpp"

#include <cstdint>

namespace asgicore::ws {

namespace {

constexpr char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string base64(const uint8_t *p, size_t n)
{
    std::string out;
    out.reserve((n + 2) / 3 * 4);
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = uint32_t(p[i]) << 16;
        if (i + 1 < n)
            v |= uint32_t(p[i + 1]) << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        out.push_back(b64[(v >> 18) & 63]);
        out.push_back(b64[(v >> 12) & 63]);
        out.push_back(i + 1 < n ? b64[(v >> 6) & 63] : '=');
        out.push_back(i + 2 < n ? b64[v & 63] : '=');
    }
    return out;
}

char lower(char c) noexcept
{
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool equal_nocase(std::string_view a, std::string_view b) noexcept
{
    if (a.size() != b.size())
        return false;
    for (size_t i = 0; i < a.size(); i++)
        if (lower(a[i]) != lower(b[i]))
            return false;
    return true;
}

std::string_view trim(std::string_view s) noexcept
{
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    return s;
}

// A Sec-WebSocket-Key: the base64 form of 16 bytes (22 characters, "==").
bool key_valid(std::string_view key) noexcept
{
    if (key.size() != 24 || key[22] != '=' || key[23] != '=')
        return false;
    for (size_t i = 0; i < 22; i++) {
        char c = key[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                  (c >= '0' && c <= '9') || c == '+' || c == '/';
        if (!ok)
            return false;
    }
    // the last character holds 2 bits of the 16th byte and 4 unused
    // bits, which are zero in the one base64 form of 16 bytes
    return std::string_view("AQgw").find(key[21]) != std::string_view::npos;
}

// An HTTP token (RFC 9110): what a subprotocol name must be.
bool is_token(std::string_view s) noexcept
{
    if (s.empty())
        return false;
    for (char c : s) {
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                  (c >= '0' && c <= '9') ||
                  std::string_view("!#$%&'*+-.^_`|~").find(c) !=
                      std::string_view::npos;
        if (!ok)
            return false;
    }
    return true;
}

}  // namespace

bool has_token(std::string_view value, std::string_view token) noexcept
{
    while (!value.empty()) {
        size_t comma = value.find(',');
        std::string_view element = trim(value.substr(0, comma));
        if (equal_nocase(element, token))
            return true;
        if (comma == std::string_view::npos)
            break;
        value.remove_prefix(comma + 1);
    }
    return false;
}

std::string accept_key(std::string_view key)
{
    std::string text(key);
    text += "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    uint8_t digest[20];
    sha1(text.data(), text.size(), digest);
    return base64(digest, sizeof digest);
}

Handshake check_handshake(std::string_view method,
                          std::string_view http_version,
                          const std::vector<HeaderView> &headers)
{
    Handshake h;
    bool upgrade = false, connection = false;
    int keys = 0, versions = 0;
    bool bad_protocol = false, body = false;
    std::string_view key, version;
    for (const HeaderView &hv : headers) {
        if (hv.name == "upgrade") {
            upgrade = upgrade || has_token(hv.value, "websocket");
        } else if (hv.name == "connection") {
            connection = connection || has_token(hv.value, "upgrade");
        } else if (hv.name == "sec-websocket-key") {
            keys++;
            key = trim(hv.value);
        } else if (hv.name == "sec-websocket-version") {
            versions++;
            version = trim(hv.value);
        } else if (hv.name == "transfer-encoding" ||
                   (hv.name == "content-length" && trim(hv.value) != "0")) {
            body = true;
        } else if (hv.name == "sec-websocket-protocol") {
            std::string_view v = hv.value;
            while (!v.empty()) {
                size_t comma = v.find(',');
                std::string_view p = trim(v.substr(0, comma));
                if (!p.empty() && !is_token(p))
                    bad_protocol = true;  // it would be echoed to the client
                if (!p.empty())
                    h.subprotocols.emplace_back(p);
                if (comma == std::string_view::npos)
                    break;
                v.remove_prefix(comma + 1);
            }
        }
    }
    if (method != "GET") {
        h.status = 400;
        h.error = "a WebSocket handshake must be a GET";
    } else if (http_version != "1.1") {
        h.status = 400;
        h.error = "a WebSocket handshake needs HTTP/1.1";
    } else if (!upgrade || !connection) {
        h.status = 400;
        h.error = "no \"Upgrade: websocket\" with \"Connection: upgrade\"";
    } else if (versions != 1 || version != "13") {
        h.status = 426;
        h.error = "Sec-WebSocket-Version is not 13";
    } else if (keys != 1 || !key_valid(key)) {
        h.status = 400;
        h.error = "no valid Sec-WebSocket-Key";
    } else if (body) {
        // its bytes would be read as frames after the 101
        h.status = 400;
        h.error = "a WebSocket handshake with a request body";
    } else if (bad_protocol) {
        h.status = 400;
        h.error = "a Sec-WebSocket-Protocol value that is not a token";
    } else {
        h.accept = accept_key(key);
    }
    return h;
}

}  // namespace asgicore::ws
