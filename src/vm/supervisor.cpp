// SPDX-License-Identifier: MIT
// DRIVER: one VM's supervisor.
#include "vm/supervisor.hpp"

#include <csignal>
#include <fstream>
#include <iterator>
#include <random>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include "base/event_bus.hpp"
#include "base/log.hpp"
#include "base/time.hpp"
#include "qmp/client.hpp"
#include "vm/agent_info.hpp"
#include "vm/console.hpp"
#include "vm/console_hub.hpp"
#include "vm/host.hpp"
#include "vm/images.hpp"
#include "vm/process.hpp"
#include "vm/qemu_argv.hpp"

namespace paddock::vm {
namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

void log_failure(const char* what, const std::string& name, std::exception_ptr e)
{
    if (!e)
        return;
    try {
        std::rethrow_exception(e);
    }
    catch (const std::exception& x) {
        log::error("vm", name, ": ", what, " threw: ", x.what());
    }
}

supervisor::supervisor(supervisor_env& env, record r)
    : env_(env), rec_(std::move(r)), lc_(rec_.st, rec_.reason),
      stats_(static_cast<std::size_t>(3600 / std::max(1, env.stats_interval_s))),
      changed_(env.ex, asio::steady_timer::time_point::max())
{
}

supervisor::~supervisor() { release_runtime(console_end::vm_removed); }

std::string supervisor::dir() const { return env_.state_dir + "/vms/" + rec_.s.name; }

// ---- the turn ----

supervisor::turn::~turn()
{
    if (s_)
        s_->leave();
}

asio::awaitable<supervisor::turn> supervisor::enter()
{
    if (!busy_) {
        busy_ = true;
        co_return turn(this);
    }
    auto t = std::make_shared<asio::steady_timer>(env_.ex, asio::steady_timer::time_point::max());
    waiting_.push_back(t);
    co_await t->async_wait(use_tuple); // leave() hands the turn over by cancelling our timer
    co_return turn(this);
}

void supervisor::leave()
{
    if (waiting_.empty()) {
        busy_ = false;
        return;
    }
    auto next = waiting_.front();
    waiting_.pop_front();
    next->cancel(); // busy_ stays true: the turn passes straight to the next operation
}

// ---- state ----

void supervisor::apply(std::optional<transition> t)
{
    if (!t)
        return;
    ++env_.changes;
    rec_.st = lc_.current();
    rec_.reason = lc_.reason();
    if (t->from != t->to)
        log::info("vm", rec_.s.name, ": ", to_string(t->from), " -> ", to_string(t->to),
                  t->reason.empty() ? "" : " (" + t->reason + ")");
    env_.repo->save(rec_);
    env_.bus->publish(event_type::vm_state, rec_.s.name, vm_state_change{to_string(t->to), to_string(t->from), t->reason},
                      std::chrono::system_clock::now());
    changed_.cancel();
}

vm_info supervisor::info() const
{
    const auto& s = rec_.s;
    vm_info v;
    v.name = s.name;
    v.state = to_string(rec_.st);
    v.state_reason = rec_.reason;
    v.mac = rec_.mac;
    v.ip = rec_.ip;
    if (env_.prefix6)
        if (auto a = slaac_address(*env_.prefix6, rec_.mac))
            v.ipv6 = to_string(*a);
    v.tap = rec_.tap;
    v.accel = rec_.accel;
    v.image = s.image;
    v.kernel = s.kernel;
    v.initrd = s.initrd;
    v.cmdline = s.cmdline;
    v.cpu_model = s.cpu_model;
    v.autostart = s.autostart;
    v.firmware = s.firmware;
    v.cdrom = s.cdrom;
    v.boot_order = effective_boot_order(s);
    v.cpus = s.cpus;
    v.memory_mib = s.memory_mib;
    v.disk_gib = s.disk_gib;
    v.ip_leased = ip_leased_;
    v.created_at = rec_.created_at;
    v.started_at = has_process(rec_.st) ? rec_.started_at : 0;
    v.pid = rec_.pid;
    v.cloud_init = s.ci.given;
    v.user_data_bytes = s.ci.user_data.size();
    v.ssh_keys = s.ci.ssh_authorized_keys.size();
    v.forwards = s.forwards;
    v.agent = agent_view_;
    return v;
}

void supervisor::lease_bound(const std::string& ip)
{
    ip_leased_ = true;
    ++env_.changes;
    if (!ip.empty())
        rec_.ip = ip;
    env_.bus->publish(event_type::vm_ip, rec_.s.name, vm_address{rec_.ip, rec_.mac}, std::chrono::system_clock::now());
}

// ---- runtime ----

void supervisor::release_runtime(std::optional<console_end> why)
{
    ++gen_;
    stats_.pause();
    balloon_ = false;
    if (proc_stat_fd_ >= 0) {
        ::close(proc_stat_fd_);
        proc_stat_fd_ = -1;
    }
    agent_gone();
    boost::system::error_code ec;
    if (qmp_) {
        qmp_->close();
        qmp_.reset();
    }
    if (console_ && why)
        console_->end(*why);
    console_.reset();
    if (pidfd_) {
        pidfd_->close(ec);
        pidfd_.reset();
    }
    for (auto& w : deadlines_)
        if (auto t = w.lock())
            t->cancel();
    deadlines_.clear();
}

void supervisor::detach() { release_runtime(console_end::daemon_stopping); }

result<std::string> supervisor::vnc() const
{
    if (!has_process(rec_.st))
        return fail(errc::invalid_state, rec_.s.name + " is " + to_string(rec_.st) + ": its screen exists while it runs");
    return dir() + "/" + vnc_socket;
}

result<std::shared_ptr<console_hub>> supervisor::console() const
{
    if (!console_ || console_->ended())
        return fail(errc::invalid_state, rec_.s.name + " is " + to_string(rec_.st) + ": its console exists while it runs");
    return console_;
}

void supervisor::on_qmp_event(unsigned gen, const std::string& ev, const json::object& data)
{
    if (gen != gen_)
        return;
    log::debug("vm", rec_.s.name, ": QMP event ", ev);
    auto sig = parse_qmp_signal(ev);
    bool guest = data.contains("guest") && data.at("guest").is_bool() && data.at("guest").as_bool();
    std::string why = data.contains("reason") && data.at("reason").is_string() ? std::string(data.at("reason").as_string()) : "";
    if (ev == "VSERPORT_CHANGE") {
        auto* id = data.if_contains("id");
        auto* open = data.if_contains("open");
        if (id && id->is_string() && id->as_string() == agent_port_id && open && open->is_bool())
            agent_port(open->as_bool());
        return;
    }
    if (sig == qmp_signal::panicked)
        log::warn("vm", rec_.s.name, ": guest kernel panicked");
    else if (sig == qmp_signal::powerdown)
        log::info("vm", rec_.s.name, ": ACPI power button pressed");
    apply(lc_.on_qmp(sig, guest, why));
}

void supervisor::on_exit(int wait_status, bool have_status)
{
    release_runtime(std::nullopt);
    for (auto* f : {pid_file, qmp_socket, console_socket})
        ::unlink((dir() + "/" + f).c_str());
    rec_.pid = 0;
    apply(lc_.on_exit(describe_wait_status(wait_status, have_status)));
}

asio::awaitable<void> supervisor::watch_exit(unsigned gen)
{
    auto self = shared_from_this();
    for (;;) {
        auto [ec] = co_await pidfd_->async_wait(asio::posix::stream_descriptor::wait_read, use_tuple);
        if (ec || gen_ != gen)
            co_return; // detached (daemon shutdown) or superseded
        // A wake-up is not an exit: readiness can be spurious (the reactor may report an event for
        // an earlier descriptor with the same number). Only the kernel's word counts.
        if (pidfd_exited(pidfd_->native_handle()))
            break;
        log::debug("vm", rec_.s.name, ": spurious wake-up of the exit watch for pid ", rec_.pid, "; still running");
    }
    int status = 0;
    bool have = ::waitpid(rec_.pid, &status, WNOHANG) == rec_.pid; // only our own children can be reaped
    on_exit(status, have);
}

asio::awaitable<status> supervisor::attach(bool fresh)
{
    const std::string name = rec_.s.name;
    unsigned gen = ++gen_;
    // A fresh QEMU is our own child; an old one must prove it is this VM's before we adopt it.
    bool alive = fresh ? rec_.pid > 0 : process_matches(rec_.pid, name);
    int pfd = alive ? pidfd_open(rec_.pid) : -1;
    if (pfd < 0) {
        log::debug("vm", name, ": pid ", rec_.pid, alive ? " pidfd_open failed" : " is not our QEMU");
        rec_.pid = 0;
        apply(lc_.on_gone());
        co_return fail(errc::vm_gone, name + ": its QEMU is no longer running");
    }
    pidfd_ = std::make_unique<asio::posix::stream_descriptor>(env_.ex, pfd);
    asio::co_spawn(env_.ex, watch_exit(gen), [name](std::exception_ptr e) { log_failure("exit watcher", name, e); });
    auto qmp = std::make_shared<qmp::client>(env_.ex);
    auto st = co_await qmp->connect(dir() + "/" + qmp_socket, fresh ? 20s : 5s);
    if (gen_ != gen)
        co_return fail(errc::vm_gone, name + ": QEMU went away during start-up");
    if (!st) {
        if (!fresh)
            log::warn("vm", name, ": cannot reach QMP of pid ", rec_.pid, ": ", st.error().message);
        auto next = lc_.on_qmp_unreachable(fresh, st.error().message);
        co_await perform(next.effects); // the kill comes before the state says failed
        apply(next.t);
        co_return st;
    }
    qmp_ = qmp;
    std::weak_ptr<supervisor> weak = shared_from_this();
    qmp->on_event([weak, gen](const std::string& ev, const json::object& data) {
        if (auto s = weak.lock())
            s->on_qmp_event(gen, ev, data);
    });
    asio::co_spawn(env_.ex, qmp->run(), [name](std::exception_ptr e) { log_failure("QMP reader", name, e); });
    auto qs = co_await qmp->execute("query-status", {}, 5s);
    if (gen_ != gen)
        co_return fail(errc::vm_gone, name + ": QEMU went away during start-up");
    std::string run_state = qs && qs->is_object() && qs->as_object().contains("status") && qs->as_object().at("status").is_string()
                                ? std::string(qs->as_object().at("status").as_string())
                                : "";
    apply(lc_.on_qmp_ready(run_state, fresh));
    // The guest reports its memory through the balloon as often as the daemon samples (a QEMU
    // started by an older daemon may have no balloon: its figures then lack the guest's view).
    json::object poll{{"path", balloon_path}, {"property", "guest-stats-polling-interval"}, {"value", env_.stats_interval_s}};
    balloon_ = env_.stats_interval_s > 0 && (co_await qmp->execute("qom-set", std::move(poll), 2s)).ok() && gen_ == gen;
    // A guest agent already running (a re-attach, or a fast guest): its port is open now.
    if (auto cd = co_await qmp->execute("query-chardev", {}, 2s); cd && gen_ == gen && cd->is_array())
        for (auto& c : cd->as_array())
            if (c.is_object() && c.as_object().if_contains("label") && c.as_object().at("label") == "qga0") {
                auto* fo = c.as_object().if_contains("frontend-open");
                if (fo && fo->is_bool() && fo->as_bool())
                    agent_port(true);
            }
    if (gen_ != gen)
        co_return fail(errc::vm_gone, name + ": QEMU went away during start-up");
    console_ = std::make_shared<console_hub>(env_.ex, *env_.files, dir() + "/" + console_log_file, name);
    asio::co_spawn(env_.ex, console_->run(dir() + "/" + console_socket),
                   [name](std::exception_ptr e) { log_failure("console reader", name, e); });
    co_return ok();
}

asio::awaitable<status> supervisor::reattach()
{
    if (!has_process(rec_.st))
        co_return ok();
    if (rec_.st == state::stopping)
        lc_.request_stop();
    co_return co_await attach(false);
}

nocloud_vm nocloud_of(const record& r)
{
    // created_at and the MAC (new for each create unless given) tell two VMs of one name apart.
    return nocloud_vm{r.s.name, r.ip, r.mac, r.s.name + "-" + std::to_string(r.created_at) + "-" + r.mac.substr(9), r.s.ci};
}

// ---- the guest agent ----

void supervisor::agent_gone()
{
    ++agent_gen_;
    if (agent_) {
        agent_->close();
        agent_.reset();
    }
    if (agent_wake_)
        agent_wake_->cancel();
    agent_wake_.reset();
    if (agent_view_) {
        agent_view_.reset();
        ++env_.changes;
    }
}

void supervisor::agent_port(bool open)
{
    agent_gone();
    if (!open) {
        log::info("vm", rec_.s.name, ": the guest agent closed its port");
        return;
    }
    asio::co_spawn(env_.ex, agent_session(gen_, agent_gen_),
                   [name = rec_.s.name](std::exception_ptr e) { log_failure("guest agent", name, e); });
}

asio::awaitable<bool> supervisor::agent_refresh(std::shared_ptr<qmp::client> a, unsigned agen)
{
    guest_agent_view v = agent_view_.value_or(guest_agent_view{});
    auto ask = [&](const char* cmd) -> asio::awaitable<result<json::value>> {
        json::object none;
        co_return co_await a->execute(cmd, std::move(none), 5s);
    };
    // Each answer on its own: an agent that blocks one command (--block-rpcs) still gives the rest.
    bool any = false;
    if (v.os_name.empty())
        if (auto r = co_await ask("guest-get-osinfo"); r && (any = true))
            read_osinfo(*r, v);
    if (v.agent_version.empty() && agent_gen_ == agen)
        if (auto r = co_await ask("guest-info"); r && (any = true))
            read_agent_info(*r, v);
    if (agent_gen_ == agen)
        if (auto r = co_await ask("guest-get-host-name"); r && (any = true))
            read_host_name(*r, v);
    if (agent_gen_ == agen)
        if (auto r = co_await ask("guest-network-get-interfaces"); r && (any = true))
            read_interfaces(*r, v);
    if (agent_gen_ == agen)
        if (auto r = co_await ask("guest-get-fsinfo"); r && (any = true))
            read_fsinfo(*r, v);
    if (agent_gen_ != agen || !any)
        co_return false;
    const bool first = !agent_view_;
    v.updated_at = agent_view_ ? agent_view_->updated_at : 0;
    if (!agent_view_ || !(v == *agent_view_)) {
        v.updated_at = unix_now();
        agent_view_ = std::move(v);
        ++env_.changes;
    }
    if (first)
        log::info("vm", rec_.s.name, ": guest agent ", agent_view_->agent_version, " answers (", agent_view_->os_name, ")");
    co_return true;
}

asio::awaitable<void> supervisor::agent_session(unsigned gen, unsigned agen)
{
    auto self = shared_from_this();
    std::mt19937 rng(std::random_device{}());
    auto wake = std::make_shared<asio::steady_timer>(env_.ex);
    agent_wake_ = wake;
    while (gen == gen_ && agen == agent_gen_) {
        if (!agent_) {
            auto a = std::make_shared<qmp::client>(env_.ex);
            if (co_await a->connect_agent(dir() + "/" + agent_socket, 2s); a->connected() && agen == agent_gen_) {
                agent_ = a;
                asio::co_spawn(env_.ex, a->run(), [name = rec_.s.name](std::exception_ptr e) { log_failure("agent reader", name, e); });
                // The agent's answer to this number, behind its 0xFF sentinel, proves the channel
                // carries this session's replies and nothing older.
                const std::int64_t token = std::uniform_int_distribution<std::int64_t>(1, 1LL << 40)(rng);
                json::object sync{{"id", token}};
                auto r = co_await a->execute("guest-sync-delimited", std::move(sync), 10s);
                if (agen != agent_gen_)
                    co_return;
                if (!r || !r->is_int64() || r->as_int64() != token) {
                    log::debug("vm", rec_.s.name, ": guest agent did not sync: ", r ? json::serialize(*r) : r.error().message);
                    a->close();
                    agent_.reset();
                }
            }
        }
        if (agent_ && !co_await agent_refresh(agent_, agen) && agen == agent_gen_) {
            agent_->close(); // it stopped answering: sync again next round
            agent_.reset();
            if (agent_view_) {
                agent_view_.reset();
                ++env_.changes;
            }
        }
        if (agen != agent_gen_)
            co_return;
        wake->expires_after(agent_ ? 30s : 5s);
        co_await wake->async_wait(use_tuple);
    }
}

// ---- figures ----

namespace {
// The whole of a small procfs file from an open descriptor (procfs makes it afresh at offset 0).
std::string read_again(int fd)
{
    char buf[1024];
    auto n = fd >= 0 ? ::pread(fd, buf, sizeof buf, 0) : -1;
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}
} // namespace

asio::awaitable<void> supervisor::sample(std::optional<net_counters> net)
{
    if (sampling_ || !running() || !qmp_)
        co_return;
    auto self = shared_from_this();
    sampling_ = true;
    struct done_guard {
        bool& flag;
        ~done_guard() { flag = false; }
    } done{sampling_};
    const unsigned gen = gen_;
    // procfs answers from memory: a read of one small file costs microseconds on the loop.
    static const long ticks = ::sysconf(_SC_CLK_TCK), page = ::sysconf(_SC_PAGESIZE);
    if (proc_stat_fd_ < 0) // kept open: one pread per sample instead of open, read, close
        proc_stat_fd_ = ::open(("/proc/" + std::to_string(rec_.pid) + "/stat").c_str(), O_RDONLY | O_CLOEXEC);
    auto proc = parse_proc_stat(read_again(proc_stat_fd_), ticks, page);
    if (!proc)
        co_return; // gone between the check and the read: the exit watch sees to it
    const auto taken = std::chrono::system_clock::now();
    vm_counters c;
    c.cpu_s = proc->cpu_s;
    c.rss_bytes = proc->rss_bytes;
    c.net = net;
    auto qmp = qmp_;
    if (auto bs = co_await qmp->execute("query-blockstats", {}, 2s); bs)
        if (auto d = parse_blockstats(*bs))
            c.disk = *d;
    if (balloon_ && gen == gen_) {
        json::object args{{"path", balloon_path}, {"property", "guest-stats"}};
        if (auto g = co_await qmp->execute("qom-get", std::move(args), 2s); g)
            c.guest = parse_balloon_stats(*g);
    }
    if (gen != gen_)
        co_return; // that QEMU is gone
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(taken.time_since_epoch()).count();
    const auto& p = stats_.add(c, ms, rec_.s.cpus, rec_.started_at);
    env_.bus->publish_live(event_type::vm_stats, rec_.s.name, p, taken);
}

// ---- settings ----

status supervisor::patch(const vm_patch& p)
{
    if ((p.cpus || p.memory_mib) && has_process(rec_.st))
        return fail(errc::invalid_state, rec_.s.name + " is " + to_string(rec_.st) +
                                             ": stop it to change cpus or memory_mib (autostart changes any time)");
    if (p.cpus)
        rec_.s.cpus = *p.cpus;
    if (p.memory_mib)
        rec_.s.memory_mib = *p.memory_mib;
    if (p.autostart)
        rec_.s.autostart = *p.autostart;
    ++env_.changes;
    env_.repo->save(rec_);
    log::info("vm", rec_.s.name, ": changed: cpus ", rec_.s.cpus, ", memory ", rec_.s.memory_mib, " MiB, autostart ",
              rec_.s.autostart);
    return ok();
}

void supervisor::set_forwards(std::vector<port_map> f)
{
    rec_.s.forwards = std::move(f);
    ++env_.changes;
    env_.repo->save(rec_);
}

void supervisor::mark_resume()
{
    if (rec_.resume || !has_process(rec_.st))
        return;
    rec_.resume = true;
    env_.repo->save(rec_);
}

bool supervisor::autostart_due(bool qemu_vanished) const
{
    if (rec_.s.autostart == "always")
        return true;
    return rec_.s.autostart == "restore" && (rec_.resume || qemu_vanished);
}

// ---- operations ----

asio::awaitable<status> supervisor::start()
{
    const std::string& name = rec_.s.name;
    if (auto st = allowed(op::start, rec_.st); !st)
        co_return st;
    // Never a second QEMU for one VM: a live one recorded for it is adopted instead.
    if (rec_.pid > 0 && process_matches(rec_.pid, name)) {
        apply(lc_.spawned("adopting the running QEMU (pid " + std::to_string(rec_.pid) + ")"));
        co_return co_await attach(false);
    }
    launch_params p;
    p.binary = env_.qemu_binary;
    p.accel = env_.accel;
    p.vm_dir = dir();
    p.mac = rec_.mac;
    p.runas = env_.runas;
    if (!env_.metadata_base.empty())
        p.nocloud_url = env_.metadata_base + name + "/";
    if (!rec_.s.kernel.empty()) {
        p.kernel_path = env_.images->path(rec_.s.kernel);
        if (!rec_.s.initrd.empty())
            p.initrd_path = env_.images->path(rec_.s.initrd);
    }
    else if (!rec_.s.image.empty() || rec_.s.disk_gib > 0)
        p.disk_path = dir() + "/" + disk_file;
    if (!rec_.s.cdrom.empty())
        p.cdrom_path = env_.images->path(rec_.s.cdrom);
    if (rec_.s.firmware == "uefi") {
        p.uefi_code = ovmf_code;
        p.uefi_vars = dir() + "/" + uefi_vars_file;
        // The VM's own variable store (boot entries, settings): made from OVMF's template on
        // the first start, kept from then on, removed with the VM.
        if (::access(ovmf_code, R_OK) != 0 || ::access(ovmf_vars, R_OK) != 0) {
            const std::string why = std::string("firmware \"uefi\" needs OVMF (Debian's ovmf package): ") + ovmf_code + " missing";
            apply(lc_.on(event::start_failed, why));
            co_return fail(errc::invalid_field, why);
        }
        if (auto st = co_await env_.files->copy_once(ovmf_vars, p.uefi_vars); !st) {
            apply(lc_.on(event::start_failed, st.error().message));
            co_return st.error();
        }
    }
    if (env_.seed_disk) {
        // The seed disk, from the spec as it is now (so a changed spec is on it at the next start).
        auto img = fat_image(seed_label, nocloud_files(nocloud_of(rec_)));
        if (!img) {
            apply(lc_.on(event::start_failed, img.error().message));
            co_return img.error();
        }
        p.seed_disk_path = dir() + "/" + seed_disk_file;
        auto bytes = std::make_shared<const std::vector<std::uint8_t>>(std::move(*img));
        if (auto st = co_await env_.files->write(p.seed_disk_path, bytes); !st) {
            apply(lc_.on(event::start_failed, st.error().message));
            co_return st.error();
        }
    }
    for (auto* f : {&p.kernel_path, &p.initrd_path, &p.disk_path, &p.cdrom_path})
        if (!f->empty() && ::access(f->c_str(), R_OK) != 0) {
            apply(lc_.on(event::start_failed, "boot file missing: " + *f));
            co_return fail(errc::invalid_field, "boot file missing: " + *f);
        }
    for (auto* f : {pid_file, qmp_socket, console_socket})
        ::unlink((dir() + "/" + f).c_str());
    // Its port is filtered before its first frame: the anti-spoofing chain first, then the TAP.
    if (auto g = co_await env_.net->guarded(rec_.tap); !g) {
        apply(lc_.on(event::start_failed, g.error().message));
        co_return g.error();
    }
    auto tap = co_await env_.net->open_tap(rec_.tap);
    if (!tap) {
        apply(lc_.on(event::start_failed, "cannot create TAP " + rec_.tap + ": " + tap.error().message));
        co_return tap.error();
    }
    auto argv = qemu_argv(rec_.s, p);
    auto pid = spawn_detached(argv, *tap, dir() + "/" + qemu_log);
    ::close(*tap); // QEMU holds the TAP now; it goes away with QEMU
    if (!pid) {
        apply(lc_.on(event::start_failed, pid.error().message));
        co_return pid.error();
    }
    rec_.pid = *pid;
    rec_.accel = env_.accel;
    rec_.started_at = unix_now();
    rec_.resume = false; // it runs again: nothing left to restore
    apply(lc_.spawned("starting (pid " + std::to_string(*pid) + ", " + env_.accel + ")"));
    auto st = co_await attach(true);
    if (!st) {
        // The QEMU log usually says why (bad kernel, missing device, ...).
        std::ifstream f(dir() + "/" + qemu_log);
        std::string why((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
        if (!why.empty())
            log::warn("vm", name, ": QEMU said: ", why.substr(0, 400));
    }
    co_return st;
}

asio::awaitable<bool> supervisor::wait_for(bool (*pred)(state), std::chrono::milliseconds limit)
{
    auto self = shared_from_this();
    asio::steady_timer deadline(env_.ex, limit);
    while (!pred(rec_.st)) {
        if (env_.closing)
            co_return false;
        auto r = co_await (changed_.async_wait(use_tuple) || deadline.async_wait(use_tuple));
        if (r.index() == 1)
            co_return pred(rec_.st);
    }
    co_return true;
}

asio::awaitable<void> supervisor::perform(std::vector<effect> effects)
{
    auto self = shared_from_this();
    for (auto& a : effects) {
        switch (a.what) {
        case effect::kind::qmp: {
            bool sent = false;
            if (auto qmp = qmp_) {
                json::object no_args;
                sent = (co_await qmp->execute(a.command, std::move(no_args), 2s)).ok();
            }
            if (!sent && a.sig && rec_.pid > 0) // pid is 0 once the exit was seen: never a reused pid
                ::kill(rec_.pid, a.sig);
            break;
        }
        case effect::kind::signal:
            if (rec_.pid > 0)
                ::kill(rec_.pid, a.sig);
            break;
        case effect::kind::deadline:
            asio::co_spawn(env_.ex, deadline_after(gen_, a.after, a.stage),
                           [name = rec_.s.name](std::exception_ptr e) { log_failure("stop deadline", name, e); });
            break;
        }
    }
}

asio::awaitable<void> supervisor::deadline_after(unsigned gen, std::chrono::seconds after, int stage)
{
    auto self = shared_from_this();
    auto t = std::make_shared<asio::steady_timer>(env_.ex, after);
    std::erase_if(deadlines_, [](const std::weak_ptr<asio::steady_timer>& w) { return w.expired(); });
    deadlines_.push_back(t);
    auto [ec] = co_await t->async_wait(use_tuple);
    if (ec || gen_ != gen)
        co_return; // that QEMU is gone (or the daemon detached)
    auto next = lc_.on_deadline(stage);
    if (stage == 1 && !next.effects.empty())
        log::warn("vm", rec_.s.name, ": no power-off within ", after.count(), " s; forcing it");
    apply(next.t);
    co_await perform(std::move(next.effects));
}

asio::awaitable<status> supervisor::stop(bool force, int timeout_s)
{
    if (auto st = allowed(force ? op::force_stop : op::stop, rec_.st); !st)
        co_return st;
    const bool was_running = rec_.st == state::running;
    auto plan = lc_.stop(force, static_cast<bool>(qmp_), timeout_s);
    apply(plan.t);
    // The guest agent first, when one answers: it powers off a guest that has no ACPI handling
    // (no acpid, no logind). guest-shutdown answers nothing when it works; an error comes at once.
    // The ACPI button follows anyway: a guest shuts down once, whichever comes first.
    if (!force && was_running && agent_ && agent_view_) {
        json::object how{{"mode", "powerdown"}};
        auto a = agent_;
        auto r = co_await a->execute("guest-shutdown", std::move(how), 1s);
        if (r || r.error().code == errc::qmp_error) // silence (or the agent leaving) is the success
            log::warn("vm", rec_.s.name, ": the guest agent refused guest-shutdown: ", r ? "it answered" : r.error().message);
        else
            log::info("vm", rec_.s.name, ": asked the guest agent to power off");
    }
    co_await perform(std::move(plan.effects));
    bool done = co_await wait_for([](state s) { return !has_process(s); }, std::chrono::seconds(timeout_s + 15));
    if (!done && env_.closing)
        co_return fail(errc::shutting_down, "the daemon is shutting down; the VM is " + std::string(to_string(rec_.st)) +
                                                " and goes on stopping by itself");
    if (!done)
        co_return fail(errc::timeout, "the VM did not stop in time; it is " + std::string(to_string(rec_.st)));
    co_return ok();
}

asio::awaitable<status> supervisor::restart(int timeout_s)
{
    if (auto st = allowed(op::restart, rec_.st); !st)
        co_return st;
    if (auto st = co_await stop(false, timeout_s); !st)
        co_return st;
    co_return co_await start();
}

asio::awaitable<status> supervisor::pause() { return set_cpus(false); }
asio::awaitable<status> supervisor::resume() { return set_cpus(true); }

asio::awaitable<status> supervisor::set_cpus(bool run)
{
    if (auto st = allowed(run ? op::resume : op::pause, rec_.st); !st)
        co_return st;
    auto qmp = qmp_;
    if (!qmp)
        co_return fail(errc::qmp_disconnected, "QMP of this VM is not connected");
    json::object no_args;
    auto r = co_await qmp->execute(run ? "cont" : "stop", std::move(no_args), 5s);
    if (!r)
        co_return r.error();
    apply(lc_.on(run ? event::qmp_resume : event::qmp_stop, run ? "resumed" : "paused"));
    co_return ok();
}

asio::awaitable<status> supervisor::end_for_remove()
{
    if (has_process(rec_.st) && rec_.pid > 0)
        if (auto st = co_await stop(true, 5); !st)
            co_return st;
    release_runtime(console_end::vm_removed);
    co_return ok();
}

} // namespace paddock::vm
