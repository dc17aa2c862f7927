// SPDX-License-Identifier: MIT
// The daemon's internal event bus: typed events with a daemon-wide sequence number, a bounded
// replay buffer, and synchronous subscribers. Pure: no I/O, no clock (the caller passes `now`).
// Modules publish (fabric repairs, leases, VM states); the WebSocket stream will subscribe. An
// event's wire form (SPEC section 5) is serialized once, on first use, and shared by every reader.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include <boost/json/object.hpp>

namespace paddock {

enum class event_type {
    vm_created, vm_state, vm_ip, vm_removed, lease_bound, lease_released, lease_expired, network_repaired,
    image_added, image_removed, vm_blocked,
};
// "vm.created", "vm.state", ...
const char* to_string(event_type t);

// Payloads: plain data, one struct per kind.
struct vm_state_change {
    std::string state, previous, reason;
};
struct vm_address {
    std::string ip, mac;
};
struct lease_info {
    std::string mac, ip, hostname, vm, client_id, state;
    std::int64_t expires_at = 0;
};
struct repair_report {
    std::vector<std::string> actions;
};
// The VM as GET /api/v1/vms/{name} shows it (vm.created).
struct vm_view {
    boost::json::object vm;
};
// An image as GET /api/v1/images/{name} shows it (image.added, image.removed).
struct image_view {
    boost::json::object image;
};
using event_data = std::variant<std::monostate, vm_state_change, vm_address, lease_info, repair_report, vm_view, image_view>;

struct event {
    std::uint64_t seq = 0;
    std::chrono::system_clock::time_point time;
    event_type type = event_type::vm_state;
    std::string vm; // empty when the event is not about one VM
    event_data data;
    // The serialized wire form, made by wire() on first use.
    mutable std::shared_ptr<const std::string> wire_cache;
};

// The SPEC section 5 wire object, and its text (serialized once per event, then shared).
boost::json::object to_json(const event& e);
boost::json::object to_json(const lease_info& l);
std::shared_ptr<const std::string> wire(const event& e);

class event_bus {
public:
    using subscriber = std::function<void(const event&)>;

    // `first_seq`: the daemon starts it at its start time in microseconds, so seq never goes
    // backwards across restarts and a `since` from an earlier run is recognised as such.
    explicit event_bus(std::size_t retain = 10000, std::uint64_t first_seq = 1) : retain_(retain), first_seq_(first_seq), next_seq_(first_seq) {}

    // Assigns the next sequence number, retains the event and calls every subscriber in order.
    const event& publish(event_type type, std::string vm, event_data data, std::chrono::system_clock::time_point now);

    // Returns a token for unsubscribe(). Subscribers must not (un)subscribe from inside a call.
    std::uint64_t subscribe(subscriber s);
    void unsubscribe(std::uint64_t token);

    std::uint64_t last_seq() const { return next_seq_ - 1; }
    // Oldest retained seq (0 when nothing is retained).
    std::uint64_t first_retained() const { return retained_.empty() ? 0 : retained_.front().seq; }
    const std::deque<event>& retained() const { return retained_; }
    std::size_t subscribers() const { return subs_.size(); }
    std::uint64_t published() const { return next_seq_ - first_seq_; }

private:
    std::size_t retain_;
    std::uint64_t first_seq_ = 1;
    std::uint64_t next_seq_ = 1;
    std::deque<event> retained_;
    std::uint64_t next_token_ = 1;
    std::map<std::uint64_t, subscriber> subs_;
};

} // namespace paddock
