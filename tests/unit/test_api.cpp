// SPDX-License-Identifier: MIT
// Unit: the API handler (routes, auth, error model, static files) and the event bus.
#include <doctest/doctest.h>

#include "base/meminfo.hpp"

#include <algorithm>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <regex>
#include <set>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>

#include "api/api.hpp"
#include "api/http_metrics.hpp"
#include "api/prom.hpp"
#include "api/event_json.hpp"
#include "api/event_stream.hpp"
#include "api/routes.hpp"
#include "api/static_files.hpp"
#include "base/event_bus.hpp"

using namespace paddock;

namespace {
namespace asio = boost::asio;
namespace json = boost::json;

// The daemon as the API sees it, faked: records what reaches it.
struct fake_backend : api::backend {
    std::vector<api::reservation_request> reserved;
    std::vector<std::pair<std::string, vm::action_options>> actions;
    std::vector<vm::spec> created;
    bool unreserve_kept = true;

    std::int64_t uptime_s() const override { return 42; }
    api::loop_stalls stalls() const override { return {10, 3.5, 1.25}; }
    api::host_capacity host() override { return capacity; }
    api::host_capacity capacity{2, 4ull << 30, 3ull << 30, 1ull << 30, 10ull << 30, 1};
    json::object network() override { return {{"namespace", {{"name", "paddock"}}}}; }
    json::array leases() override { return {}; }
    json::array reservations() override { return {}; }
    json::array images() override { return {}; }
    result<json::object> image(const std::string& n) override { return fail(errc::not_found, "no image " + n); }
    result<std::unique_ptr<api::upload_sink>> begin_upload(const std::string&, std::optional<std::uint64_t>) override
    {
        return fail(errc::invalid_state, "no uploads here");
    }
    asio::awaitable<status> remove_image(std::string) override { co_return ok(); }
    asio::awaitable<result<json::object>> reserve(api::reservation_request r) override
    {
        reserved.push_back(r);
        if (r.ip == "192.168.26.77")
            co_return fail(errc::ip_in_use, "192.168.26.77 is leased to 52:54:00:00:00:09");
        co_return json::object{{"mac", r.mac}};
    }
    asio::awaitable<status> unreserve(std::string mac) override
    {
        if (mac != "52:54:00:aa:bb:cc")
            co_return fail(errc::not_found, "no reservation for " + mac);
        if (!unreserve_kept)
            co_return fail(errc::store_failed, "erase reservation: database or disk is full");
        co_return ok();
    }
    std::vector<vm_info> vms() override { return {}; }
    std::uint64_t vms_changes() const override { return 0; }
    result<vm_info> vm(const std::string& name) override { return fail(errc::not_found, "no VM named " + name); }
    asio::awaitable<result<std::string>> console_log(std::string) override { co_return std::string("boot\n"); }
    asio::awaitable<result<vm_info>> create_vm(vm::spec s) override
    {
        created.push_back(s);
        vm_info v;
        v.name = s.name;
        co_return v;
    }
    std::vector<std::pair<std::string, vm::vm_patch>> patched;
    asio::awaitable<result<vm_info>> patch_vm(std::string name, vm::vm_patch p) override
    {
        patched.emplace_back(name, p);
        if (name != "web1")
            co_return fail(errc::not_found, "no VM named " + name);
        vm_info v;
        v.name = name;
        v.autostart = p.autostart.value_or("never");
        co_return v;
    }
    asio::awaitable<result<vm_info>> vm_action(std::string name, vm::action a, vm::action_options o) override
    {
        actions.emplace_back(name + "/" + vm::to_string(a), o);
        vm_info v;
        v.name = name;
        co_return v;
    }
    asio::awaitable<status> remove_vm(std::string) override { co_return ok(); }
    std::vector<port_map> fwd;
    result<std::vector<port_map>> forwards(const std::string& name) override
    {
        if (name != "web-1")
            return fail(errc::not_found, "no VM named \"" + name + "\"");
        return fwd;
    }
    asio::awaitable<result<std::pair<port_map, bool>>> put_forward(std::string name, port_map f) override
    {
        if (name != "web-1")
            co_return fail(errc::not_found, "no VM named \"" + name + "\"");
        for (auto& o : fwd)
            if (o.proto == f.proto && o.host_port == f.host_port) {
                o = f;
                co_return std::pair<port_map, bool>(f, false);
            }
        fwd.push_back(f);
        co_return std::pair<port_map, bool>(f, true);
    }
    asio::awaitable<status> delete_forward(std::string, std::string proto, std::uint16_t port) override
    {
        for (auto it = fwd.begin(); it != fwd.end(); ++it)
            if (it->proto == proto && it->host_port == port) {
                fwd.erase(it);
                co_return ok();
            }
        co_return fail(errc::not_found, "no forward");
    }
    result<std::shared_ptr<vm::console_hub>> console(const std::string& name) override
    {
        return fail(errc::invalid_state, name + " is stopped");
    }
    result<std::string> vnc(const std::string& name) override { return fail(errc::invalid_state, name + " is stopped"); }
    result<api::vm_figures> vm_stats(const std::string& name) override
    {
        if (name != "web1")
            return fail(errc::not_found, "no VM named " + name);
        return figures;
    }
    api::vm_figures figures;
    void metrics(api::prom& out) override
    {
        out.family("paddock_vms", "gauge", "VMs by state.");
        out.sample("paddock_vms", {{"state", "running"}}, 2);
    }
};

fake_backend default_backend;

api::context make_ctx(std::string token = "secret", api::backend* b = &default_backend)
{
    api::context c;
    c.version = "9.9.9";
    c.accel = "tcg";
    c.token = std::move(token);
    static api::static_files www(PADDOCK_SOURCE_ROOT "/www");
    c.files = &www;
    c.svc = b;
    return c;
}
// Runs the (coroutine) handler to completion on a private io_context: no sockets involved.
api::response call(const api::context& c, const char* method, const char* target, std::string auth = "Bearer secret",
                   std::string body = "")
{
    boost::asio::io_context ioc;
    auto f = boost::asio::co_spawn(ioc, api::handle(c, api::request{method, target, auth, std::move(body), {}, {}, {}, {}}),
                                   boost::asio::use_future);
    ioc.run();
    return f.get();
}
std::string error_code(const api::response& r)
{
    return std::string(boost::json::parse(r.body).at("error").at("code").as_string());
}
} // namespace

TEST_CASE("health answers the SPEC shape")
{
    auto r = call(make_ctx(), "GET", "/api/v1/health");
    CHECK(r.status == 200);
    auto o = boost::json::parse(r.body).as_object();
    CHECK(o.at("status") == "ok");
    CHECK(o.at("version") == "9.9.9");
    CHECK(o.at("accel") == "tcg");
    CHECK(o.at("uptime_s") == 42);
    CHECK(o.at("loop").at("probe_ms") == 10);
    CHECK(o.at("loop").at("worst_stall_ms") == 3.5);
}

TEST_CASE("the API needs the bearer token; a wrong or missing one is 401 with a JSON error")
{
    auto c = make_ctx();
    for (const char* auth : {"", "Bearer", "Bearer secreT", "Bearer secret2", "Basic secret", "bearer secret"}) {
        auto r = call(c, "GET", "/api/v1/health", auth);
        CHECK_MESSAGE(r.status == 401, auth);
        CHECK(error_code(r) == "unauthorized");
    }
    CHECK(call(make_ctx(""), "GET", "/api/v1/health", "").status == 200); // auth: none
}

TEST_CASE("unknown routes are 404 and wrong methods 405 with Allow")
{
    auto c = make_ctx();
    auto r = call(c, "GET", "/api/v1/nothing");
    CHECK(r.status == 404);
    CHECK(error_code(r) == "not_found");
    r = call(c, "POST", "/api/v1/health");
    CHECK(r.status == 405);
    CHECK(error_code(r) == "method_not_allowed");
    REQUIRE(r.headers.size() == 1);
    CHECK(r.headers[0].first == "Allow");
    CHECK(call(c, "DELETE", "/api/v1/network").status == 405);
    CHECK(call(c, "GET", "/api/v1/network?x=1").status == 200);
}

TEST_CASE("static files are served without auth and cannot escape www/")
{
    auto c = make_ctx();
    auto r = call(c, "GET", "/", "");
    CHECK(r.status == 200);
    CHECK(r.content_type.find("text/html") == 0);
    for (const char* t : {"/../meson.build", "/..%2fmeson.build", "/.hidden", "//etc/passwd", "/a/../../x",
                          "/index.html/../../meson.build", "/no-such-file.js"})
        CHECK_MESSAGE(call(c, "GET", t, "").status == 404, t);
    CHECK(call(c, "POST", "/index.html", "").status == 405);
}

TEST_CASE("reservation requests are validated before they reach the DHCP server")
{
    fake_backend b;
    auto c = make_ctx("secret", &b);
    auto r = call(c, "PUT", "/api/v1/reservations/52:54:00:AA:BB:CC", "Bearer secret", R"({"ip":"192.168.26.40","hostname":"web1"})");
    CHECK(r.status == 200);
    REQUIRE(b.reserved.size() == 1);
    CHECK(b.reserved[0].mac == "52:54:00:aa:bb:cc");
    CHECK(b.reserved[0].ip == "192.168.26.40");
    CHECK(b.reserved[0].hostname == "web1");
    CHECK(call(c, "PUT", "/api/v1/reservations/52:54:00:aa:bb:cc", "Bearer secret", "").status == 200);
    struct row { const char* target; const char* body; int status; const char* code; };
    row rows[] = {
        {"/api/v1/reservations/nonsense", "{}", 400, "invalid_mac"},
        {"/api/v1/reservations/52:54:00:aa:bb:cc", "{", 400, "invalid_json"},
        {"/api/v1/reservations/52:54:00:aa:bb:cc", "[1]", 400, "invalid_json"},
        {"/api/v1/reservations/52:54:00:aa:bb:cc", R"({"ip": 5})", 400, "invalid_field"},
        {"/api/v1/reservations/52:54:00:aa:bb:cc", R"({"hostname": "a b"})", 400, "invalid_field"},
        {"/api/v1/reservations/52:54:00:aa:bb:cc", R"({"colour": "red"})", 400, "invalid_field"},
        {"/api/v1/reservations/52:54:00:aa:bb:cc", R"({"ip": "192.168.26.77"})", 409, "ip_in_use"},
    };
    for (auto& rw : rows) {
        auto res = call(c, "PUT", rw.target, "Bearer secret", rw.body);
        CHECK_MESSAGE(res.status == rw.status, rw.body);
        CHECK(error_code(res) == rw.code);
    }
    CHECK(call(c, "DELETE", "/api/v1/reservations/52:54:00:aa:bb:cc").status == 204);
    CHECK(call(c, "DELETE", "/api/v1/reservations/52:54:00:aa:bb:cd").status == 404);
    CHECK(call(c, "POST", "/api/v1/reservations/52:54:00:aa:bb:cd").status == 405);
}

TEST_CASE("a reservation delete that did not reach the disk is a 503 with a code, never a 204")
{
    fake_backend b;
    b.unreserve_kept = false;
    auto r = call(make_ctx("secret", &b), "DELETE", "/api/v1/reservations/52:54:00:aa:bb:cc");
    CHECK(r.status == 503);
    CHECK(error_code(r) == "store_failed");
}

TEST_CASE("VM actions reach the backend typed: an action enum and validated options")
{
    fake_backend b;
    auto c = make_ctx("secret", &b);
    CHECK(call(c, "POST", "/api/v1/vms/vm1/stop", "Bearer secret", R"({"force":true,"timeout_s":7})").status == 200);
    CHECK(call(c, "POST", "/api/v1/vms/vm1/restart", "Bearer secret", R"({"timeout_s":9})").status == 200);
    CHECK(call(c, "POST", "/api/v1/vms/vm1/pause").status == 200);
    REQUIRE(b.actions.size() == 3);
    CHECK(b.actions[0].first == "vm1/stop");
    CHECK(b.actions[0].second.force);
    CHECK(b.actions[0].second.timeout_s == 7);
    CHECK(b.actions[1].first == "vm1/restart");
    CHECK_FALSE(b.actions[1].second.force);
    CHECK(b.actions[1].second.timeout_s == 9);
    CHECK(b.actions[2].first == "vm1/pause");
    struct row { const char* target; const char* body; int status; const char* code; };
    row rows[] = {
        {"/api/v1/vms/vm1/restart", R"({"force":true})", 400, "invalid_field"}, // only stop can force
        {"/api/v1/vms/vm1/stop", R"({"timeout_s":0})", 400, "invalid_field"},
        {"/api/v1/vms/vm1/stop", R"({"force":"yes"})", 400, "invalid_field"},
        {"/api/v1/vms/vm1/pause", R"({"timeout_s":3})", 400, "invalid_field"},
        {"/api/v1/vms/vm1/stop", "[]", 400, "invalid_json"},
        {"/api/v1/vms/vm1/fly", "", 404, "not_found"},
        {"/api/v1/vms", R"({"name":"Bad_Name"})", 400, "invalid_field"},
    };
    for (auto& rw : rows) {
        auto res = call(c, "POST", rw.target, "Bearer secret", rw.body);
        CHECK_MESSAGE(res.status == rw.status, rw.target, " ", rw.body);
        CHECK(error_code(res) == rw.code);
    }
    CHECK(b.actions.size() == 3);
    CHECK(b.created.empty()); // a spec that does not parse never reaches the backend
    CHECK(call(c, "POST", "/api/v1/vms", "Bearer secret", R"({"name":"web","kernel":"k","cpus":2})").status == 201);
    REQUIRE(b.created.size() == 1);
    CHECK(b.created[0].cpus == 2);
}

TEST_CASE("with auth none, state changes and WebSockets need the dashboard's own origin (or none)")
{
    api::context open; // auth "none"
    CHECK_FALSE(api::cross_origin_refusal(open, "POST", "", "127.0.0.1:8080", false));           // curl
    CHECK_FALSE(api::cross_origin_refusal(open, "POST", "http://127.0.0.1:8080", "127.0.0.1:8080", false));
    CHECK_FALSE(api::cross_origin_refusal(open, "GET", "http://evil.example", "127.0.0.1:8080", false));
    auto r = api::cross_origin_refusal(open, "POST", "http://evil.example", "127.0.0.1:8080", false);
    REQUIRE(r);
    CHECK(r->status == 403);
    CHECK(r->body.find("\"forbidden\"") != std::string::npos);
    CHECK(api::cross_origin_refusal(open, "DELETE", "http://127.0.0.1:8080.evil.example", "127.0.0.1:8080", false));
    CHECK(api::cross_origin_refusal(open, "GET", "http://evil.example", "127.0.0.1:8080", true)); // a WebSocket
    CHECK_FALSE(api::cross_origin_refusal(open, "GET", "http://127.0.0.1:8080", "127.0.0.1:8080", true));
    api::context guarded;
    guarded.token = "secret"; // the token guards it
    CHECK_FALSE(api::cross_origin_refusal(guarded, "POST", "http://evil.example", "127.0.0.1:8080", false));
}

TEST_CASE("every failure code maps to one HTTP status")
{
    // Every code, by its wire name, with the status a client sees. A new code fails here until it
    // is given its status on purpose.
    const std::map<std::string, int> want{
        {"no_value", 500},         {"invalid_json", 400},     {"invalid_field", 400},   {"unsupported_field", 400},
        {"invalid_ip", 400},       {"invalid_mac", 400},      {"invalid_config", 400},  {"invalid_image", 400},
        {"not_found", 404},        {"conflict", 409},         {"invalid_state", 409},   {"ip_in_use", 409},
        {"pool_exhausted", 409},   {"vm_gone", 409},          {"truncated", 500},       {"bad_op", 500},
        {"bad_hlen", 500},         {"bad_cookie", 500},       {"bad_option", 500},      {"dns_malformed", 500},
        {"qmp_protocol", 502},     {"qmp_error", 502},        {"qmp_timeout", 504},     {"qmp_disconnected", 502},
        {"store_failed", 503},     {"spawn_failed", 500},     {"tool_failed", 500},     {"tap_failed", 500},
        {"netlink_failed", 500},   {"netns_failed", 500},     {"nft_failed", 500},      {"sysctl_failed", 500},
        {"link_conflict", 500},    {"fabric_down", 500},      {"dhcp_socket", 500},     {"setns", 500},
        {"state_dir", 500},        {"token", 500},  {"tls", 500},          {"timeout", 504},         {"no_space", 507},
        {"shutting_down", 503},   {"forbidden", 403},
    };
    std::set<std::string> names;
    for (int i = 0; i < errc_count; ++i) {
        auto c = static_cast<errc>(i);
        std::string name = to_string(c);
        CAPTURE(name);
        CHECK(names.insert(name).second); // wire names are unique
        REQUIRE(want.count(name) == 1);
        CHECK(api::status_for(c) == want.at(name));
    }
    CHECK(names.size() == want.size());
}

TEST_CASE("event bus numbers events, retains a bounded window and fans out")
{
    event_bus bus(3);
    std::vector<std::uint64_t> seen;
    auto tok = bus.subscribe([&](const event& e) { seen.push_back(e.seq); });
    auto now = std::chrono::system_clock::time_point{std::chrono::milliseconds(1795920345123)};
    for (int i = 0; i < 5; ++i)
        bus.publish(event_type::network_repaired, "", repair_report{{"step " + std::to_string(i)}}, now);
    CHECK(seen == std::vector<std::uint64_t>{1, 2, 3, 4, 5});
    CHECK(bus.retained().size() == 3);
    CHECK(bus.first_retained() == 3);
    CHECK(bus.last_seq() == 5);
    auto j = api::to_json(bus.retained().back());
    CHECK(j.at("seq") == 5);
    CHECK(j.at("type") == "network.repaired");
    CHECK(j.at("time") == "2026-11-29T02:45:45.123Z");
    CHECK_FALSE(j.contains("vm"));
    bus.unsubscribe(tok);
    bus.publish(event_type::vm_state, "vm1", vm_state_change{"running", "starting", "started"}, now);
    CHECK(seen.size() == 5);
    CHECK(api::to_json(bus.retained().back()).at("vm") == "vm1");
}

TEST_CASE("events are typed and serialized once: every reader shares one wire string")
{
    event_bus bus;
    auto now = std::chrono::system_clock::time_point{std::chrono::milliseconds(1795920345123)};
    const auto& e = bus.publish(event_type::vm_state, "web", vm_state_change{"running", "starting", "started"}, now);
    auto a = api::wire(e);
    auto b = api::wire(e);
    CHECK(a.get() == b.get()); // not serialized a second time
    auto j = boost::json::parse(*a).as_object();
    CHECK(j.at("type") == "vm.state");
    CHECK(j.at("vm") == "web");
    CHECK(j.at("data").at("state") == "running");
    CHECK(j.at("data").at("previous") == "starting");
    CHECK(j.at("data").at("reason") == "started");
    lease_info l;
    l.mac = "52:54:00:00:00:01";
    l.ip = "192.168.26.10";
    l.state = "bound";
    l.expires_at = 1795920345;
    const auto& le = bus.publish(event_type::lease_bound, "", l, now);
    auto lj = api::to_json(le);
    CHECK(lj.at("type") == "lease.bound");
    CHECK(lj.at("data").at("vm").is_null());
    CHECK(lj.at("data").at("expires_at") == "2026-11-29T02:45:45Z");
}

TEST_CASE("every route of the table needs the token, in every method; static files do not")
{
    auto c = make_ctx();
    for (const auto& r : api::routes()) {
        std::string path(r.pattern);
        for (auto [from, to] : {std::pair{"{name}", "vm1"}, std::pair{"{mac}", "52:54:00:aa:bb:cc"}, std::pair{"{proto}", "tcp"},
                                std::pair{"{host_port}", "8080"}})
            if (auto at = path.find(from); at != std::string::npos)
                path.replace(at, std::string_view(from).size(), to);
        for (const char* m : {"GET", "POST", "PUT", "DELETE", "HEAD"})
            for (const char* auth : {"", "Bearer wrong", "Bearer secret "}) {
                auto res = call(c, m, path.c_str(), auth);
                CHECK_MESSAGE(res.status == 401, m, " ", path, " with '", auth, "'");
            }
        // With the token: never 401, and the route exists (no 404 for the route itself).
        std::string first(r.methods.substr(0, r.methods.find(',')));
        auto res = call(c, first.c_str(), path.c_str());
        CHECK_MESSAGE(res.status != 401, path);
        CHECK_MESSAGE((res.status != 404 || error_code(res) != "not_found" || r.id == api::route_id::vm ||
                       r.id == api::route_id::console_log || r.id == api::route_id::reservation || r.id == api::route_id::image ||
                       r.id == api::route_id::vm_stats || r.id == api::route_id::vm_forwards || r.id == api::route_id::vm_forward),
                      path);
    }
    CHECK(call(c, "GET", "/index.html", "").status == 200);
    CHECK(call(c, "GET", "/metrics", "").status == 401);
}

TEST_CASE("WebSocket routes answer a plain GET with 426, and accept ?token= only on upgrades")
{
    auto c = make_ctx();
    auto r = call(c, "GET", "/api/v1/events");
    CHECK(r.status == 426);
    CHECK(error_code(r) == "upgrade_required");
    CHECK(call(c, "GET", "/api/v1/vms/vm1/console").status == 426);
    CHECK(call(c, "GET", "/api/v1/health?token=secret", "").status == 401);
    CHECK(api::authorized_upgrade(c, "", "/api/v1/events?since=4&token=secret"));
    CHECK_FALSE(api::authorized_upgrade(c, "", "/api/v1/events?token=secre"));
    CHECK_FALSE(api::authorized_upgrade(c, "", "/api/v1/events?token="));
    CHECK(api::authorized_upgrade(c, "Bearer secret", "/api/v1/events"));
}

TEST_CASE("event types are declared once: the OpenAPI document, the stream's filter and the dashboard follow it")
{
    std::set<std::string> declared;
    for (auto t : all_event_types)
        declared.insert(to_string(t));
    CHECK(declared.size() == std::size(all_event_types));

    // The OpenAPI document: the Event schema's type enum is the declaration plus "resync".
    auto r = call(make_ctx(), "GET", "/api/v1/openapi.json");
    REQUIRE(r.status == 200);
    std::set<std::string> documented;
    std::function<void(const boost::json::value&)> walk = [&](const boost::json::value& v) {
        if (v.is_object()) {
            for (auto& [k, x] : v.as_object()) {
                if (k == "enum" && x.is_array() && std::count(x.as_array().begin(), x.as_array().end(), "vm.created"))
                    for (auto& e : x.as_array())
                        documented.insert(std::string(e.as_string()));
                walk(x);
            }
        }
        else if (v.is_array())
            for (auto& x : v.as_array())
                walk(x);
    };
    walk(boost::json::parse(r.body));
    CHECK(documented.erase("resync") == 1);
    CHECK(documented == declared);

    // The stream's filter takes every declared type, and nothing else.
    for (auto& t : declared) {
        CAPTURE(t);
        CHECK(api::parse_events_query("/api/v1/events?types=" + t).ok());
    }
    CHECK_FALSE(api::parse_events_query("/api/v1/events?types=vm.renamed").ok());

    // The dashboard handles every declared type and names no other.
    std::ifstream in(PADDOCK_SOURCE_ROOT "/www/app.js");
    REQUIRE(in);
    std::string js((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::set<std::string> families, named;
    for (auto& t : declared)
        families.insert(t.substr(0, t.find('.')));
    const std::regex quoted("'([a-z]+)\\.([a-z_]+)'");
    for (auto it = std::sregex_iterator(js.begin(), js.end(), quoted); it != std::sregex_iterator(); ++it)
        if (families.count((*it)[1].str()))
            named.insert((*it)[1].str() + "." + (*it)[2].str());
    CHECK(named == declared);
}

TEST_CASE("the route table matches paths segment by segment")
{
    auto m = api::match_route("/api/v1/vms/web-1/console/log");
    REQUIRE(m.def);
    CHECK(m.def->id == api::route_id::console_log);
    CHECK(m.param == "web-1");
    CHECK(api::match_route("/api/v1/vms/web-1/console").def->id == api::route_id::console);
    CHECK_FALSE(api::match_route("/api/v1/vms/").def);
    CHECK_FALSE(api::match_route("/api/v1/vms/a/").def);
    CHECK_FALSE(api::match_route("/api/v1/vms//start").def);
    CHECK_FALSE(api::match_route("/api/v1/vms/a/b/start").def);
    CHECK(api::allows(*api::match_route("/api/v1/vms").def, "POST"));
    CHECK_FALSE(api::allows(*api::match_route("/api/v1/vms").def, "PUT"));
    CHECK_FALSE(api::allows(*api::match_route("/api/v1/vms").def, "GE"));
}

TEST_CASE("the OpenAPI document describes exactly the routes of the router")
{
    auto r = call(make_ctx(), "GET", "/api/v1/openapi.json");
    REQUIRE(r.status == 200);
    auto doc = boost::json::parse(r.body).as_object();
    CHECK(std::string(doc.at("openapi").as_string()).starts_with("3."));
    CHECK(doc.at("info").at("version") == "9.9.9");
    const auto& paths = doc.at("paths").as_object();
    std::set<std::string> documented, routed;
    for (auto& [p, item] : paths)
        for (auto& [m, op] : item.as_object())
            if (m != "parameters")
                documented.insert(std::string(m) + " " + std::string(p));
    for (const auto& rt : api::routes()) {
        std::string ms(rt.methods);
        for (std::size_t at = 0; at < ms.size();) {
            auto comma = ms.find(',', at);
            std::string m = ms.substr(at, comma == std::string::npos ? std::string::npos : comma - at);
            for (auto& ch : m)
                ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
            routed.insert(m + " " + std::string(rt.pattern));
            at = comma == std::string::npos ? ms.size() : comma + 2;
        }
        if (rt.websocket) {
            auto& op = paths.at(rt.pattern).at("get").as_object();
            CHECK_MESSAGE(op.at("responses").as_object().contains("101"), rt.pattern);
        }
    }
    CHECK(documented == routed);
    // Every $ref resolves inside the document.
    std::vector<const boost::json::value*> todo;
    boost::json::value root = doc;
    todo.push_back(&root);
    int refs = 0;
    while (!todo.empty()) {
        auto* v = todo.back();
        todo.pop_back();
        if (v->is_array())
            for (auto& x : v->as_array())
                todo.push_back(&x);
        if (!v->is_object())
            continue;
        for (auto& [k, x] : v->as_object()) {
            if (k == "$ref") {
                ++refs;
                std::string ref(x.as_string());
                REQUIRE(ref.starts_with("#/"));
                const boost::json::value* at = &root;
                for (std::size_t i = 2; i <= ref.size();) {
                    auto slash = ref.find('/', i);
                    std::string key = ref.substr(i, slash == std::string::npos ? std::string::npos : slash - i);
                    REQUIRE_MESSAGE((at->is_object() && at->as_object().contains(key)), ref);
                    at = &at->as_object().at(key);
                    i = slash == std::string::npos ? ref.size() + 1 : slash + 1;
                }
            }
            todo.push_back(&x);
        }
    }
    CHECK(refs > 20);
}

TEST_CASE("/metrics is Prometheus text with the daemon's and the API's families")
{
    api::http_metrics hm;
    hm.record(&api::routes()[0], false, "GET", 200, 0.0003);
    hm.record(nullptr, true, "GET", 200, 0.002);
    auto c = make_ctx();
    c.http = &hm;
    auto r = call(c, "GET", "/metrics");
    REQUIRE(r.status == 200);
    CHECK(r.content_type.starts_with("text/plain; version=0.0.4"));
    CHECK(r.body.find("# TYPE paddock_vms gauge\npaddock_vms{state=\"running\"} 2\n") != std::string::npos);
    CHECK(r.body.find("paddock_http_requests_total{route=\"/api/v1/health\",method=\"GET\",status=\"200\"} 1") != std::string::npos);
    CHECK(r.body.find("paddock_http_request_duration_seconds_bucket{route=\"/api/v1/health\",le=\"0.0005\"} 1") != std::string::npos);
    CHECK(r.body.find("paddock_http_request_duration_seconds_bucket{route=\"/api/v1/health\",le=\"0.00025\"} 0") != std::string::npos);
    CHECK(r.body.find("paddock_http_requests_total{route=\"static\"") != std::string::npos);
}

TEST_CASE("Prometheus label values and help texts are escaped")
{
    api::prom p;
    p.family("x_total", "counter", "a \\ b\nc");
    p.sample("x_total", {{"l", "q\"uote\\back\nnl"}}, 1.5);
    CHECK(p.text() == "# HELP x_total a \\\\ b\\nc\n# TYPE x_total counter\nx_total{l=\"q\\\"uote\\\\back\\nnl\"} 1.5\n");
}

TEST_CASE("response heads: status line, Content-Length (also for HEAD), Connection by version, none for 204")
{
    api::response r;
    r.headers.emplace_back("Allow", "GET");
    auto h = api::response_head(r, 11, true, 17);
    CHECK(h == "HTTP/1.1 200 OK\r\nServer: paddockd\r\nContent-Type: application/json\r\nX-Content-Type-Options: "
               "nosniff\r\nAllow: GET\r\nContent-Length: 17\r\n\r\n");
    CHECK(api::response_head(r, 11, false, 0).find("Connection: close\r\n") != std::string::npos);
    CHECK(api::response_head(r, 10, true, 0).find("Connection: keep-alive\r\n") != std::string::npos);
    CHECK(api::response_head(r, 10, false, 0).find("Connection") == std::string::npos);
    r.status = 204;
    CHECK(api::response_head(r, 11, true, 0) ==
          "HTTP/1.1 204 No Content\r\nServer: paddockd\r\nContent-Type: application/json\r\nX-Content-Type-Options: "
          "nosniff\r\nAllow: GET\r\n\r\n");
}

TEST_CASE("GET /api/v1/host reports the host's room; a create that would overcommit memory says so")
{
    auto r = call(make_ctx(), "GET", "/api/v1/host");
    REQUIRE(r.status == 200);
    auto o = boost::json::parse(r.body).as_object();
    CHECK(o.at("cpus") == 2);
    CHECK(o.at("memory_total_mib") == 4096);
    CHECK(o.at("memory_available_mib") == 3072);
    CHECK(o.at("memory_promised_mib") == 1024);
    CHECK(o.at("state_dir_free_mib") == 10240);
    CHECK(o.at("vms_running") == 1);
    api::host_capacity h{2, 4ull << 30, 3ull << 30, 1ull << 30, 0, 1};
    CHECK(api::memory_warnings(h, 512).empty());
    auto over = api::memory_warnings(h, 3584); // 1 GiB promised + 3.5 GiB > 4 GiB
    REQUIRE(over.size() == 1);
    CHECK(over[0].find("overcommitted") != std::string::npos);
    h.memory_available = 256ull << 20;
    auto low = api::memory_warnings(h, 512);
    REQUIRE(low.size() == 1);
    CHECK(low[0].find("available now (256 MiB)") != std::string::npos);
    CHECK(api::memory_warnings(api::host_capacity{}, 512).empty()); // unknown host: nothing to say
}

TEST_CASE("/proc/meminfo is read for MemTotal and MemAvailable")
{
    auto m = parse_meminfo("MemTotal:       24684092 kB\nMemFree:        23000000 kB\nMemAvailable:   23811608 kB\nBuffers: x kB\n");
    CHECK(m.total == 24684092ull * 1024);
    CHECK(m.available == 23811608ull * 1024);
    CHECK(parse_meminfo("").total == 0);
}

TEST_CASE("the event stream: vm.stats only when named, ?vm= narrows to one VM, stats_every spaces a VM's points")
{
    auto all = api::parse_events_query("/api/v1/events");
    REQUIRE(all.ok());
    CHECK(api::wanted(*all, event_type::vm_state, "web1"));
    CHECK_FALSE(api::wanted(*all, event_type::vm_stats, "web1"));
    auto stats = api::parse_events_query("/api/v1/events?types=vm.stats,vm.state&vm=web1&stats_every=5");
    REQUIRE(stats.ok());
    CHECK(api::wanted(*stats, event_type::vm_stats, "web1"));
    CHECK_FALSE(api::wanted(*stats, event_type::vm_stats, "web2"));
    CHECK_FALSE(api::wanted(*stats, event_type::network_repaired, ""));
    CHECK(stats->stats_every_s == 5);
    for (const char* bad : {"?stats_every=0", "?stats_every=abc", "?stats_every=3601", "?stats_every=", "?vm="}) {
        CAPTURE(bad);
        CHECK_FALSE(api::parse_events_query(std::string("/api/v1/events") + bad).ok());
    }

    api::stats_gate gate(5);
    CHECK(gate.pass("a", 0));
    CHECK(gate.pass("b", 1000)); // each VM on its own
    CHECK_FALSE(gate.pass("a", 2000));
    CHECK(gate.pass("a", 4600)); // a sample a little early still passes
    CHECK_FALSE(gate.pass("a", 8000));
    CHECK(gate.pass("a", 9600));
    api::stats_gate each(0);
    CHECK(each.pass("a", 0));
    CHECK(each.pass("a", 1));
}

TEST_CASE("GET /api/v1/vms/{name}/stats: columns of the history, the newest point as current")
{
    fake_backend b;
    stats_point p1;
    p1.t_ms = 1000;
    p1.cpu_pct = 12.34f;
    p1.rss_mib = 100;
    p1.net_rx_bps = 1500.6f;
    stats_point p2 = p1;
    p2.t_ms = 6000;
    p2.guest_used_mib = 200;
    p2.guest_total_mib = 1000;
    b.figures = api::vm_figures{{p1, p2}, 5, true};
    auto c = make_ctx("secret", &b);
    auto res = call(c, "GET", "/api/v1/vms/web1/stats");
    REQUIRE(res.status == 200);
    auto o = boost::json::parse(res.body).as_object();
    CHECK(o.at("interval_s").as_int64() == 5);
    auto& h = o.at("history").as_object();
    CHECK(h.at("t").as_array().size() == 2);
    CHECK(h.at("cpu_pct").as_array().at(0).as_int64() == 12);
    CHECK(h.at("net_rx_bps").as_array().at(0).as_int64() == 1501);
    CHECK(h.at("guest_used_mib").as_array().at(0).is_null());
    CHECK(h.at("guest_used_mib").as_array().at(1).as_int64() == 200);
    CHECK(o.at("current").as_object().at("t").as_int64() == 6000);
    b.figures.running = false;
    CHECK(boost::json::parse(call(c, "GET", "/api/v1/vms/web1/stats").body).at("current").is_null());
    CHECK(call(c, "GET", "/api/v1/vms/nope/stats").status == 404);
}

TEST_CASE("PATCH /api/v1/vms/{name}: the body parsed and handed over, errors as JSON")
{
    fake_backend b;
    auto c = make_ctx("secret", &b);
    auto res = call(c, "PATCH", "/api/v1/vms/web1", "Bearer secret", R"({"autostart":"restore","cpus":2})");
    REQUIRE(res.status == 200);
    CHECK(boost::json::parse(res.body).at("autostart") == "restore");
    REQUIRE(b.patched.size() == 1);
    CHECK(*b.patched[0].second.cpus == 2);
    CHECK(call(c, "PATCH", "/api/v1/vms/web1", "Bearer secret", R"({"colour":"red"})").status == 400);
    CHECK(call(c, "PATCH", "/api/v1/vms/web1", "Bearer secret", "{}").status == 400);
    CHECK(call(c, "PATCH", "/api/v1/vms/nope", "Bearer secret", R"({"cpus":1})").status == 404);
    CHECK(b.patched.size() == 2); // the bad bodies never reached the backend
}

TEST_CASE("port forwards: routes with three parameters, bodies validated before the backend, 201 then 200")
{
    auto m = api::match_route("/api/v1/vms/web-1/forwards/tcp/8080");
    REQUIRE(m.def);
    CHECK(m.def->id == api::route_id::vm_forward);
    CHECK(m.params == std::vector<std::string>{"web-1", "tcp", "8080"});
    CHECK(m.param == "web-1");
    CHECK_FALSE(api::match_route("/api/v1/vms/web-1/forwards/tcp").def);
    CHECK_FALSE(api::match_route("/api/v1/vms/web-1/forwards/tcp/8080/x").def);

    fake_backend b;
    auto c = make_ctx("secret", &b);
    auto res = call(c, "PUT", "/api/v1/vms/web-1/forwards/tcp/8080", "Bearer secret", R"({"guest_port":80})");
    REQUIRE(res.status == 201);
    CHECK(boost::json::parse(res.body) == boost::json::parse(R"({"proto":"tcp","host_port":8080,"guest_port":80,"listen":"0.0.0.0"})"));
    CHECK(call(c, "PUT", "/api/v1/vms/web-1/forwards/tcp/8080", "Bearer secret", R"({"guest_port":81})").status == 200);
    // An empty body: the guest port is the host port, every address.
    res = call(c, "PUT", "/api/v1/vms/web-1/forwards/udp/53", "Bearer secret", "");
    REQUIRE(res.status == 201);
    CHECK(boost::json::parse(res.body).at("guest_port") == 53);
    for (auto [target, body] : {std::pair{"/api/v1/vms/web-1/forwards/icmp/1", ""}, std::pair{"/api/v1/vms/web-1/forwards/tcp/0", ""},
                                std::pair{"/api/v1/vms/web-1/forwards/tcp/65536", ""}, std::pair{"/api/v1/vms/web-1/forwards/tcp/08x", ""},
                                std::pair{"/api/v1/vms/web-1/forwards/tcp/1", "[1]"}, std::pair{"/api/v1/vms/web-1/forwards/tcp/1", R"({"listen":"1.2.3"})"},
                                std::pair{"/api/v1/vms/web-1/forwards/tcp/1", R"({"listen":"127.0.0.1"})"},
                                std::pair{"/api/v1/vms/web-1/forwards/tcp/1", R"({"guest_port":"80"})"}}) {
        auto r = call(c, "PUT", target, "Bearer secret", body);
        CHECK_MESSAGE(r.status == 400, target, " ", body, " -> ", r.body);
    }
    CHECK(b.fwd.size() == 2); // the bad ones never reached the backend
    res = call(c, "GET", "/api/v1/vms/web-1/forwards");
    REQUIRE(res.status == 200);
    CHECK(boost::json::parse(res.body).at("forwards").as_array().size() == 2);
    CHECK(call(c, "DELETE", "/api/v1/vms/web-1/forwards/udp/53").status == 204);
    CHECK(call(c, "DELETE", "/api/v1/vms/web-1/forwards/udp/53").status == 404);
    CHECK(call(c, "DELETE", "/api/v1/vms/web-1/forwards/udp/x").status == 400);
    CHECK(call(c, "GET", "/api/v1/vms/nope/forwards").status == 404);
}
