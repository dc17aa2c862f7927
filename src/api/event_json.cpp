// SPDX-License-Identifier: MIT
// CORE: events and VMs as JSON.
#include "api/event_json.hpp"

#include <cmath>

#include <boost/json/serialize.hpp>

#include "base/time.hpp"

namespace paddock::api {
namespace json = boost::json;

namespace {
// A timestamp, or null when it was never set.
json::value iso(std::int64_t t) { return t > 0 ? json::value(json::string(iso8601(t))) : json::value(nullptr); }
json::value text_or_null(const std::string& s) { return s.empty() ? json::value(nullptr) : json::value(s); }
} // namespace

json::object to_json(const port_map& f)
{
    return {{"proto", f.proto}, {"host_port", f.host_port}, {"guest_port", f.guest_port}, {"listen", f.listen}};
}

json::array to_json(const std::vector<port_map>& fs)
{
    json::array a;
    for (auto& f : fs)
        a.push_back(to_json(f));
    return a;
}

json::object to_json(const vm_info& v)
{
    json::object o{{"name", v.name},
                   {"state", v.state},
                   {"cpus", v.cpus},
                   {"memory_mib", v.memory_mib},
                   {"disk_gib", v.disk_gib ? json::value(v.disk_gib) : json::value(nullptr)},
                   {"image", text_or_null(v.image)},
                   {"mac", v.mac},
                   {"ip", v.ip},
                   {"ipv6", text_or_null(v.ipv6)},
                   {"ip_leased", v.ip_leased},
                   {"tap", v.tap},
                   {"created_at", iso(v.created_at)},
                   {"started_at", iso(v.started_at)},
                   {"state_reason", v.state_reason},
                   {"accel", text_or_null(v.accel)},
                   {"pid", v.pid > 0 ? json::value(v.pid) : json::value(nullptr)},
                   {"cpu_model", text_or_null(v.cpu_model)},
                   {"firmware", v.firmware},
                   {"cdrom", text_or_null(v.cdrom)}};
    json::array order;
    for (auto& d : v.boot_order)
        order.push_back(json::string(d));
    o["boot_order"] = std::move(order);
    o["cloud_init"] = v.cloud_init ? json::value(json::object{{"user_data_bytes", v.user_data_bytes},
                                                               {"ssh_authorized_keys", v.ssh_keys}})
                                   : json::value(nullptr);
    o["agent"] = v.agent ? json::value(to_json(*v.agent)) : json::value(nullptr);
    o["autostart"] = v.autostart;
    o["forwards"] = to_json(v.forwards);
    if (!v.kernel.empty()) {
        o["kernel"] = v.kernel;
        o["initrd"] = text_or_null(v.initrd);
        o["cmdline"] = v.cmdline;
    }
    return o;
}

json::object to_json(const guest_agent_view& g)
{
    json::array ifs, fss;
    for (auto& i : g.interfaces) {
        json::array addrs;
        for (auto& a : i.addresses)
            addrs.push_back(json::string(a));
        ifs.push_back(json::object{{"name", i.name}, {"mac", i.mac}, {"addresses", std::move(addrs)}});
    }
    for (auto& f : g.filesystems)
        fss.push_back(json::object{{"mountpoint", f.mountpoint}, {"type", f.type}, {"device", f.device},
                                   {"total_bytes", f.total_bytes}, {"used_bytes", f.used_bytes}});
    return {{"os", json::object{{"name", g.os_name}, {"version", g.os_version}, {"kernel", g.kernel}}},
            {"hostname", g.hostname},
            {"version", g.agent_version},
            {"interfaces", std::move(ifs)},
            {"filesystems", std::move(fss)},
            {"updated_at", g.updated_at}};
}

std::string vms_text(const std::vector<vm_info>& vms)
{
    json::array a;
    a.reserve(vms.size());
    for (auto& v : vms)
        a.push_back(to_json(v));
    return json::serialize(json::object{{"vms", std::move(a)}});
}

namespace {
// A figure as JSON: a whole number (percent, MiB, per second: finer is noise, and an hour of
// history is thousands of them).
json::value figure(double v)
{
    return std::isfinite(v) && std::fabs(v) < 9e15 ? static_cast<std::int64_t>(std::llround(v)) : 0;
}
} // namespace

const std::vector<std::string>& stats_series()
{
    static const std::vector<std::string> names{"cpu_pct",      "rss_mib",      "guest_used_mib", "guest_total_mib",
                                                "disk_rd_bps",  "disk_wr_bps",  "disk_rd_iops",   "disk_wr_iops",
                                                "net_rx_bps",   "net_tx_bps",   "net_rx_pps",     "net_tx_pps"};
    return names;
}

std::vector<json::value> stats_values(const stats_point& p)
{
    auto mem = [](float v) { return v < 0 ? json::value(nullptr) : figure(v); };
    return {figure(p.cpu_pct),     figure(p.rss_mib),     mem(p.guest_used_mib), mem(p.guest_total_mib),
            figure(p.disk_rd_bps), figure(p.disk_wr_bps), figure(p.disk_rd_iops), figure(p.disk_wr_iops),
            figure(p.net_rx_bps),  figure(p.net_tx_bps),  figure(p.net_rx_pps),   figure(p.net_tx_pps)};
}

json::object to_json(const stats_point& p)
{
    json::object o{{"t", p.t_ms}, {"uptime_s", p.uptime_s}};
    auto values = stats_values(p);
    const auto& names = stats_series();
    for (std::size_t i = 0; i < names.size(); ++i)
        o[names[i]] = std::move(values[i]);
    return o;
}

namespace {
struct data_json {
    json::object operator()(std::monostate) const { return {}; }
    json::object operator()(const vm_state_change& s) const
    {
        return {{"state", s.state}, {"previous", s.previous}, {"reason", s.reason}};
    }
    json::object operator()(const vm_address& a) const { return {{"ip", a.ip}, {"mac", a.mac}}; }
    json::object operator()(const lease_info& l) const { return to_json(l); }
    json::object operator()(const repair_report& r) const
    {
        json::array a;
        for (auto& s : r.actions)
            a.push_back(json::string(s));
        return {{"actions", std::move(a)}};
    }
    json::object operator()(const vm_info& v) const { return to_json(v); }
    json::object operator()(const image_view& v) const { return v.image; }
    json::object operator()(const blocked_report& b) const
    {
        json::object by;
        for (auto& [why, n] : b.dropped)
            by[why] = n;
        return {{"dropped", std::move(by)}, {"total", b.total}};
    }
    json::object operator()(const link_report& r) const
    {
        json::array a;
        for (auto& l : r.links)
            a.push_back(json::object{{"name", l.name}, {"present", l.present}, {"up", l.up}});
        return {{"links", std::move(a)}};
    }
    json::object operator()(const stats_point& p) const { return to_json(p); }
    json::object operator()(const forward_list& f) const { return {{"forwards", to_json(f.forwards)}}; }
};
} // namespace

json::object to_json(const event& e)
{
    json::object o;
    o["seq"] = e.seq;
    o["time"] = iso8601_ms(e.time);
    o["type"] = to_string(e.type);
    if (!e.vm.empty())
        o["vm"] = e.vm;
    o["data"] = std::visit(data_json{}, e.data);
    return o;
}

std::shared_ptr<const std::string> wire(const event& e)
{
    if (!e.wire_cache)
        e.wire_cache = std::make_shared<const std::string>(json::serialize(to_json(e)));
    return e.wire_cache;
}

} // namespace paddock::api
