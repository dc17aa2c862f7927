// SPDX-License-Identifier: MIT
// DRIVER: the VM registry. Holds one supervisor per VM, creates and removes VMs, and routes
// operations to the VM's supervisor, which runs them one at a time (supervisor.hpp).
//
// Names, TAP names and MACs are claimed synchronously, before create's first suspension, so two
// concurrent creates of one name give one 201 and one 409 and leave one reservation. A remove
// takes the VM's turn, so it waits for the operation in progress and then runs.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "base/error.hpp"
#include "vm/actions.hpp"
#include "vm/console.hpp"
#include "vm/repository.hpp"
#include "vm/spec.hpp"
#include "vm/supervisor.hpp"

namespace paddock { class event_bus; }

namespace paddock::vm {

class host;

struct manager_config {
    std::string state_dir;
    std::string qemu_binary = "qemu-system-x86_64";
    std::string accel = "tcg";      // resolved: kvm | tcg
    std::string runas = "nobody";   // QEMU drops to this user after start-up ("" = stays root)
    std::size_t console_cap = 1 << 20;
    std::string bridge = "br0";     // TAP names must not collide with it
    std::string metadata_base;      // "http://<bridge address>/vm/": each VM's NoCloud seed is <base><name>/
};

class manager {
public:
    manager(boost::asio::any_io_executor ex, manager_config cfg, host& net, store::writer& writer, event_bus& bus);
    ~manager();

    // Start-up: the stored records; re-attaches to QEMUs still running (asynchronously) and drops
    // reservations made for VMs that do not exist.
    status load(const std::vector<store::vm_row>& rows);
    // Daemon shutdown: drop QMP/console connections, leave every QEMU running.
    void detach_all();

    boost::json::array list() const;
    // {"vms": list()} serialized, made again only after a change (GET /api/v1/vms).
    std::shared_ptr<const std::string> list_text();
    result<boost::json::object> get(const std::string& name) const;
    boost::asio::awaitable<result<std::string>> console_log(std::string name);
    // The running VM's shared console (not_found, or invalid_state when it does not run).
    result<std::shared_ptr<console_hub>> console(const std::string& name) const;

    boost::asio::awaitable<result<boost::json::object>> create(spec s);
    boost::asio::awaitable<result<boost::json::object>> act(std::string name, action a, action_options o);
    boost::asio::awaitable<status> remove(std::string name);

    // A bound lease (from the DHCP server) for VM `vm`'s MAC `mac`.
    void lease_bound(const std::string& vm, const std::string& mac, const std::string& ip);

    std::size_t count() const { return vms_.size(); }
    std::size_t running() const;
    // The VM's record, or null.
    const record* find(const std::string& name) const;
    // The VM whose reserved address is `ip`, or "".
    std::string name_at(const std::string& ip) const;
    // The VM that boots from image `name` (disk backing file, kernel or initrd), or "".
    std::string image_user(const std::string& name) const;
    // How many VMs are in each state (index: the state's position in all_states).
    std::array<std::size_t, all_states.size()> by_state() const;

private:
    boost::asio::awaitable<result<boost::json::object>> create_claimed(spec s, record r);
    std::string vm_dir(const std::string& name) const { return cfg_.state_dir + "/vms/" + name; }

    boost::asio::any_io_executor ex_;
    manager_config cfg_;
    host& net_;
    event_bus& bus_;
    file_thread files_;
    repository repo_;
    supervisor_env env_;
    std::map<std::string, std::shared_ptr<supervisor>> vms_;
    std::shared_ptr<const std::string> list_cache_;
    std::uint64_t list_cache_changes_ = 0;
    // Claimed by creates in progress (not yet in vms_).
    std::set<std::string> claimed_names_, claimed_taps_, claimed_macs_;
};

} // namespace paddock::vm
