// SPDX-License-Identifier: MIT
// An api::backend for tests and benchmarks of the HTTP and WebSocket drivers: every route
// answers an empty value, except a console hub the test may set for VM "vm1".
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/json.hpp>

#include "api/api.hpp"
#include "vm/console_hub.hpp"

namespace paddock::testing {

struct no_backend : api::backend {
    std::int64_t uptime_s() const override { return 0; }
    api::loop_stalls stalls() const override { return {}; }
    api::host_capacity host() override { return {}; }
    boost::json::object network() override { return {}; }
    boost::json::array leases() override { return {}; }
    boost::json::array reservations() override { return {}; }
    boost::json::array images() override { return {}; }
    result<boost::json::object> image(const std::string& n) override { return fail(errc::not_found, "no image " + n); }
    result<std::unique_ptr<api::upload_sink>> begin_upload(const std::string&, std::optional<std::uint64_t>) override
    {
        return fail(errc::invalid_state, "no uploads here");
    }
    boost::asio::awaitable<status> remove_image(std::string) override { co_return ok(); }
    boost::asio::awaitable<result<boost::json::object>> reserve(api::reservation_request) override { co_return boost::json::object{}; }
    boost::asio::awaitable<status> unreserve(std::string) override { co_return ok(); }
    std::vector<vm_info> vms() override { return {}; }
    std::uint64_t vms_changes() const override { return 0; }
    result<vm_info> vm(const std::string&) override { return vm_info{}; }
    boost::asio::awaitable<result<std::string>> console_log(std::string) override { co_return std::string(); }
    boost::asio::awaitable<result<vm_info>> create_vm(vm::spec) override { co_return vm_info{}; }
    boost::asio::awaitable<result<vm_info>> vm_action(std::string, vm::action, vm::action_options) override
    {
        co_return vm_info{};
    }
    boost::asio::awaitable<status> remove_vm(std::string) override { co_return ok(); }
    result<std::vector<port_map>> forwards(const std::string&) override { return std::vector<port_map>{}; }
    boost::asio::awaitable<result<std::pair<port_map, bool>>> put_forward(std::string, port_map f) override
    {
        co_return std::pair<port_map, bool>(f, true);
    }
    boost::asio::awaitable<status> delete_forward(std::string, std::string, std::uint16_t) override { co_return ok(); }
    result<std::shared_ptr<vm::console_hub>> console(const std::string& name) override
    {
        if (hub && name == "vm1")
            return hub;
        return fail(errc::not_found, "no VM named " + name);
    }
    result<std::string> vnc(const std::string& name) override
    {
        if (!vnc_path.empty() && name == "vm1")
            return vnc_path;
        return fail(errc::invalid_state, name + " is stopped");
    }
    boost::asio::awaitable<result<vm_info>> patch_vm(std::string name, vm::vm_patch) override
    {
        co_return fail(errc::not_found, "no VM named " + name);
    }
    result<api::vm_figures> vm_stats(const std::string& name) override
    {
        return fail(errc::not_found, "no VM named " + name);
    }
    void metrics(api::prom&) override {}
    std::shared_ptr<vm::console_hub> hub; // set by the console tests
    std::string vnc_path;                 // set by the VNC tests
};

} // namespace paddock::testing
