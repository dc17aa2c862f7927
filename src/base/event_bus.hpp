// SPDX-License-Identifier: MIT
// The daemon's internal event bus: typed events with a daemon-wide sequence number, a bounded
// replay buffer, and synchronous subscribers. Pure: no I/O, no clock (the caller passes `now`).
// Modules publish (fabric repairs, leases, VM states); the WebSocket stream subscribes.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <string>

#include <boost/json/object.hpp>

namespace paddock {

struct event {
    std::uint64_t seq = 0;
    std::chrono::system_clock::time_point time;
    std::string type;  // "network.repaired", "lease.bound", "vm.state", ...
    std::string vm;    // empty when the event is not about one VM
    boost::json::object data;
};

// Renders an event as the SPEC section 5 wire object.
boost::json::object to_json(const event& e);

class event_bus {
public:
    using subscriber = std::function<void(const event&)>;

    explicit event_bus(std::size_t retain = 10000) : retain_(retain) {}

    // Assigns the next sequence number, retains the event and calls every subscriber in order.
    const event& publish(std::string type, std::string vm, boost::json::object data,
                         std::chrono::system_clock::time_point now);

    // Returns a token for unsubscribe(). Subscribers must not (un)subscribe from inside a call.
    std::uint64_t subscribe(subscriber s);
    void unsubscribe(std::uint64_t token);

    std::uint64_t last_seq() const { return next_seq_ - 1; }
    // Oldest retained seq (0 when nothing is retained).
    std::uint64_t first_retained() const { return retained_.empty() ? 0 : retained_.front().seq; }
    const std::deque<event>& retained() const { return retained_; }

private:
    std::size_t retain_;
    std::uint64_t next_seq_ = 1;
    std::deque<event> retained_;
    std::uint64_t next_token_ = 1;
    std::map<std::uint64_t, subscriber> subs_;
};

} // namespace paddock
