// SPDX-License-Identifier: MIT
// CORE: IPv4 + UDP framing.
#include "dhcp/frame.hpp"

namespace paddock::dhcp {

namespace {
void put16(std::vector<std::uint8_t>& b, std::size_t at, std::uint16_t v)
{
    b[at] = static_cast<std::uint8_t>(v >> 8);
    b[at + 1] = static_cast<std::uint8_t>(v);
}
void put32(std::vector<std::uint8_t>& b, std::size_t at, std::uint32_t v)
{
    put16(b, at, static_cast<std::uint16_t>(v >> 16));
    put16(b, at + 2, static_cast<std::uint16_t>(v));
}
} // namespace

std::uint16_t inet_checksum(std::span<const std::uint8_t> data, std::uint32_t sum)
{
    std::size_t i = 0;
    for (; i + 1 < data.size(); i += 2)
        sum += std::uint32_t{data[i]} << 8 | data[i + 1];
    if (i < data.size())
        sum += std::uint32_t{data[i]} << 8;
    while (sum >> 16)
        sum = (sum & 0xFFFF) + (sum >> 16);
    return static_cast<std::uint16_t>(~sum);
}

std::vector<std::uint8_t> ipv4_udp_frame(ipv4 src, ipv4 dst, std::uint16_t sport, std::uint16_t dport,
                                         std::span<const std::uint8_t> payload)
{
    const std::size_t udp_len = 8 + payload.size();
    const std::size_t total = 20 + udp_len;
    std::vector<std::uint8_t> b(total, 0);
    b[0] = 0x45; // IPv4, 20-byte header
    b[1] = 0x10; // DSCP/TOS: low delay, as DHCP servers customarily send
    put16(b, 2, static_cast<std::uint16_t>(total));
    b[8] = 64;   // TTL
    b[9] = 17;   // UDP
    put32(b, 12, src.value);
    put32(b, 16, dst.value);
    put16(b, 10, inet_checksum(std::span(b.data(), 20)));
    put16(b, 20, sport);
    put16(b, 22, dport);
    put16(b, 24, static_cast<std::uint16_t>(udp_len));
    std::copy(payload.begin(), payload.end(), b.begin() + 28);
    // UDP checksum over the pseudo-header + UDP header + payload.
    std::uint32_t pseudo = (src.value >> 16) + (src.value & 0xFFFF) + (dst.value >> 16) + (dst.value & 0xFFFF) + 17 +
                           static_cast<std::uint32_t>(udp_len);
    std::uint16_t c = inet_checksum(std::span(b.data() + 20, udp_len), pseudo);
    put16(b, 26, c == 0 ? 0xFFFF : c);
    return b;
}

} // namespace paddock::dhcp
