// SPDX-License-Identifier: MIT
// Pure IPv4 address and prefix types (no sockets): parsing, formatting, subnet arithmetic. Shared by
// dhcp, net, vm and api, so it lives in base.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace paddock {

// Host byte order.
struct ipv4 {
    std::uint32_t value = 0;
    auto operator<=>(const ipv4&) const = default;
};

struct cidr {
    ipv4 network;   // already masked
    int prefix = 0; // 0..32
    auto operator<=>(const cidr&) const = default;

    std::uint32_t mask() const { return prefix == 0 ? 0 : ~std::uint32_t{0} << (32 - prefix); }
    ipv4 broadcast() const { return {network.value | ~mask()}; }
    bool contains(ipv4 a) const { return (a.value & mask()) == network.value; }
    // True for an address that can be a host in this subnet (not network, not broadcast).
    bool is_host(ipv4 a) const
    {
        return contains(a) && (prefix >= 31 || (a != network && a != broadcast()));
    }
};

// Strict dotted quad: four decimal octets 0..255, no leading '+', no spaces, no leading zeros
// beyond a single "0" (so "010.0.0.1" is rejected rather than read as octal or decimal).
std::optional<ipv4> parse_ipv4(std::string_view s);
// "a.b.c.d/len"; host bits must be zero when `strict` (a subnet), may be set otherwise
// (an interface address like 192.168.26.1/24).
std::optional<cidr> parse_cidr(std::string_view s, bool strict = true);
std::string to_string(ipv4 a);
std::string to_string(const cidr& c);

} // namespace paddock
