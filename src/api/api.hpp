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

#include <boost/json/object.hpp>

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

// What the API reads from the rest of the daemon; app wires it.
struct context {
    std::string version;
    std::chrono::steady_clock::time_point started;
    std::string accel;        // "kvm" | "tcg"
    std::string token;        // empty = auth disabled ("auth": "none")
    std::string www_dir;      // static dashboard files
    std::function<boost::json::object()> network; // GET /api/v1/network
};

response error(int status, const std::string& code, const std::string& message);
response handle(const context& ctx, const request& req);

// Constant-time comparison of the Authorization header against "Bearer <token>".
bool authorized(const context& ctx, const std::string& authorization);

} // namespace paddock::api
