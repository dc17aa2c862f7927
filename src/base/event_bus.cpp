// SPDX-License-Identifier: MIT
// The daemon's internal event bus.
#include "base/event_bus.hpp"

#include <boost/json/value.hpp>

#include "base/time.hpp"

namespace paddock {
namespace json = boost::json;

const char* to_string(event_type t)
{
    switch (t) {
    case event_type::vm_created: return "vm.created";
    case event_type::vm_state: return "vm.state";
    case event_type::vm_ip: return "vm.ip";
    case event_type::vm_removed: return "vm.removed";
    case event_type::lease_bound: return "lease.bound";
    case event_type::lease_released: return "lease.released";
    case event_type::lease_expired: return "lease.expired";
    case event_type::link_changed: return "link.changed";
    case event_type::network_repaired: return "network.repaired";
    case event_type::image_added: return "image.added";
    case event_type::image_removed: return "image.removed";
    case event_type::vm_blocked: return "vm.blocked";
    case event_type::vm_stats: return "vm.stats";
    case event_type::vm_forwards: return "vm.forwards";
    }
    return "?";
}

json::object to_json(const lease_info& l)
{
    json::object o{{"mac", l.mac},
                   {"ip", l.ip},
                   {"hostname", l.hostname},
                   {"vm", l.vm.empty() ? json::value(nullptr) : json::value(l.vm)},
                   {"expires_at", l.expires_at > 0 ? json::value(iso8601(l.expires_at)) : json::value(nullptr)},
                   {"state", l.state}};
    if (!l.client_id.empty())
        o["client_id"] = l.client_id;
    return o;
}

const event& event_bus::publish(event_type type, std::string vm, event_data data, std::chrono::system_clock::time_point now)
{
    event ev;
    ev.seq = next_seq_++;
    ev.time = now;
    ev.type = type;
    ev.vm = std::move(vm);
    ev.data = std::move(data);
    retained_.push_back(std::move(ev));
    while (retained_.size() > retain_)
        retained_.pop_front();
    const event& e = retained_.back();
    for (auto& [token, s] : subs_)
        s(e);
    return e;
}

void event_bus::publish_live(event_type type, std::string vm, event_data data, std::chrono::system_clock::time_point now)
{
    if (subs_.empty())
        return;
    event ev;
    ev.seq = last_seq();
    ev.time = now;
    ev.type = type;
    ev.vm = std::move(vm);
    ev.data = std::move(data);
    for (auto& [token, s] : subs_)
        s(ev);
}

bool on_request_only(event_type t) { return t == event_type::vm_stats; }

std::uint64_t event_bus::subscribe(subscriber s)
{
    auto t = next_token_++;
    subs_.emplace(t, std::move(s));
    return t;
}

void event_bus::unsubscribe(std::uint64_t token) { subs_.erase(token); }

} // namespace paddock
