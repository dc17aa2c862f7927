// SPDX-License-Identifier: MIT
// CORE: the event stream's request and replay plan (SPEC section 5), without sockets.
// `GET /api/v1/events?since=SEQ&types=a,b` parses into an events_query; plan() decides, from the
// bus's retained window, whether the client must resync and which retained events it gets before
// going live. The driver (ws_events) takes the plan and subscribes in the same turn of the loop,
// so nothing published in between is lost or sent twice.
#pragma once

#include <cstdint>
#include <optional>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.hpp"
#include "base/event_bus.hpp"

namespace paddock::api {

struct events_query {
    std::optional<std::uint64_t> since; // replay what came after this seq
    std::set<std::string> types;        // empty: every type
    std::string token;                  // ?token= (browsers cannot set headers on a WebSocket)
    std::string vm;                     // ?vm=: only events about this VM
    std::uint32_t stats_every_s = 0;    // ?stats_every=: vm.stats at most once per VM this often (0: each sample)
};

// vm.stats for one client: passes a VM's point when `every` has passed since the last one it
// passed (less a tenth, so points sampled a little early are not skipped).
class stats_gate {
public:
    explicit stats_gate(std::uint32_t every_s) : every_ms_(static_cast<std::int64_t>(every_s) * 900) {}
    bool pass(const std::string& vm, std::int64_t t_ms);

private:
    std::int64_t every_ms_;
    std::map<std::string, std::int64_t> last_;
};

// Parses the target's query. invalid_field names the parameter (since, types).
result<events_query> parse_events_query(std::string_view target);

// Whether an event of `type` about `vm` passes the query's filter (vm.stats only when named).
bool wanted(const events_query& q, event_type type, const std::string& vm = {});

struct replay_plan {
    bool resync = false;                // the client missed events that are no longer retained
    bool cut = false;                   // ... or more than it can take: only the newest are replayed
    std::vector<const event*> replay;   // retained events after `since`, filtered, in order
};

// `since` older than the window (or from another run of the daemon, beyond last_seq) means resync;
// the events still retained after it are replayed either way. A replay of more than `max_replay`
// events (what the client's queue holds, with room for the live ones) would never reach the
// client: it becomes a resync followed by the newest `max_replay` events (the client fetches the
// state over REST, keeps those as history, and goes live).
replay_plan plan(const events_query& q, const std::deque<event>& retained, std::uint64_t last_seq,
                 std::size_t max_replay = static_cast<std::size_t>(-1));

// The resync frame: {"type":"resync","seq":last_seq,"time":...,"data":{"reason","oldest"}}.
std::string resync_frame(std::uint64_t last_seq, std::uint64_t oldest, std::string_view time, std::string_view reason);

} // namespace paddock::api
