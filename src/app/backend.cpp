// SPDX-License-Identifier: MIT
#include "app/backend.hpp"

#include <fstream>
#include <iterator>

#include <sys/statvfs.h>
#include <unistd.h>

#include "base/meminfo.hpp"

#include "api/prom.hpp"

namespace paddock::app {
namespace asio = boost::asio;
namespace json = boost::json;

namespace {

// An image upload as the API sees it.
class upload_adapter final : public api::upload_sink {
public:
    explicit upload_adapter(std::unique_ptr<vm::image_store::upload> u) : u_(std::move(u)) {}
    asio::awaitable<status> write(std::string_view chunk) override { return u_->write(chunk); }
    asio::awaitable<result<json::object>> finish() override { return u_->finish(); }

private:
    std::unique_ptr<vm::image_store::upload> u_;
};

} // namespace

backend::backend(std::chrono::steady_clock::time_point started, const net::fabric_worker& fabric, dhcp::server& dhcp,
                 vm::manager& vms, vm::image_store& images, const net::guard& guard, dns::server* dns,
                 const loop_probe& probe)
    : started_(started), fabric_(fabric), dhcp_(dhcp), vms_(vms), images_(images), guard_(guard), dns_(dns), probe_(probe)
{
}

std::int64_t backend::uptime_s() const
{
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started_).count();
}

api::loop_stalls backend::stalls() const
{
    return {static_cast<int>(probe_.period().count()), probe_.worst_ms(), probe_.recent_worst_ms(), probe_.worst_own_ms(),
            probe_.recent_worst_own_ms()};
}

api::host_capacity backend::host()
{
    api::host_capacity h;
    const long n = ::sysconf(_SC_NPROCESSORS_ONLN);
    h.cpus = n > 0 ? static_cast<int>(n) : 0;
    std::ifstream f("/proc/meminfo");
    const std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    const auto m = parse_meminfo(text);
    h.memory_total = m.total;
    h.memory_available = m.available;
    for (const auto& v : vms_.list())
        if (v.pid > 0) {
            h.memory_promised += static_cast<std::uint64_t>(v.memory_mib) << 20;
            ++h.vms_running;
        }
    struct statvfs s{};
    if (::statvfs(images_.path("").c_str(), &s) == 0)
        h.disk_free = static_cast<std::uint64_t>(s.f_bavail) * s.f_frsize;
    return h;
}

json::object backend::network()
{
    // The fabric's part is the worker's last description: reading it never waits on the kernel.
    json::object o = fabric_.snapshot();
    if (auto& f = guard_.failure())
        o["warnings"].as_array().push_back(json::string(*f));
    o["dhcp_pool"].as_object()["used"] = dhcp_.core().pool_used();
    json::object d{{"enabled", dns_ != nullptr}};
    if (dns_) {
        d["address"] = to_string(dns_->address());
        d["domain"] = dns_->core().config().domain;
        json::array ups;
        for (auto& u : dns_->upstream_names())
            ups.push_back(json::string(u));
        d["upstreams"] = std::move(ups);
        d["cache_entries"] = dns_->core().cache_size();
    }
    o["dns"] = std::move(d);
    if (net_.prefix6 && v6_)
        o["ipv6"] = json::object{{"prefix", to_string(*net_.prefix6)},
                                 {"gateway", to_string(net_.gateway6())},
                                 {"router", to_string(net::network_config::gateway_link_local())},
                                 {"bridge_address", to_string(net_.bridge_address6())},
                                 {"mode", net_.ipv6_mode}};
    else
        o["ipv6"] = false;
    json::array routes, peers;
    for (auto& r : net_.routes)
        routes.push_back(json::object{{"subnet", to_string(r.subnet)}, {"via", to_string(r.via)}});
    for (auto& p : net_.peers)
        peers.push_back(json::object{{"subnet", to_string(p.subnet)}, {"gateway", to_string(p.gateway)},
                                     {"domain", p.domain}, {"dns", to_string(p.dns)}});
    o["routes"] = std::move(routes);
    o["peers"] = std::move(peers);
    return o;
}

// PUT /api/v1/reservations/{mac}: the given address, the MAC's current one, or a free one.
asio::awaitable<result<json::object>> backend::reserve(api::reservation_request rq)
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
    co_return json::object{{"mac", r.mac}, {"ip", to_string(r.ip)}, {"hostname", r.hostname}};
}

result<std::unique_ptr<api::upload_sink>> backend::begin_upload(const std::string& name, std::optional<std::uint64_t> length)
{
    auto u = images_.begin(name, length);
    if (!u)
        return u.error();
    return std::unique_ptr<api::upload_sink>(std::make_unique<upload_adapter>(std::move(*u)));
}

asio::awaitable<status> backend::remove_image(std::string name)
{
    co_return co_await images_.remove(std::move(name), [this](const std::string& n) { return vms_.image_user(n); });
}

void backend::metrics(api::prom& out)
{
    metric_list m;
    vms_.report(m);
    dhcp_.report(m);
    guard_.report(m);
    if (dns_)
        dns_->report(m);
    if (v6_)
        v6_->report(m);
    fabric_.report(m);
    probe_.report(m);
    m.family("paddock_uptime_seconds", "gauge", "Seconds since the daemon started.").add(static_cast<double>(uptime_s()));
    out.write(m);
}

result<api::vm_figures> backend::vm_stats(const std::string& name)
{
    auto f = vms_.stats(name);
    if (!f)
        return f.error();
    return api::vm_figures{std::move(f->points), vms_.stats_interval_s(), f->running};
}

asio::awaitable<result<std::pair<port_map, bool>>> backend::put_forward(std::string name, port_map f)
{
    auto r = co_await vms_.put_forward(std::move(name), std::move(f));
    if (!r)
        co_return r.error();
    co_return std::pair<port_map, bool>(r->f, r->created);
}

} // namespace paddock::app
