// SPDX-License-Identifier: MIT
// MAC address text.
#include "base/mac.hpp"

#include <cstdio>

namespace paddock {

std::optional<mac_bytes> parse_mac(std::string_view s)
{
    if (s.size() != 17)
        return std::nullopt;
    mac_bytes out{};
    auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    for (int i = 0; i < 6; ++i) {
        int hi = hex(s[i * 3]), lo = hex(s[i * 3 + 1]);
        if (hi < 0 || lo < 0 || (i < 5 && s[i * 3 + 2] != ':'))
            return std::nullopt;
        out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
    }
    return out;
}

std::string to_string(const mac_bytes& m)
{
    char buf[18];
    std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
    return buf;
}

std::optional<std::string> canonical_mac(std::string_view s)
{
    auto m = parse_mac(s);
    if (!m)
        return std::nullopt;
    return to_string(*m);
}

bool valid_unicast_mac(std::string_view s)
{
    auto m = parse_mac(s);
    if (!m)
        return false;
    bool zero = true;
    for (auto b : *m)
        zero = zero && b == 0;
    return !zero && ((*m)[0] & 1) == 0;
}

std::string make_mac(std::uint32_t r)
{
    return to_string(mac_bytes{0x52, 0x54, 0x00, static_cast<std::uint8_t>(r >> 16), static_cast<std::uint8_t>(r >> 8),
                               static_cast<std::uint8_t>(r)});
}

} // namespace paddock
