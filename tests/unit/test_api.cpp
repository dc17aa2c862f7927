// SPDX-License-Identifier: MIT
// Unit: the API handler (routes, auth, error model, static files) and the event bus.
#include <doctest/doctest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>

#include "api/api.hpp"
#include "base/event_bus.hpp"

using namespace paddock;

namespace {
api::context make_ctx(std::string token = "secret")
{
    api::context c;
    c.version = "9.9.9";
    c.uptime_s = [] { return std::int64_t{42}; };
    c.accel = "tcg";
    c.token = std::move(token);
    c.www_dir = PADDOCK_SOURCE_ROOT "/www";
    c.network = [] { return boost::json::object{{"namespace", {{"name", "paddock"}}}}; };
    return c;
}
// Runs the (coroutine) handler to completion on a private io_context: no sockets involved.
api::response call(const api::context& c, const char* method, const char* target, std::string auth = "Bearer secret",
                   std::string body = "")
{
    boost::asio::io_context ioc;
    auto f = boost::asio::co_spawn(ioc, api::handle(c, api::request{method, target, auth, std::move(body)}),
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
    auto c = make_ctx();
    std::vector<api::reservation_request> seen;
    c.reserve = [&seen](api::reservation_request r) -> boost::asio::awaitable<result<boost::json::object>> {
        seen.push_back(r);
        if (r.ip == "192.168.26.77")
            co_return fail(errc::ip_in_use, "192.168.26.77 is leased to 52:54:00:00:00:09");
        co_return boost::json::object{{"mac", r.mac}};
    };
    c.unreserve = [](std::string mac) -> boost::asio::awaitable<bool> { co_return mac == "52:54:00:aa:bb:cc"; };
    auto r = call(c, "PUT", "/api/v1/reservations/52:54:00:AA:BB:CC", "Bearer secret", R"({"ip":"192.168.26.40","hostname":"web1"})");
    CHECK(r.status == 200);
    REQUIRE(seen.size() == 1);
    CHECK(seen[0].mac == "52:54:00:aa:bb:cc");
    CHECK(seen[0].ip == "192.168.26.40");
    CHECK(seen[0].hostname == "web1");
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

TEST_CASE("event bus numbers events, retains a bounded window and fans out")
{
    event_bus bus(3);
    std::vector<std::uint64_t> seen;
    auto tok = bus.subscribe([&](const event& e) { seen.push_back(e.seq); });
    auto now = std::chrono::system_clock::time_point{std::chrono::milliseconds(1795920345123)};
    for (int i = 0; i < 5; ++i)
        bus.publish("network.repaired", "", {{"i", i}}, now);
    CHECK(seen == std::vector<std::uint64_t>{1, 2, 3, 4, 5});
    CHECK(bus.retained().size() == 3);
    CHECK(bus.first_retained() == 3);
    CHECK(bus.last_seq() == 5);
    auto j = to_json(bus.retained().back());
    CHECK(j.at("seq") == 5);
    CHECK(j.at("type") == "network.repaired");
    CHECK(j.at("time") == "2026-11-29T02:45:45.123Z");
    CHECK_FALSE(j.contains("vm"));
    bus.unsubscribe(tok);
    bus.publish("x", "vm1", {}, now);
    CHECK(seen.size() == 5);
    CHECK(to_json(bus.retained().back()).at("vm") == "vm1");
}
