// SPDX-License-Identifier: MIT
// CORE: Router Advertisements and stateless DHCPv6 replies.
#include "dhcp/ipv6_config.hpp"

namespace paddock::dhcp {

namespace {
void put16(bytes6& b, std::uint16_t v)
{
    b.push_back(static_cast<std::uint8_t>(v >> 8));
    b.push_back(static_cast<std::uint8_t>(v));
}
void put32(bytes6& b, std::uint32_t v)
{
    put16(b, static_cast<std::uint16_t>(v >> 16));
    put16(b, static_cast<std::uint16_t>(v));
}
void put_addr(bytes6& b, const ipv6& a) { b.insert(b.end(), a.b.begin(), a.b.end()); }
std::uint16_t get16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] << 8 | p[1]); }

// DHCPv6 message and option codes (RFC 8415 section 7.3, 21; RFC 3646).
constexpr std::uint8_t information_request = 11, reply = 7;
constexpr std::uint16_t opt_client_id = 1, opt_server_id = 2, opt_dns_servers = 23, opt_domain_list = 24,
                        opt_refresh_time = 32;
} // namespace

std::optional<bytes6> dns_wire_name(const std::string& dotted)
{
    bytes6 out;
    std::size_t start = 0;
    while (start < dotted.size()) {
        auto dot = dotted.find('.', start);
        if (dot == std::string::npos)
            dot = dotted.size();
        const std::size_t len = dot - start;
        if (len == 0 || len > 63)
            return std::nullopt;
        out.push_back(static_cast<std::uint8_t>(len));
        out.insert(out.end(), dotted.begin() + static_cast<long>(start), dotted.begin() + static_cast<long>(dot));
        start = dot + 1;
    }
    out.push_back(0);
    if (out.size() > 255)
        return std::nullopt;
    return out;
}

bytes6 router_advertisement(const ra_params& p)
{
    bytes6 m;
    m.push_back(134); // type
    m.push_back(0);   // code
    put16(m, 0);      // checksum: the kernel's
    m.push_back(64);  // current hop limit
    m.push_back(0x40); // O: DNS and the search domain also by stateless DHCPv6
    put16(m, p.router_lifetime_s);
    put32(m, 0); // reachable time: unspecified
    put32(m, 0); // retrans timer: unspecified
    // Prefix information: on-link (L), autonomous (A).
    m.push_back(3);
    m.push_back(4);
    m.push_back(static_cast<std::uint8_t>(p.prefix.prefix));
    m.push_back(0xC0);
    put32(m, p.valid_s);
    put32(m, p.preferred_s);
    put32(m, 0);
    put_addr(m, p.prefix.network);
    // RDNSS: one server.
    m.push_back(25);
    m.push_back(3);
    put16(m, 0);
    put32(m, p.dns_lifetime_s);
    put_addr(m, p.dns);
    // DNSSL: the VMs' domain, padded to a multiple of 8 bytes.
    if (auto name = dns_wire_name(p.domain)) {
        bytes6 o{31, 0, 0, 0};
        put32(o, p.dns_lifetime_s);
        o.insert(o.end(), name->begin(), name->end());
        while (o.size() % 8)
            o.push_back(0);
        o[1] = static_cast<std::uint8_t>(o.size() / 8);
        m.insert(m.end(), o.begin(), o.end());
    }
    return m;
}

bool router_solicitation(const std::uint8_t* msg, std::size_t len)
{
    if (len < 8 || msg[0] != 133 || msg[1] != 0)
        return false;
    for (std::size_t at = 8; at < len;) {
        if (at + 2 > len || msg[at + 1] == 0)
            return false;
        at += 8u * msg[at + 1];
        if (at > len)
            return false;
    }
    return true;
}

std::optional<bytes6> dhcpv6_reply(const std::uint8_t* msg, std::size_t len, const ra_params& p, const mac_bytes& server_mac)
{
    if (len < 4 || msg[0] != information_request)
        return std::nullopt;
    bytes6 duid{0, 3, 0, 1}; // DUID-LL, Ethernet
    duid.insert(duid.end(), server_mac.begin(), server_mac.end());
    std::optional<bytes6> client_id;
    for (std::size_t at = 4; at < len;) {
        if (at + 4 > len)
            return std::nullopt;
        const std::uint16_t code = get16(msg + at), olen = get16(msg + at + 2);
        if (at + 4 + olen > len)
            return std::nullopt;
        if (code == opt_client_id)
            client_id = bytes6(msg + at + 4, msg + at + 4 + olen);
        // An INFORMATION-REQUEST for another server is not ours to answer.
        if (code == opt_server_id && (olen != duid.size() || !std::equal(duid.begin(), duid.end(), msg + at + 4)))
            return std::nullopt;
        at += 4u + olen;
    }
    bytes6 r{reply, msg[1], msg[2], msg[3]};
    auto option = [&r](std::uint16_t code, const bytes6& body) {
        put16(r, code);
        put16(r, static_cast<std::uint16_t>(body.size()));
        r.insert(r.end(), body.begin(), body.end());
    };
    option(opt_server_id, duid);
    if (client_id)
        option(opt_client_id, *client_id);
    option(opt_dns_servers, bytes6(p.dns.b.begin(), p.dns.b.end()));
    if (auto name = dns_wire_name(p.domain))
        option(opt_domain_list, *name);
    bytes6 refresh;
    put32(refresh, 86400);
    option(opt_refresh_time, refresh);
    return r;
}

} // namespace paddock::dhcp
