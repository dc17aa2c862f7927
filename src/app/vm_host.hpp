// SPDX-License-Identifier: MIT
// vm::host over the real network: TAPs from net::fabric, addresses from dhcp::server.
#pragma once

#include "dhcp/server.hpp"
#include "net/fabric_worker.hpp"
#include "net/guard.hpp"
#include "vm/host.hpp"

namespace paddock::app {

class vm_host final : public vm::host {
public:
    vm_host(net::fabric_worker& f, dhcp::server& d, net::guard& g) : fabric_(f), dhcp_(d), guard_(g) {}

    boost::asio::awaitable<result<int>> open_tap(std::string name) override { return fabric_.open_tap(std::move(name)); }
    void delete_tap(const std::string& name) override { fabric_.delete_tap(name); }
    boost::asio::awaitable<status> guarded(std::string name) override
    {
        return guard_.installed(std::move(name), std::chrono::seconds(10));
    }
    boost::asio::awaitable<std::map<std::string, vm::net_counters>> tap_counters() override;
    boost::asio::awaitable<status> set_forwards(std::vector<vm::forward_target> all) override;
    std::string port_holder(const port_map& f) const override;
    bool local_address(const std::string& ip) const override;
    bool mac_in_use(const std::string& mac) const override;
    boost::asio::awaitable<result<ipv4>> reserve(std::string mac, std::optional<ipv4> ip, std::string vm) override;
    boost::asio::awaitable<status> release(std::string mac) override { return dhcp_.forget(std::move(mac)); }
    bool leased(const std::string& vm, const std::string& mac) const override;
    std::vector<std::pair<std::string, std::string>> vm_reservations() const override;

private:
    net::fabric_worker& fabric_;
    dhcp::server& dhcp_;
    net::guard& guard_;
};

// The firewall's form of the VMs' forwards (entries whose addresses do not parse are left out).
std::vector<net::port_forward> firewall_forwards(const std::vector<vm::forward_target>& all);

} // namespace paddock::app
