// SPDX-License-Identifier: MIT
// DRIVER: the VM registry and supervisor. Records live in the store (table `vms`) and in memory;
// list/info are served from memory, kept current by QMP events and pidfd exit notifications, so
// a silent QEMU never blocks the API. Each running VM has: a detached QEMU (its own session, fd 3
// = its TAP), a pidfd watched on the io_context, a QMP client, and a console reader that keeps a
// size-capped console.log. On start-up the manager re-attaches to every QEMU still running and
// marks the ones that died while the daemon was away.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "base/error.hpp"
#include "vm/lifecycle.hpp"
#include "vm/spec.hpp"

namespace paddock { class event_bus; struct event; }
namespace paddock::net { class fabric; }
namespace paddock::dhcp { class server; }
namespace paddock::store { class db; }

namespace paddock::vm {

struct manager_config {
    std::string state_dir;
    std::string qemu_binary = "qemu-system-x86_64";
    std::string accel = "tcg";      // resolved: kvm | tcg
    std::string runas = "nobody";   // QEMU drops to this user after start-up ("" = stays root)
    std::size_t console_cap = 1 << 20;
    std::string bridge = "br0";     // TAP names must not collide with it
};

class manager {
public:
    manager(boost::asio::any_io_executor ex, manager_config cfg, net::fabric& fabric, dhcp::server& dhcp,
            event_bus& bus, store::db& db);
    ~manager();

    // Loads the records and re-attaches to running QEMUs (asynchronously).
    status load();
    // Daemon shutdown: drop QMP/console connections, leave every QEMU running.
    void detach_all();

    boost::json::array list() const;
    result<boost::json::object> get(const std::string& name) const;
    result<std::string> console_log(const std::string& name) const;

    boost::asio::awaitable<result<boost::json::object>> create(std::string body);
    // action: start | stop | restart | pause | resume; body: stop's {"force","timeout_s"}.
    boost::asio::awaitable<result<boost::json::object>> act(std::string name, std::string action, std::string body);
    boost::asio::awaitable<status> remove(std::string name);

    std::size_t count() const { return vms_.size(); }
    std::size_t running() const;

    struct instance;

private:
    boost::asio::awaitable<status> start(std::shared_ptr<instance> vm);
    boost::asio::awaitable<status> attach(std::shared_ptr<instance> vm, bool fresh);
    boost::asio::awaitable<status> stop(std::shared_ptr<instance> vm, bool force, int timeout_s);
    boost::asio::awaitable<void> watch_exit(std::shared_ptr<instance> vm, unsigned gen);
    boost::asio::awaitable<void> read_console(std::shared_ptr<instance> vm, unsigned gen);
    boost::asio::awaitable<void> stop_deadline(std::shared_ptr<instance> vm, unsigned gen, int timeout_s);
    boost::asio::awaitable<bool> wait_for(std::shared_ptr<instance> vm, bool (*pred)(state), std::chrono::milliseconds limit);
    void on_exit(instance& vm, int wait_status, bool have_status);
    void on_qmp_event(const std::shared_ptr<instance>& vm, unsigned gen, const std::string& ev, const boost::json::object& data);
    void change(instance& vm, event e, const std::string& reason);
    void persist(const instance& vm);
    void on_bus_event(const paddock::event& e);
    boost::json::object to_json(const instance& vm) const;
    std::string vm_dir(const std::string& name) const;
    std::string image_path(const std::string& image) const;
    void release_runtime(instance& vm, bool close_console = true);

    boost::asio::any_io_executor ex_;
    manager_config cfg_;
    net::fabric& fabric_;
    dhcp::server& dhcp_;
    event_bus& bus_;
    store::db& db_;
    std::map<std::string, std::shared_ptr<instance>> vms_;
    std::uint64_t bus_token_ = 0;
    boost::asio::thread_pool tools_{1}; // qemu-img and other blocking helpers
};

} // namespace paddock::vm
