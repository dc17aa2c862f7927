// SPDX-License-Identifier: MIT
// CORE: the route table.
#include "api/routes.hpp"

#include <array>

namespace paddock::api {

namespace {
constexpr std::array table{
    route_def{route_id::health, "/api/v1/health", "GET"},
    route_def{route_id::host, "/api/v1/host", "GET"},
    route_def{route_id::network, "/api/v1/network", "GET"},
    route_def{route_id::leases, "/api/v1/leases", "GET"},
    route_def{route_id::reservations, "/api/v1/reservations", "GET"},
    route_def{route_id::reservation, "/api/v1/reservations/{mac}", "PUT, DELETE"},
    route_def{route_id::vms, "/api/v1/vms", "GET, POST"},
    route_def{route_id::vm, "/api/v1/vms/{name}", "GET, PATCH, DELETE"},
    route_def{route_id::vm_start, "/api/v1/vms/{name}/start", "POST"},
    route_def{route_id::vm_stop, "/api/v1/vms/{name}/stop", "POST"},
    route_def{route_id::vm_restart, "/api/v1/vms/{name}/restart", "POST"},
    route_def{route_id::vm_pause, "/api/v1/vms/{name}/pause", "POST"},
    route_def{route_id::vm_resume, "/api/v1/vms/{name}/resume", "POST"},
    route_def{route_id::console, "/api/v1/vms/{name}/console", "GET", true},
    route_def{route_id::console_log, "/api/v1/vms/{name}/console/log", "GET"},
    route_def{route_id::vnc, "/api/v1/vms/{name}/vnc", "GET", true},
    route_def{route_id::vm_stats, "/api/v1/vms/{name}/stats", "GET"},
    route_def{route_id::vm_forwards, "/api/v1/vms/{name}/forwards", "GET"},
    route_def{route_id::vm_forward, "/api/v1/vms/{name}/forwards/{proto}/{host_port}", "PUT, DELETE"},
    route_def{route_id::images, "/api/v1/images", "GET"},
    route_def{route_id::image, "/api/v1/images/{name}", "GET, PUT, DELETE"},
    route_def{route_id::events, "/api/v1/events", "GET", true},
    route_def{route_id::openapi, "/api/v1/openapi.json", "GET"},
    route_def{route_id::metrics, "/metrics", "GET"},
};

// Matches one pattern; on success `params` holds the {param} segments.
bool matches(std::string_view pattern, std::string_view path, std::vector<std::string>& params)
{
    params.clear();
    while (!pattern.empty() && !path.empty()) {
        if (pattern.front() == '{') {
            auto close = pattern.find('}');
            auto end = path.find('/');
            std::string_view seg = path.substr(0, end);
            if (seg.empty())
                return false;
            params.emplace_back(seg);
            pattern.remove_prefix(close + 1);
            path.remove_prefix(seg.size());
            continue;
        }
        if (pattern.front() != path.front())
            return false;
        pattern.remove_prefix(1);
        path.remove_prefix(1);
    }
    return pattern.empty() && path.empty();
}
} // namespace

std::span<const route_def> routes() { return table; }

route_match match_route(std::string_view path)
{
    route_match m;
    for (const auto& r : table)
        if (matches(r.pattern, path, m.params)) {
            m.def = &r;
            if (!m.params.empty())
                m.param = m.params.front();
            return m;
        }
    m.params.clear();
    return m;
}

bool allows(const route_def& r, std::string_view method)
{
    std::string_view ms = r.methods;
    while (!ms.empty()) {
        auto comma = ms.find(',');
        if (ms.substr(0, comma) == method)
            return true;
        if (comma == std::string_view::npos)
            break;
        ms.remove_prefix(comma + 1);
        while (!ms.empty() && ms.front() == ' ')
            ms.remove_prefix(1);
    }
    return false;
}

std::string_view path_of(std::string_view target) { return target.substr(0, target.find('?')); }

std::vector<std::pair<std::string_view, std::string_view>> query_params(std::string_view target)
{
    std::vector<std::pair<std::string_view, std::string_view>> out;
    auto q = target.find('?');
    if (q == std::string_view::npos)
        return out;
    std::string_view rest = target.substr(q + 1);
    while (!rest.empty()) {
        auto amp = rest.find('&');
        std::string_view kv = rest.substr(0, amp);
        auto eq = kv.find('=');
        out.emplace_back(kv.substr(0, eq), eq == std::string_view::npos ? std::string_view{} : kv.substr(eq + 1));
        if (amp == std::string_view::npos)
            break;
        rest = rest.substr(amp + 1);
    }
    return out;
}

std::string_view query_param(std::string_view target, std::string_view key)
{
    for (auto [k, v] : query_params(target))
        if (k == key)
            return v;
    return {};
}

} // namespace paddock::api
