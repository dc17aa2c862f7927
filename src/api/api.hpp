// SPDX-License-Identifier: MIT
// The REST API as a plain function: (method, target, headers, body) → (status, headers, body).
// No sockets here; http_server.cpp is the Beast driver that feeds it. SPEC section 3 is the
// contract: JSON errors {"error":{"code","message"}}, 404 unknown route, 405 wrong method,
// 401 without the bearer token, 413 body too large (enforced by the driver).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string_view>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "base/error.hpp"
#include "base/event_bus.hpp"
#include "vm/actions.hpp"
#include "vm/spec.hpp"

namespace paddock::vm { class console_hub; }

namespace paddock::api {

class prom;
class http_metrics;
class static_files;

struct request {
    std::string method; // "GET", "POST", ...
    std::string target; // path plus optional query
    std::string authorization;
    std::string body;
    std::string if_none_match;   // static files: revalidation
    std::string accept_encoding; // static files: gzip
    std::string origin;          // the Origin header (browsers send it; other clients mostly not)
    std::string host;            // the Host header
};

struct response {
    int status = 200;
    std::string content_type = "application/json";
    std::string body;
    std::shared_ptr<const std::string> shared_body; // when set, the body (sent without a copy)
    std::vector<std::pair<std::string, std::string>> headers;
};

struct reservation_request {
    std::string mac;                // canonical lower-case aa:bb:cc:dd:ee:ff
    std::string ip;                 // empty: pick a free pool address
    std::string hostname;
};

// An image upload in progress (PUT /api/v1/images/{name}): the HTTP driver streams the body into
// it chunk by chunk; destroying it before finish() leaves nothing behind.
class upload_sink {
public:
    virtual ~upload_sink() = default;
    // `chunk` stays valid (and unchanged) until the write completes; the driver reuses its buffers.
    virtual boost::asio::awaitable<status> write(std::string_view chunk) = 0;
    virtual boost::asio::awaitable<result<boost::json::object>> finish() = 0;
};

// What the API calls: a narrow, typed interface that app implements (and tests fake). Requests
// arrive parsed and validated; failures carry an errc that status_for() maps to HTTP.
// How late the daemon's io_context ran a timer (app/loop_probe).
struct loop_stalls {
    int probe_ms = 0;
    double worst_ms = 0, recent_worst_ms = 0, worst_own_ms = 0, recent_worst_own_ms = 0;
};

// The host's room for VMs (GET /api/v1/host).
struct host_capacity {
    int cpus = 0;
    std::uint64_t memory_total = 0, memory_available = 0; // bytes, from /proc/meminfo
    std::uint64_t memory_promised = 0;                     // bytes: the memory of every VM with a QEMU
    std::uint64_t disk_free = 0;                           // bytes free in state_dir
    int vms_running = 0;
};
// A VM's figures (GET /api/v1/vms/{name}/stats): its points oldest first (at most the last hour).
struct vm_figures {
    std::vector<stats_point> points;
    int interval_s = 0; // the sampling interval
    bool running = false;
};

// What the create response warns about for a VM of `memory_mib` on this host (empty: nothing).
std::vector<std::string> memory_warnings(const host_capacity& h, int memory_mib);

class backend {
public:
    virtual ~backend() = default;
    virtual std::int64_t uptime_s() const = 0; // the daemon's clock, not the handler's
    virtual loop_stalls stalls() const = 0;
    virtual host_capacity host() = 0;
    virtual boost::json::object network() = 0;  // GET /api/v1/network
    virtual boost::json::array leases() = 0;
    virtual boost::json::array reservations() = 0;
    // The image store: [{"name","format","size","virtual_size","sha256","added_at"}...].
    virtual boost::json::array images() = 0;
    virtual result<boost::json::object> image(const std::string& name) = 0;
    // Starts an upload (`length`: Content-Length, checked against the free space).
    virtual result<std::unique_ptr<upload_sink>> begin_upload(const std::string& name, std::optional<std::uint64_t> length) = 0;
    // conflict while a VM uses it.
    virtual boost::asio::awaitable<status> remove_image(std::string name) = 0;
    virtual boost::asio::awaitable<result<boost::json::object>> reserve(reservation_request r) = 0;
    // not_found when there is none; store_failed when the delete was not kept.
    virtual boost::asio::awaitable<status> unreserve(std::string mac) = 0;
    // VMs (SPEC section 3), typed: the API alone makes their JSON (api/event_json).
    virtual std::vector<vm_info> vms() = 0;
    // Bumped on every change to any VM: GET /api/v1/vms's text is made again only after one.
    virtual std::uint64_t vms_changes() const = 0;
    virtual result<vm_info> vm(const std::string& name) = 0;
    virtual boost::asio::awaitable<result<std::string>> console_log(std::string name) = 0;
    // The running VM's shared serial console (GET /api/v1/vms/{name}/console, a WebSocket).
    virtual result<std::shared_ptr<vm::console_hub>> console(const std::string& name) = 0;
    // The running VM's VNC socket path (GET /api/v1/vms/{name}/vnc, a WebSocket).
    virtual result<std::string> vnc(const std::string& name) = 0;
    // not_found when there is no such VM.
    virtual result<vm_figures> vm_stats(const std::string& name) = 0;
    virtual boost::asio::awaitable<result<vm_info>> create_vm(vm::spec s) = 0;
    virtual boost::asio::awaitable<result<vm_info>> patch_vm(std::string name, vm::vm_patch p) = 0;
    virtual boost::asio::awaitable<result<vm_info>> vm_action(std::string name, vm::action a, vm::action_options o) = 0;
    virtual boost::asio::awaitable<status> remove_vm(std::string name) = 0;
    // A VM's port forwards; put answers the forward and whether it is new.
    virtual result<std::vector<port_map>> forwards(const std::string& vm) = 0;
    virtual boost::asio::awaitable<result<std::pair<port_map, bool>>> put_forward(std::string vm, port_map f) = 0;
    virtual boost::asio::awaitable<status> delete_forward(std::string vm, std::string proto, std::uint16_t host_port) = 0;
    // The daemon's part of /metrics: VMs, DHCP, leases and pool, fabric repairs, the loop.
    virtual void metrics(prom& out) = 0;
};

// GET /api/v1/vms's text as last made, and the VM change count it was made at.
struct vm_list_cache {
    std::uint64_t changes = 0;
    std::shared_ptr<const std::string> text;
};

struct context {
    event_bus* bus = nullptr; // the event stream's source (GET /api/v1/events)
    std::string version;
    std::string accel;   // "kvm" | "tcg"
    std::string token;   // empty = auth disabled ("auth": "none")
    static_files* files = nullptr; // the dashboard (www/)
    backend* svc = nullptr;
    http_metrics* http = nullptr; // the API's own counters (the HTTP driver records into them)
    vm_list_cache* vm_list = nullptr; // when set, GET /api/v1/vms is served from it between changes
};

// The VM operations by their route name (start, stop, restart, pause, resume).
std::optional<vm::action> parse_action(std::string_view name);
// The body of an action: stop takes {"force","timeout_s"}, restart {"timeout_s"}, others nothing.
result<vm::action_options> parse_action_options(vm::action a, std::string_view body);

// The one failure code → HTTP status mapping: bad input 400, not_found 404, conflicts and
// invalid_state 409, QMP failures 502, store failures 503 (nothing was kept), timeouts 504, else 500.
int status_for(errc code);

response error(int status, const std::string& code, const std::string& message);
// The HTTP/1.x status line and header block of `r` ("...\r\n\r\n"), with Content-Length and the
// Connection header keep_alive needs for `version` (10 or 11).
std::string response_head(const response& r, unsigned version, bool keep_alive, std::size_t content_length);
boost::asio::awaitable<response> handle(const context& ctx, request req);

// Constant-time comparison of the Authorization header against "Bearer <token>".
bool authorized(const context& ctx, std::string_view authorization);
// The same for a WebSocket upgrade, which may carry the token as ?token= instead (browsers).
bool authorized_upgrade(const context& ctx, std::string_view authorization, std::string_view target);
// The 401 every protected surface answers.
response unauthorized();
// With "auth": "none" any web page the user visits could drive the API from the browser: a
// request that changes state (any method but GET/HEAD) or opens a WebSocket must then come from
// the dashboard's own origin, or carry no Origin at all (curl, scripts). nullopt when allowed,
// else the 403 to send. With a token, the token is the guard.
std::optional<response> cross_origin_refusal(const context& ctx, std::string_view method, std::string_view origin,
                                             std::string_view host, bool upgrade);
// Whether a path is one the token protects (/api/..., /metrics); the dashboard's files are not.
bool protected_path(std::string_view path);

} // namespace paddock::api
