// SPDX-License-Identifier: MIT
// The network fabric's configuration (SPEC section 2), owned by net; app fills it from the config
// file. Pure data.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/ipv4.hpp"
#include "base/ipv6.hpp"

#include <optional>

namespace paddock::net {

// A port range on the host that guests may reach ("tcp/22", "udp/5353", "tcp/8000-8100").
struct host_port {
    std::string proto; // tcp | udp
    std::uint16_t first = 0, last = 0;
    bool operator==(const host_port&) const = default;
};

// Another host's VM subnet, reached through a next hop on the uplink (network.routes), routed
// without NAT both ways.
struct route {
    cidr subnet;
    ipv4 via;
    bool operator==(const route&) const = default;
};

// Another Paddock host (network.peers): its VM subnet, its address on the uplink (the next hop),
// its VMs' domain and its DNS server (default: the subnet's second address, Paddock's bridge
// address). Names under `domain` are asked of `dns`; the peer's host may ask ours.
struct peer {
    cidr subnet;
    ipv4 gateway;
    std::string domain;
    ipv4 dns;
    bool operator==(const peer&) const = default;
};

struct network_config {
    std::string namespace_name = "paddock";
    std::string host_veth = "paddock0";
    std::string bridge = "br0";
    cidr subnet{{0xC0A81A00u}, 24};    // 192.168.26.0/24
    ipv4 gateway{0xC0A81A01u};          // 192.168.26.1
    ipv4 bridge_address{0xC0A81A02u};   // 192.168.26.2
    ipv4 pool_start{0xC0A81A0Au};       // 192.168.26.10
    ipv4 pool_end{0xC0A81AFAu};         // 192.168.26.250
    std::uint32_t lease_time_s = 3600;
    // Leases the clients on one bridge port that is not a VM's may hold (a VM's port holds its
    // reserved one only); 0: no cap.
    std::uint32_t dhcp_max_leases_per_port = 16;
    // DHCP packets a second one client (a MAC on a port) gets answered, twice that in a burst; 0: no limit.
    std::uint32_t dhcp_client_rate = 10;
    // DHCP packets a second all clients on one bridge port get answered together, twice that in
    // a burst; 0: no limit.
    std::uint32_t dhcp_port_rate = 200;
    // DHCP option 6; empty in the file means "the gateway" (the default until Paddock serves DNS).
    std::vector<ipv4> dns;
    std::string domain = "paddock.internal"; // DHCP option 15
    // What guests may reach on the host itself beyond ping and replies (our table drops the rest).
    std::vector<host_port> guest_host_access;
    // Destinations guests may not reach through the host (cloud metadata services by default).
    std::vector<cidr> egress_deny{cidr{ipv4{0xA9FE0000u}, 16}}; // 169.254.0.0/16
    std::vector<route> routes;
    std::vector<peer> peers;
    // Every subnet routed to (routes, then peers' subnets).
    std::vector<cidr> routed_subnets() const
    {
        std::vector<cidr> out;
        for (auto& r : routes)
            out.push_back(r.subnet);
        for (auto& p : peers)
            out.push_back(p.subnet);
        return out;
    }
    // IPv6 for VMs (network.ipv6): "auto" (a unique local /64 from a random ID kept in the store),
    // "off", or "prefix" (the /64 in the config). `prefix6` is the /64 in use: set before the fabric is
    // made, none when off.
    std::string ipv6_mode = "auto";
    std::optional<cidr6> prefix6;

    // Gateway (host veth) and bridge addresses on the VM /64: ::1 and ::2; the gateway's
    // link-local address, the router guests see in the Router Advertisements: fe80::1.
    ipv6 gateway6() const { return with_iid(*prefix6, 1); }
    ipv6 bridge_address6() const { return with_iid(*prefix6, 2); }
    static ipv6 gateway_link_local() { return *parse_ipv6("fe80::1"); }
};


// Name of the namespace end of the veth pair (inside the namespace, enslaved to the bridge).
inline constexpr std::string_view ns_veth_name = "gw0";

// The bridge's own MAC: locally administered, derived from the namespace, bridge and address
// (FNV-1a), so it is the same after every restart or rebuild and never follows a port's.
inline std::string bridge_mac(const network_config& c)
{
    std::uint64_t h = 14695981039346656037ull;
    auto mix = [&h](std::string_view s) {
        for (unsigned char ch : s)
            h = (h ^ ch) * 1099511628211ull;
        h = (h ^ '/') * 1099511628211ull;
    };
    mix(c.namespace_name);
    mix(c.bridge);
    mix(to_string(c.bridge_address));
    static constexpr char hex[] = "0123456789abcdef";
    std::string out = "02";
    for (int i = 0; i < 5; ++i) {
        const unsigned b = static_cast<unsigned>(h >> (8 * i)) & 0xFF;
        out += ':';
        out += hex[b >> 4];
        out += hex[b & 15];
    }
    return out;
}

} // namespace paddock::net
