// SPDX-License-Identifier: MIT
// The daemon's internal event bus.
#include "base/event_bus.hpp"

#include "base/time.hpp"


namespace paddock {


boost::json::object to_json(const event& e)
{
    boost::json::object o;
    o["seq"] = e.seq;
    o["time"] = iso8601_ms(e.time);
    o["type"] = e.type;
    if (!e.vm.empty())
        o["vm"] = e.vm;
    o["data"] = e.data;
    return o;
}

const event& event_bus::publish(std::string type, std::string vm, boost::json::object data,
                                std::chrono::system_clock::time_point now)
{
    retained_.push_back(event{next_seq_++, now, std::move(type), std::move(vm), std::move(data)});
    while (retained_.size() > retain_)
        retained_.pop_front();
    const event& e = retained_.back();
    for (auto& [token, s] : subs_)
        s(e);
    return e;
}

std::uint64_t event_bus::subscribe(subscriber s)
{
    auto t = next_token_++;
    subs_.emplace(t, std::move(s));
    return t;
}

void event_bus::unsubscribe(std::uint64_t token) { subs_.erase(token); }

} // namespace paddock
