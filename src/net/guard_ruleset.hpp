// SPDX-License-Identifier: MIT
// CORE: the anti-spoofing table inside the namespace (`bridge paddock_guard`). Every frame a VM's
// TAP brings onto the bridge goes through that VM's chain: only its own MAC as source, ARP only
// for its own address (or 0.0.0.0 probes), IPv4 only from its reserved address (or DHCP from
// 0.0.0.0), nothing to a DHCP client's port 68 and nothing from port 67 (a VM is never a DHCP
// server), DHCP to the server only with the port's own MAC as chaddr, and no other ether type
// (VLAN tags). IPv6, when the VMs have it: only from the port's link-local and SLAAC addresses
// (or :: for duplicate address detection and its multicast listener reports), neighbour
// advertisements for those addresses only, and never a Router
// Advertisement, a redirect or a DHCPv6 server's message (each counted under its reason); without
// IPv6 the guests' own chatter is dropped uncounted. A `tap-*` port without a chain is dropped (fail closed). Each drop rule counts, under a
// comment naming the reason. Frames from other ports are untouched.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.hpp"

namespace paddock::net {

struct guard_port {
    std::string vm, tap, mac, ip;
    std::string ip6, ll6; // its SLAAC and link-local IPv6 addresses; empty when the VMs have no IPv6
};

// The whole table, replaced in one transaction (creates it first so the delete cannot fail).
// `services`: the daemon's address on the bridge (DNS and the seed server over TCP): a guest's
// new connections to it are limited to 50 a second (burst 100), its DNS queries to 2,000 a second
// (burst 4,000) and its DHCP packets to 50 a second (burst 100), counted as syn_flood, dns_flood and dhcp_flood beyond.
// `services6`: the same over IPv6 (its DNS queries limited alike); empty without IPv6.
std::string guard_document(const std::vector<guard_port>& ports, const std::string& services,
                           const std::string& services6 = {});
// Removes the table (teardown of the namespace removes it too).
std::string guard_delete_document();

// Drop counters by VM and reason, from `nft -j list table bridge paddock_guard`.
using guard_counts = std::map<std::string, std::map<std::string, std::uint64_t>>;
result<guard_counts> parse_guard_counters(std::string_view json, const std::vector<guard_port>& ports);

} // namespace paddock::net
