// SPDX-License-Identifier: MIT
// CORE: the API's route table, the one list of what exists. The handler dispatches on it, the
// HTTP driver finds the WebSocket routes in it, /metrics labels requests with its patterns, and a
// unit test checks the OpenAPI document against it (every route documented, nothing more).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace paddock::api {

enum class route_id : std::uint8_t {
    health, host, network, leases, reservations, reservation, vms, vm,
    vm_start, vm_stop, vm_restart, vm_pause, vm_resume, console, console_log, vnc, vm_stats, vm_forwards, vm_forward,
    images, image, events, openapi, metrics,
};

struct route_def {
    route_id id;
    std::string_view pattern; // "/api/v1/vms/{name}": a {param} matches one non-empty segment
    std::string_view methods; // "GET, POST" (the Allow header's form)
    bool websocket = false;   // GET upgrades to a WebSocket
};

std::span<const route_def> routes();

struct route_match {
    const route_def* def = nullptr; // null: no route has this path
    std::string param;              // the first {param} segment, if the pattern has one
    std::vector<std::string> params; // every {param} segment, in order
};
route_match match_route(std::string_view path);

// Whether `method` is one of the route's methods.
bool allows(const route_def& r, std::string_view method);

// The target's path (before '?') and its query parameters, in order (not percent-decoded: the
// values the API takes are digits, names, hex tokens and [a-z.,]).
std::string_view path_of(std::string_view target);
std::vector<std::pair<std::string_view, std::string_view>> query_params(std::string_view target);
// The value of query parameter `key` ("" when absent).
std::string_view query_param(std::string_view target, std::string_view key);

} // namespace paddock::api
