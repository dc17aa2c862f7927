// SPDX-License-Identifier: MIT
// CORE: the guest agent's answers.
#include "vm/agent_info.hpp"

#include <algorithm>

#include <boost/json.hpp>

namespace paddock::vm {
namespace json = boost::json;

namespace {
std::string text(const json::object& o, const char* key)
{
    auto* v = o.if_contains(key);
    return v && v->is_string() ? std::string(v->as_string()) : std::string();
}
std::uint64_t count(const json::object& o, const char* key)
{
    auto* v = o.if_contains(key);
    if (v && v->is_uint64())
        return v->as_uint64();
    if (v && v->is_int64() && v->as_int64() >= 0)
        return static_cast<std::uint64_t>(v->as_int64());
    return 0;
}
constexpr std::size_t max_items = 64;    // a guest cannot make the daemon keep a list without end
constexpr std::size_t max_text = 256;
std::string clip(std::string s) { return s.size() > max_text ? s.substr(0, max_text) : s; }
} // namespace

void read_osinfo(const json::value& v, guest_agent_view& out)
{
    if (!v.is_object())
        return;
    auto& o = v.as_object();
    out.os_name = clip(text(o, "pretty-name").empty() ? text(o, "name") : text(o, "pretty-name"));
    out.os_version = clip(text(o, "version"));
    out.kernel = clip(text(o, "kernel-release"));
}

void read_host_name(const json::value& v, guest_agent_view& out)
{
    if (v.is_object())
        out.hostname = clip(text(v.as_object(), "host-name"));
}

void read_agent_info(const json::value& v, guest_agent_view& out)
{
    if (v.is_object())
        out.agent_version = clip(text(v.as_object(), "version"));
}

void read_interfaces(const json::value& v, guest_agent_view& out)
{
    out.interfaces.clear();
    if (!v.is_array())
        return;
    for (auto& i : v.as_array()) {
        if (!i.is_object() || out.interfaces.size() >= max_items)
            continue;
        auto& o = i.as_object();
        guest_interface g{clip(text(o, "name")), clip(text(o, "hardware-address")), {}};
        if (g.name == "lo")
            continue;
        if (auto* a = o.if_contains("ip-addresses"); a && a->is_array())
            for (auto& x : a->as_array()) {
                if (!x.is_object() || g.addresses.size() >= max_items)
                    continue;
                auto ip = text(x.as_object(), "ip-address");
                if (!ip.empty())
                    g.addresses.push_back(clip(ip + "/" + std::to_string(count(x.as_object(), "prefix"))));
            }
        if (!g.addresses.empty())
            out.interfaces.push_back(std::move(g));
    }
}

void read_fsinfo(const json::value& v, guest_agent_view& out)
{
    out.filesystems.clear();
    if (!v.is_array())
        return;
    for (auto& f : v.as_array()) {
        if (!f.is_object() || out.filesystems.size() >= max_items)
            continue;
        auto& o = f.as_object();
        guest_filesystem g{clip(text(o, "mountpoint")), clip(text(o, "type")), clip(text(o, "name")),
                           count(o, "total-bytes"), count(o, "used-bytes")};
        if (g.mountpoint.empty())
            continue;
        bool seen = std::any_of(out.filesystems.begin(), out.filesystems.end(),
                                [&](const guest_filesystem& x) { return x.mountpoint == g.mountpoint; });
        if (!seen)
            out.filesystems.push_back(std::move(g));
    }
    std::sort(out.filesystems.begin(), out.filesystems.end(),
              [](const guest_filesystem& a, const guest_filesystem& b) { return a.mountpoint < b.mountpoint; });
}

} // namespace paddock::vm
