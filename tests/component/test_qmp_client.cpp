// SPDX-License-Identifier: MIT
// Component: the QMP client against a scripted fake QMP server on a unix socket (loopback only,
// no root): negotiation, id routing with interleaved events and out-of-order replies, errors,
// a disconnect in the middle of a command, a silent server (timeout), a missing greeting.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/json.hpp>

#include "qmp/client.hpp"

using namespace paddock;
namespace asio = boost::asio;
namespace json = boost::json;
using stream = asio::local::stream_protocol;
using namespace std::chrono_literals;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

namespace {

const char* greeting = R"({"QMP": {"version": {"qemu": {"micro": 2, "minor": 2, "major": 7}}, "capabilities": ["oob"]}})";

struct fake_server {
    std::string path;
    stream::acceptor acc;
    std::vector<std::string> received; // commands as sent by the client
    fake_server(asio::io_context& ioc)
        : path("/tmp/paddock-qmp-test-" + std::to_string(::getpid()) + ".sock"), acc(ioc)
    {
        ::unlink(path.c_str());
        acc.open();
        acc.bind(stream::endpoint(path));
        acc.listen();
    }
    ~fake_server() { ::unlink(path.c_str()); }
};

asio::awaitable<void> send(stream::socket& s, std::string line)
{
    line += "\n";
    co_await asio::async_write(s, asio::buffer(line), use_tuple);
}

asio::awaitable<json::object> recv_cmd(stream::socket& s, std::string& buf, fake_server& f)
{
    auto [ec, n] = co_await asio::async_read_until(s, asio::dynamic_buffer(buf), '\n', use_tuple);
    if (ec)
        co_return json::object{};
    std::string line = buf.substr(0, n);
    buf.erase(0, n);
    auto o = json::parse(line).as_object();
    f.received.push_back(std::string(o.at("execute").as_string()));
    co_return o;
}

// Accepts the client, sends the greeting and answers its qmp_capabilities.
asio::awaitable<stream::socket> accept_negotiated(fake_server& f, std::string& buf)
{
    auto s = co_await f.acc.async_accept(asio::use_awaitable);
    co_await send(s, greeting);
    co_await recv_cmd(s, buf, f);
    co_await send(s, R"({"return": {}})");
    co_return s;
}

std::string id_of(const json::object& o) { return o.contains("id") ? std::string(o.at("id").as_string()) : ""; }

template <class F>
void run(F f)
{
    asio::io_context ioc;
    bool done = false;
    asio::co_spawn(ioc, f(ioc), [&](std::exception_ptr e) {
        done = true;
        if (e)
            std::rethrow_exception(e);
    });
    ioc.run_for(10s);
    REQUIRE(done);
}

} // namespace

TEST_CASE("negotiation, then replies routed by id around events, out of order")
{
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        fake_server f(ioc);
        std::vector<std::string> events;
        asio::co_spawn(ioc, [&f]() -> asio::awaitable<void> {
            auto s = co_await f.acc.async_accept(asio::use_awaitable);
            std::string buf;
            co_await send(s, greeting);
            co_await recv_cmd(s, buf, f); // qmp_capabilities, before the reader runs
            co_await send(s, R"({"return": {}})");
            auto a = co_await recv_cmd(s, buf, f);
            auto b = co_await recv_cmd(s, buf, f);
            co_await send(s, R"({"event": "STOP", "timestamp": {"seconds": 1, "microseconds": 2}})");
            co_await send(s, R"({"return": {"second": true}, "id": ")" + id_of(b) + "\"}");
            co_await send(s, R"({"return": {"unknown": 1}, "id": "not-ours"})");
            co_await send(s, R"({"event": "RESUME", "timestamp": {"seconds": 1, "microseconds": 3}})");
            co_await send(s, R"({"return": {"status": "running"}, "id": ")" + id_of(a) + "\"}");
            asio::steady_timer t(s.get_executor(), 200ms);
            co_await t.async_wait(use_tuple);
        }, asio::detached);
        auto c = std::make_shared<qmp::client>(ioc.get_executor());
        c->on_event([&](const std::string& ev, const json::object&) { events.push_back(ev); });
        auto st = co_await c->connect(f.path, 2s);
        REQUIRE(st.ok());
        asio::co_spawn(ioc, c->run(), asio::detached);
        using namespace asio::experimental::awaitable_operators;
        auto [ra, rb] = co_await (c->execute("query-status") && c->execute("query-second"));
        REQUIRE(ra.ok());
        REQUIRE(rb.ok());
        CHECK(ra->as_object().at("status") == "running");
        CHECK(rb->as_object().at("second") == true);
        CHECK(events == std::vector<std::string>{"STOP", "RESUME"});
        CHECK(f.received == std::vector<std::string>{"qmp_capabilities", "query-status", "query-second"});
        c->close();
    });
}

TEST_CASE("an error reply carries QEMU's class and description")
{
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        fake_server f(ioc);
        asio::co_spawn(ioc, [&f]() -> asio::awaitable<void> {
            std::string buf;
            auto s = co_await accept_negotiated(f, buf);
            auto a = co_await recv_cmd(s, buf, f);
            co_await send(s, R"({"error": {"class": "CommandNotFound", "desc": "The command nope has not been found"}, "id": ")" + id_of(a) + "\"}");
            asio::steady_timer t(s.get_executor(), 200ms);
            co_await t.async_wait(use_tuple);
        }, asio::detached);
        auto c = std::make_shared<qmp::client>(ioc.get_executor());
        REQUIRE((co_await c->connect(f.path, 2s)).ok());
        asio::co_spawn(ioc, c->run(), asio::detached);
        auto r = co_await c->execute("nope");
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().code == errc::qmp_error);
        CHECK(r.error().message.find("CommandNotFound") != std::string::npos);
        c->close();
    });
}

TEST_CASE("a disconnect in the middle of a command fails it at once")
{
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        fake_server f(ioc);
        asio::co_spawn(ioc, [&f]() -> asio::awaitable<void> {
            std::string buf;
            auto s = co_await accept_negotiated(f, buf);
            co_await recv_cmd(s, buf, f);
            s.close(); // gone before replying
        }, asio::detached);
        auto c = std::make_shared<qmp::client>(ioc.get_executor());
        REQUIRE((co_await c->connect(f.path, 2s)).ok());
        asio::co_spawn(ioc, c->run(), asio::detached);
        auto t0 = std::chrono::steady_clock::now();
        auto r = co_await c->execute("system_powerdown", {}, 5s);
        CHECK(r.error().code == errc::qmp_disconnected);
        CHECK(std::chrono::steady_clock::now() - t0 < 2s);
        CHECK_FALSE(c->connected());
        auto again = co_await c->execute("query-status");
        CHECK(again.error().code == errc::qmp_disconnected);
    });
}

TEST_CASE("a silent server times the command out; other traffic is unaffected")
{
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        fake_server f(ioc);
        asio::co_spawn(ioc, [&f]() -> asio::awaitable<void> {
            std::string buf;
            auto s = co_await accept_negotiated(f, buf);
            co_await recv_cmd(s, buf, f); // and never answer
            asio::steady_timer t(s.get_executor(), 2s);
            co_await t.async_wait(use_tuple);
        }, asio::detached);
        auto c = std::make_shared<qmp::client>(ioc.get_executor());
        REQUIRE((co_await c->connect(f.path, 2s)).ok());
        asio::co_spawn(ioc, c->run(), asio::detached);
        auto t0 = std::chrono::steady_clock::now();
        auto r = co_await c->execute("query-status", {}, 300ms);
        auto took = std::chrono::steady_clock::now() - t0;
        CHECK(r.error().code == errc::qmp_timeout);
        CHECK(took >= 300ms);
        CHECK(took < 1500ms);
        c->close();
    });
}

TEST_CASE("no greeting: connect gives up at its deadline; no socket: too")
{
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        fake_server f(ioc);
        asio::co_spawn(ioc, [&f]() -> asio::awaitable<void> {
            auto s = co_await f.acc.async_accept(asio::use_awaitable);
            asio::steady_timer t(s.get_executor(), 2s);
            co_await t.async_wait(use_tuple);
        }, asio::detached);
        auto c = std::make_shared<qmp::client>(ioc.get_executor());
        auto st = co_await c->connect(f.path, 300ms);
        CHECK(st.error().code == errc::qmp_timeout);
        auto d = std::make_shared<qmp::client>(ioc.get_executor());
        auto st2 = co_await d->connect("/tmp/paddock-no-such-socket", 200ms);
        CHECK(st2.error().code == errc::qmp_timeout);
        c->close();
    });
}

TEST_CASE("an error without an id ends the session (QEMU could not parse our input)")
{
    run([](asio::io_context& ioc) -> asio::awaitable<void> {
        fake_server f(ioc);
        asio::co_spawn(ioc, [&f]() -> asio::awaitable<void> {
            std::string buf;
            auto s = co_await accept_negotiated(f, buf);
            co_await recv_cmd(s, buf, f);
            co_await send(s, R"({"error": {"class": "GenericError", "desc": "JSON parse error"}})");
            asio::steady_timer t(s.get_executor(), 1s);
            co_await t.async_wait(use_tuple);
        }, asio::detached);
        auto c = std::make_shared<qmp::client>(ioc.get_executor());
        REQUIRE((co_await c->connect(f.path, 2s)).ok());
        asio::co_spawn(ioc, c->run(), asio::detached);
        auto r = co_await c->execute("query-status", {}, 2s);
        CHECK(r.error().code == errc::qmp_disconnected);
        CHECK_FALSE(c->connected());
    });
}
