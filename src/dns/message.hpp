// SPDX-License-Identifier: MIT
// CORE: the DNS wire format (RFC 1035, EDNS0 of RFC 6891) as far as a forwarder with a local zone
// needs it: reading a query's header and question, walking a server's reply (with compression
// pointers, guarded against loops) to find its TTLs, and writing answers. Pure: bytes in, bytes out.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.hpp"

namespace paddock::dns {

using bytes = std::vector<std::uint8_t>;
using view = std::span<const std::uint8_t>;

namespace type {
inline constexpr std::uint16_t a = 1, ns = 2, cname = 5, soa = 6, ptr = 12, aaaa = 28, opt = 41, any = 255;
}
namespace rcode {
inline constexpr std::uint8_t noerror = 0, formerr = 1, servfail = 2, nxdomain = 3, notimp = 4, refused = 5;
}
inline constexpr std::uint16_t class_in = 1;
inline constexpr std::size_t header_size = 12;
// What we tell EDNS clients we accept over UDP (the DNS flag day 2020 figure).
inline constexpr std::uint16_t our_udp_size = 1232;

struct query {
    std::uint16_t id = 0;
    std::uint16_t flags = 0;      // as received
    std::string name;             // lower case, dot-separated, no trailing dot; "" is the root
    bool plain_name = true;       // false when a label holds a dot or a byte outside printable ASCII
    bytes wire_name;              // the name in wire form, lower case (a cache key part)
    std::uint16_t qtype = 0;
    std::uint16_t qclass = 0;
    std::size_t question_end = 0; // offset just past the question
    bool edns = false;
    std::uint16_t udp_size = 512; // the most the client takes over UDP
    bool dnssec_ok = false;

    std::uint8_t opcode() const { return static_cast<std::uint8_t>((flags >> 11) & 0xF); }
    bool recursion_desired() const { return (flags & 0x0100) != 0; }
    bool checking_disabled() const { return (flags & 0x0010) != 0; }
    // The largest reply this client takes over the given transport.
    std::size_t reply_limit(bool tcp) const { return tcp ? 65535 : std::max<std::size_t>(512, udp_size); }
};

// A query: one question, QR clear. Anything else fails with errc::dns_malformed and a reason.
result<query> parse_query(view msg);

// What a forwarder needs from a server's reply.
struct reply_info {
    std::uint16_t id = 0;
    std::uint16_t flags = 0;
    std::uint8_t rcode = 0;
    bool truncated = false;
    std::uint16_t answers = 0;
    std::size_t question_end = 0;
    std::vector<std::size_t> ttl_offsets;  // where each record's TTL sits (OPT excluded)
    std::optional<std::uint32_t> min_ttl;  // smallest TTL over answer and authority records
    std::optional<std::uint32_t> soa_negative_ttl; // min(SOA TTL, SOA MINIMUM) from the authority section
};
result<reply_info> parse_reply(view msg);

// True when the two messages ask the same question (name compared without case).
bool same_question(view a, std::size_t a_end, view b, std::size_t b_end);

// "a.b" -> 1 'a' 1 'b' 0. Labels must be 1..63 bytes and the whole at most 255.
std::optional<bytes> encode_name(std::string_view dotted);

// A resource record to write: its owner is the question's name (a pointer to offset 12) unless
// `owner` is given in wire form.
struct record {
    std::uint16_t rtype = 0;
    std::uint32_t ttl = 0;
    bytes rdata;
    std::optional<bytes> owner;
};

// A reply to `q` (raw bytes `msg`): the question copied as asked (its case kept), the records, and
// an OPT record when the query had one.
bytes make_reply(view msg, const query& q, std::uint8_t rc, bool authoritative, std::span<const record> answers,
                 std::span<const record> authority);
// A reply that holds only the question with TC set: the client should ask again over TCP.
bytes truncated_reply(view msg, const query& q);

// SOA rdata for a zone we answer for: mname = zone, rname = hostmaster.zone, MINIMUM = `negative_ttl`.
bytes soa_rdata(const bytes& zone_wire, std::uint32_t negative_ttl);

inline std::uint16_t get16(view m, std::size_t at) { return static_cast<std::uint16_t>(m[at] << 8 | m[at + 1]); }
inline void put16(std::uint8_t* p, std::uint16_t v)
{
    p[0] = static_cast<std::uint8_t>(v >> 8);
    p[1] = static_cast<std::uint8_t>(v);
}

} // namespace paddock::dns
