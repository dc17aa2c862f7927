// SPDX-License-Identifier: MIT
// CORE: what IPv6 hosts on the bridge are told, as bytes: Router Advertisements (RFC 4861 4.2)
// with the VM prefix for SLAAC, RDNSS and DNSSL (RFC 8106), and stateless DHCPv6 (RFC 8415)
// replies to INFORMATION-REQUEST with the DNS server and search domain. No sockets.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/ipv6.hpp"
#include "base/mac.hpp"

namespace paddock::dhcp {

using bytes6 = std::vector<std::uint8_t>;

struct ra_params {
    cidr6 prefix;                      // a /64, on-link and autonomous
    ipv6 dns;                          // RDNSS, and DHCPv6's DNS server
    std::string domain;                // DNSSL, and DHCPv6's domain search list
    std::uint16_t router_lifetime_s = 1800;
    std::uint32_t valid_s = 86400, preferred_s = 14400;
    std::uint32_t dns_lifetime_s = 1800;
};

// The ICMPv6 message of a Router Advertisement (the checksum left 0: the kernel fills it in for
// raw ICMPv6 sockets). Flags: O (other configuration: DNS by DHCPv6), not M.
bytes6 router_advertisement(const ra_params& p);

// Is this ICMPv6 message a Router Solicitation (type 133, code 0, at least 8 bytes, every option
// with a non-zero length)? The hop limit (255) is the driver's to check.
bool router_solicitation(const std::uint8_t* msg, std::size_t len);

// The REPLY to a DHCPv6 INFORMATION-REQUEST (server identifier: DUID-LL of `server_mac`), or none
// for any other message, or a malformed one, or one naming another server.
std::optional<bytes6> dhcpv6_reply(const std::uint8_t* msg, std::size_t len, const ra_params& p, const mac_bytes& server_mac);

// A domain name in DNS wire form ("a.b" -> 1 a 1 b 0); none if a label is empty or too long.
std::optional<bytes6> dns_wire_name(const std::string& dotted);

} // namespace paddock::dhcp
