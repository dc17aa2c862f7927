// SPDX-License-Identifier: MIT
// DRIVER: VM registry, QEMU supervision, persistence.
#include "vm/manager.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include "base/event_bus.hpp"
#include "base/log.hpp"
#include "base/mac.hpp"
#include "base/time.hpp"
#include "dhcp/server.hpp"
#include "net/fabric.hpp"
#include "qmp/client.hpp"
#include "store/db.hpp"
#include "store/statement.hpp"
#include "vm/process.hpp"
#include "vm/qemu_argv.hpp"

extern char** environ;

namespace paddock::vm {
namespace asio = boost::asio;
namespace json = boost::json;
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

struct manager::instance {
    spec s;
    std::string mac, ip, tap, accel;
    state st = state::stopped;
    std::string reason;
    std::int64_t created_at = 0, started_at = 0;
    int pid = 0;
    bool ip_leased = false;
    // Runtime, never persisted.
    unsigned gen = 0;          // bumps on every (re)attach and detach: stale callbacks compare it
    bool stop_requested = false, shutdown_seen = false, panicked = false, restart_pending = false, removed = false;
    std::string shutdown_reason;
    std::shared_ptr<qmp::client> qmp;
    std::unique_ptr<asio::posix::stream_descriptor> pidfd;
    std::shared_ptr<asio::local::stream_protocol::socket> console;
    asio::steady_timer changed; // condition variable: cancelled on every state change, expiry never reset
    explicit instance(asio::any_io_executor ex) : changed(ex, asio::steady_timer::time_point::max()) {}
};

namespace {

// A timestamp, or null when it was never set.
json::value iso(std::int64_t t) { return t > 0 ? json::value(json::string(iso8601(t))) : json::value(nullptr); }

// Argument vectors and aggregates are built outside coroutines: g++ 12 rejects braced lists of
// string literals in coroutine bodies ("array used as initializer").
std::vector<std::pair<std::string, std::string>> boot_images(const spec& s)
{
    return {{"image", s.image}, {"kernel", s.kernel}, {"initrd", s.initrd}};
}
std::vector<std::string> qemu_img_info(const std::string& base) { return {"qemu-img", "info", "--output=json", base}; }
std::vector<std::string> qemu_img_create(const std::string& fmt, const std::string& base, const std::string& overlay, int gib)
{
    std::vector<std::string> a{"qemu-img", "create", "-q", "-f", "qcow2", "-F", fmt, "-b", base, overlay};
    if (gib)
        a.push_back(std::to_string(gib) + "G");
    return a;
}
dhcp::reservation reservation_for(const std::string& mac, const std::string& name) { return {mac, {}, name, name}; }

// (Outside coroutines: g++ 12 cannot keep a `struct stat`, which has an array member, in a frame.)
bool is_regular_file(const std::string& path)
{
    struct stat st{};
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}


// Starts argv[0] detached (own session, stdin/stdout /dev/null, stderr to `log`), with `keep_fd`
// as fd 3 and nothing else inherited. Returns the pid.
result<int> spawn_detached(const std::vector<std::string>& argv, int keep_fd, const std::string& log)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (keep_fd >= 0)
        posix_spawn_file_actions_adddup2(&fa, keep_fd, 3);
    posix_spawn_file_actions_addclosefrom_np(&fa, keep_fd >= 0 ? 4 : 3);
    sigset_t none, defaults;
    sigemptyset(&none);
    sigemptyset(&defaults);
    for (int s : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGCHLD})
        sigaddset(&defaults, s);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &defaults);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    std::vector<char*> args;
    for (auto& a : argv)
        args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = 0;
    int rc = posix_spawnp(&pid, args[0], &fa, &at, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (rc != 0)
        return fail(errc::spawn_failed, "cannot run " + argv[0] + ": " + std::strerror(rc));
    return static_cast<int>(pid);
}

// Runs a helper tool to completion on the calling (pool) thread, with a deadline.
asio::awaitable<result<std::string>> run_tool(std::vector<std::string> argv, std::string log, int timeout_s)
{
    auto pid = spawn_detached(argv, -1, log);
    if (!pid)
        co_return pid.error();
    int status = 0;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    for (;;) {
        int r = ::waitpid(*pid, &status, WNOHANG);
        if (r == *pid)
            break;
        if (std::chrono::steady_clock::now() > deadline) {
            ::kill(*pid, SIGKILL);
            ::waitpid(*pid, &status, 0);
            co_return fail(errc::tool_failed, argv[0] + " did not finish within " + std::to_string(timeout_s) + " s");
        }
        ::usleep(2000);
    }
    std::ifstream f(log);
    std::string out((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        co_return fail(errc::tool_failed, argv[0] + " failed: " + out.substr(0, 500));
    co_return out;
}

std::string describe_wait_status(int st, bool have)
{
    if (!have)
        return "exit status unknown (not our child)";
    if (WIFEXITED(st))
        return "exit code " + std::to_string(WEXITSTATUS(st));
    if (WIFSIGNALED(st))
        return std::string("killed by signal ") + std::to_string(WTERMSIG(st)) + " (" + strsignal(WTERMSIG(st)) + ")";
    return "status " + std::to_string(st);
}


} // namespace

manager::manager(asio::any_io_executor ex, manager_config cfg, net::fabric& fabric, dhcp::server& dhcp, event_bus& bus,
                 store::db& db)
    : ex_(ex), cfg_(std::move(cfg)), fabric_(fabric), dhcp_(dhcp), bus_(bus), db_(db)
{
    bus_token_ = bus_.subscribe([this](const paddock::event& e) { on_bus_event(e); });
}

manager::~manager()
{
    bus_.unsubscribe(bus_token_);
    detach_all();
    tools_.join();
}

std::string manager::vm_dir(const std::string& name) const { return cfg_.state_dir + "/vms/" + name; }
std::string manager::image_path(const std::string& image) const { return cfg_.state_dir + "/images/" + image; }

std::size_t manager::running() const
{
    std::size_t n = 0;
    for (auto& [k, v] : vms_)
        n += has_process(v->st) ? 1 : 0;
    return n;
}

status manager::load()
{
    for (auto* d : {"/vms", "/images"})
        if (::mkdir((cfg_.state_dir + d).c_str(), 0700) != 0 && errno != EEXIST)
            return fail(errc::store_failed, "create " + cfg_.state_dir + d + ": " + std::strerror(errno));
    if (auto st = db_.exec("CREATE TABLE IF NOT EXISTS vms (name TEXT PRIMARY KEY, spec TEXT NOT NULL, mac TEXT NOT NULL, "
                           "ip TEXT NOT NULL, tap TEXT NOT NULL, state TEXT NOT NULL, reason TEXT NOT NULL, "
                           "created_at INTEGER NOT NULL, started_at INTEGER NOT NULL, pid INTEGER NOT NULL, accel TEXT NOT NULL)");
        !st)
        return st;
    store::statement q;
    if (sqlite3_prepare_v2(db_.handle(), "SELECT name, spec, mac, ip, tap, state, reason, created_at, started_at, pid, accel FROM vms",
                           -1, &q.s, nullptr) != SQLITE_OK)
        return fail(errc::store_failed, sqlite3_errmsg(db_.handle()));
    auto text = [&](int c) {
        auto* t = reinterpret_cast<const char*>(sqlite3_column_text(q.s, c));
        return std::string(t ? t : "");
    };
    while (sqlite3_step(q.s) == SQLITE_ROW) {
        auto vm = std::make_shared<instance>(ex_);
        auto sp = parse_spec(text(1));
        if (!sp) {
            log::error("vm", "stored VM ", text(0), " has an unreadable spec (", sp.error().message, "); skipped");
            continue;
        }
        vm->s = *sp;
        vm->mac = text(2);
        vm->ip = text(3);
        vm->tap = text(4);
        if (!parse_state(text(5), vm->st))
            vm->st = state::stopped;
        vm->reason = text(6);
        vm->created_at = sqlite3_column_int64(q.s, 7);
        vm->started_at = sqlite3_column_int64(q.s, 8);
        vm->pid = sqlite3_column_int(q.s, 9);
        vm->accel = text(10);
        vms_[vm->s.name] = vm;
    }
    for (auto& [ip, l] : dhcp_.core().leases())
        if (l.state == dhcp::lease_state::bound && vms_.count(l.vm) && vms_.at(l.vm)->mac == l.mac)
            vms_.at(l.vm)->ip_leased = true;
    for (auto& [name, vm] : vms_) {
        if (!has_process(vm->st))
            continue;
        // Re-attach to the QEMU that kept running while the daemon was away.
        if (vm->st == state::stopping)
            vm->stop_requested = true;
        asio::co_spawn(ex_, attach(vm, false), [name](std::exception_ptr e, status st) {
            if (e)
                log::error("vm", name, ": re-attach threw");
            else if (!st)
                log::warn("vm", name, ": ", st.error().message);
            else
                log::info("vm", name, ": re-attached to its running QEMU");
        });
    }
    // A reservation made for a VM that has no record (a crash between the two writes) is dropped.
    for (auto& [mac, r] : dhcp_.core().reservations()) {
        if (r.vm.empty() || (vms_.count(r.vm) && vms_.at(r.vm)->mac == mac))
            continue;
        log::warn("vm", "dropping the reservation of ", mac, " (", to_string(r.ip), ") for VM ", r.vm, ", which does not exist");
        asio::co_spawn(ex_, dhcp_.forget(mac), [](std::exception_ptr) {});
    }
    log::info("vm", "loaded ", vms_.size(), " VM(s)");
    return ok();
}

void manager::release_runtime(instance& vm, bool close_console)
{
    ++vm.gen;
    boost::system::error_code ec;
    if (vm.qmp) {
        vm.qmp->close();
        vm.qmp.reset();
    }
    // After an exit the console reader drains what QEMU wrote last and stops at EOF by itself.
    if (vm.console && close_console) {
        vm.console->close(ec);
        vm.console.reset();
    }
    if (vm.pidfd) {
        vm.pidfd->close(ec);
        vm.pidfd.reset();
    }
}

void manager::detach_all()
{
    for (auto& [name, vm] : vms_)
        release_runtime(*vm);
}

void manager::persist(const instance& vm)
{
    store::statement q;
    if (sqlite3_prepare_v2(db_.handle(),
                           "INSERT OR REPLACE INTO vms(name, spec, mac, ip, tap, state, reason, created_at, started_at, pid, accel) "
                           "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                           -1, &q.s, nullptr) != SQLITE_OK) {
        log::error("vm", "persist ", vm.s.name, ": ", sqlite3_errmsg(db_.handle()));
        return;
    }
    std::string sp = spec_to_json(vm.s);
    sqlite3_bind_text(q.s, 1, vm.s.name.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(q.s, 2, sp.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(q.s, 3, vm.mac.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(q.s, 4, vm.ip.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(q.s, 5, vm.tap.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(q.s, 6, to_string(vm.st), -1, SQLITE_STATIC);
    sqlite3_bind_text(q.s, 7, vm.reason.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(q.s, 8, vm.created_at);
    sqlite3_bind_int64(q.s, 9, vm.started_at);
    sqlite3_bind_int(q.s, 10, vm.pid);
    sqlite3_bind_text(q.s, 11, vm.accel.c_str(), -1, SQLITE_TRANSIENT);
    if (sqlite3_step(q.s) != SQLITE_DONE)
        log::error("vm", "persist ", vm.s.name, ": ", sqlite3_errmsg(db_.handle()));
}

void manager::change(instance& vm, event e, const std::string& reason)
{
    state prev = vm.st;
    state now = next(prev, e);
    bool reason_changed = !reason.empty() && reason != vm.reason;
    if (now == prev && !reason_changed)
        return;
    vm.st = now;
    if (!reason.empty())
        vm.reason = reason;
    persist(vm);
    log::info("vm", vm.s.name, ": ", to_string(prev), " -> ", to_string(now), " (", to_string(e), ")",
              vm.reason.empty() ? "" : ": " + vm.reason);
    bus_.publish("vm.state", vm.s.name,
                 {{"state", to_string(now)}, {"previous", to_string(prev)}, {"reason", vm.reason}},
                 std::chrono::system_clock::now());
    vm.changed.cancel();
}

json::object manager::to_json(const instance& vm) const
{
    json::object o{{"name", vm.s.name},
                   {"state", to_string(vm.st)},
                   {"cpus", vm.s.cpus},
                   {"memory_mib", vm.s.memory_mib},
                   {"disk_gib", vm.s.disk_gib ? json::value(vm.s.disk_gib) : json::value(nullptr)},
                   {"image", vm.s.image.empty() ? json::value(nullptr) : json::value(vm.s.image)},
                   {"mac", vm.mac},
                   {"ip", vm.ip},
                   {"ip_leased", vm.ip_leased},
                   {"tap", vm.tap},
                   {"created_at", iso(vm.created_at)},
                   {"started_at", has_process(vm.st) ? iso(vm.started_at) : json::value(nullptr)},
                   {"state_reason", vm.reason},
                   {"accel", vm.accel.empty() ? json::value(nullptr) : json::value(vm.accel)},
                   {"pid", vm.pid > 0 ? json::value(vm.pid) : json::value(nullptr)}};
    if (!vm.s.kernel.empty()) {
        o["kernel"] = vm.s.kernel;
        o["initrd"] = vm.s.initrd.empty() ? json::value(nullptr) : json::value(vm.s.initrd);
        o["cmdline"] = vm.s.cmdline;
    }
    return o;
}

json::array manager::list() const
{
    json::array out;
    for (auto& [name, vm] : vms_)
        out.push_back(to_json(*vm));
    return out;
}

result<json::object> manager::get(const std::string& name) const
{
    auto it = vms_.find(name);
    if (it == vms_.end())
        return fail(errc::not_found, "no VM named \"" + name + "\"");
    return to_json(*it->second);
}

result<std::string> manager::console_log(const std::string& name) const
{
    if (!vms_.count(name))
        return fail(errc::not_found, "no VM named \"" + name + "\"");
    std::ifstream f(vm_dir(name) + "/" + console_log_file, std::ios::binary);
    std::string out((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    return out;
}

void manager::on_bus_event(const paddock::event& e)
{
    if (e.type != "lease.bound" || e.vm.empty())
        return;
    std::string name = e.vm;
    std::string ip = e.data.contains("ip") && e.data.at("ip").is_string() ? std::string(e.data.at("ip").as_string()) : "";
    // Handled outside the publisher's loop: publishing from inside a subscriber is not allowed.
    asio::post(ex_, [this, name, ip] {
        auto it = vms_.find(name);
        if (it == vms_.end())
            return;
        auto& vm = *it->second;
        vm.ip_leased = true;
        if (!ip.empty())
            vm.ip = ip;
        bus_.publish("vm.ip", name, {{"ip", vm.ip}, {"mac", vm.mac}}, std::chrono::system_clock::now());
    });
}

void manager::on_qmp_event(const std::shared_ptr<instance>& vm, unsigned gen, const std::string& ev, const json::object& data)
{
    if (vm->gen != gen)
        return;
    log::debug("vm", vm->s.name, ": QMP event ", ev);
    if (ev == "STOP")
        change(*vm, event::qmp_stop, vm->st == state::running ? "paused" : "");
    else if (ev == "RESUME")
        change(*vm, event::qmp_resume, vm->st == state::paused ? "resumed" : "");
    else if (ev == "SHUTDOWN") {
        vm->shutdown_seen = true;
        bool guest = data.contains("guest") && data.at("guest").is_bool() && data.at("guest").as_bool();
        std::string why = data.contains("reason") && data.at("reason").is_string() ? std::string(data.at("reason").as_string()) : "";
        vm->shutdown_reason = guest ? "guest powered off (" + why + ")" : "shut down by the host (" + why + ")";
        change(*vm, event::qmp_shutdown, vm->stop_requested ? "" : vm->shutdown_reason);
    }
    else if (ev == "RESET") {
        // A guest-initiated reboot: the VM stays up; say so on the stream.
        bus_.publish("vm.state", vm->s.name,
                     {{"state", to_string(vm->st)}, {"previous", to_string(vm->st)}, {"reason", "guest rebooted"}},
                     std::chrono::system_clock::now());
    }
    else if (ev == "GUEST_PANICKED") {
        vm->panicked = true;
        log::warn("vm", vm->s.name, ": guest kernel panicked");
    }
    else if (ev == "POWERDOWN")
        log::info("vm", vm->s.name, ": ACPI power button pressed");
}

void manager::on_exit(instance& vm, int wait_status, bool have_status)
{
    release_runtime(vm, false);
    const std::string dir = vm_dir(vm.s.name);
    for (auto* f : {pid_file, qmp_socket, console_socket})
        ::unlink((dir + "/" + f).c_str());
    bool expected = vm.stop_requested || vm.shutdown_seen;
    std::string why;
    if (vm.stop_requested)
        why = "stopped";
    else if (vm.shutdown_seen)
        why = vm.shutdown_reason;
    else
        why = std::string("QEMU exited unexpectedly: ") + describe_wait_status(wait_status, have_status) +
              (vm.panicked ? " after a guest panic" : "");
    vm.pid = 0;
    change(vm, expected ? event::exited_expected : event::exited, why);
    persist(vm);
    if (vm.restart_pending && !vm.removed) {
        vm.restart_pending = false;
        auto self = vms_.count(vm.s.name) ? vms_.at(vm.s.name) : nullptr;
        if (self)
            asio::co_spawn(ex_, start(self), [](std::exception_ptr, status st) {
                if (!st)
                    log::warn("vm", "restart failed: ", st.error().message);
            });
    }
}

asio::awaitable<void> manager::watch_exit(std::shared_ptr<instance> vm, unsigned gen)
{
    auto [ec] = co_await vm->pidfd->async_wait(asio::posix::stream_descriptor::wait_read, use_tuple);
    if (ec || vm->gen != gen)
        co_return; // detached (daemon shutdown) or superseded
    int status = 0;
    bool have = ::waitpid(vm->pid, &status, WNOHANG) == vm->pid; // only our own children can be reaped
    on_exit(*vm, status, have);
}

asio::awaitable<void> manager::read_console(std::shared_ptr<instance> vm, unsigned gen)
{
    const std::string dir = vm_dir(vm->s.name);
    auto sock = std::make_unique<asio::local::stream_protocol::socket>(ex_);
    for (int i = 0; i < 50; ++i) {
        auto [ec] = co_await sock->async_connect(asio::local::stream_protocol::endpoint(dir + "/" + console_socket), use_tuple);
        if (!ec)
            break;
        boost::system::error_code ignored;
        sock->close(ignored);
        asio::steady_timer t(ex_, 100ms);
        co_await t.async_wait(use_tuple);
        if (vm->gen != gen)
            co_return;
    }
    if (!sock->is_open() || vm->gen != gen)
        co_return;
    // The reader owns the socket; vm->console is a handle for detach_all() to close it.
    std::shared_ptr<asio::local::stream_protocol::socket> owned(std::move(sock));
    auto* raw = owned.get();
    vm->console = owned;
    const std::string path = dir + "/" + console_log_file;
    // Small appends inline on the daemon thread; the file is capped at console_cap bytes (the
    // oldest half is dropped when it is reached).
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    struct stat st{};
    std::size_t size = fd >= 0 && ::fstat(fd, &st) == 0 ? static_cast<std::size_t>(st.st_size) : 0;
    char buf[4096];
    for (;;) {
        auto [ec, n] = co_await raw->async_read_some(asio::buffer(buf), use_tuple);
        if (ec)
            break; // EOF when QEMU exits, or closed by a detach
        if (fd < 0)
            continue;
        if (::write(fd, buf, n) > 0)
            size += n;
        if (size > cfg_.console_cap) {
            std::ifstream in(path, std::ios::binary);
            std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
            std::string keep = all.substr(all.size() - std::min(all.size(), cfg_.console_cap / 2));
            if (::ftruncate(fd, 0) == 0 && ::write(fd, keep.data(), keep.size()) >= 0)
                size = keep.size();
        }
    }
    if (fd >= 0)
        ::close(fd);
}

asio::awaitable<status> manager::attach(std::shared_ptr<instance> vm, bool fresh)
{
    const std::string name = vm->s.name;
    const std::string dir = vm_dir(name);
    unsigned gen = ++vm->gen;
    // A fresh QEMU is our own child; an old one must prove it is this VM's before we adopt it.
    bool alive = fresh ? vm->pid > 0 : process_matches(vm->pid, name);
    int pfd = alive ? pidfd_open(vm->pid) : -1;
    if (pfd < 0) {
        log::debug("vm", name, ": pid ", vm->pid, alive ? " pidfd_open failed: " : " is not our QEMU", alive ? std::strerror(errno) : "");
        // The process is gone (it died while the daemon was away, or never came up).
        bool expected = vm->stop_requested || vm->st == state::stopping;
        vm->pid = 0;
        change(*vm, expected ? event::exited_expected : event::exited,
               expected ? "stopped" : "QEMU exited while paddockd was not running");
        co_return fail(errc::vm_gone, name + ": its QEMU is no longer running");
    }
    vm->pidfd = std::make_unique<asio::posix::stream_descriptor>(ex_, pfd);
    asio::co_spawn(ex_, watch_exit(vm, gen), [name](std::exception_ptr e) {
        if (e)
            log::error("vm", name, ": exit watcher threw");
    });
    auto qmp = std::make_shared<qmp::client>(ex_);
    const std::string qmp_path = dir + "/" + qmp_socket;
    auto st = co_await qmp->connect(qmp_path, fresh ? 20s : 5s);
    if (vm->gen != gen)
        co_return fail(errc::vm_gone, name + ": QEMU went away during start-up");
    if (!st) {
        if (fresh) {
            ::kill(vm->pid, SIGKILL);
            change(*vm, event::start_failed, "QEMU's QMP did not answer: " + st.error().message);
        }
        else
            log::warn("vm", name, ": cannot reach QMP of pid ", vm->pid, ": ", st.error().message);
        co_return st;
    }
    vm->qmp = qmp;
    std::weak_ptr<instance> weak = vm;
    qmp->on_event([this, weak, gen](const std::string& ev, const json::object& data) {
        if (auto v = weak.lock())
            on_qmp_event(v, gen, ev, data);
    });
    asio::co_spawn(ex_, qmp->run(), [](std::exception_ptr) {});
    auto qs = co_await qmp->execute("query-status", {}, 5s);
    if (vm->gen != gen)
        co_return fail(errc::vm_gone, name + ": QEMU went away during start-up");
    std::string status = qs && qs->is_object() && qs->as_object().contains("status")
                             ? std::string(qs->as_object().at("status").as_string())
                             : "";
    if (status == "running")
        change(*vm, event::ready_running, fresh ? "started" : "");
    else if (status == "shutdown")
        change(*vm, event::qmp_shutdown, "");
    else if (!status.empty())
        change(*vm, event::ready_paused, fresh ? "started paused" : "");
    asio::co_spawn(ex_, read_console(vm, gen), [](std::exception_ptr) {});
    co_return ok();
}

asio::awaitable<status> manager::start(std::shared_ptr<instance> vm)
{
    const std::string& name = vm->s.name;
    if (auto st = allowed(op::start, vm->st); !st)
        co_return st;
    // Never a second QEMU for one VM: a live one recorded for it is adopted instead.
    if (vm->pid > 0 && process_matches(vm->pid, name)) {
        vm->st = state::starting;
        co_return co_await attach(vm, false);
    }
    const std::string dir = vm_dir(name);
    launch_params p;
    p.binary = cfg_.qemu_binary;
    p.accel = cfg_.accel;
    p.vm_dir = dir;
    p.mac = vm->mac;
    p.runas = cfg_.runas;
    if (!vm->s.kernel.empty()) {
        p.kernel_path = image_path(vm->s.kernel);
        if (!vm->s.initrd.empty())
            p.initrd_path = image_path(vm->s.initrd);
    }
    else
        p.disk_path = dir + "/" + disk_file;
    for (auto* f : {&p.kernel_path, &p.initrd_path, &p.disk_path})
        if (!f->empty() && ::access(f->c_str(), R_OK) != 0) {
            change(*vm, event::start_failed, "boot file missing: " + *f);
            co_return fail(errc::invalid_field, "boot file missing: " + *f);
        }
    for (auto* f : {pid_file, qmp_socket, console_socket})
        ::unlink((dir + "/" + f).c_str());
    auto tap = fabric_.open_tap(vm->tap);
    if (!tap) {
        change(*vm, event::start_failed, "cannot create TAP " + vm->tap + ": " + tap.error().message);
        co_return tap.error();
    }
    auto argv = qemu_argv(vm->s, p);
    auto pid = spawn_detached(argv, *tap, dir + "/" + qemu_log);
    ::close(*tap); // QEMU holds the TAP now; it goes away with QEMU
    if (!pid) {
        change(*vm, event::start_failed, pid.error().message);
        co_return pid.error();
    }
    vm->pid = *pid;
    vm->accel = cfg_.accel;
    vm->started_at = unix_now();
    vm->stop_requested = vm->shutdown_seen = vm->panicked = false;
    change(*vm, event::spawned, "starting (pid " + std::to_string(*pid) + ", " + cfg_.accel + ")");
    auto st = co_await attach(vm, true);
    if (!st) {
        // The QEMU log usually says why (bad kernel, missing device, ...).
        std::ifstream f(dir + "/" + qemu_log);
        std::string why((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
        if (!why.empty())
            log::warn("vm", name, ": QEMU said: ", why.substr(0, 400));
    }
    co_return st;
}

asio::awaitable<bool> manager::wait_for(std::shared_ptr<instance> vm, bool (*pred)(state), std::chrono::milliseconds limit)
{
    asio::steady_timer deadline(ex_, limit);
    while (!pred(vm->st)) {
        auto r = co_await (vm->changed.async_wait(use_tuple) || deadline.async_wait(use_tuple));
        if (r.index() == 1)
            co_return pred(vm->st);
    }
    co_return true;
}

asio::awaitable<void> manager::stop_deadline(std::shared_ptr<instance> vm, unsigned gen, int timeout_s)
{
    asio::steady_timer t(ex_, std::chrono::seconds(timeout_s));
    co_await t.async_wait(use_tuple);
    if (vm->gen != gen || !has_process(vm->st))
        co_return;
    log::warn("vm", vm->s.name, ": no power-off within ", timeout_s, " s; forcing it");
    if (vm->qmp)
        co_await vm->qmp->execute("quit", {}, 1s);
    t.expires_after(2s);
    co_await t.async_wait(use_tuple);
    if (vm->gen != gen || !has_process(vm->st) || vm->pid <= 0)
        co_return;
    ::kill(vm->pid, SIGTERM);
    t.expires_after(3s);
    co_await t.async_wait(use_tuple);
    if (vm->gen == gen && has_process(vm->st) && vm->pid > 0)
        ::kill(vm->pid, SIGKILL);
}

asio::awaitable<status> manager::stop(std::shared_ptr<instance> vm, bool force, int timeout_s)
{
    if (auto st = allowed(force ? op::force_stop : op::stop, vm->st); !st)
        co_return st;
    vm->stop_requested = true;
    if (force || !vm->qmp) {
        change(*vm, event::kill_sent, "forced stop");
        if (vm->pid > 0)
            ::kill(vm->pid, SIGKILL);
    }
    else {
        if (vm->st == state::paused)
            co_await vm->qmp->execute("cont", {}, 2s); // a paused guest cannot see the power button
        auto r = co_await vm->qmp->execute("system_powerdown", {}, 2s);
        change(*vm, event::stop_sent, "stop requested: ACPI power button, forced after " + std::to_string(timeout_s) + " s");
        if (!r && vm->pid > 0)
            ::kill(vm->pid, SIGTERM);
        asio::co_spawn(ex_, stop_deadline(vm, vm->gen, timeout_s), [](std::exception_ptr) {});
    }
    bool done = co_await wait_for(vm, [](state s) { return !has_process(s); }, std::chrono::seconds(timeout_s + 15));
    if (!done)
        co_return fail(errc::timeout, "the VM did not stop in time; it is " + std::string(to_string(vm->st)));
    co_return ok();
}

asio::awaitable<result<json::object>> manager::create(std::string body)
{
    auto sp = parse_spec(body);
    if (!sp)
        co_return sp.error();
    spec s = *sp;
    if (vms_.count(s.name))
        co_return fail(errc::conflict, "a VM named \"" + s.name + "\" already exists");
    auto vm = std::make_shared<instance>(ex_);
    vm->s = s;
    vm->tap = tap_name(s.name);
    for (auto& [n, other] : vms_)
        if (other->tap == vm->tap)
            co_return fail(errc::conflict, "name: \"" + s.name + "\" maps to TAP " + vm->tap + ", already used by VM " + n);
    if (vm->tap == cfg_.bridge)
        co_return fail(errc::conflict, "name: \"" + s.name + "\" maps to TAP " + vm->tap + ", the bridge's name");
    for (const auto& [field, img] : boot_images(s)) {
        if (!img.empty() && !is_regular_file(image_path(img)))
            co_return fail(errc::invalid_field, field + ": no image named \"" + img + "\" in " + cfg_.state_dir + "/images");
    }
    // The MAC: given, or generated and unique among VMs and DHCP clients.
    std::set<std::string> used;
    for (auto& [n, other] : vms_)
        used.insert(other->mac);
    for (auto& [ip, l] : dhcp_.core().leases())
        used.insert(l.mac);
    if (!s.mac.empty()) {
        if (used.count(s.mac))
            co_return fail(errc::conflict, "mac: " + s.mac + " is already used");
        vm->mac = s.mac;
    }
    else {
        std::random_device rd;
        do
            vm->mac = make_mac(rd());
        while (used.count(vm->mac));
    }
    // The address, reserved now: known before the first boot, stable across reboots.
    dhcp::reservation r = reservation_for(vm->mac, s.name);
    if (!s.ip.empty()) {
        auto a = parse_ipv4(s.ip);
        if (!a)
            co_return fail(errc::invalid_field, "ip: \"" + s.ip + "\" is not an IPv4 address");
        r.ip = *a;
    }
    else if (auto f = dhcp_.core().free_address())
        r.ip = *f;
    else
        co_return fail(errc::pool_exhausted, "no free address left in the DHCP pool");
    if (auto st = co_await dhcp_.reserve(r); !st) {
        auto f = st.error();
        if (f.code == errc::invalid_ip)
            f.code = errc::invalid_field;
        f.message = "ip: " + f.message;
        co_return f;
    }
    vm->ip = to_string(r.ip);
    const std::string dir = vm_dir(s.name);
    std::error_code fec;
    fs::remove_all(dir, fec);
    if (::mkdir(dir.c_str(), 0700) != 0) {
        co_await dhcp_.forget(vm->mac);
        co_return fail(errc::store_failed, "create " + dir + ": " + std::strerror(errno));
    }
    if (!s.image.empty()) {
        // A copy-on-write overlay on the image, never a copy; grown to disk_gib when given.
        const std::string base = image_path(s.image);
        const std::string tool_log = dir + "/qemu-img.log";
        auto info_task = run_tool(qemu_img_info(base), tool_log, 60);
        auto info = co_await asio::co_spawn(tools_.get_executor(), std::move(info_task), asio::use_awaitable);
        std::string fmt = "raw";
        if (info) {
            boost::system::error_code jec;
            auto j = json::parse(info.value(), jec);
            if (!jec && j.is_object() && j.as_object().contains("format"))
                fmt = std::string(j.as_object().at("format").as_string());
        }
        auto argv = qemu_img_create(fmt, base, dir + "/" + disk_file, s.disk_gib);
        result<std::string> made = failure{errc::tool_failed, "qemu-img info failed"};
        if (info) {
            auto create_task = run_tool(argv, tool_log, 60);
            made = co_await asio::co_spawn(tools_.get_executor(), std::move(create_task), asio::use_awaitable);
        }
        else
            made = info.error();
        if (!made) {
            fs::remove_all(dir, fec);
            co_await dhcp_.forget(vm->mac);
            co_return fail(errc::invalid_field, "image: cannot make an overlay on \"" + s.image + "\": " + made.error().message);
        }
    }
    vm->created_at = unix_now();
    vm->reason = "created";
    vms_[s.name] = vm;
    persist(*vm);
    bus_.publish("vm.created", s.name, to_json(*vm), std::chrono::system_clock::now());
    if (s.start) {
        auto st = co_await start(vm);
        if (!st)
            log::warn("vm", s.name, ": created, but the start failed: ", st.error().message);
    }
    co_return to_json(*vm);
}

asio::awaitable<result<json::object>> manager::act(std::string name, std::string action, std::string body)
{
    auto it = vms_.find(name);
    if (it == vms_.end())
        co_return fail(errc::not_found, "no VM named \"" + name + "\"");
    auto vm = it->second;
    bool force = false;
    int timeout_s = 30;
    if (!body.empty()) {
        boost::system::error_code ec;
        auto v = json::parse(body, ec);
        if (ec || !v.is_object())
            co_return fail(errc::invalid_json, "request body must be a JSON object");
        for (auto& [k, val] : v.as_object()) {
            if (action == "stop" || action == "restart") {
                if (k == "force" && val.is_bool() && action == "stop") {
                    force = val.as_bool();
                    continue;
                }
                if (k == "timeout_s" && val.is_int64() && val.as_int64() >= 1 && val.as_int64() <= 3600) {
                    timeout_s = static_cast<int>(val.as_int64());
                    continue;
                }
                if (k == "timeout_s")
                    co_return fail(errc::invalid_field, "timeout_s: expected a whole number from 1 to 3600");
                if (k == "force")
                    co_return fail(errc::invalid_field, "force: expected true or false");
            }
            co_return fail(errc::invalid_field, std::string(k) + ": unknown field for " + action);
        }
    }
    status st = ok();
    if (action == "start") {
        st = co_await start(vm);
    }
    else if (action == "stop") {
        st = co_await stop(vm, force, timeout_s);
    }
    else if (action == "restart") {
        st = allowed(op::restart, vm->st);
        if (st)
            st = co_await stop(vm, false, timeout_s);
        if (st)
            st = co_await start(vm);
    }
    else if (action == "pause" || action == "resume") {
        st = allowed(action == "pause" ? op::pause : op::resume, vm->st);
        if (st && !vm->qmp)
            st = fail(errc::qmp_disconnected, "QMP of this VM is not connected");
        if (st) {
            auto r = co_await vm->qmp->execute(action == "pause" ? "stop" : "cont", {}, 5s);
            if (!r)
                st = r.error();
            else
                change(*vm, action == "pause" ? event::qmp_stop : event::qmp_resume, action == "pause" ? "paused" : "resumed");
        }
    }
    else
        co_return fail(errc::not_found, "no action \"" + action + "\"; use start, stop, restart, pause or resume");
    if (!st)
        co_return st.error();
    co_return to_json(*vm);
}

asio::awaitable<status> manager::remove(std::string name)
{
    auto it = vms_.find(name);
    if (it == vms_.end())
        co_return fail(errc::not_found, "no VM named \"" + name + "\"");
    auto vm = it->second;
    if (has_process(vm->st) && vm->pid > 0) {
        if (auto st = co_await stop(vm, true, 5); !st)
            co_return st;
    }
    vm->removed = true;
    release_runtime(*vm);
    co_await dhcp_.forget(vm->mac);
    fabric_.delete_tap(vm->tap); // normally gone with QEMU already
    std::error_code ec;
    fs::remove_all(vm_dir(name), ec);
    store::statement q;
    if (sqlite3_prepare_v2(db_.handle(), "DELETE FROM vms WHERE name = ?1", -1, &q.s, nullptr) == SQLITE_OK) {
        sqlite3_bind_text(q.s, 1, name.c_str(), -1, SQLITE_TRANSIENT);
        sqlite3_step(q.s);
    }
    vms_.erase(name);
    log::info("vm", name, ": removed");
    bus_.publish("vm.removed", name, {}, std::chrono::system_clock::now());
    co_return ok();
}

} // namespace paddock::vm
