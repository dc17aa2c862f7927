// SPDX-License-Identifier: MIT
// CORE: the event stream's request and replay plan.
#include "api/event_stream.hpp"

#include <optional>

#include "api/routes.hpp"

#include <boost/json.hpp>

namespace paddock::api {

namespace {

const std::set<std::string>& known_types()
{
    static const std::set<std::string> all = [] {
        std::set<std::string> s;
        for (auto t : all_event_types)
            s.insert(to_string(t));
        return s;
    }();
    return all;
}

// A whole number of at most `max_digits` decimal digits, nothing else.
std::optional<std::uint64_t> digits(std::string_view v, std::size_t max_digits)
{
    if (v.empty() || v.size() > max_digits)
        return std::nullopt;
    std::uint64_t n = 0;
    for (char c : v) {
        if (c < '0' || c > '9')
            return std::nullopt;
        n = n * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return n;
}
} // namespace

result<events_query> parse_events_query(std::string_view target)
{
    events_query q;
    for (auto [k, v] : query_params(target)) {
        if (k == "since") {
            q.since = digits(v, 19);
            if (!q.since)
                return fail(errc::invalid_field, "since: expected a sequence number (digits)");
        }
        else if (k == "types") {
            std::string_view rest = v;
            while (!rest.empty()) {
                auto comma = rest.find(',');
                std::string t(rest.substr(0, comma));
                if (!known_types().count(t))
                    return fail(errc::invalid_field, "types: unknown event type \"" + t + "\"");
                q.types.insert(t);
                if (comma == std::string_view::npos)
                    break;
                rest = rest.substr(comma + 1);
            }
            if (q.types.empty())
                return fail(errc::invalid_field, "types: expected a comma-separated list of event types");
        }
        else if (k == "token")
            q.token = std::string(v);
        else if (k == "vm") {
            if (v.empty() || v.size() > 64)
                return fail(errc::invalid_field, "vm: expected a VM name");
            q.vm = std::string(v);
        }
        else if (k == "stats_every") {
            auto n = digits(v, 4);
            if (!n || *n < 1 || *n > 3600)
                return fail(errc::invalid_field, "stats_every: expected seconds between vm.stats of one VM, 1 to 3600");
            q.stats_every_s = static_cast<std::uint32_t>(*n);
        }
        else
            return fail(errc::invalid_field, std::string(k) + ": unknown parameter (since, types, vm, stats_every, token)");
    }
    return q;
}

bool wanted(const events_query& q, event_type type, const std::string& vm)
{
    if (!q.vm.empty() && vm != q.vm)
        return false;
    return q.types.empty() ? !on_request_only(type) : q.types.count(to_string(type)) > 0;
}

bool stats_gate::pass(const std::string& vm, std::int64_t t_ms)
{
    auto [it, fresh] = last_.try_emplace(vm, t_ms);
    if (fresh)
        return true;
    if (t_ms - it->second < every_ms_ && t_ms >= it->second)
        return false;
    it->second = t_ms;
    return true;
}

replay_plan plan(const events_query& q, const std::deque<event>& retained, std::uint64_t last_seq, std::size_t max_replay)
{
    replay_plan p;
    if (!q.since)
        return p; // live only
    const std::uint64_t since = *q.since;
    const std::uint64_t oldest = retained.empty() ? last_seq + 1 : retained.front().seq;
    // Missed events: the first one after `since` is gone from the window, or `since` is from a
    // run whose numbers this one does not share (beyond what was ever published here).
    p.resync = since + 1 < oldest || since > last_seq;
    for (const auto& e : retained)
        if (e.seq > since && wanted(q, e.type, e.vm))
            p.replay.push_back(&e);
    if (p.replay.size() > max_replay) {
        p.resync = p.cut = true;
        p.replay.erase(p.replay.begin(), p.replay.end() - static_cast<std::ptrdiff_t>(max_replay));
    }
    return p;
}

std::string resync_frame(std::uint64_t last_seq, std::uint64_t oldest, std::string_view time, std::string_view reason)
{
    boost::json::object o{{"type", "resync"},
                          {"seq", last_seq},
                          {"time", time},
                          {"data", {{"reason", reason}, {"oldest", oldest}}}};
    return boost::json::serialize(o);
}

} // namespace paddock::api
