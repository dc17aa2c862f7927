// SPDX-License-Identifier: MIT
// DRIVER: one VM's supervisor. Owns the VM's record, its lifecycle core, and while QEMU runs: a
// pidfd watched on the io_context, a QMP client and the console capture.
//
// Every operation on the VM (start, stop, restart, pause, resume, remove) takes the VM's turn
// first (enter()): operations run one at a time, in the order they arrived, each to its end, so a
// request racing another sees the state the earlier one left and is refused with invalid_state
// (409) when it no longer applies. QMP events and the exit notification are not operations: they
// are applied at once (no suspension point), by the lifecycle core, as they arrive.
#pragma once

#include <chrono>
#include <deque>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/object.hpp>

#include "base/error.hpp"
#include "base/ipv6.hpp"
#include "base/event_bus.hpp"
#include "vm/console_hub.hpp"
#include "vm/lifecycle.hpp"
#include "vm/nocloud.hpp"
#include "vm/repository.hpp"
#include "vm/stats.hpp"

namespace paddock { class event_bus; }
namespace paddock::qmp { class client; }

namespace paddock::vm {

class host;
class image_store;
class file_thread;

// What every supervisor shares: the daemon's settings and services.
struct supervisor_env {
    boost::asio::any_io_executor ex;
    std::string state_dir;
    std::string qemu_binary = "qemu-system-x86_64";
    std::string accel = "tcg";
    std::string runas = "nobody";
    std::string metadata_base; // NoCloud seed base URL ("" = none)
    int stats_interval_s = 5;  // how often each running VM's figures are sampled (the ring holds an hour)
    bool seed_disk = true;     // each VM also gets its NoCloud seed on a `cidata` disk
    std::optional<cidr6> prefix6; // the VMs' IPv6 /64: each VM's address is its MAC's SLAAC one
    host* net = nullptr;
    image_store* images = nullptr;
    repository* repo = nullptr;
    file_thread* files = nullptr;
    event_bus* bus = nullptr;
    // Bumped on every change to any VM's record or view (the manager caches GET /api/v1/vms by it).
    std::uint64_t changes = 0;
    // The daemon is shutting down: waits for a guest end early (the operation fails shutting_down).
    bool closing = false;
};

// Logs the exception that ended one of VM `name`'s background tasks (`what`), if one did.
void log_failure(const char* what, const std::string& name, std::exception_ptr e);

// The NoCloud seed of a VM (instance-id: a new one each time a VM of that name is made).
nocloud_vm nocloud_of(const record& r);

class supervisor : public std::enable_shared_from_this<supervisor> {
public:
    supervisor(supervisor_env& env, record r);
    ~supervisor();

    // The VM's turn: held for the whole of one operation; released when the turn is destroyed.
    class turn {
    public:
        explicit turn(supervisor* s) : s_(s) {}
        turn(turn&& o) noexcept : s_(o.s_) { o.s_ = nullptr; }
        turn(const turn&) = delete;
        ~turn();

    private:
        supervisor* s_;
    };
    boost::asio::awaitable<turn> enter();

    // Operations: call with the turn held.
    boost::asio::awaitable<status> start();
    boost::asio::awaitable<status> stop(bool force, int timeout_s);
    boost::asio::awaitable<status> restart(int timeout_s);
    boost::asio::awaitable<status> pause();
    boost::asio::awaitable<status> resume();
    // PATCH: cpus and memory only without a QEMU (invalid_state names the state), autostart any
    // time; the record is saved.
    status patch(const vm_patch& p);
    // The VM's port forwards replaced (saved; the caller applies them to the firewall).
    void set_forwards(std::vector<port_map> f);
    // "Start it again when the daemon next starts" (a stop with restore), saved at once.
    void mark_resume();
    // Whether a daemon start should start this VM: `qemu_vanished`, its QEMU was recorded running
    // but is gone (a host reboot).
    bool autostart_due(bool qemu_vanished) const;

    // Force-stops a running QEMU and drops the runtime (before removal).
    boost::asio::awaitable<status> end_for_remove();

    // Start-up: adopt the QEMU recorded as running (or mark it gone).
    boost::asio::awaitable<status> reattach();
    // Daemon shutdown: drop QMP/console connections and pending deadlines, leave QEMU running.
    void detach();
    // Daemon shutdown: wakes an operation waiting for the guest (it sees env.closing).
    void interrupt() { changed_.cancel(); }

    // The running VM's shared serial console; invalid_state when no QEMU runs.
    result<std::shared_ptr<console_hub>> console() const;
    // Its VNC socket, while it runs (invalid_state otherwise).
    result<std::string> vnc() const;

    // Samples the running VM's figures once: QEMU's CPU time and memory from /proc, its drives'
    // counters and the guest's memory report over QMP, `net` from the TAP. Publishes vm.stats.
    // Does nothing when no QEMU runs or a sample is still under way.
    boost::asio::awaitable<void> sample(std::optional<net_counters> net);
    const vm_stats& stats() const { return stats_; }
    bool running() const { return has_process(rec_.st) && rec_.pid > 0; }

    // A bound lease for this VM's MAC (from the DHCP server).
    void lease_bound(const std::string& ip);

    const record& rec() const { return rec_; }
    // The VM as the daemon shows it.
    vm_info info() const;
    std::string dir() const;

private:
    boost::asio::awaitable<status> attach(bool fresh);
    // pause (QMP stop) or resume (QMP cont).
    boost::asio::awaitable<status> set_cpus(bool run);
    boost::asio::awaitable<bool> wait_for(bool (*pred)(state), std::chrono::milliseconds limit);
    boost::asio::awaitable<void> watch_exit(unsigned gen);
    // Does what the lifecycle decided, in order.
    boost::asio::awaitable<void> perform(std::vector<effect> effects);
    boost::asio::awaitable<void> deadline_after(unsigned gen, std::chrono::seconds after, int stage);
    void on_qmp_event(unsigned gen, const std::string& ev, const boost::json::object& data);
    // The guest agent's port opened (the agent runs) or closed: a session starts or ends.
    void agent_port(bool open);
    // While the port stays open: connects and syncs, then reads what the agent says every 30 s.
    boost::asio::awaitable<void> agent_session(unsigned gen, unsigned agen);
    boost::asio::awaitable<bool> agent_refresh(std::shared_ptr<qmp::client> a, unsigned agen);
    void agent_gone();
    void on_exit(int wait_status, bool have_status);
    // Persists and publishes a transition, and wakes wait_for().
    void apply(std::optional<transition> t);
    // Drops QMP, the pidfd and the console; `why` ends the console's viewers now (none: the console
    // drains what QEMU wrote last and ends at its EOF).
    void release_runtime(std::optional<console_end> why);
    void leave();

    supervisor_env& env_;
    record rec_;
    lifecycle lc_;
    bool ip_leased_ = false;
    vm_stats stats_;
    bool sampling_ = false;
    int proc_stat_fd_ = -1; // QEMU's /proc/<pid>/stat, open while it runs (read again with pread)
    bool balloon_ = false; // QEMU has the balloon and polls the guest's memory report
    // The guest agent: a session per opening of its port (agent_gen_ tells sessions apart).
    std::shared_ptr<qmp::client> agent_;
    std::optional<guest_agent_view> agent_view_;
    unsigned agent_gen_ = 0;
    std::shared_ptr<boost::asio::steady_timer> agent_wake_;
    // Runtime, never persisted.
    unsigned gen_ = 0; // bumps on every (re)attach and detach: stale callbacks compare it
    std::shared_ptr<qmp::client> qmp_;
    std::unique_ptr<boost::asio::posix::stream_descriptor> pidfd_;
    std::shared_ptr<console_hub> console_;
    boost::asio::steady_timer changed_; // condition variable: cancelled on every state change
    std::vector<std::weak_ptr<boost::asio::steady_timer>> deadlines_; // armed stop deadlines (cancelled on detach)
    // The turn: who holds it, and who waits (timers as condition variables).
    bool busy_ = false;
    std::deque<std::shared_ptr<boost::asio::steady_timer>> waiting_;
};

} // namespace paddock::vm
