// SPDX-License-Identifier: MIT
// CORE: an IPv4 + UDP datagram around a payload, with both checksums, for sending a DHCP reply by
// link-layer unicast to a client that has no IP address yet (RFC 2131 §4.1).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "base/ipv4.hpp"

namespace paddock::dhcp {

std::vector<std::uint8_t> ipv4_udp_frame(ipv4 src, ipv4 dst, std::uint16_t sport, std::uint16_t dport,
                                         std::span<const std::uint8_t> payload);

// Internet checksum (RFC 1071) of `data`, starting from `sum`.
std::uint16_t inet_checksum(std::span<const std::uint8_t> data, std::uint32_t sum = 0);

} // namespace paddock::dhcp
