// SPDX-License-Identifier: MIT
// CORE: DHCPv4 message codec (RFC 2131 §2, RFC 2132 options, RFC 3396 long options).
// decode() never throws and never reads past the buffer: every malformed input is an error value.
// Options are kept as raw bytes keyed by code; repeated codes are concatenated (RFC 3396) and
// option overload (52) pulls options out of the `file` and `sname` fields.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/error.hpp"
#include "base/mac.hpp"
#include "base/ipv4.hpp"

namespace paddock::dhcp {

enum class msg_type : std::uint8_t {
    discover = 1, offer = 2, request = 3, decline = 4, ack = 5, nak = 6, release = 7, inform = 8,
};
const char* to_string(msg_type t);

namespace opt {
inline constexpr std::uint8_t pad = 0, subnet_mask = 1, router = 3, dns = 6, hostname = 12, domain = 15,
                              broadcast = 28, requested_ip = 50, lease_time = 51, overload = 52,
                              message_type = 53, server_id = 54, param_list = 55, message = 56,
                              max_size = 57, t1 = 58, t2 = 59, vendor_class = 60, client_id = 61, end = 255;
}

inline constexpr std::size_t fixed_header = 236; // op .. file
inline constexpr std::uint32_t magic_cookie = 0x63825363;
inline constexpr std::uint16_t flag_broadcast = 0x8000;

struct message {
    std::uint8_t op = 1; // 1 BOOTREQUEST, 2 BOOTREPLY
    std::uint8_t htype = 1;
    std::uint8_t hlen = 6;
    std::uint8_t hops = 0;
    std::uint32_t xid = 0;
    std::uint16_t secs = 0;
    std::uint16_t flags = 0;
    ipv4 ciaddr, yiaddr, siaddr, giaddr;
    std::array<std::uint8_t, 16> chaddr{};
    std::string sname; // only when not overloaded with options
    std::string file;
    std::map<std::uint8_t, std::vector<std::uint8_t>> options;

    // Typed views of common options; nullopt when absent or malformed.
    std::optional<msg_type> type() const;
    std::optional<ipv4> ip_option(std::uint8_t code) const;
    std::optional<std::uint16_t> u16_option(std::uint8_t code) const;
    std::optional<std::string> string_option(std::uint8_t code) const;
    bool has(std::uint8_t code) const { return options.count(code) != 0; }

    // "52:54:00:12:34:56" for Ethernet-like hlen 6; hex otherwise.
    std::string mac() const;
    bool broadcast_flag() const { return (flags & flag_broadcast) != 0; }

    void set_ip(std::uint8_t code, ipv4 a);
    void set_u32(std::uint8_t code, std::uint32_t v);
    void set_u8(std::uint8_t code, std::uint8_t v);
    void set_string(std::uint8_t code, const std::string& s);
};

result<message> decode(std::span<const std::uint8_t> bytes);

// Encodes with option 53 first, then 54, then the rest in code order; long options are split into
// 255-byte pieces (RFC 3396). Pads to the 300-byte BOOTP minimum.
std::vector<std::uint8_t> encode(const message& m);


} // namespace paddock::dhcp
