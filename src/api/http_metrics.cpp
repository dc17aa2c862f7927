// SPDX-License-Identifier: MIT
// CORE: the API's own metrics.
#include "api/http_metrics.hpp"

#include <algorithm>

namespace paddock::api {

http_metrics::http_metrics()
{
    for (const auto& r : routes())
        routes_.emplace_back(r.pattern, per_route{});
    routes_.emplace_back("static", per_route{});
    routes_.emplace_back("unmatched", per_route{});
}

void http_metrics::record(const route_def* r, bool static_file, std::string_view method, int status, double seconds)
{
    std::size_t i = r ? static_cast<std::size_t>(r - routes().data()) : routes().size() + (static_file ? 0 : 1);
    auto& p = routes_[i].second;
    ++p.by_method_status[{std::string(method), status}];
    auto b = std::lower_bound(std::begin(latency_bounds), std::end(latency_bounds), seconds);
    if (b != std::end(latency_bounds))
        ++p.buckets[static_cast<std::size_t>(b - std::begin(latency_bounds))];
    ++p.count;
    p.sum += seconds;
}

void http_metrics::write(prom& out) const
{
    out.family("paddock_http_requests_total", "counter", "HTTP requests answered, by route, method and status.");
    for (auto& [route, p] : routes_)
        for (auto& [ms, n] : p.by_method_status) {
            std::string status = std::to_string(ms.second);
            out.sample("paddock_http_requests_total", {{"route", route}, {"method", ms.first}, {"status", status}},
                       static_cast<double>(n));
        }
    out.family("paddock_http_request_duration_seconds", "histogram",
               "Time from a complete request to its response being handed to the socket, by route.");
    for (auto& [route, p] : routes_) {
        if (p.count == 0)
            continue;
        std::uint64_t cum = 0;
        for (std::size_t i = 0; i < n_buckets; ++i) {
            cum += p.buckets[i];
            char le[32];
            std::snprintf(le, sizeof le, "%g", latency_bounds[i]);
            out.sample("paddock_http_request_duration_seconds_bucket", {{"route", route}, {"le", le}},
                       static_cast<double>(cum));
        }
        out.sample("paddock_http_request_duration_seconds_bucket", {{"route", route}, {"le", "+Inf"}},
                   static_cast<double>(p.count));
        out.sample("paddock_http_request_duration_seconds_sum", {{"route", route}}, p.sum);
        out.sample("paddock_http_request_duration_seconds_count", {{"route", route}}, static_cast<double>(p.count));
    }
    out.family("paddock_websocket_clients", "gauge", "Open WebSocket clients, by route.");
    out.sample("paddock_websocket_clients", {{"route", "events"}}, static_cast<double>(ws_events_open));
    out.sample("paddock_websocket_clients", {{"route", "console"}}, static_cast<double>(ws_console_open));
    out.sample("paddock_websocket_clients", {{"route", "vnc"}}, static_cast<double>(ws_vnc_open));
    out.family("paddock_websocket_dropped_clients_total", "counter",
               "WebSocket clients closed because they fell behind (their queue was full).");
    out.sample("paddock_websocket_dropped_clients_total", static_cast<double>(ws_dropped));
    out.family("paddock_http_connections_refused_total", "counter",
               "Connections closed at once for being over a limit (limit: total or per_client).");
    out.sample("paddock_http_connections_refused_total", {{"limit", "total"}}, static_cast<double>(refused_total));
    out.sample("paddock_http_connections_refused_total", {{"limit", "per_client"}}, static_cast<double>(refused_per_client));
}

} // namespace paddock::api
