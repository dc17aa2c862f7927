// SPDX-License-Identifier: MIT
// The daemon: wiring, start order, signals, orderly shutdown.
#include "app/daemon.hpp"

#include <csignal>
#include <cstdlib>

#include <sys/resource.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "api/http_metrics.hpp"
#include "base/sd_notify.hpp"
#include "api/http_server.hpp"
#include "api/tls.hpp"
#include "api/static_files.hpp"
#include "app/backend.hpp"
#include "app/dhcp_store.hpp"
#include "app/services.hpp"
#include "app/settings.hpp"
#include "app/state.hpp"
#include "app/vm_host.hpp"
#include "base/event_bus.hpp"
#include "base/mac.hpp"
#include "dhcp/ipv6_service.hpp"
#include "base/log.hpp"
#include "net/fabric.hpp"
#include "net/link_watch.hpp"
#include "store/rows.hpp"
#include "store/writer.hpp"
#include "vm/seed_server.hpp"

namespace paddock::app {
namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

// The stall probe's period: PADDOCK_LOOP_PROBE_MS (1 to 1000), else 10 ms.
std::chrono::milliseconds probe_period()
{
    const char* v = std::getenv("PADDOCK_LOOP_PROBE_MS");
    int ms = v ? std::atoi(v) : 0;
    return std::chrono::milliseconds(ms >= 1 && ms <= 1000 ? ms : 10);
}

// Every event at debug level (formatting is not free: skipped on the DHCP hot path otherwise).
void log_events(const event& e)
{
    if (log::current_level() > log::level::debug)
        return;
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(e.time.time_since_epoch()).count();
    log::debug("event", to_string(e.type), " #", e.seq, e.vm.empty() ? "" : " vm " + e.vm, " at ", us / 1000000, ".",
               std::to_string(1000000 + us % 1000000).substr(1));
}

// The anti-spoofing table's ports: one per VM, from the VMs' records.
std::vector<net::guard_port> guard_ports(const vm::manager& vms, const std::optional<cidr6>& prefix6)
{
    std::vector<net::guard_port> ports;
    vms.each([&](const vm::record& r) {
        net::guard_port p{r.s.name, r.tap, r.mac, r.ip, {}, {}};
        if (prefix6) {
            auto g = slaac_address(*prefix6, r.mac);
            auto l = link_local(r.mac);
            if (g && l) {
                p.ip6 = to_string(*g);
                p.ll6 = to_string(*l);
            }
        }
        ports.push_back(std::move(p));
    });
    return ports;
}

dns::directory dns_names(const vm::manager& vms, std::optional<cidr6> prefix6)
{
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
    if (prefix6) {
        names.address6_of = [&vms, p = *prefix6](std::string_view vm) {
            std::optional<ipv6> a;
            if (const vm::record* r = vms.find(std::string(vm)))
                a = slaac_address(p, r->mac);
            return a;
        };
        names.name_of6 = [&vms, p = *prefix6](const ipv6& ip) {
            std::optional<std::string> n;
            vms.each([&](const vm::record& r) {
                if (!n && slaac_address(p, r.mac) == ip)
                    n = r.s.name;
            });
            return n;
        };
    }
    return names;
}

std::optional<vm::nocloud_vm> seed_of(const vm::manager& vms, const std::string& name)
{
    std::optional<vm::nocloud_vm> out;
    if (const vm::record* r = vms.find(name))
        out = vm::nocloud_of(*r);
    return out;
}

// Open files: as many as the hard limit allows (a systemd service starts with a soft limit of
// 1,024). Every server a guest reaches has its own caps, so this leaves the API and the repairs room.
void raise_file_limit()
{
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= rl.rlim_max)
        return;
    const auto was = rl.rlim_cur;
    rl.rlim_cur = rl.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &rl) == 0)
        log::info("daemon", "open files: ", was, " -> ", rl.rlim_cur);
}

// SIGTERM/SIGINT: requests in progress end (or are refused), VM viewers and event clients are told
// the daemon is going away, queued store writes land, then the loop stops. VMs and the fabric stay.
asio::awaitable<void> shut_down(asio::io_context& ioc, api::http_server& http, vm::manager& vms,
                                net::fabric_worker& fabric, tasks& running, store::writer& writer)
{
    http.stop();
    co_await vms.shutdown(15s);
    co_await http.closed(3s);
    fabric.stop();
    running.stop_all();
    co_await writer.drain();
    asio::steady_timer grace(ioc, 20ms); // cancelled tasks unwind
    co_await grace.async_wait(asio::use_awaitable);
    ioc.stop();
}

// What the service manager sees: STATUS= with the VM count when it changes, and WATCHDOG=1 fed from
// this loop itself, so a loop stalled for the watchdog's interval stops the pings and the manager
// restarts the daemon (the VMs keep running: KillMode=process).
std::string status_line(const vm::manager& vms)
{
    std::size_t all = 0, running = 0;
    vms.each([&](const vm::record& r) {
        ++all;
        running += vm::has_process(r.st) ? 1 : 0;
    });
    return "STATUS=" + std::to_string(running) + " of " + std::to_string(all) + " VMs running";
}

asio::awaitable<void> tell_service_manager(const notifier& n, const vm::manager& vms)
{
    const auto wd = std::chrono::duration_cast<std::chrono::milliseconds>(n.watchdog());
    const auto tick = wd.count() > 0 ? std::min<std::chrono::milliseconds>(wd / 3, 2s) : 2s;
    asio::steady_timer t(co_await asio::this_coro::executor);
    std::string last;
    for (;;) {
        std::string msg = wd.count() > 0 ? "WATCHDOG=1" : "";
        if (auto st = status_line(vms); st != last) {
            msg += (msg.empty() ? "" : "\n") + st;
            last = st;
        }
        if (!msg.empty())
            n.send(msg);
        t.expires_after(tick);
        auto [ec] = co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
        if (ec)
            co_return;
    }
}

// The API's TLS context from `cfg` (certificate files made when self-signed), logged with its
// fingerprint; failures name the file and the reason.
result<std::shared_ptr<asio::ssl::context>> tls_context(const conf::config& cfg)
{
    auto m = tls_files_for(cfg);
    if (!m)
        return m.error();
    auto ctx = api::load_tls({m->cert, m->key});
    if (!ctx)
        return ctx.error();
    log::info("http", "TLS certificate ", m->cert, " (", cfg.tls.mode, "), SHA-256 fingerprint ", m->fingerprint);
    return *ctx;
}

// SIGHUP: the certificate and key are read again (a self-signed pair deleted meanwhile is made
// anew); new connections use them, open ones keep theirs. A failed reload keeps the old pair.
asio::awaitable<void> reload_on_hangup(asio::signal_set& hup, const conf::config& cfg, api::http_server& http)
{
    for (;;) {
        auto [ec, sig] = co_await hup.async_wait(asio::as_tuple(asio::use_awaitable));
        if (ec)
            co_return;
        if (cfg.tls.mode == "off") {
            log::info("daemon", "SIGHUP: nothing to reload (tls is \"off\")");
            continue;
        }
        auto ctx = tls_context(cfg);
        if (!ctx) {
            log::error("http", "SIGHUP: TLS reload failed, still serving the previous certificate: ", ctx.error().message);
            continue;
        }
        http.use_tls(*ctx);
        log::info("http", "SIGHUP: TLS certificate reloaded; new connections use it");
    }
}

} // namespace

int run_daemon(const conf::config& given, const run_options& opt)
{
    conf::config cfg = given; // network.prefix6 is resolved below
    const auto t0 = std::chrono::steady_clock::now();
    // Read (and taken out of the environment) before any QEMU is started.
    const notifier service = notifier::from_environment();
    raise_file_limit();
    auto state = open_state(cfg, false);
    if (!state) {
        log::error("daemon", state.error().message);
        return 1;
    }
    // Start-up reads, on this thread before the io_context runs; afterwards the connection
    // belongs to the store writer.
    auto forward = forward_before(state->db);
    auto snapshot = load_dhcp_snapshot(state->db);
    auto vm_rows = store::load_vms(state->db);
    auto image_rows = store::load_images(state->db);
    auto token = cfg.auth == "token" ? api_token(cfg.state_dir) : result<std::string>(std::string());
    for (const failure* f : {forward ? nullptr : &forward.error(), snapshot ? nullptr : &snapshot.error(),
                             vm_rows ? nullptr : &vm_rows.error(), image_rows ? nullptr : &image_rows.error(),
                             token ? nullptr : &token.error()})
        if (f) {
            log::error("daemon", f->message);
            return 1;
        }

    std::shared_ptr<asio::ssl::context> tls;
    if (cfg.tls.mode != "off") {
        auto ctx = tls_context(cfg);
        if (!ctx) {
            log::error("http", ctx.error().message);
            return 1;
        }
        tls = *ctx;
    }

    asio::io_context ioc{1};
    // Seq starts at the start time in microseconds: it never goes backwards across restarts.
    event_bus bus(10000, static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                             std::chrono::system_clock::now().time_since_epoch()).count()));
    bus.subscribe(log_events);

    // The host's ip_forward is recorded (durably, here on the main thread: only the first ensure()
    // at start-up ever records it) before the fabric first changes it.
    // IPv6 for VMs: the /64 (made once and kept when "auto"), unless forwarding would cost the
    // host its own IPv6 route.
    auto prefix6 = resolve_ipv6(state->db, cfg.network);
    if (!prefix6) {
        log::error("daemon", prefix6.error().message);
        return 1;
    }
    cfg.network.prefix6 = *prefix6;
    if (cfg.network.prefix6) {
        if (auto cur = net::read_sysctl(net::ipv6_forward_path); cur && *cur != 1) {
            if (std::string dev = net::ra_dependent_interface(); !dev.empty()) {
                log::warn("net", "IPv6 for VMs is off: ", dev, " learns its IPv6 routes from router advertisements "
                          "(accept_ra 1), and turning IPv6 forwarding on would drop them. Set net.ipv6.conf.", dev,
                          ".accept_ra=2, or network.ipv6 false to say so.");
                cfg.network.prefix6.reset();
            }
        }
        else if (!cur) {
            log::warn("net", "IPv6 for VMs is off: ", cur.error().message);
            cfg.network.prefix6.reset();
        }
    }
    if (cfg.network.prefix6)
        log::info("net", "IPv6 for VMs: ", to_string(*cfg.network.prefix6), ", gateway ", to_string(cfg.network.gateway6()));
    store::db* startup_db = &state->db;
    net::fabric fabric(cfg.network, cfg.listen_port, *forward, [&startup_db](const std::string& sysctl, int v) -> status {
        if (!startup_db)
            return fail(errc::store_failed, sysctl + " can only be recorded at start-up");
        return store::put_setting(*startup_db, sysctl_key(sysctl), std::to_string(v));
    });
    // The VMs' port forwards are in the table from its first application.
    {
        std::vector<vm::forward_target> targets;
        for (const auto& row : *vm_rows)
            if (auto r = vm::from_row(row))
                for (auto& f : r->s.forwards)
                    targets.push_back({f, r->ip});
        (void)fabric.set_forwards(firewall_forwards(targets));
    }
    auto up = fabric.ensure();
    if (!up) {
        log::error("net", "cannot bring up the network fabric: ", up.error().message);
        return 1;
    }
    for (auto& a : *up)
        log::info("net", a);
    startup_db = nullptr;

    store::writer writer(ioc.get_executor(), std::move(state->db));
    namespace_services services;
    tasks running(ioc.get_executor());
    // Checks and repairs run on the fabric's worker; what they did is applied here, on the loop.
    net::fabric_worker fab(ioc.get_executor(), fabric,
                           [&](const result<std::vector<std::string>>& r, bool moved, const std::vector<link_state>& links) {
                               if (!r) {
                                   log::error("net", "repair failed: ", r.error().message);
                                   return;
                               }
                               if (moved) // the namespace was made anew: every service moves into it
                                   (void)services.open_all(fab.ns_fd());
                               const auto now = std::chrono::system_clock::now();
                               if (!links.empty())
                                   bus.publish(event_type::link_changed, "", link_report{links}, now);
                               for (auto& a : *r)
                                   log::warn("net", "repaired: ", a);
                               if (!r->empty())
                                   bus.publish(event_type::network_repaired, "", repair_report{*r}, now);
                           });

    dhcp_store leases(writer);
    dhcp::server dhcp(ioc.get_executor(), dhcp_settings(cfg), leases, bus);
    dhcp.limit_clients(cfg.network.dhcp_client_rate);
    dhcp.limit_ports(cfg.network.dhcp_port_rate);
    dhcp.load(*snapshot);
    vm::image_store images(ioc.get_executor(), cfg.state_dir + "/images", writer, bus);
    images.load(*image_rows);
    net::guard guard(ioc.get_executor(), to_string(cfg.network.bridge_address), bus,
                     cfg.network.prefix6 ? to_string(cfg.network.bridge_address6()) : std::string());
    vm_host vm_net(fab, dhcp, guard);
    const std::string accel = detect_accel(cfg.qemu.accel);
    vm::manager vms(ioc.get_executor(), vm_settings(cfg, accel), vm_net, images, writer, bus);
    dhcp.on_bound([&vms](const dhcp::lease& l) {
        if (!l.vm.empty())
            vms.lease_bound(l.vm, l.mac, to_string(l.ip));
    });
    if (auto st = vms.load(*vm_rows); !st) {
        log::error("vm", "cannot load VMs: ", st.error().message);
        return 1;
    }

    // The services in the namespace: DHCP, anti-spoofing, cloud-init seeds, DNS.
    const std::optional<cidr6> vm_prefix6 = cfg.network.prefix6;
    guard.set_ports(guard_ports(vms, vm_prefix6));
    bus.subscribe([&ioc, &guard, &vms, vm_prefix6](const event& e) {
        if (e.type == event_type::vm_created || e.type == event_type::vm_removed)
            asio::post(ioc, [&guard, &vms, vm_prefix6] { guard.set_ports(guard_ports(vms, vm_prefix6)); });
    });
    vm::seed_server seeds(ioc.get_executor(), cfg.network.bridge_address, cfg.network.bridge,
                          [&vms](const std::string& name) { return seed_of(vms, name); });
    dns::resolver names(dns_zone(cfg), dns_names(vms, cfg.network.prefix6));
    dns::server dns(ioc.get_executor(), names, dns_settings(cfg));
    for (ns_service* s : {static_cast<ns_service*>(&dhcp), static_cast<ns_service*>(&guard), static_cast<ns_service*>(&seeds)})
        services.add(*s);
    if (cfg.dns_service.enabled)
        services.add(dns);
    std::optional<dhcp::ipv6_service> v6;
    if (cfg.network.prefix6) {
        dhcp::ra_params rp;
        rp.prefix = *cfg.network.prefix6;
        rp.dns = cfg.network.bridge_address6();
        rp.domain = cfg.network.domain;
        v6.emplace(ioc.get_executor(), rp, cfg.network.bridge, *parse_mac(net::bridge_mac(cfg.network)),
                   net::network_config::gateway_link_local());
        services.add(*v6);
    }
    if (auto st = services.open_all(fab.ns_fd()); !st) {
        log::error("daemon", st.error().message);
        return 1;
    }

    loop_probe probe(ioc.get_executor(), probe_period());
    backend api_backend(t0, fab, dhcp, vms, images, guard, cfg.dns_service.enabled ? &dns : nullptr, probe);
    api_backend.use_ipv6(cfg.network, v6 ? &*v6 : nullptr);
    api::static_files www(opt.www_dir);
    api::http_metrics http_stats;
    api::vm_list_cache vm_list;
    api::context ctx;
    ctx.version = PADDOCK_VERSION;
    ctx.accel = accel;
    ctx.token = *token;
    ctx.files = &www;
    ctx.svc = &api_backend;
    ctx.bus = &bus;
    ctx.http = &http_stats;
    ctx.vm_list = &vm_list;
    if (ctx.token.empty())
        log::warn("daemon", "auth is \"none\" (config): anyone who can reach ", cfg.listen_host, ":", cfg.listen_port,
                  " controls every VM");
    if (!conf::loopback_listen(cfg) && !tls)
        log::warn("daemon", "listening on ", cfg.listen_host, ", not loopback, in plain HTTP (allow_insecure_listen): "
                            "the token crosses the network in clear");
    std::optional<api::http_server> http;
    try {
        http.emplace(ioc.get_executor(), asio::ip::tcp::endpoint(asio::ip::make_address(cfg.listen_host), cfg.listen_port),
                     ctx);
    }
    catch (const std::exception& e) {
        log::error("http", "cannot listen on ", cfg.listen_host, ":", cfg.listen_port, ": ", e.what());
        return 1;
    }
    http->use_tls(tls);

    // Repairs: every netlink/nft event (and a periodic tick) asks the worker for a check.
    net::link_watch watch(ioc.get_executor(), fab, [&fab](bool full) { fab.check(full); });
    services.start(running);
    running.spawn("image adoption", images.adopt());
    running.spawn("loop probe", probe.run());
    running.spawn("http server", http->run());
    running.spawn("link watch", watch.run());
    running.spawn("VM figures", vms.sample_loop());

    asio::signal_set signals(ioc, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code& ec, int sig) {
        if (ec)
            return;
        log::info("daemon", "signal ", sig, ": shutting down (the network fabric and VMs stay up)");
        service.send("STOPPING=1\nSTATUS=stopping; the VMs keep running");
        asio::co_spawn(ioc, shut_down(ioc, *http, vms, fab, running, writer), asio::detached);
    });
    ::signal(SIGPIPE, SIG_IGN);
    asio::signal_set hup(ioc, SIGHUP);
    running.spawn("certificate reload", reload_on_hangup(hup, cfg, *http));

    auto ep = http->local_endpoint();
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
    std::string host = ep.address().is_v6() ? "[" + ep.address().to_string() + "]" : ep.address().to_string();
    log::info("daemon", "paddockd ", PADDOCK_VERSION, " ready in ", ms, " ms; accel ", accel, "; namespace ",
              cfg.network.namespace_name, "; state_dir ", cfg.state_dir);
    log::info("daemon", "dashboard: ", tls ? "https" : "http", "://", host, ":", ep.port(), "/", ctx.token.empty() ? "" : "#token=" + ctx.token);
    // Ready: the fabric, DHCP, DNS and the API are up (the listener accepts from now on).
    service.send("READY=1\n" + status_line(vms) + "; API on " + host + ":" + std::to_string(ep.port()));
    if (service.active()) {
        log::info("daemon", "told the service manager READY=1", service.watchdog().count() > 0
                  ? "; watchdog every " + std::to_string(service.watchdog().count() / 1000) + " ms" : "");
        running.spawn("service manager", tell_service_manager(service, vms));
    }
    ioc.run();
    log::info("daemon", "stopped");
    return 0;
}

} // namespace paddock::app
