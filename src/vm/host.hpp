// SPDX-License-Identifier: MIT
// The one interface through which vm reaches the network: TAP devices in the fabric's namespace
// and address reservations in the DHCP server. app implements it with net::fabric and
// dhcp::server; tests implement it with fakes.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "base/error.hpp"
#include "base/port_map.hpp"
#include "base/ipv4.hpp"
#include "vm/stats.hpp"

namespace paddock::vm {

// A forward as the firewall takes it: the VM's reserved address with the port map.
struct forward_target {
    port_map f;
    std::string ip;
};

class host {
public:
    virtual ~host() = default;

    // A TAP named `name`, in the namespace, on the bridge, up; its fd for QEMU (caller closes).
    virtual boost::asio::awaitable<result<int>> open_tap(std::string name) = 0;
    virtual void delete_tap(const std::string& name) = 0;
    // Completes once the anti-spoofing chain of TAP `name` is in place (a VM starts only then).
    virtual boost::asio::awaitable<status> guarded(std::string name) = 0;

    // Every VM TAP's counters by TAP name, the guest's view (rx: what the guest received). A host
    // without counters gives none (the figures then have no network part).
    virtual boost::asio::awaitable<std::map<std::string, net_counters>> tap_counters()
    {
        co_return std::map<std::string, net_counters>{};
    }

    // Every VM's port forwards, applied whole (in place when this completes).
    virtual boost::asio::awaitable<status> set_forwards(std::vector<forward_target> all)
    {
        (void)all;
        co_return ok();
    }
    // The host process a forward would hide ("sshd (pid 412) on 0.0.0.0:22"), or "".
    virtual std::string port_holder(const port_map& f) const
    {
        (void)f;
        return {};
    }
    // Is `ip` an address of the host (a forward's listen address)?
    virtual bool local_address(const std::string& ip) const
    {
        (void)ip;
        return true;
    }

    // Is `mac` used by any DHCP client or reservation?
    virtual bool mac_in_use(const std::string& mac) const = 0;
    // Reserves `ip` (or a free pool address) for `mac`, host name `vm`; durable when it returns.
    // Fails invalid_field ("ip: ..."), conflict/ip_in_use, pool_exhausted or store_failed.
    virtual boost::asio::awaitable<result<ipv4>> reserve(std::string mac, std::optional<ipv4> ip, std::string vm) = 0;
    // Drops the reservation and every lease of `mac`, durably.
    virtual boost::asio::awaitable<status> release(std::string mac) = 0;
    // Does the DHCP server hold a bound lease of `mac` (for VM `vm`)?
    virtual bool leased(const std::string& vm, const std::string& mac) const = 0;
    // Reservations made for VMs: (mac, vm name). Start-up drops the ones of VMs that do not exist.
    virtual std::vector<std::pair<std::string, std::string>> vm_reservations() const = 0;
};

} // namespace paddock::vm
