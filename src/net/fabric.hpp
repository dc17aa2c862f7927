// SPDX-License-Identifier: MIT
// The network fabric (SPEC section 2): a named namespace holding a bridge and one end of a veth
// pair whose host end is the VMs' gateway; net.ipv4.ip_forward in the host; one nftables table
// `inet paddock`. ensure() creates, adopts or repairs it and says what it changed; teardown()
// removes everything and restores the sysctl. Calls are blocking netlink/nft round trips: the
// daemon makes them at start-up, then only from fabric_worker's thread, never from its loop.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "base/error.hpp"
#include "net/network_config.hpp"
#include "net/links.hpp"
#include "net/netns.hpp"
#include "net/nft.hpp"
#include "net/nft_ruleset.hpp"

namespace paddock::net {

// The host's forwarding switches as they were before Paddock first changed them.
struct host_sysctls {
    std::optional<int> ip_forward, ip6_forward;
};

class fabric {
public:
    // Records a host sysctl ("net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding") before Paddock
    // first changes it (durably: teardown restores it).
    using forward_recorder = std::function<status(const std::string& sysctl, int value)>;

    // `before`: the values recorded by an earlier run, if any.
    fabric(network_config cfg, std::uint16_t api_port, host_sysctls before, forward_recorder record);
    ~fabric();
    fabric(const fabric&) = delete;
    fabric& operator=(const fabric&) = delete;

    // Brings every piece to the desired state. Returns one line per change made (empty when
    // everything was already right), or the first failure.
    result<std::vector<std::string>> ensure();

    // The topology as it is now, for GET /api/v1/network (other tables' chain headers read for the
    // firewall warnings, never their rules).
    boost::json::object describe();

    // The port forwards the table carries (every VM's). Before the first ensure() they are only
    // kept (ensure applies them); afterwards the table is applied again, whole, in one transaction.
    status set_forwards(std::vector<port_forward> f);
    const std::vector<port_forward>& forwards() const { return forwards_; }

    status delete_tap(const std::string& name);
    // Every TAP in the namespace (VMs' ports) with its counters, in one netlink dump.
    std::vector<std::pair<std::string, link_info>> taps();
    // A VM's TAP: created in the namespace, enslaved to the bridge, up; returns its fd for QEMU.
    // The device goes away when the last holder of the fd closes it.
    result<int> open_tap(const std::string& name);

    // Namespace fd (valid after a successful ensure()); changes when the namespace is recreated.
    int ns_fd() const { return ns_fd_; }
    // Bumped every time the namespace is (re)created, so watchers know to re-subscribe.
    unsigned generation() const { return generation_; }
    const network_config& config() const { return cfg_; }

    // Removes the table, the veth pair and the namespace, and restores net.ipv4.ip_forward to
    // `forward_before` (the value recorded at first start). Safe to run when some or all pieces are
    // already gone.
    static result<std::vector<std::string>> teardown(const network_config& cfg, host_sysctls before);

private:
    status ensure_sysctl(std::vector<std::string>& done);
    status ensure_namespace(std::vector<std::string>& done);
    status ensure_links(std::vector<std::string>& done);
    status ensure_address(rtnl& sock, const std::string& name, int ifindex, if_address want,
                          std::vector<std::string>& done);
    status ensure_address6(rtnl& sock, const std::string& name, int ifindex, const ipv6& want, int prefix,
                           std::vector<std::string>& done);
    status ensure_nft(std::vector<std::string>& done);
    // Applies the whole table (one transaction) and lists it again: the new fingerprint.
    result<std::string> apply_table();
    status ensure_routes(std::vector<std::string>& done);
    void close_namespace();

    network_config cfg_;
    std::uint16_t api_port_;
    host_sysctls before_;
    forward_recorder record_forward_;
    nft nft_;
    std::optional<rtnl> host_;
    std::optional<rtnl> ns_;
    int ns_fd_ = -1;
    unsigned generation_ = 0;
    std::string nft_fingerprint_;
    std::vector<port_forward> forwards_;
};

} // namespace paddock::net
