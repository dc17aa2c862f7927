// SPDX-License-Identifier: MIT
// The daemon: wiring, start order, signals, teardown.
#include "app/daemon.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <thread>

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <pwd.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "api/http_metrics.hpp"
#include "api/http_server.hpp"
#include "api/prom.hpp"
#include "api/static_files.hpp"
#include "app/dhcp_store.hpp"
#include "app/dns_server.hpp"
#include "app/guard.hpp"
#include "app/loop_probe.hpp"
#include "app/metadata_server.hpp"
#include "app/vm_host.hpp"
#include "base/event_bus.hpp"
#include "base/log.hpp"
#include "dhcp/server.hpp"
#include "net/fabric.hpp"
#include "net/link_watch.hpp"
#include "vm/images.hpp"
#include "vm/manager.hpp"
#include "net/netns.hpp"
#include "store/db.hpp"
#include "store/rows.hpp"
#include "store/writer.hpp"
#include "vm/teardown.hpp"

namespace paddock::app {
namespace asio = boost::asio;

namespace {

// Creates state_dir (0700) and its parents as needed.
status make_state_dir(const std::string& dir)
{
    for (std::size_t i = 1; i <= dir.size(); ++i) {
        if (i < dir.size() && dir[i] != '/')
            continue;
        std::string part = dir.substr(0, i);
        if (::mkdir(part.c_str(), 0700) != 0 && errno != EEXIST)
            return fail(errc::state_dir, "create " + part + ": " + std::strerror(errno));
    }
    struct stat st{};
    if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
        return fail(errc::state_dir, dir + " is not a directory");
    return ok();
}

// The lock that keeps one daemon per state_dir; holds the owner's pid as text.
struct state_lock {
    int fd = -1;
    ~state_lock()
    {
        if (fd >= 0)
            ::close(fd);
    }
};

std::string lock_path(const config& cfg) { return cfg.state_dir + "/paddockd.lock"; }

// Tries to take the lock; on failure returns the holder's pid (0 if unknown) in `holder`.
bool take_lock(const config& cfg, state_lock& l, pid_t& holder)
{
    holder = 0;
    l.fd = ::open(lock_path(cfg).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (l.fd < 0)
        return false;
    if (::flock(l.fd, LOCK_EX | LOCK_NB) != 0) {
        char buf[32] = {};
        ssize_t n = ::pread(l.fd, buf, sizeof buf - 1, 0);
        if (n > 0)
            holder = static_cast<pid_t>(std::atoi(buf));
        return false;
    }
    std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(l.fd, 0) != 0 || ::pwrite(l.fd, pid.data(), pid.size(), 0) < 0)
        return false;
    return true;
}

// Reads state_dir/api-token, or creates it (32 random bytes as hex, mode 0600).
result<std::string> api_token(const std::string& dir)
{
    const std::string path = dir + "/api-token";
    std::ifstream in(path);
    std::string tok;
    if (in && std::getline(in, tok) && tok.size() >= 32)
        return tok;
    unsigned char raw[32];
    if (::getrandom(raw, sizeof raw, 0) != sizeof raw)
        return fail(errc::token, std::string("getrandom: ") + std::strerror(errno));
    static const char* hex = "0123456789abcdef";
    tok.clear();
    for (unsigned char c : raw) {
        tok += hex[c >> 4];
        tok += hex[c & 15];
    }
    const std::string tmp = path + ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return fail(errc::token, "create " + tmp + ": " + std::strerror(errno));
    std::string line = tok + "\n";
    bool wrote = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) && ::fsync(fd) == 0;
    ::close(fd);
    if (!wrote || ::rename(tmp.c_str(), path.c_str()) != 0)
        return fail(errc::token, "write " + path + ": " + std::strerror(errno));
    return tok;
}

dhcp::engine_config dhcp_config(const config& cfg)
{
    const auto& n = cfg.network;
    dhcp::engine_config d;
    d.subnet = n.subnet;
    d.server_id = n.bridge_address;
    d.router = n.gateway;
    d.dns = effective_dns(cfg);
    d.domain = n.domain;
    d.pool_start = n.pool_start;
    d.pool_end = n.pool_end;
    d.lease_time_s = n.lease_time_s;
    return d;
}

constexpr const char* forward_key = "host.ip_forward_before";

// The API's view of the daemon: every call lands on the module that owns the answer.
// An image upload as the API sees it.
class upload_adapter final : public api::upload_sink {
public:
    explicit upload_adapter(std::unique_ptr<vm::image_store::upload> u) : u_(std::move(u)) {}
    asio::awaitable<status> write(std::string chunk) override { return u_->write(std::move(chunk)); }
    asio::awaitable<result<boost::json::object>> finish() override { return u_->finish(); }

private:
    std::unique_ptr<vm::image_store::upload> u_;
};

class daemon_backend final : public api::backend {
public:
    daemon_backend(std::chrono::steady_clock::time_point t0, net::fabric& f, dhcp::server& d, vm::manager& m,
                   const loop_probe& probe, vm::image_store& images)
        : t0_(t0), fabric_(f), dhcp_(d), vms_(m), probe_(probe), images_(images)
    {
    }
    api::loop_stalls stalls() const override
    {
        return {static_cast<int>(probe_.period().count()), probe_.worst_ms(), probe_.recent_worst_ms()};
    }
    std::int64_t uptime_s() const override
    {
        return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - t0_).count();
    }
    boost::json::object network() override
    {
        auto o = fabric_.describe();
        o["dhcp_pool"].as_object()["used"] = dhcp_.core().pool_used();
        boost::json::object d{{"enabled", dns_ != nullptr}};
        if (dns_ && dns_core_) {
            d["address"] = to_string(dns_address);
            d["domain"] = dns_core_->config().domain;
            boost::json::array ups;
            for (auto& u : dns_->upstream_names())
                ups.push_back(boost::json::string(u));
            d["upstreams"] = std::move(ups);
            d["cache_entries"] = dns_core_->cache_size();
        }
        o["dns"] = std::move(d);
        return o;
    }
    boost::json::array leases() override { return dhcp_.leases_json(); }
    boost::json::array reservations() override { return dhcp_.reservations_json(); }
    // PUT /api/v1/reservations/{mac}: the given address, the MAC's current one, or a free one.
    asio::awaitable<result<boost::json::object>> reserve(api::reservation_request rq) override
    {
        dhcp::reservation r;
        r.mac = rq.mac;
        r.hostname = rq.hostname;
        std::optional<ipv4> want;
        if (!rq.ip.empty()) {
            want = parse_ipv4(rq.ip);
            if (!want)
                co_return fail(errc::invalid_ip, "ip: \"" + rq.ip + "\" is not an IPv4 address");
        }
        auto a = dhcp_.core().address_for(rq.mac, want);
        if (!a)
            co_return a.error();
        r.ip = *a;
        if (auto st = co_await dhcp_.reserve(r); !st)
            co_return st.error();
        co_return boost::json::object{{"mac", r.mac}, {"ip", to_string(r.ip)}, {"hostname", r.hostname}};
    }
    asio::awaitable<status> unreserve(std::string mac) override { return dhcp_.unreserve(std::move(mac)); }
    std::shared_ptr<const std::string> vms_text() override { return vms_.list_text(); }
    result<boost::json::object> vm(const std::string& name) override { return vms_.get(name); }
    asio::awaitable<result<std::string>> console_log(std::string name) override { return vms_.console_log(std::move(name)); }
    result<std::shared_ptr<vm::console_hub>> console(const std::string& name) override { return vms_.console(name); }
    asio::awaitable<result<boost::json::object>> create_vm(vm::spec s) override { return vms_.create(std::move(s)); }
    asio::awaitable<result<boost::json::object>> vm_action(std::string name, vm::action a, vm::action_options o) override
    {
        return vms_.act(std::move(name), a, o);
    }
    asio::awaitable<status> remove_vm(std::string name) override { return vms_.remove(std::move(name)); }
    void metrics(api::prom& out) override;
    boost::json::array images() override { return images_.list(); }
    result<boost::json::object> image(const std::string& name) override { return images_.get(name); }
    result<std::unique_ptr<api::upload_sink>> begin_upload(const std::string& name, std::optional<std::uint64_t> length) override
    {
        auto u = images_.begin(name, length);
        if (!u)
            return u.error();
        return std::unique_ptr<api::upload_sink>(std::make_unique<upload_adapter>(std::move(*u)));
    }
    asio::awaitable<status> remove_image(std::string name) override
    {
        co_return co_await images_.remove(std::move(name), [this](const std::string& n) { return vms_.image_user(n); });
    }

    std::uint64_t repairs = 0; // fabric repairs that changed something
    const guard* guard_ = nullptr;
    dns_server* dns_ = nullptr;
    ipv4 dns_address;
    const dns::resolver* dns_core_ = nullptr;

private:
    std::chrono::steady_clock::time_point t0_;
    net::fabric& fabric_;
    dhcp::server& dhcp_;
    vm::manager& vms_;
    const loop_probe& probe_;
    vm::image_store& images_;
};

void daemon_backend::metrics(api::prom& out)
{
    out.family("paddock_vms", "gauge", "VMs by state.");
    auto n = vms_.by_state();
    for (auto st : vm::all_states)
        out.sample("paddock_vms", {{"state", vm::to_string(st)}}, static_cast<double>(n[static_cast<std::size_t>(st)]));
    const auto& d = dhcp_.stats();
    out.family("paddock_dhcp_packets_total", "counter",
               "DHCP packets received, by message type and outcome (what was sent back, or why nothing was).");
    for (std::size_t t = 0; t < d.by_type.size(); ++t)
        for (std::size_t o = 0; o < d.by_type[t].size(); ++o) {
            if (d.by_type[t][o] == 0)
                continue;
            const char* type = t == 0 ? "unknown" : dhcp::to_string(static_cast<dhcp::msg_type>(t));
            out.sample("paddock_dhcp_packets_total",
                       {{"type", type}, {"outcome", dhcp::server::outcome_name(static_cast<dhcp::server::outcome>(o))}},
                       static_cast<double>(d.by_type[t][o]));
        }
    out.family("paddock_dhcp_failed_commits_total", "counter", "Lease commits the store refused (their ACKs were withheld).");
    out.sample("paddock_dhcp_failed_commits_total", static_cast<double>(d.failed_commits));
    std::size_t bound = 0;
    for (auto& [ip, l] : dhcp_.core().leases())
        bound += l.state == dhcp::lease_state::bound ? 1 : 0;
    out.family("paddock_dhcp_active_leases", "gauge", "Bound DHCP leases.");
    out.sample("paddock_dhcp_active_leases", static_cast<double>(bound));
    const auto& core = dhcp_.core();
    out.family("paddock_dhcp_pool_free", "gauge", "Pool addresses neither leased, offered nor reserved.");
    out.sample("paddock_dhcp_pool_free", static_cast<double>(core.pool_size() - std::min(core.pool_size(), core.pool_used())));
    out.family("paddock_dhcp_pool_size", "gauge", "Addresses in the DHCP pool.");
    out.sample("paddock_dhcp_pool_size", static_cast<double>(core.pool_size()));
    out.family("paddock_guard_dropped_packets_total", "counter",
               "Frames a VM's port sent that the anti-spoofing table dropped, by VM and reason "
               "(mac, arp, ip, dhcp_server, ethertype).");
    if (guard_)
        for (auto& [vm, reasons] : guard_->totals())
            for (auto& [why, n] : reasons)
                out.sample("paddock_guard_dropped_packets_total", {{"vm", vm}, {"reason", why}}, static_cast<double>(n));
    out.family("paddock_dns_queries_total", "counter",
               "DNS queries by outcome: answered from the VMs' names (local), from the cache (cached), by an "
               "upstream server (forwarded), SERVFAIL after no upstream answered (failed), refused (client "
               "outside the subnet), notimp, malformed (dropped), shed (dropped: too many in flight).");
    if (dns_core_)
        for (std::size_t o = 0; o < dns::outcome_count; ++o)
            out.sample("paddock_dns_queries_total", {{"outcome", dns::to_string(static_cast<dns::outcome>(o))}},
                       static_cast<double>(dns_core_->counts()[o]));
    out.family("paddock_dns_cache_entries", "gauge", "Answers in the DNS cache.");
    out.sample("paddock_dns_cache_entries", dns_core_ ? static_cast<double>(dns_core_->cache_size()) : 0.0);
    out.family("paddock_dns_upstream_timeouts_total", "counter", "Forwarded queries an upstream server did not answer in time.");
    out.sample("paddock_dns_upstream_timeouts_total", dns_ ? static_cast<double>(dns_->upstream_timeouts()) : 0.0);
    out.family("paddock_fabric_repairs_total", "counter", "Repairs of the network fabric that changed something.");
    out.sample("paddock_fabric_repairs_total", static_cast<double>(repairs));
    out.family("paddock_loop_stall_seconds", "gauge",
               "How late the daemon's event loop ran a timer: the worst in the last 1-2 s (window=recent) and since start (window=start).");
    out.sample("paddock_loop_stall_seconds", {{"window", "recent"}}, probe_.recent_worst_ms() / 1000.0);
    out.sample("paddock_loop_stall_seconds", {{"window", "start"}}, probe_.worst_ms() / 1000.0);
    out.family("paddock_uptime_seconds", "gauge", "Seconds since the daemon started.");
    out.sample("paddock_uptime_seconds", static_cast<double>(uptime_s()));
}

// The stall probe's period: PADDOCK_LOOP_PROBE_MS (1 to 1000), else 10 ms.
std::chrono::milliseconds probe_period()
{
    const char* v = std::getenv("PADDOCK_LOOP_PROBE_MS");
    int ms = v ? std::atoi(v) : 0;
    return std::chrono::milliseconds(ms >= 1 && ms <= 1000 ? ms : 10);
}

// A socket(2) made inside the fabric's namespace (the DHCP server's sockets live there).
int socket_in(int ns_fd, int domain, int type, int protocol)
{
    int fd = -1;
    auto st = net::run_in_netns(ns_fd, [&]() -> status {
        fd = ::socket(domain, type, protocol);
        return fd >= 0 ? ok() : fail(errc::dhcp_socket, std::strerror(errno));
    });
    if (!st && fd < 0)
        errno = EPERM;
    return fd;
}

// A socket bound to `addr`:`port` inside the namespace: TCP listening, or UDP; -1 on failure.
int bound_socket(int ns_fd, ipv4 addr, std::uint16_t port, bool tcp)
{
    int fd = socket_in(ns_fd, AF_INET, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(addr.value);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || (tcp && ::listen(fd, 64) != 0)) {
        int e = errno;
        ::close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

void log_exception(const char* what, std::exception_ptr e)
{
    if (!e)
        return;
    try {
        std::rethrow_exception(e);
    }
    catch (const std::exception& x) {
        log::error("daemon", what, " failed: ", x.what());
    }
}

} // namespace

std::string detect_accel(const std::string& configured)
{
    if (configured == "kvm" || configured == "tcg")
        return configured;
    if (::access("/dev/kvm", R_OK | W_OK) != 0)
        return "tcg";
    std::ifstream cpu("/proc/cpuinfo");
    std::string line;
    while (std::getline(cpu, line)) {
        if (line.rfind("flags", 0) != 0)
            continue;
        std::istringstream ss(line);
        std::string w;
        while (ss >> w)
            if (w == "vmx" || w == "svm")
                return "kvm";
        break;
    }
    return "tcg";
}

int run_daemon(const config& cfg, const run_options& opt)
{
    auto t0 = std::chrono::steady_clock::now();
    if (auto st = make_state_dir(cfg.state_dir); !st) {
        log::error("daemon", st.error().message);
        return 1;
    }
    state_lock lock;
    pid_t holder = 0;
    if (!take_lock(cfg, lock, holder)) {
        log::error("daemon", "another paddockd (pid ", holder, ") is running with state_dir ", cfg.state_dir);
        return 1;
    }
    auto db = store::db::open(cfg.state_dir + "/paddock.db");
    if (!db) {
        log::error("store", db.error().message);
        return 1;
    }
    // Start-up reads, on this thread before the io_context runs; afterwards the connection
    // belongs to the store writer.
    auto forward = store::get_setting(*db, forward_key);
    auto snapshot = load_dhcp_snapshot(*db);
    auto vm_rows = store::load_vms(*db);
    auto image_rows = store::load_images(*db);
    for (const failure* f : {forward ? nullptr : &forward.error(), snapshot ? nullptr : &snapshot.error(),
                             vm_rows ? nullptr : &vm_rows.error(), image_rows ? nullptr : &image_rows.error()})
        if (f) {
            log::error("store", f->message);
            return 1;
        }
    std::optional<int> forward_before;
    if (*forward)
        forward_before = **forward == "1" ? 1 : 0;
    std::string token;
    if (cfg.auth == "token") {
        auto t = api_token(cfg.state_dir);
        if (!t) {
            log::error("daemon", t.error().message);
            return 1;
        }
        token = *t;
    }

    asio::io_context ioc{1};
    // Seq starts at the start time in microseconds: it never goes backwards across restarts.
    event_bus bus(10000, static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                             std::chrono::system_clock::now().time_since_epoch()).count()));
    bus.subscribe([](const event& e) {
        if (log::current_level() > log::level::debug)
            return; // formatting below is not free: skip it on the DHCP hot path
        auto us = std::chrono::duration_cast<std::chrono::microseconds>(e.time.time_since_epoch()).count();
        log::debug("event", to_string(e.type), " #", e.seq, e.vm.empty() ? "" : " vm " + e.vm, " at ", us / 1000000, ".",
                   std::to_string(1000000 + us % 1000000).substr(1));
    });

    // The host's ip_forward is recorded (durably, here on the main thread: only the first
    // ensure() at start-up ever records it) before the fabric first changes it.
    store::db* startup_db = &*db;
    net::fabric fabric(cfg.network, cfg.listen_port, forward_before, [&startup_db](int v) -> status {
        if (!startup_db)
            return fail(errc::store_failed, "ip_forward can only be recorded at start-up");
        return store::put_setting(*startup_db, forward_key, std::to_string(v));
    });
    if (auto r = fabric.ensure(); !r) {
        log::error("net", "cannot bring up the network fabric: ", r.error().message);
        return 1;
    }
    else {
        for (auto& a : *r)
            log::info("net", a);
    }

    startup_db = nullptr;
    store::writer writer(ioc.get_executor(), std::move(*db));
    dhcp_store leases(writer);
    dhcp::server dhcp(ioc.get_executor(), dhcp_config(cfg), leases, bus);
    dhcp.load(*snapshot);
    const auto dhcp_sockets = [&fabric](int d, int t, int p) { return socket_in(fabric.ns_fd(), d, t, p); };
    if (auto st = dhcp.open(dhcp_sockets); !st) {
        log::error("dhcp", st.error().message);
        return 1;
    }
    unsigned dhcp_generation = fabric.generation();


    vm::manager_config mcfg;
    mcfg.state_dir = cfg.state_dir;
    mcfg.qemu_binary = cfg.qemu.binary;
    mcfg.accel = detect_accel(cfg.qemu.accel);
    mcfg.bridge = cfg.network.bridge;
    mcfg.metadata_base = "http://" + to_string(cfg.network.bridge_address) + "/vm/";
    // QEMU drops to "nobody" once its devices are open (it needs no privilege after that).
    mcfg.runas = ::getpwnam("nobody") ? "nobody" : "";
    vm_host vm_net(fabric, dhcp);
    vm::manager vms(ioc.get_executor(), mcfg, vm_net, writer, bus);
    dhcp.on_bound([&vms](const dhcp::lease& l) {
        if (!l.vm.empty())
            vms.lease_bound(l.vm, l.mac, to_string(l.ip));
    });
    if (auto st = vms.load(*vm_rows); !st) {
        log::error("vm", "cannot load VMs: ", st.error().message);
        return 1;
    }

    // Anti-spoofing on the bridge: one chain per VM port, rebuilt as VMs come and go.
    guard spoof_guard(ioc.get_executor(), [&fabric] { return fabric.ns_fd(); }, [&vms] {
        std::vector<net::guard_port> ports;
        for (auto& v : vms.list()) {
            const auto& o = v.as_object();
            ports.push_back({std::string(o.at("name").as_string()), std::string(o.at("tap").as_string()),
                             std::string(o.at("mac").as_string()), std::string(o.at("ip").as_string())});
        }
        return ports;
    }, bus);
    spoof_guard.sync();
    bus.subscribe([&ioc, &spoof_guard](const event& e) {
        if (e.type == event_type::vm_created || e.type == event_type::vm_removed)
            asio::post(ioc, [&spoof_guard] { spoof_guard.sync(); });
    });
    asio::steady_timer guard_tick(ioc);
    std::function<void()> guard_poll = [&] {
        guard_tick.expires_after(std::chrono::seconds(2));
        guard_tick.async_wait([&](boost::system::error_code ec) {
            if (ec)
                return;
            spoof_guard.poll();
            guard_poll();
        });
    };
    guard_poll();

    loop_probe probe(ioc.get_executor(), probe_period());
    // The cloud-init NoCloud seeds, on the bridge address inside the namespace.
    app::metadata_server seeds(ioc.get_executor(), cfg.network.bridge, [&vms](const std::string& name) {
        std::optional<vm::nocloud_vm> out;
        if (const vm::record* r = vms.find(name))
            out = vm::nocloud_vm{r->s.name, r->ip, r->mac, r->s.name + "-" + std::to_string(r->created_at), r->s.ci};
        return out;
    });
    const auto open_seeds = [&] {
        int fd = bound_socket(fabric.ns_fd(), cfg.network.bridge_address, 80, true);
        if (fd < 0 || !seeds.open(fd))
            log::warn("metadata", "cannot listen on ", to_string(cfg.network.bridge_address),
                      ":80 in the namespace; VMs get no cloud-init seed: ", std::strerror(errno));
    };
    open_seeds();

    // The DNS service: VM names and reverse lookups answered here, the rest forwarded upstream.
    dns::zone_config zone;
    zone.domain = cfg.network.domain;
    zone.subnet = cfg.network.subnet;
    zone.cache_entries = cfg.dns_service.cache_entries;
    dns::directory names;
    names.address_of = [&vms](std::string_view vm) {
        std::optional<ipv4> a;
        if (const vm::record* r = vms.find(std::string(vm)))
            a = parse_ipv4(r->ip);
        return a;
    };
    names.name_of = [&vms](ipv4 ip) {
        std::optional<std::string> n;
        if (std::string vm = vms.name_at(to_string(ip)); !vm.empty())
            n = std::move(vm);
        return n;
    };
    dns::resolver dns_core(zone, names);
    dns_options dopt;
    dopt.upstreams = cfg.dns_service.upstreams;
    dopt.resolv_conf = cfg.dns_service.resolv_conf;
    dopt.own_address = to_string(cfg.network.bridge_address);
    dns_server dns(ioc.get_executor(), dns_core, dopt);
    const auto open_dns = [&] {
        if (!cfg.dns_service.enabled)
            return;
        int u = bound_socket(fabric.ns_fd(), cfg.network.bridge_address, 53, false);
        int t = u < 0 ? -1 : bound_socket(fabric.ns_fd(), cfg.network.bridge_address, 53, true);
        if (u < 0 || t < 0) {
            log::warn("dns", "cannot listen on ", to_string(cfg.network.bridge_address),
                      ":53 in the namespace; VMs get no DNS: ", std::strerror(errno));
            if (u >= 0)
                ::close(u);
            return;
        }
        if (auto st = dns.open(u, t); !st)
            log::warn("dns", st.error().message);
        else
            log::info("dns", "serving ", cfg.network.domain, " on ", to_string(cfg.network.bridge_address),
                      ":53 (UDP and TCP) in the namespace");
    };
    open_dns();
    vm::image_store images(ioc.get_executor(), cfg.state_dir + "/images", writer, bus);
    images.load(*image_rows);
    asio::co_spawn(ioc, images.adopt(), [](std::exception_ptr e) { log_exception("image adoption", e); });
    daemon_backend backend(t0, fabric, dhcp, vms, probe, images);
    backend.guard_ = &spoof_guard;
    backend.dns_ = cfg.dns_service.enabled ? &dns : nullptr;
    backend.dns_core_ = &dns_core;
    backend.dns_address = cfg.network.bridge_address;
    api::context ctx;
    ctx.version = PADDOCK_VERSION;
    ctx.accel = mcfg.accel;
    ctx.token = token;
    api::static_files www(opt.www_dir);
    ctx.files = &www;
    ctx.svc = &backend;
    ctx.bus = &bus;
    api::http_metrics http_stats;
    ctx.http = &http_stats;
    if (token.empty())
        log::warn("daemon", "auth is \"none\" (config): anyone who can reach ", cfg.listen_host, ":", cfg.listen_port,
                  " controls every VM");
    if (!loopback_listen(cfg))
        log::warn("daemon", "listening on ", cfg.listen_host, ", not loopback, in plain HTTP (allow_insecure_listen): "
                            "the token crosses the network in clear");

    std::optional<api::http_server> http;
    try {
        http.emplace(ioc.get_executor(),
                     asio::ip::tcp::endpoint(asio::ip::make_address(cfg.listen_host), cfg.listen_port), ctx);
    }
    catch (const std::exception& e) {
        log::error("http", "cannot listen on ", cfg.listen_host, ":", cfg.listen_port, ": ", e.what());
        return 1;
    }

    // Repairs: every netlink/nft event (and a periodic tick) re-runs ensure(), which changes only
    // what drifted and says what it did.
    auto reconcile = [&](bool full) {
        if (!full && fabric.namespace_intact())
            return;
        auto r = fabric.ensure();
        if (!r) {
            log::error("net", "repair failed: ", r.error().message);
            return;
        }
        if (fabric.generation() != dhcp_generation) {
            // The namespace was recreated: the DHCP sockets must live in the new one.
            if (auto st = dhcp.open(dhcp_sockets); !st)
                log::error("dhcp", "reopen after repair failed: ", st.error().message);
            open_seeds();
            open_dns();
            spoof_guard.sync();
            dhcp_generation = fabric.generation();
        }
        if (r->empty())
            return;
        ++backend.repairs;
        for (auto& a : *r)
            log::warn("net", "repaired: ", a);
        bus.publish(event_type::network_repaired, "", repair_report{*r}, std::chrono::system_clock::now());
    };
    net::link_watch watch(ioc.get_executor(), fabric, reconcile);

    asio::cancellation_signal stop_http, stop_watch, stop_dhcp, stop_probe, stop_seeds, stop_dns;
    if (cfg.dns_service.enabled)
        asio::co_spawn(ioc, dns.run(),
                       asio::bind_cancellation_slot(stop_dns.slot(), [](std::exception_ptr e) { log_exception("dns server", e); }));
    asio::co_spawn(ioc, seeds.run(),
                   asio::bind_cancellation_slot(stop_seeds.slot(), [](std::exception_ptr e) { log_exception("metadata server", e); }));
    asio::co_spawn(ioc, probe.run(),
                   asio::bind_cancellation_slot(stop_probe.slot(), [](std::exception_ptr e) { log_exception("loop probe", e); }));
    asio::co_spawn(ioc, dhcp.run(),
                   asio::bind_cancellation_slot(stop_dhcp.slot(), [](std::exception_ptr e) { log_exception("dhcp server", e); }));
    asio::co_spawn(ioc, http->run(),
                   asio::bind_cancellation_slot(stop_http.slot(), [](std::exception_ptr e) { log_exception("http server", e); }));
    asio::co_spawn(ioc, watch.run(),
                   asio::bind_cancellation_slot(stop_watch.slot(), [](std::exception_ptr e) { log_exception("link watch", e); }));

    asio::signal_set signals(ioc, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code& ec, int sig) {
        if (ec)
            return;
        log::info("daemon", "signal ", sig, ": shutting down (the network fabric and VMs stay up)");
        stop_http.emit(asio::cancellation_type::terminal);
        stop_watch.emit(asio::cancellation_type::terminal);
        stop_dhcp.emit(asio::cancellation_type::terminal);
        stop_probe.emit(asio::cancellation_type::terminal);
        stop_seeds.emit(asio::cancellation_type::terminal);
        stop_dns.emit(asio::cancellation_type::terminal);
        guard_tick.cancel();
        // Give sessions one turn to close, then stop.
        asio::post(ioc, [&] { ioc.stop(); });
    });
    ::signal(SIGPIPE, SIG_IGN);

    auto ep = http->local_endpoint();
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
    std::string host = ep.address().is_v6() ? "[" + ep.address().to_string() + "]" : ep.address().to_string();
    log::info("daemon", "paddockd ", PADDOCK_VERSION, " ready in ", ms, " ms; accel ", ctx.accel, "; namespace ",
              cfg.network.namespace_name, "; state_dir ", cfg.state_dir);
    log::info("daemon", "dashboard: http://", host, ":", ep.port(), "/", token.empty() ? "" : "#token=" + token);
    ioc.run();
    log::info("daemon", "stopped");
    return 0;
}

int run_teardown(const config& cfg)
{
    if (auto st = make_state_dir(cfg.state_dir); !st) {
        log::error("teardown", st.error().message);
        return 1;
    }
    state_lock lock;
    pid_t holder = 0;
    if (!take_lock(cfg, lock, holder)) {
        // A running daemon would repair what we remove: ask it to stop, then wait for its lock.
        if (holder > 0) {
            log::info("teardown", "stopping the running paddockd (pid ", holder, ")");
            ::kill(holder, SIGTERM);
        }
        ::close(lock.fd);
        lock.fd = -1;
        bool got = false;
        for (int i = 0; i < 200 && !got; ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            got = take_lock(cfg, lock, holder);
            if (!got && lock.fd >= 0) {
                ::close(lock.fd);
                lock.fd = -1;
            }
        }
        if (!got) {
            log::error("teardown", "paddockd (pid ", holder, ") still holds ", lock_path(cfg), " after 10 s");
            return 1;
        }
    }
    auto db = store::db::open(cfg.state_dir + "/paddock.db");
    if (!db) {
        log::error("store", db.error().message);
        return 1;
    }
    auto rows = store::load_vms(*db);
    if (!rows) {
        log::error("store", rows.error().message);
        return 1;
    }
    for (auto& line : vm::stop_all(*rows, cfg.state_dir, std::chrono::seconds(30)))
        log::info("teardown", line);
    for (auto& row : *rows)
        if (auto st = store::put_vm(*db, row); !st)
            log::warn("teardown", st.error().message);
    auto forward = store::get_setting(*db, forward_key);
    if (!forward) {
        log::error("store", forward.error().message);
        return 1;
    }
    std::optional<int> forward_before;
    if (*forward)
        forward_before = **forward == "1" ? 1 : 0;
    auto r = net::fabric::teardown(cfg.network, forward_before);
    if (!r) {
        log::error("teardown", r.error().message);
        return 1;
    }
    if (auto st = store::erase_setting(*db, forward_key); !st)
        log::warn("teardown", st.error().message);
    for (auto& a : *r)
        log::info("teardown", a);
    log::info("teardown", r->empty() ? "nothing to remove" : "done");
    return 0;
}

} // namespace paddock::app
