// SPDX-License-Identifier: MIT
// DRIVER: the VM registry. Holds one supervisor per VM, creates and removes VMs, and routes
// operations to the VM's supervisor, which runs them one at a time (supervisor.hpp).
//
// Names, TAP names and MACs are claimed synchronously, before create's first suspension, so two
// concurrent creates of one name give one 201 and one 409 and leave one reservation. A remove
// takes the VM's turn, so it waits for the operation in progress and then runs.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include "base/error.hpp"
#include "base/metrics.hpp"
#include "vm/actions.hpp"
#include "vm/console.hpp"
#include "vm/host.hpp"
#include "vm/images.hpp"
#include "vm/repository.hpp"
#include "vm/spec.hpp"
#include "vm/supervisor.hpp"

namespace paddock { class event_bus; }

namespace paddock::vm {


struct manager_config {
    std::string state_dir;
    std::string qemu_binary = "qemu-system-x86_64";
    std::string accel = "tcg";      // resolved: kvm | tcg
    std::string runas = "nobody";   // QEMU drops to this user after start-up ("" = stays root)
    std::size_t console_cap = 1 << 20;
    std::string bridge = "br0";     // TAP names must not collide with it
    std::string metadata_base;      // "http://<bridge address>/vm/": each VM's NoCloud seed is <base><name>/ ("": none)
    bool seed_disk = true;          // each VM also gets its seed on a `cidata` disk
    int stats_interval_s = 5;       // how often running VMs' figures are sampled
    std::optional<cidr6> prefix6;   // the VMs' IPv6 /64 (none: IPv4 only)
};

class manager {
public:
    manager(boost::asio::any_io_executor ex, manager_config cfg, host& net, image_store& images, store::writer& writer,
            event_bus& bus);
    ~manager();

    // Start-up: the stored records; re-attaches to QEMUs still running (asynchronously) and drops
    // reservations made for VMs that do not exist.
    status load(const std::vector<store::vm_row>& rows);
    // Daemon shutdown: refuses new operations (shutting_down), lets the ones in progress end
    // (after 2 s, waits for a guest are cut short; nothing is killed), at most `limit`; then drops every
    // QMP and console connection (viewers are told the daemon is stopping) and leaves every QEMU
    // running.
    boost::asio::awaitable<void> shutdown(std::chrono::milliseconds limit);

    std::vector<vm_info> list() const;
    // Bumped on every change to any VM (readers cache what they made of list() by it).
    std::uint64_t changes() const { return env_.changes; }
    result<vm_info> get(const std::string& name) const;
    boost::asio::awaitable<result<std::string>> console_log(std::string name);
    // The running VM's shared console (not_found, or invalid_state when it does not run).
    result<std::shared_ptr<console_hub>> console(const std::string& name) const;
    // The running VM's VNC socket (not_found, or invalid_state when it does not run).
    result<std::string> vnc(const std::string& name) const;

    boost::asio::awaitable<result<vm_info>> create(spec s);
    boost::asio::awaitable<result<vm_info>> act(std::string name, action a, action_options o);
    // PATCH: cpus and memory of a VM without a QEMU (invalid_state otherwise), autostart any time.
    boost::asio::awaitable<result<vm_info>> patch(std::string name, vm_patch p);
    boost::asio::awaitable<status> remove(std::string name);

    // Port forwards (a VM holds at most one per protocol and host port). put: added, or replacing
    // the VM's forward of that protocol and port; refused with conflict naming the holder when
    // another VM's forward or a host process has the port, invalid_field when `listen` is not an
    // address of the host. In the firewall when it completes.
    struct forward_put {
        forward_put(port_map m, bool c) : f(std::move(m)), created(c) {}
        port_map f;
        bool created = false;
    };
    boost::asio::awaitable<result<forward_put>> put_forward(std::string name, port_map f);
    boost::asio::awaitable<status> delete_forward(std::string name, std::string proto, std::uint16_t host_port);
    result<std::vector<port_map>> forwards(const std::string& name) const;
    // Every VM's forwards with its address (what the firewall carries).
    std::vector<forward_target> forward_targets() const;

    // A bound lease (from the DHCP server) for VM `vm`'s MAC `mac`.
    void lease_bound(const std::string& vm, const std::string& mac, const std::string& ip);

    // The VM's record, or null.
    const record* find(const std::string& name) const;
    // Every VM's record, in name order.
    void each(const std::function<void(const record&)>& f) const
    {
        for (auto& [n, v] : vms_)
            f(v->rec());
    }
    // The VM whose reserved address is `ip`, or "".
    std::string name_at(const std::string& ip) const;
    // The VM that boots from image `name` (disk backing file, kernel or initrd), or "".
    std::string image_user(const std::string& name) const;
    // VMs by state, and each VM's counters (CPU time, memory, disk and network totals).
    void report(metric_list& out) const;

    // Samples every running VM's figures each stats interval (the TAPs' counters in one dump), the
    // VMs spread evenly over the first half of the interval. Runs until cancelled.
    boost::asio::awaitable<void> sample_loop();
    // One round: the TAPs' counters, then each running VM's sample started in turn (the last one
    // started, not awaited, when it returns).
    boost::asio::awaitable<void> sample_all();
    // A VM's figures: not_found when there is no such VM.
    struct figures {
        std::vector<stats_point> points;
        bool running = false;
    };
    result<figures> stats(const std::string& name) const;
    int stats_interval_s() const { return cfg_.stats_interval_s; }

private:
    boost::asio::awaitable<result<vm_info>> create_claimed(spec s, record r, std::vector<image_store::pin> pins);
    std::string vm_dir(const std::string& name) const { return cfg_.state_dir + "/vms/" + name; }

    void detach_all();
    // Start-up: VMs whose autostart asks for a start, started a few at a time.
    void queue_autostart(std::shared_ptr<supervisor> vm);
    void next_autostart();
    static constexpr int autostart_parallel = 4;
    std::deque<std::shared_ptr<supervisor>> autostarts_;
    int autostarting_ = 0;
    // Counts an operation in progress for as long as it lives.
    struct in_progress;
    // A VM with its turn taken (operations on it run in order).
    struct held_vm {
        held_vm(std::shared_ptr<supervisor> v, supervisor::turn t) : vm(std::move(v)), turn(std::move(t)) {}
        std::shared_ptr<supervisor> vm;
        supervisor::turn turn;
    };
    // The VM named `name` once its turn comes: not_found when there is none, or it was removed
    // while this waited; shutting_down when the daemon began closing meanwhile.
    boost::asio::awaitable<result<held_vm>> take_turn(const std::string& name);

    boost::asio::any_io_executor ex_;
    manager_config cfg_;
    host& net_;
    image_store& images_;
    event_bus& bus_;
    file_thread files_;
    repository repo_;
    supervisor_env env_;
    std::map<std::string, std::shared_ptr<supervisor>> vms_;
    // Claimed by creates in progress (not yet in vms_); shared, so a claim is safe to drop whenever.
    struct claim_sets {
        std::set<std::string> names, taps, macs;
        std::vector<std::pair<std::string, port_map>> forwards; // (VM, forward) being set
    };
    struct forward_claim;
    // Why VM `vm` cannot take `f` (ok when it can): an overlapping forward of another VM (stored
    // or being set), a host process on the port, a listen address the host does not have.
    status forward_refusal(const std::string& vm, const port_map& f) const;
    // The firewall's forwards made again from every VM's, after a change.
    boost::asio::awaitable<status> apply_forwards();
    // VM `vm`'s forwards become `after`, the firewall follows and vm.forwards is published; when
    // the firewall refuses, the VM keeps what it had.
    boost::asio::awaitable<status> change_forwards(supervisor& vm, std::vector<port_map> after);
    std::shared_ptr<claim_sets> claimed_ = std::make_shared<claim_sets>();
    std::size_t ops_ = 0;                  // operations in progress
    boost::asio::steady_timer idle_;       // cancelled when ops_ drops to 0 (a condition variable)
    bool closing_ = false;
};

} // namespace paddock::vm
