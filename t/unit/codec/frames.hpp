// Client frames for the codec and session tests.
#pragma once

#include "ws_frame.hpp"

#include <cstdint>
#include <string>

namespace {

// A client frame: masked with `mask`, `rsv` bits as given.
inline std::string client_frame(uint8_t op, const std::string &payload,
                                bool fin = true, uint32_t mask = 0x37fa213d,
                                uint8_t rsv = 0, bool masked = true)
{
    std::string f;
    f.push_back(static_cast<char>((fin ? 0x80 : 0) | (rsv << 4) | op));
    uint8_t m = masked ? 0x80 : 0;
    size_t n = payload.size();
    if (n < 126) {
        f.push_back(static_cast<char>(m | n));
    } else if (n <= 0xffff) {
        f.push_back(static_cast<char>(m | 126));
        f.push_back(static_cast<char>(n >> 8));
        f.push_back(static_cast<char>(n));
    } else {
        f.push_back(static_cast<char>(m | 127));
        for (int i = 7; i >= 0; i--)
            f.push_back(static_cast<char>(uint64_t(n) >> (8 * i)));
    }
    uint8_t key[4] = {uint8_t(mask >> 24), uint8_t(mask >> 16),
                      uint8_t(mask >> 8), uint8_t(mask)};
    if (masked)
        f.append(reinterpret_cast<char *>(key), 4);
    for (size_t i = 0; i < n; i++)
        f.push_back(static_cast<char>(payload[i] ^ (masked ? key[i & 3] : 0)));
    return f;
}

inline std::string close_payload(unsigned code, const std::string &reason = "")
{
    std::string p;
    p.push_back(static_cast<char>(code >> 8));
    p.push_back(static_cast<char>(code));
    return p + reason;
}

}  // namespace
