// SPDX-License-Identifier: MIT
// Pure nftables documents for Paddock's one table `inet paddock` (libnftables JSON schema):
// the desired ruleset as one atomic transaction, a normalized fingerprint of a listing (to see
// out-of-band edits), and the detection of other tables that would drop forwarded VM traffic.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/ipv4.hpp"
#include "base/ipv6.hpp"

#include <optional>
#include "net/network_config.hpp"

namespace paddock::net {

inline constexpr const char* nft_family = "inet";
inline constexpr const char* nft_table = "paddock";

// Host port -> VM port (DNAT). `listen` 0.0.0.0: every host address (fib daddr type local), except
// 127.0.0.0/8 (DNAT from loopback to a VM would need route_localnet).
struct port_forward {
    std::string proto;           // tcp | udp
    ipv4 listen{0};
    std::uint16_t host_port = 0;
    ipv4 to{0};                  // the VM's reserved address
    std::uint16_t to_port = 0;
    bool operator==(const port_forward&) const = default;
};

struct nft_spec {
    cidr subnet;              // the VM subnet
    std::string host_veth;    // the VMs' gateway interface in the host namespace
    std::uint16_t api_port = 0; // TCP port of the daemon's API, never open to guests; 0 = none
    std::vector<host_port> guest_host_access; // what guests may reach on the host (beyond ping)
    std::vector<cidr> egress_deny;            // where guests may not go through the host
    std::vector<port_forward> forwards;       // host ports forwarded to VMs
    std::optional<cidr6> subnet6;             // the VMs' IPv6 /64 (NAT66 like the IPv4 subnet); none: off
    std::vector<cidr> routed;                 // other hosts' VM subnets: forwarded both ways without NAT
    std::vector<ipv4> peer_hosts;             // peer hosts that may ask our DNS (at dns_address) for our names
    ipv4 dns_address{0};
};

// One buffer = one transaction: add table, delete it (drops any stale content), add it again
// with its chains and rules. Applying it twice leaves exactly one copy. The rules: VMs go out
// (masqueraded) except to egress_deny; only replies come back in (a new connection from outside
// into the VM subnet is dropped); on the host itself guests reach only ping and guest_host_access,
// never the API port. Port forwards: DNAT in prerouting (from outside and from guests) and in
// output (the host itself), forwarded in when DNATed, masqueraded when a guest reaches another
// guest (or itself) through the host's address, so the replies come back the same way.
std::string nft_apply_document(const nft_spec& s);
// Deletes the table (callers check it exists first: `delete` of a missing table fails).
std::string nft_delete_document();
// The command that lists our table (text command; output is JSON).
std::string nft_list_table_command();

// Canonical text of a `list table` JSON output with handles and metainfo removed, so two
// listings of the same content compare equal. Empty string when the text is not a listing.
std::string nft_fingerprint(const std::string& listing_json);

// Reads a `list ruleset` JSON output and returns one warning per base chain of another table
// hooked on forward (or on the bridge family's forward) whose policy is drop, naming it.
std::vector<std::string> nft_forward_drop_warnings(const std::string& ruleset_json);

} // namespace paddock::net
