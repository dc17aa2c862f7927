// SPDX-License-Identifier: MIT
// Pure IPv6 address and /64 prefix types: parsing, formatting, the interface identifier a MAC
// gives (modified EUI-64, RFC 4291 appendix A), unique local prefixes (RFC 4193) and reverse names.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace paddock {

struct ipv6 {
    std::array<std::uint8_t, 16> b{};
    auto operator<=>(const ipv6&) const = default;
};

struct cidr6 {
    ipv6 network;   // host bits clear
    int prefix = 0; // 0..128
    auto operator<=>(const cidr6&) const = default;
    bool contains(const ipv6& a) const;
};

std::optional<ipv6> parse_ipv6(std::string_view s);
// "fd00:1:2:3::/64"; host bits must be zero.
std::optional<cidr6> parse_cidr6(std::string_view s);
std::string to_string(const ipv6& a); // RFC 5952 form (inet_ntop)
std::string to_string(const cidr6& c);

// The address with `prefix`'s first 64 bits and interface identifier `iid`.
ipv6 with_iid(const cidr6& prefix, std::uint64_t iid);
// The modified EUI-64 interface identifier of a MAC ("52:54:00:12:34:56"); nullopt if it is not one.
std::optional<std::uint64_t> eui64(std::string_view mac);
// The address SLAAC gives a MAC on a /64: prefix + EUI-64; fe80::/64 for its link-local one.
std::optional<ipv6> slaac_address(const cidr6& prefix, std::string_view mac);
std::optional<ipv6> link_local(std::string_view mac);
// fdXX:XXXX:XXXX:0000::/64 from a 40-bit global ID (RFC 4193 section 3.2).
cidr6 ula_prefix(std::uint64_t global_id);
// "b.a.9.8....ip6.arpa" (32 nibbles, reversed).
std::string reverse_name(const ipv6& a);
// The address of a "....ip6.arpa" name (any case, with or without the final dot), if it is one.
std::optional<ipv6> from_reverse_name(std::string_view name);

} // namespace paddock
