// SPDX-License-Identifier: MIT
// The REST API as a plain function: (method, target, headers, body) → (status, headers, body).
// No sockets here; http_server.cpp is the Beast driver that feeds it. SPEC section 3 is the
// contract: JSON errors {"error":{"code","message"}}, 404 unknown route, 405 wrong method,
// 401 without the bearer token, 413 body too large (enforced by the driver).
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "base/error.hpp"

namespace paddock::api {

struct request {
    std::string method; // "GET", "POST", ...
    std::string target; // path plus optional query
    std::string authorization;
    std::string body;
};

struct response {
    int status = 200;
    std::string content_type = "application/json";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
};

struct reservation_request {
    std::string mac;                // canonical lower-case aa:bb:cc:dd:ee:ff
    std::string ip;                 // empty: pick a free pool address
    std::string hostname;
};

// What the API reads from the rest of the daemon; app wires it. Failures carry a code that
// status_for() maps to HTTP (the one place for that mapping).
struct context {
    std::string version;
    std::function<std::int64_t()> uptime_s; // the daemon's clock, not the handler's
    std::string accel;        // "kvm" | "tcg"
    std::string token;        // empty = auth disabled ("auth": "none")
    std::string www_dir;      // static dashboard files
    std::function<boost::json::object()> network; // GET /api/v1/network
    std::function<boost::json::array()> leases;   // GET /api/v1/leases
    std::function<boost::json::array()> reservations;
    std::function<boost::asio::awaitable<result<boost::json::object>>(reservation_request)> reserve;
    std::function<boost::asio::awaitable<bool>(std::string mac)> unreserve;
    // VMs (SPEC section 3).
    std::function<boost::json::array()> vms;
    std::function<result<boost::json::object>(const std::string& name)> vm;
    std::function<result<std::string>(const std::string& name)> console_log;
    std::function<boost::asio::awaitable<result<boost::json::object>>(std::string body)> create_vm;
    std::function<boost::asio::awaitable<result<boost::json::object>>(std::string name, std::string action, std::string body)>
        vm_action;
    std::function<boost::asio::awaitable<status>(std::string name)> remove_vm;
};

// The one failure code → HTTP status mapping: bad input 400, not_found 404, conflicts and
// invalid_state 409, QMP failures 502, store failures 503 (nothing was kept), timeouts 504, else 500.
int status_for(errc code);

response error(int status, const std::string& code, const std::string& message);
boost::asio::awaitable<response> handle(const context& ctx, request req);

// Constant-time comparison of the Authorization header against "Bearer <token>".
bool authorized(const context& ctx, const std::string& authorization);

} // namespace paddock::api
