// SPDX-License-Identifier: MIT
// rtnetlink through libnl-3: one connected socket bound to one network namespace, and the few
// link/address operations the fabric needs. Every call is one short blocking netlink round trip.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/error.hpp"
#include "base/ipv4.hpp"
#include "base/ipv6.hpp"

struct nl_sock;

namespace paddock::net {

struct link_info {
    int ifindex = 0;
    std::string type; // "veth", "bridge", "tun", "" (loopback/unknown)
    bool up = false;
    int master = 0;   // ifindex of the bridge this link is enslaved to, 0 if none
    std::string mac;  // "aa:bb:cc:dd:ee:ff"; empty when it has none
    // The link's own counters (this end's view: rx is what it received).
    std::uint64_t rx_bytes = 0, tx_bytes = 0, rx_packets = 0, tx_packets = 0;
};

struct if_address {
    ipv4 address;
    int prefix = 0;
};

class rtnl {
public:
    // Connects a NETLINK_ROUTE socket in the calling thread's namespace.
    static result<rtnl> connect();
    // Connects a socket inside the namespace `ns_fd` (on a helper thread).
    static result<rtnl> connect_in(int ns_fd);

    rtnl(rtnl&& o) noexcept : sk_(o.sk_) { o.sk_ = nullptr; }
    rtnl& operator=(rtnl&& o) noexcept;
    ~rtnl();

    std::optional<link_info> get_link(const std::string& name);
    // Every link in this socket's namespace, by name.
    std::vector<std::pair<std::string, link_info>> links();
    std::vector<if_address> addresses(int ifindex);

    // Creates a veth pair: `name` here, `peer_name` directly inside the namespace `peer_ns_fd`.
    status create_veth(const std::string& name, const std::string& peer_name, int peer_ns_fd);
    // A bridge with a MAC of its own: a bridge without one takes its lowest port's, and so changes
    // MAC when a port with a lower one joins, which leaves every guest's ARP entry for it stale.
    status create_bridge(const std::string& name, const std::string& mac);
    status set_mac(const std::string& name, const std::string& mac);
    status set_up(const std::string& name);
    status set_master(const std::string& name, int master_ifindex);
    status delete_link(const std::string& name);
    status add_address(int ifindex, if_address a);
    // IPv6 addresses of a link, and adding one (without duplicate address detection: usable at once).
    std::vector<std::pair<ipv6, int>> addresses6(int ifindex);
    status add_address6(int ifindex, const ipv6& a, int prefix);
    status delete_address6(int ifindex, const ipv6& a, int prefix);
    // IPv4 routes in the main table that Paddock made (protocol `route_protocol`): subnet and next hop.
    std::vector<std::pair<cidr, ipv4>> own_routes();
    status add_route(const cidr& subnet, ipv4 via);
    status delete_route(const cidr& subnet, ipv4 via);

private:
    explicit rtnl(nl_sock* sk) : sk_(sk) {}
    nl_sock* sk_ = nullptr;
};

// Creates (or attaches to) the TAP device `name` inside the namespace `ns_fd` and returns the
// queue's fd: the device lives as long as some process holds it (QEMU, after we hand it over).
result<int> open_tap(int ns_fd, const std::string& name);

// The routing protocol number Paddock's routes carry (`ip route` shows "proto 199"), so teardown
// and repairs know them from the operator's own.
inline constexpr int route_protocol = 199;

// Integer sysctls of the calling thread's namespace ("/proc/sys/..." paths).
inline constexpr const char* ipv4_forward_path = "/proc/sys/net/ipv4/ip_forward";
inline constexpr const char* ipv6_forward_path = "/proc/sys/net/ipv6/conf/all/forwarding";
result<int> read_sysctl(const char* path);
status write_sysctl(const char* path, int value);
inline result<int> read_ip_forward() { return read_sysctl(ipv4_forward_path); }
inline status write_ip_forward(int value) { return write_sysctl(ipv4_forward_path, value); }

// An interface of this namespace that learns IPv6 routes from Router Advertisements (accept_ra 1
// and a route of protocol "ra"): turning IPv6 forwarding on would make it stop. "" when none.
std::string ra_dependent_interface();

} // namespace paddock::net
