// SPDX-License-Identifier: MIT
// The REST API handler (routing, auth, static files, error model).
#include "api/api.hpp"

#include "vm/forwards.hpp"

#include "api/event_json.hpp"

#include <fstream>
#include <sstream>

#include <boost/json.hpp>

#include "api/http_metrics.hpp"
#include "api/prom.hpp"
#include "api/routes.hpp"
#include "api/static_files.hpp"
#include "base/mac.hpp"

namespace paddock::api {
namespace json = boost::json;

std::string_view openapi_document(); // embedded src/api/openapi.json (openapi_doc.cpp, generated)

namespace {

response json_response(int status, const json::object& o)
{
    response r;
    r.status = status;
    r.body = json::serialize(o);
    return r;
}

response method_not_allowed(const request& req, const std::string& path, const char* allow)
{
    auto r = error(405, "method_not_allowed", req.method + " is not allowed on " + path + "; allowed: " + allow);
    r.headers.emplace_back("Allow", allow);
    return r;
}

// Parses a PUT /api/v1/reservations/{mac} body: {"ip"?: string, "hostname"?: string}.
result<reservation_request> parse_reservation(const std::string& mac_in, const std::string& body)
{
    reservation_request r;
    auto mac = canonical_mac(mac_in);
    if (!mac)
        return fail(errc::invalid_mac, "\"" + mac_in + "\" in the path is not a MAC address like 52:54:00:12:34:56");
    r.mac = *mac;
    if (body.empty())
        return r;
    boost::system::error_code ec;
    json::value v = json::parse(body, ec);
    if (ec)
        return fail(errc::invalid_json, "request body is not valid JSON: " + ec.message());
    if (!v.is_object())
        return fail(errc::invalid_json, "request body must be a JSON object");
    for (auto& [k, val] : v.get_object()) {
        if (k == "ip" && val.is_string())
            r.ip = std::string(val.get_string());
        else if (k == "hostname" && val.is_string()) {
            r.hostname = std::string(val.get_string());
            bool okh = !r.hostname.empty() && r.hostname.size() <= 63;
            for (char c : r.hostname)
                okh = okh && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-');
            if (!okh)
                return fail(errc::invalid_field, "hostname: \"" + r.hostname + "\" is not a host name (1 to 63 of a-z A-Z 0-9 -)");
        }
        else if (k == "ip" || k == "hostname")
            return fail(errc::invalid_field, std::string(k) + ": expected a string");
        else
            return fail(errc::invalid_field, std::string(k) + ": unknown field");
    }
    return r;
}

response no_content()
{
    response r;
    r.status = 204;
    return r;
}

response from_failure(const failure& f) { return error(status_for(f.code), to_string(f.code), f.message); }

} // namespace

std::optional<vm::action> parse_action(std::string_view name)
{
    for (auto a : {vm::action::start, vm::action::stop, vm::action::restart, vm::action::pause, vm::action::resume})
        if (name == vm::to_string(a))
            return a;
    return std::nullopt;
}

result<vm::action_options> parse_action_options(vm::action a, std::string_view body)
{
    vm::action_options o;
    if (body.empty())
        return o;
    boost::system::error_code ec;
    auto v = json::parse(body, ec);
    if (ec || !v.is_object())
        return fail(errc::invalid_json, "request body must be a JSON object");
    const bool graceful = a == vm::action::stop || a == vm::action::restart;
    for (auto& [k, val] : v.as_object()) {
        if (graceful && k == "timeout_s") {
            if (!val.is_int64() || val.as_int64() < 1 || val.as_int64() > 3600)
                return fail(errc::invalid_field, "timeout_s: expected a whole number from 1 to 3600");
            o.timeout_s = static_cast<int>(val.as_int64());
        }
        else if (a == vm::action::stop && (k == "force" || k == "restore")) {
            if (!val.is_bool())
                return fail(errc::invalid_field, std::string(k) + ": expected true or false");
            (k == "force" ? o.force : o.restore) = val.as_bool();
        }
        else
            return fail(errc::invalid_field, std::string(k) + ": unknown field for " + vm::to_string(a));
    }
    return o;
}

int status_for(errc code)
{
    switch (code) {
    case errc::invalid_json:
    case errc::invalid_field:
    case errc::unsupported_field:
    case errc::invalid_ip:
    case errc::invalid_mac:
    case errc::invalid_config:
    case errc::invalid_image: return 400;
    case errc::no_space: return 507;
    case errc::not_found: return 404;
    case errc::forbidden: return 403;
    case errc::conflict:
    case errc::invalid_state:
    case errc::ip_in_use:
    case errc::pool_exhausted:
    case errc::vm_gone: return 409;
    case errc::qmp_protocol:
    case errc::qmp_error:
    case errc::qmp_disconnected: return 502;
    case errc::store_failed:
    case errc::shutting_down: return 503;
    case errc::qmp_timeout:
    case errc::timeout: return 504;
    // Failures of the daemon or its host, never of the request: 500.
    case errc::no_value:
    case errc::truncated:
    case errc::bad_op:
    case errc::bad_hlen:
    case errc::bad_cookie:
    case errc::bad_option:
    case errc::dns_malformed:
    case errc::spawn_failed:
    case errc::tool_failed:
    case errc::tap_failed:
    case errc::netlink_failed:
    case errc::netns_failed:
    case errc::nft_failed:
    case errc::sysctl_failed:
    case errc::link_conflict:
    case errc::fabric_down:
    case errc::dhcp_socket:
    case errc::setns:
    case errc::state_dir:
    case errc::token: return 500;
    case errc::tls: return 500;
    }
    return 500;
}

response error(int status, const std::string& code, const std::string& message)
{
    return json_response(status, {{"error", {{"code", code}, {"message", message}}}});
}

namespace {
const char* reason_phrase(int status)
{
    switch (status) {
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 426: return "Upgrade Required";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 507: return "Insufficient Storage";
    case 100: return "Continue";
    default: return "Unknown";
    }
}
} // namespace

std::string response_head(const response& r, unsigned version, bool keep_alive, std::size_t content_length)
{
    std::string h;
    h.reserve(160 + r.content_type.size());
    h += version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
    h += std::to_string(r.status);
    h += ' ';
    h += reason_phrase(r.status);
    h += "\r\nServer: paddockd\r\nContent-Type: ";
    h += r.content_type;
    h += "\r\nX-Content-Type-Options: nosniff\r\n";
    for (auto& [k, v] : r.headers) {
        h += k;
        h += ": ";
        h += v;
        h += "\r\n";
    }
    if (r.status != 204 && r.status != 304 && r.status / 100 != 1) {
        h += "Content-Length: ";
        h += std::to_string(content_length);
        h += "\r\n";
    }
    if (version == 10 && keep_alive)
        h += "Connection: keep-alive\r\n";
    else if (version != 10 && !keep_alive)
        h += "Connection: close\r\n";
    h += "\r\n";
    return h;
}

bool authorized(const context& ctx, std::string_view authorization)
{
    if (ctx.token.empty())
        return true;
    constexpr std::string_view scheme = "Bearer ";
    if (authorization.size() != scheme.size() + ctx.token.size() || !authorization.starts_with(scheme))
        return false;
    unsigned char diff = 0;
    for (std::size_t i = 0; i < ctx.token.size(); ++i)
        diff |= static_cast<unsigned char>(authorization[scheme.size() + i] ^ ctx.token[i]);
    return diff == 0;
}

bool authorized_upgrade(const context& ctx, std::string_view authorization, std::string_view target)
{
    if (authorized(ctx, authorization))
        return true;
    auto t = query_param(target, "token");
    return !t.empty() && authorized(ctx, "Bearer " + std::string(t));
}

std::optional<response> cross_origin_refusal(const context& ctx, std::string_view method, std::string_view origin,
                                             std::string_view host, bool upgrade)
{
    if (!ctx.token.empty() || origin.empty() || (!upgrade && (method == "GET" || method == "HEAD")))
        return std::nullopt;
    for (std::string_view scheme : {"http://", "https://"})
        if (origin.starts_with(scheme) && origin.substr(scheme.size()) == host)
            return std::nullopt;
    return error(403, "forbidden",
                 "cross-origin request refused: with \"auth\": \"none\" only the dashboard's own origin (" +
                     std::string(host) + ") may change state or open a WebSocket; Origin was " + std::string(origin));
}

response unauthorized()
{
    auto r = error(401, "unauthorized",
                   "missing or wrong token: send 'Authorization: Bearer <token>' (WebSockets may use ?token=<token>) "
                   "with the token from state_dir/api-token");
    r.headers.emplace_back("WWW-Authenticate", "Bearer");
    return r;
}

bool protected_path(std::string_view path) { return path.starts_with("/api/") || path == "/api" || path == "/metrics"; }

namespace {

const std::string& openapi_text(const context& ctx)
{
    static const std::string doc = [&] {
        std::string d(openapi_document());
        auto at = d.find("@VERSION@");
        if (at != std::string::npos)
            d.replace(at, 9, ctx.version);
        return json::serialize(json::parse(d)); // compact
    }();
    return doc;
}

response metrics_response(const context& ctx)
{
    prom out;
    ctx.svc->metrics(out);
    if (ctx.http)
        ctx.http->write(out);
    if (ctx.bus) {
        out.family("paddock_events_published_total", "counter", "Events published on the event stream since start.");
        out.sample("paddock_events_published_total", static_cast<double>(ctx.bus->published()));
    }
    response r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = out.text();
    return r;
}

} // namespace

boost::asio::awaitable<response> handle(const context& ctx, request req)
{
    const std::string path(path_of(req.target));
    if (!protected_path(path))
        co_return ctx.files ? ctx.files->serve(req, path) : error(404, "not_found", "no dashboard here");
    if (!authorized(ctx, req.authorization))
        co_return unauthorized();
    if (auto r = cross_origin_refusal(ctx, req.method, req.origin, req.host, false))
        co_return *r;
    auto m = match_route(path);
    if (!m.def)
        co_return error(404, "not_found", "no route for " + path);
    if (!allows(*m.def, req.method)) {
        const std::string allow(m.def->methods);
        co_return method_not_allowed(req, path, allow.c_str());
    }
    if (m.def->websocket) {
        auto r = error(426, "upgrade_required", "GET " + path + " is a WebSocket: send Upgrade: websocket");
        r.headers.emplace_back("Upgrade", "websocket");
        co_return r;
    }
    const std::string& name = m.param;
    switch (m.def->id) {
    case route_id::health: {
        auto l = ctx.svc->stalls();
        co_return json_response(200, {{"status", "ok"},
                                      {"version", ctx.version},
                                      {"uptime_s", ctx.svc->uptime_s()},
                                      {"accel", ctx.accel},
                                      {"loop", {{"probe_ms", l.probe_ms},
                                                {"worst_stall_ms", l.worst_ms},
                                                {"worst_own_stall_ms", l.worst_own_ms},
                                                {"recent_worst_stall_ms", l.recent_worst_ms},
                                                {"recent_worst_own_stall_ms", l.recent_worst_own_ms}}}});
    }
    case route_id::host: {
        const auto h = ctx.svc->host();
        constexpr std::uint64_t mib = 1 << 20;
        co_return json_response(200, {{"cpus", h.cpus},
                                      {"accel", ctx.accel},
                                      {"memory_total_mib", h.memory_total / mib},
                                      {"memory_available_mib", h.memory_available / mib},
                                      {"memory_promised_mib", h.memory_promised / mib},
                                      {"vms_running", h.vms_running},
                                      {"state_dir_free_mib", h.disk_free / mib}});
    }
    case route_id::network: co_return json_response(200, ctx.svc->network());
    case route_id::leases: co_return json_response(200, {{"leases", ctx.svc->leases()}});
    case route_id::reservations: co_return json_response(200, {{"reservations", ctx.svc->reservations()}});
    case route_id::images: co_return json_response(200, {{"images", ctx.svc->images()}});
    case route_id::image: {
        if (req.method == "GET") {
            auto r = ctx.svc->image(name);
            if (!r)
                co_return from_failure(r.error());
            co_return json_response(200, *r);
        }
        if (req.method == "DELETE") {
            if (auto st = co_await ctx.svc->remove_image(name); !st)
                co_return from_failure(st.error());
            co_return no_content();
        }
        break; // PUT streams: the HTTP driver takes it before the body is read
    }
    case route_id::reservation: {
        auto parsed = parse_reservation(name, req.method == "PUT" ? req.body : "");
        if (!parsed)
            co_return from_failure(parsed.error());
        if (req.method == "PUT") {
            auto r = co_await ctx.svc->reserve(*parsed);
            if (!r)
                co_return from_failure(r.error());
            co_return json_response(200, *r);
        }
        if (auto st = co_await ctx.svc->unreserve(parsed->mac); !st)
            co_return from_failure(st.error());
        co_return no_content();
    }
    case route_id::vms: {
        if (req.method == "GET") {
            response r;
            const auto changes = ctx.svc->vms_changes();
            if (ctx.vm_list && ctx.vm_list->text && ctx.vm_list->changes == changes)
                r.shared_body = ctx.vm_list->text;
            else
                r.shared_body = std::make_shared<const std::string>(vms_text(ctx.svc->vms()));
            if (ctx.vm_list) {
                ctx.vm_list->changes = changes;
                ctx.vm_list->text = r.shared_body;
            }
            co_return r;
        }
        auto spec = vm::parse_spec(req.body);
        if (!spec)
            co_return from_failure(spec.error());
        // Room on the host, judged before the create (the new VM is not promised anything yet).
        const auto warnings = memory_warnings(ctx.svc->host(), spec->memory_mib);
        auto r = co_await ctx.svc->create_vm(std::move(*spec));
        if (!r)
            co_return from_failure(r.error());
        auto body = to_json(*r);
        if (!warnings.empty()) {
            boost::json::array w;
            for (auto& s : warnings)
                w.push_back(boost::json::string(s));
            body["warnings"] = std::move(w);
        }
        co_return json_response(201, std::move(body));
    }
    case route_id::vm: {
        if (req.method == "GET") {
            auto r = ctx.svc->vm(name);
            if (!r)
                co_return from_failure(r.error());
            co_return json_response(200, to_json(*r));
        }
        if (req.method == "PATCH") {
            auto p = vm::parse_patch(req.body);
            if (!p)
                co_return from_failure(p.error());
            auto r = co_await ctx.svc->patch_vm(name, std::move(*p));
            if (!r)
                co_return from_failure(r.error());
            co_return json_response(200, to_json(*r));
        }
        auto st = co_await ctx.svc->remove_vm(name);
        if (!st)
            co_return from_failure(st.error());
        co_return no_content();
    }
    case route_id::vm_forwards: {
        auto r = ctx.svc->forwards(name);
        if (!r)
            co_return from_failure(r.error());
        co_return json_response(200, {{"name", name}, {"forwards", to_json(*r)}});
    }
    case route_id::vm_forward: {
        const std::string& proto = m.params.at(1);
        const std::string& port = m.params.at(2);
        if (req.method == "DELETE") {
            auto key = vm::parse_forward_key(proto, port);
            if (!key)
                co_return from_failure(key.error());
            if (auto st = co_await ctx.svc->delete_forward(name, key->proto, key->host_port); !st)
                co_return from_failure(st.error());
            co_return no_content();
        }
        auto f = vm::parse_forward(proto, port, req.body);
        if (!f)
            co_return from_failure(f.error());
        auto r = co_await ctx.svc->put_forward(name, std::move(*f));
        if (!r)
            co_return from_failure(r.error());
        co_return json_response(r->second ? 201 : 200, to_json(r->first));
    }
    case route_id::vm_stats: {
        auto r = ctx.svc->vm_stats(name);
        if (!r)
            co_return from_failure(r.error());
        // Columnar: {"t": [...], "cpu_pct": [...], ...}, what a chart takes as it is.
        const auto& names = stats_series();
        std::vector<boost::json::array> cols(names.size());
        boost::json::array t;
        t.reserve(r->points.size());
        for (auto& c : cols)
            c.reserve(r->points.size());
        for (auto& p : r->points) {
            t.push_back(p.t_ms);
            auto values = stats_values(p);
            for (std::size_t i = 0; i < names.size(); ++i)
                cols[i].push_back(std::move(values[i]));
        }
        boost::json::object history{{"t", std::move(t)}};
        for (std::size_t i = 0; i < names.size(); ++i)
            history[names[i]] = std::move(cols[i]);
        boost::json::value current = nullptr;
        if (r->running && !r->points.empty())
            current = to_json(r->points.back());
        co_return json_response(200, {{"name", name},
                                      {"running", r->running},
                                      {"interval_s", r->interval_s},
                                      {"current", std::move(current)},
                                      {"history", std::move(history)}});
    }
    case route_id::console_log: {
        auto r = co_await ctx.svc->console_log(name);
        if (!r)
            co_return from_failure(r.error());
        response out;
        out.content_type = "text/plain; charset=utf-8";
        out.body = std::move(*r);
        co_return out;
    }
    case route_id::vm_start:
    case route_id::vm_stop:
    case route_id::vm_restart:
    case route_id::vm_pause:
    case route_id::vm_resume: {
        auto a = *parse_action(path.substr(path.rfind('/') + 1));
        auto opts = parse_action_options(a, req.body);
        if (!opts)
            co_return from_failure(opts.error());
        auto r = co_await ctx.svc->vm_action(name, a, *opts);
        if (!r)
            co_return from_failure(r.error());
        co_return json_response(200, to_json(*r));
    }
    case route_id::openapi: {
        response r;
        r.body = openapi_text(ctx);
        co_return r;
    }
    case route_id::metrics: co_return metrics_response(ctx);
    case route_id::console:
    case route_id::vnc:
    case route_id::events: break; // WebSockets: handled above
    }
    co_return error(404, "not_found", "no route for " + path);
}

std::vector<std::string> memory_warnings(const host_capacity& h, int memory_mib)
{
    std::vector<std::string> out;
    if (h.memory_total == 0)
        return out; // unknown
    const std::uint64_t want = static_cast<std::uint64_t>(memory_mib) << 20;
    constexpr std::uint64_t mib = 1 << 20;
    if (h.memory_promised + want > h.memory_total)
        out.push_back("memory overcommitted: running VMs are promised " + std::to_string(h.memory_promised / mib) +
                      " MiB; with this VM's " + std::to_string(memory_mib) + " MiB that is more than the host's " +
                      std::to_string(h.memory_total / mib) + " MiB");
    else if (want > h.memory_available)
        out.push_back("this VM's " + std::to_string(memory_mib) + " MiB are more than the host has available now (" +
                      std::to_string(h.memory_available / mib) + " MiB)");
    return out;
}

} // namespace paddock::api
