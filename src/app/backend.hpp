// SPDX-License-Identifier: MIT
// api::backend over the daemon's modules: every call lands on the module that owns the answer.
// Every dependency comes in the constructor; nothing is set afterwards.
#pragma once

#include <chrono>

#include "api/api.hpp"
#include "base/loop_probe.hpp"
#include "dhcp/server.hpp"
#include "dhcp/ipv6_service.hpp"
#include "dns/server.hpp"
#include "net/fabric_worker.hpp"
#include "net/guard.hpp"
#include "vm/images.hpp"
#include "vm/manager.hpp"

namespace paddock::app {

class backend final : public api::backend {
public:
    // `dns` is null when the DNS service is off.
    backend(std::chrono::steady_clock::time_point started, const net::fabric_worker& fabric, dhcp::server& dhcp,
            vm::manager& vms, vm::image_store& images, const net::guard& guard, dns::server* dns,
            const loop_probe& probe);

    std::int64_t uptime_s() const override;
    api::loop_stalls stalls() const override;
    api::host_capacity host() override;
    boost::json::object network() override;
    boost::json::array leases() override { return dhcp_.leases_json(); }
    boost::json::array reservations() override { return dhcp_.reservations_json(); }
    boost::asio::awaitable<result<boost::json::object>> reserve(api::reservation_request rq) override;
    boost::asio::awaitable<status> unreserve(std::string mac) override { return dhcp_.unreserve(std::move(mac)); }

    std::vector<vm_info> vms() override { return vms_.list(); }
    std::uint64_t vms_changes() const override { return vms_.changes(); }
    result<vm_info> vm(const std::string& name) override { return vms_.get(name); }
    boost::asio::awaitable<result<std::string>> console_log(std::string name) override
    {
        return vms_.console_log(std::move(name));
    }
    result<std::shared_ptr<vm::console_hub>> console(const std::string& name) override { return vms_.console(name); }
    result<std::string> vnc(const std::string& name) override { return vms_.vnc(name); }
    result<api::vm_figures> vm_stats(const std::string& name) override;
    boost::asio::awaitable<result<vm_info>> create_vm(vm::spec s) override { return vms_.create(std::move(s)); }
    boost::asio::awaitable<result<vm_info>> patch_vm(std::string name, vm::vm_patch p) override
    {
        return vms_.patch(std::move(name), std::move(p));
    }
    boost::asio::awaitable<result<vm_info>> vm_action(std::string name, vm::action a, vm::action_options o) override
    {
        return vms_.act(std::move(name), a, o);
    }
    boost::asio::awaitable<status> remove_vm(std::string name) override { return vms_.remove(std::move(name)); }
    result<std::vector<port_map>> forwards(const std::string& name) override { return vms_.forwards(name); }
    boost::asio::awaitable<result<std::pair<port_map, bool>>> put_forward(std::string name, port_map f) override;
    boost::asio::awaitable<status> delete_forward(std::string name, std::string proto, std::uint16_t port) override
    {
        return vms_.delete_forward(std::move(name), std::move(proto), port);
    }

    boost::json::array images() override { return images_.list(); }
    result<boost::json::object> image(const std::string& name) override { return images_.get(name); }
    result<std::unique_ptr<api::upload_sink>> begin_upload(const std::string& name,
                                                           std::optional<std::uint64_t> length) override;
    boost::asio::awaitable<status> remove_image(std::string name) override;

    void metrics(api::prom& out) override;
    // IPv6 for VMs, for GET /api/v1/network and /metrics (`service` null when off).
    void use_ipv6(const net::network_config& n, const dhcp::ipv6_service* service)
    {
        net_ = n;
        v6_ = service;
    }

private:
    std::chrono::steady_clock::time_point started_;
    const net::fabric_worker& fabric_;
    dhcp::server& dhcp_;
    vm::manager& vms_;
    vm::image_store& images_;
    const net::guard& guard_;
    dns::server* dns_;
    const loop_probe& probe_;
    net::network_config net_;
    const dhcp::ipv6_service* v6_ = nullptr;
};

} // namespace paddock::app
