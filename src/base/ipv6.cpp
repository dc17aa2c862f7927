// SPDX-License-Identifier: MIT
// Pure IPv6 helpers.
#include "base/ipv6.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <charconv>

#include "base/mac.hpp"

namespace paddock {

bool cidr6::contains(const ipv6& a) const
{
    for (int i = 0; i < 16; ++i) {
        const int bits = std::min(8, std::max(0, prefix - 8 * i));
        const std::uint8_t mask = bits == 0 ? 0 : static_cast<std::uint8_t>(0xFF << (8 - bits));
        if ((a.b[i] & mask) != network.b[i])
            return false;
    }
    return true;
}

std::optional<ipv6> parse_ipv6(std::string_view s)
{
    if (s.empty() || s.size() > 45)
        return std::nullopt;
    ipv6 a;
    if (::inet_pton(AF_INET6, std::string(s).c_str(), a.b.data()) != 1)
        return std::nullopt;
    return a;
}

std::optional<cidr6> parse_cidr6(std::string_view s)
{
    auto slash = s.find('/');
    if (slash == std::string_view::npos)
        return std::nullopt;
    auto a = parse_ipv6(s.substr(0, slash));
    std::string_view len = s.substr(slash + 1);
    int n = -1;
    auto [end, ec] = std::from_chars(len.data(), len.data() + len.size(), n);
    if (!a || ec != std::errc() || end != len.data() + len.size() || n < 0 || n > 128 || (len.size() > 1 && len[0] == '0'))
        return std::nullopt;
    cidr6 c{*a, n};
    cidr6 masked{{}, n};
    for (int i = 0; i < 16; ++i) {
        const int bits = std::min(8, std::max(0, n - 8 * i));
        masked.network.b[i] = a->b[i] & (bits == 0 ? 0 : static_cast<std::uint8_t>(0xFF << (8 - bits)));
    }
    if (masked.network != c.network)
        return std::nullopt; // host bits set
    return c;
}

std::string to_string(const ipv6& a)
{
    char buf[INET6_ADDRSTRLEN];
    ::inet_ntop(AF_INET6, a.b.data(), buf, sizeof buf);
    return buf;
}

std::string to_string(const cidr6& c) { return to_string(c.network) + "/" + std::to_string(c.prefix); }

ipv6 with_iid(const cidr6& prefix, std::uint64_t iid)
{
    ipv6 a = prefix.network;
    for (int i = 0; i < 8; ++i)
        a.b[8 + i] = static_cast<std::uint8_t>(iid >> (56 - 8 * i));
    return a;
}

std::optional<std::uint64_t> eui64(std::string_view mac)
{
    auto parsed = parse_mac(mac);
    if (!parsed)
        return std::nullopt;
    const mac_bytes& m = *parsed;
    const std::uint8_t id[8] = {static_cast<std::uint8_t>(m[0] ^ 0x02), m[1], m[2], 0xFF, 0xFE, m[3], m[4], m[5]};
    std::uint64_t out = 0;
    for (auto x : id)
        out = (out << 8) | x;
    return out;
}

std::optional<ipv6> slaac_address(const cidr6& prefix, std::string_view mac)
{
    auto iid = eui64(mac);
    if (!iid)
        return std::nullopt;
    return with_iid(prefix, *iid);
}

std::optional<ipv6> link_local(std::string_view mac)
{
    return slaac_address(cidr6{*parse_ipv6("fe80::"), 64}, mac);
}

cidr6 ula_prefix(std::uint64_t global_id)
{
    cidr6 c{{}, 64};
    c.network.b[0] = 0xFD;
    for (int i = 0; i < 5; ++i)
        c.network.b[1 + i] = static_cast<std::uint8_t>(global_id >> (32 - 8 * i));
    return c;
}

std::string reverse_name(const ipv6& a)
{
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (int i = 15; i >= 0; --i) {
        out += hex[a.b[i] & 15];
        out += '.';
        out += hex[a.b[i] >> 4];
        out += '.';
    }
    return out + "ip6.arpa";
}

std::optional<ipv6> from_reverse_name(std::string_view name)
{
    if (!name.empty() && name.back() == '.')
        name.remove_suffix(1);
    constexpr std::string_view suffix = "ip6.arpa";
    if (name.size() != 64 + suffix.size())
        return std::nullopt;
    for (std::size_t i = 0; i < suffix.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(name[64 + i])) != suffix[i])
            return std::nullopt;
    ipv6 a;
    for (int n = 0; n < 32; ++n) {
        const char c = static_cast<char>(std::tolower(static_cast<unsigned char>(name[2 * n])));
        if (name[2 * n + 1] != '.')
            return std::nullopt;
        int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (v < 0)
            return std::nullopt;
        // nibble n counts from the least significant end
        const int byte = 15 - n / 2;
        a.b[byte] = static_cast<std::uint8_t>(n % 2 == 0 ? (a.b[byte] & 0xF0) | v : (a.b[byte] & 0x0F) | (v << 4));
    }
    return a;
}

} // namespace paddock
