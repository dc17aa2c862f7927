// SPDX-License-Identifier: MIT
// CORE: what /metrics says about the API itself: requests by route (the route table's pattern,
// "static" for dashboard files, "unmatched" for the rest), method and status, a latency
// histogram per route, open and dropped WebSocket clients, and connections refused at the limits.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "api/prom.hpp"
#include "api/routes.hpp"

namespace paddock::api {

class http_metrics {
public:
    http_metrics();

    // `r` null: a static file when `static_file`, else no route.
    void record(const route_def* r, bool static_file, std::string_view method, int status, double seconds);
    void write(prom& out) const;

    // WebSocket clients by route ("events", "console").
    std::uint64_t ws_events_open = 0, ws_console_open = 0, ws_vnc_open = 0;
    std::uint64_t ws_dropped = 0;            // closed for falling behind
    std::uint64_t refused_total = 0;         // connections closed at once: over the daemon's limit
    std::uint64_t refused_per_client = 0;    // over the per-client limit

private:
    static constexpr std::size_t n_buckets = std::size(latency_bounds);
    struct per_route {
        std::map<std::pair<std::string, int>, std::uint64_t> by_method_status;
        std::array<std::uint64_t, n_buckets> buckets{}; // cumulative at write time, not here
        std::uint64_t count = 0;
        double sum = 0;
    };
    std::vector<std::pair<std::string_view, per_route>> routes_; // the table's order, then static, unmatched
};

} // namespace paddock::api
