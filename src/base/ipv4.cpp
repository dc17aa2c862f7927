// SPDX-License-Identifier: MIT
// Pure IPv4 address and prefix helpers.
#include "base/ipv4.hpp"

#include <charconv>

namespace paddock {

std::optional<ipv4> parse_ipv4(std::string_view s)
{
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
        if (i > 0) {
            if (s.empty() || s.front() != '.')
                return std::nullopt;
            s.remove_prefix(1);
        }
        std::size_t n = 0;
        while (n < s.size() && n < 4 && s[n] >= '0' && s[n] <= '9')
            ++n;
        if (n == 0 || n > 3 || (n > 1 && s[0] == '0'))
            return std::nullopt;
        unsigned octet = 0;
        std::from_chars(s.data(), s.data() + n, octet);
        if (octet > 255)
            return std::nullopt;
        v = (v << 8) | octet;
        s.remove_prefix(n);
    }
    if (!s.empty())
        return std::nullopt;
    return ipv4{v};
}

std::optional<cidr> parse_cidr(std::string_view s, bool strict)
{
    auto slash = s.find('/');
    if (slash == std::string_view::npos)
        return std::nullopt;
    auto addr = parse_ipv4(s.substr(0, slash));
    auto len = s.substr(slash + 1);
    if (!addr || len.empty() || len.size() > 2 || (len.size() == 2 && len[0] == '0'))
        return std::nullopt;
    int prefix = 0;
    auto [p, ec] = std::from_chars(len.data(), len.data() + len.size(), prefix);
    if (ec != std::errc{} || p != len.data() + len.size() || prefix < 0 || prefix > 32)
        return std::nullopt;
    cidr c{*addr, prefix};
    if ((addr->value & c.mask()) != addr->value) {
        if (strict)
            return std::nullopt;
        c.network.value = addr->value & c.mask();
    }
    return c;
}

std::string to_string(ipv4 a)
{
    return std::to_string(a.value >> 24) + '.' + std::to_string((a.value >> 16) & 255) + '.' +
           std::to_string((a.value >> 8) & 255) + '.' + std::to_string(a.value & 255);
}

std::string to_string(const cidr& c) { return to_string(c.network) + '/' + std::to_string(c.prefix); }

} // namespace paddock
