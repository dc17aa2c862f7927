// SPDX-License-Identifier: MIT
// Component: the event stream (GET /api/v1/events) on loopback with the real HTTP server and a
// Beast WebSocket client on one io_context. Replay then live with no gap and no duplicate while
// events are published during the replay; resync when `since` is older than the window; the
// type filter; a stalled client closed while a fast one receives every event; auth before the
// upgrade. The console WebSocket against a fake chardev: two viewers, input both ways, the end
// of the VM. Per-client connection limits. No root.
#include <doctest/doctest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>

#include <filesystem>
#include <fstream>
#include <thread>

#include <unistd.h>

#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/write.hpp>

#include "api/http_server.hpp"
#include "vm/console.hpp"
#include "vm/console_hub.hpp"
#include "base/event_bus.hpp"
#include "component/no_backend.hpp"
#include "component/run_body.hpp"

using namespace paddock;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

namespace {


struct world {
    asio::io_context ioc{1};
    event_bus bus;
    testing::no_backend backend;
    api::context ctx;
    std::optional<api::http_server> server;
    std::uint16_t port = 0;

    explicit world(std::size_t retain, api::http_limits limits = {}) : bus(retain)
    {
        ctx.bus = &bus;
        ctx.token = "secret";
        ctx.svc = &backend;
        server.emplace(ioc.get_executor(), tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0), ctx, limits);
        port = server->local_endpoint().port();
        asio::co_spawn(ioc, server->run(), [](std::exception_ptr) {});
    }
    void publish(int i) { bus.publish(event_type::vm_state, "vm" + std::to_string(i % 3), vm_state_change{"running", "starting", "n" + std::to_string(i)}, std::chrono::system_clock::now()); }
    void run(std::function<asio::awaitable<void>()> body) { testing::run_body(ioc, body); }
};

// Connects and upgrades; returns the stream, or the HTTP status of a refusal in `status`.
// `protocol`: a Sec-WebSocket-Protocol to offer; `res`, when given, receives the handshake's answer.
asio::awaitable<std::unique_ptr<websocket::stream<beast::tcp_stream>>> connect(std::uint16_t port, std::string target,
                                                                              std::string auth, int& status,
                                                                              std::string protocol = {},
                                                                              websocket::response_type* answer = nullptr)
{
    auto ex = co_await asio::this_coro::executor;
    auto ws = std::make_unique<websocket::stream<beast::tcp_stream>>(ex);
    co_await beast::get_lowest_layer(*ws).async_connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), use_tuple);
    ws->set_option(websocket::stream_base::decorator([auth, protocol](websocket::request_type& req) {
        if (!auth.empty())
            req.set(beast::http::field::authorization, auth);
        if (!protocol.empty())
            req.set(beast::http::field::sec_websocket_protocol, protocol);
    }));
    websocket::response_type res;
    auto [ec] = co_await ws->async_handshake(res, "127.0.0.1", target, use_tuple);
    status = static_cast<int>(res.result_int());
    if (answer)
        *answer = res;
    if (ec)
        ws.reset();
    co_return ws;
}

asio::awaitable<boost::json::object> next(websocket::stream<beast::tcp_stream>& ws)
{
    beast::flat_buffer buf;
    auto [ec, n] = co_await ws.async_read(buf, use_tuple);
    if (ec)
        co_return boost::json::object{{"error", ec.message()}};
    co_return boost::json::parse(beast::buffers_to_string(buf.data())).as_object();
}

std::uint64_t seq_of(const boost::json::object& o) { return o.at("seq").to_number<std::uint64_t>(); }

} // namespace

TEST_CASE("replay runs into live events with no gap and no duplicate, while events are published during the replay")
{
    world w(10000);
    for (int i = 0; i < 2000; ++i)
        w.publish(i); // seq 1..2000
    w.run([&w]() -> asio::awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        // A publisher keeps going while the client connects and replays.
        asio::co_spawn(ex, [](world* w) -> asio::awaitable<void> {
            for (int i = 0; i < 1000; ++i) {
                w->publish(i);
                asio::steady_timer t(co_await asio::this_coro::executor, 100us);
                co_await t.async_wait(use_tuple);
            }
        }(&w), [](std::exception_ptr) {});
        int status = 0;
        auto ws = co_await connect(w.port, "/api/v1/events?since=500", "Bearer secret", status);
        REQUIRE(ws);
        CHECK(status == 101);
        std::uint64_t want = 501;
        while (want <= 3000) {
            auto o = co_await next(*ws);
            REQUIRE_MESSAGE(o.contains("seq"), boost::json::serialize(o));
            REQUIRE(seq_of(o) == want); // in order, no gap, no duplicate
            CHECK(o.at("type") == "vm.state");
            ++want;
        }
    });
}

TEST_CASE("a since older than the window gets a resync frame first, then what is retained")
{
    world w(10);
    for (int i = 0; i < 30; ++i)
        w.publish(i); // 1..30, 21..30 retained
    w.run([&w]() -> asio::awaitable<void> {
        int status = 0;
        auto ws = co_await connect(w.port, "/api/v1/events?since=5&token=secret", "", status);
        REQUIRE(ws);
        auto first = co_await next(*ws);
        CHECK(first.at("type") == "resync");
        CHECK(seq_of(first) == 30);
        CHECK(first.at("data").at("oldest") == 21);
        for (std::uint64_t s = 21; s <= 30; ++s)
            CHECK(seq_of(co_await next(*ws)) == s);
        // A since from another run (beyond anything published here) is a resync too.
        auto other = co_await connect(w.port, "/api/v1/events?since=999999&token=secret", "", status);
        REQUIRE(other);
        CHECK((co_await next(*other)).at("type") == "resync");
    });
}

TEST_CASE("a replay larger than the client's queue becomes a resync with the newest events, then live ones")
{
    // The daemon's window (10,000) is larger than a client's queue (8,192): since=0 used to get
    // no frame at all and be closed as too slow.
    world w(10000);
    for (int i = 0; i < 10000; ++i)
        w.publish(i); // 1..10000
    w.run([&w]() -> asio::awaitable<void> {
        int status = 0;
        auto ws = co_await connect(w.port, "/api/v1/events?since=0", "Bearer secret", status);
        REQUIRE(ws);
        auto first = co_await next(*ws);
        REQUIRE(first.at("type") == "resync");
        CHECK(seq_of(first) == 10000);
        const std::uint64_t oldest = first.at("data").at("oldest").to_number<std::uint64_t>();
        CHECK(oldest == 10000 - 4096 + 1); // half the queue: the rest is room for live events
        for (std::uint64_t s = oldest; s <= 10000; ++s) {
            auto o = co_await next(*ws);
            REQUIRE_MESSAGE(o.contains("seq"), boost::json::serialize(o));
            REQUIRE(seq_of(o) == s);
        }
        w.publish(1);
        CHECK(seq_of(co_await next(*ws)) == 10001); // and then live
    });
}

TEST_CASE("the type filter applies to the replay and to live events")
{
    world w(100);
    w.bus.publish(event_type::lease_bound, "", lease_info{"52:54:00:00:00:01", "192.168.26.10", "", "", "", "bound", 1}, std::chrono::system_clock::now());
    w.publish(1);
    w.run([&w]() -> asio::awaitable<void> {
        int status = 0;
        auto ws = co_await connect(w.port, "/api/v1/events?since=0&types=lease.bound", "Bearer secret", status);
        REQUIRE(ws);
        auto a = co_await next(*ws);
        CHECK(a.at("type") == "lease.bound");
        w.publish(2);
        w.bus.publish(event_type::lease_bound, "", lease_info{"52:54:00:00:00:02", "192.168.26.11", "", "", "", "bound", 1}, std::chrono::system_clock::now());
        auto b = co_await next(*ws);
        CHECK(b.at("type") == "lease.bound");
        CHECK(b.at("data").at("ip") == "192.168.26.11");
    });
}

TEST_CASE("a client that never reads is closed; a fast one receives every event")
{
    api::http_limits limits;
    limits.ws_max_frames = 200;
    limits.ws_close_grace = std::chrono::seconds(30); // the close frame path, not the forced one
    world w(100, limits);
    w.run([&w]() -> asio::awaitable<void> {
        int status = 0;
        auto stalled = co_await connect(w.port, "/api/v1/events", "Bearer secret", status);
        auto fast = co_await connect(w.port, "/api/v1/events", "Bearer secret", status);
        REQUIRE(stalled);
        REQUIRE(fast);
        CHECK(w.bus.subscribers() == 2);
        const std::uint64_t first = w.bus.last_seq() + 1;
        // Enough to fill the stalled client's socket buffers and then its queue.
        const int n = 60000;
        std::uint64_t got = 0;
        for (int i = 0; i < n; ++i) {
            w.publish(i);
            if (i % 100 == 99) { // let the fast client keep up, as a real one would
                while (got < static_cast<std::uint64_t>(i + 1)) {
                    auto o = co_await next(*fast);
                    REQUIRE_MESSAGE(o.contains("seq"), boost::json::serialize(o));
                    REQUIRE(seq_of(o) == first + got);
                    ++got;
                }
            }
        }
        CHECK(got == static_cast<std::uint64_t>(n));
        // The stalled client reads at last: what reached it, then the close frame saying why.
        beast::flat_buffer buf;
        beast::error_code ec;
        for (int i = 0; i < n && !ec; ++i) {
            buf.consume(buf.size());
            auto [e, k] = co_await stalled->async_read(buf, use_tuple);
            ec = e;
        }
        CHECK(ec == websocket::error::closed);
        // And it is gone from the bus: only the fast client is subscribed.
        for (int i = 0; i < 300 && w.bus.subscribers() != 1; ++i) {
            asio::steady_timer t(co_await asio::this_coro::executor, 10ms);
            co_await t.async_wait(use_tuple);
        }
        CHECK(w.bus.subscribers() == 1);
        CHECK(std::string(stalled->reason().reason.data(), stalled->reason().reason.size()).find("too slow") == 0);
    });
}

TEST_CASE("auth before the upgrade: header or ?token=, a wrong or missing token is 401; a plain GET is 426")
{
    world w(10);
    w.run([&w]() -> asio::awaitable<void> {
        int status = 0;
        CHECK_FALSE(co_await connect(w.port, "/api/v1/events", "", status));
        CHECK(status == 401);
        CHECK_FALSE(co_await connect(w.port, "/api/v1/events?token=wrong", "", status));
        CHECK(status == 401);
        CHECK_FALSE(co_await connect(w.port, "/api/v1/events", "Bearer secre", status));
        CHECK(status == 401);
        CHECK_FALSE(co_await connect(w.port, "/api/v1/events?since=x", "Bearer secret", status));
        CHECK(status == 400);
        CHECK_FALSE(co_await connect(w.port, "/api/v1/events?types=vm.nonsense", "Bearer secret", status));
        CHECK(status == 400);
        CHECK(co_await connect(w.port, "/api/v1/events?token=secret", "", status));
        CHECK(status == 101);
        // A plain GET (no upgrade) with the token.
        auto ex = co_await asio::this_coro::executor;
        beast::tcp_stream s(ex);
        co_await s.async_connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), w.port), use_tuple);
        beast::http::request<beast::http::empty_body> req{beast::http::verb::get, "/api/v1/events", 11};
        req.set(beast::http::field::host, "x");
        req.set(beast::http::field::authorization, "Bearer secret");
        co_await beast::http::async_write(s, req, use_tuple);
        beast::flat_buffer b;
        beast::http::response<beast::http::string_body> res;
        co_await beast::http::async_read(s, b, res, use_tuple);
        CHECK(res.result_int() == 426);
    });
}

TEST_CASE("a client that cannot even take the close frame is cut off after the grace")
{
    api::http_limits limits;
    limits.ws_max_frames = 100;
    limits.ws_close_grace = std::chrono::milliseconds(200);
    world w(100, limits);
    w.run([&w]() -> asio::awaitable<void> {
        int status = 0;
        auto stalled = co_await connect(w.port, "/api/v1/events", "Bearer secret", status);
        REQUIRE(stalled);
        for (int i = 0; i < 60000; ++i)
            w.publish(i);
        for (int i = 0; i < 300 && w.bus.subscribers() != 0; ++i) {
            asio::steady_timer t(co_await asio::this_coro::executor, 10ms);
            co_await t.async_wait(use_tuple);
        }
        CHECK(w.bus.subscribers() == 0); // the daemon let go of it; publishing never waited
    });
}

namespace {
// The next binary message as text, or "close:<code>:<reason>" when the server closed.
asio::awaitable<std::string> next_bytes(websocket::stream<beast::tcp_stream>& ws)
{
    beast::flat_buffer buf;
    auto [ec, n] = co_await ws.async_read(buf, use_tuple);
    if (ec)
        co_return "close:" + std::to_string(ws.reason().code) + ":" + std::string(ws.reason().reason.c_str());
    co_return beast::buffers_to_string(buf.data());
}

// Reads until `want` has arrived (output may come in several chunks).
asio::awaitable<std::string> read_until(websocket::stream<beast::tcp_stream>& ws, std::string want)
{
    std::string got;
    while (got.find(want) == std::string::npos) {
        auto b = co_await next_bytes(ws);
        if (b.starts_with("close:"))
            co_return got + b;
        got += b;
    }
    co_return got;
}

asio::awaitable<std::string> read_some(asio::local::stream_protocol::socket& s, std::string want)
{
    std::string got, buf(4096, '\0');
    while (got.find(want) == std::string::npos) {
        auto [ec, n] = co_await s.async_read_some(asio::buffer(buf), use_tuple);
        if (ec)
            break;
        got.append(buf, 0, n);
    }
    co_return got;
}
} // namespace

TEST_CASE("console: two viewers share one chardev; input from either reaches the guest, output reaches both")
{
    world w(10);
    auto dir = std::filesystem::temp_directory_path() / ("paddock-console-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const std::string sock_path = (dir / "console.sock").string();
    vm::file_thread files(1 << 20);
    asio::local::stream_protocol::acceptor qemu(w.ioc, asio::local::stream_protocol::endpoint(sock_path));
    auto hub = std::make_shared<vm::console_hub>(w.ioc.get_executor(), files, (dir / "console.log").string(), "vm1");
    asio::co_spawn(w.ioc, hub->run(sock_path), [](std::exception_ptr) {});
    w.backend.hub = hub;
    w.run([&]() -> asio::awaitable<void> {
        auto [aec, guest] = co_await qemu.async_accept(use_tuple); // the fake QEMU's side of the chardev
        REQUIRE_FALSE(aec);
        co_await asio::async_write(guest, asio::buffer(std::string("login: ")), use_tuple);
        while (hub->viewers() == 0 && hub->ended() == false) { // let the hub read it first
            asio::steady_timer t(co_await asio::this_coro::executor, 5ms);
            co_await t.async_wait(use_tuple);
            break;
        }
        int status = 0;
        auto a = co_await connect(w.port, "/api/v1/vms/vm1/console?token=secret", "", status);
        REQUIRE(a);
        auto b = co_await connect(w.port, "/api/v1/vms/vm1/console", "Bearer secret", status);
        REQUIRE(b);
        CHECK((co_await read_until(*a, "login: ")).find("login: ") != std::string::npos); // the recent output first
        CHECK((co_await read_until(*b, "login: ")).find("login: ") != std::string::npos);
        a->binary(true);
        co_await a->async_write(asio::buffer(std::string("echo hi\n")), use_tuple);
        CHECK((co_await read_some(guest, "echo hi\n")) == "echo hi\n");
        b->text(true);
        co_await b->async_write(asio::buffer(std::string("uptime\n")), use_tuple);
        CHECK((co_await read_some(guest, "uptime\n")) == "uptime\n");
        co_await asio::async_write(guest, asio::buffer(std::string("hi\r\n# ")), use_tuple);
        CHECK((co_await read_until(*a, "hi\r\n# ")).ends_with("hi\r\n# "));
        CHECK((co_await read_until(*b, "hi\r\n# ")).ends_with("hi\r\n# "));
        CHECK(hub->viewers() == 2);
        // Refusals before the upgrade: unknown VM, wrong token, unknown parameter.
        CHECK_FALSE(co_await connect(w.port, "/api/v1/vms/nope/console", "Bearer secret", status));
        CHECK(status == 404);
        CHECK_FALSE(co_await connect(w.port, "/api/v1/vms/vm1/console?token=nope", "", status));
        CHECK(status == 401);
        CHECK_FALSE(co_await connect(w.port, "/api/v1/vms/vm1/console?x=1", "Bearer secret", status));
        CHECK(status == 400);
        // QEMU goes away: every viewer hears why.
        guest.close();
        auto end_a = co_await read_until(*a, "close:");
        CHECK(end_a.find("close:1000:the VM stopped") != std::string::npos);
        auto end_b = co_await read_until(*b, "close:");
        CHECK(end_b.find("close:1000:the VM stopped") != std::string::npos);
        CHECK(hub->ended());
        CHECK_FALSE(hub->input("late"));
        // An ended console refuses newcomers with the reason (the API answers 409 for stopped VMs).
        auto c = co_await connect(w.port, "/api/v1/vms/vm1/console", "Bearer secret", status);
        REQUIRE(c);
        CHECK((co_await next_bytes(*c)).starts_with("close:1000:"));
    });
    // The capture kept working beside the viewers.
    std::string log;
    for (int i = 0; i < 100 && log.find("hi\r\n") == std::string::npos; ++i) {
        std::this_thread::sleep_for(10ms);
        std::ifstream f(dir / "console.log");
        log.assign(std::istreambuf_iterator<char>(f), {});
    }
    CHECK(log == "login: hi\r\n# ");
    std::filesystem::remove_all(dir);
}

TEST_CASE("connection limits: one address gets at most max_per_client connections; closing one frees a slot")
{
    api::http_limits limits;
    limits.max_per_client = 3;
    world w(10, limits);
    w.run([&w]() -> asio::awaitable<void> {
        int status = 0;
        std::vector<std::unique_ptr<websocket::stream<beast::tcp_stream>>> held;
        for (int i = 0; i < 3; ++i) {
            held.push_back(co_await connect(w.port, "/api/v1/events", "Bearer secret", status));
            REQUIRE(held.back());
        }
        CHECK_FALSE(co_await connect(w.port, "/api/v1/events", "Bearer secret", status)); // closed at once
        co_await held.back()->async_close(websocket::close_code::normal, use_tuple);
        held.pop_back();
        bool again = false;
        for (int i = 0; i < 50 && !again; ++i) {
            asio::steady_timer t(co_await asio::this_coro::executor, 10ms);
            co_await t.async_wait(use_tuple);
            again = static_cast<bool>(co_await connect(w.port, "/api/v1/events", "Bearer secret", status));
        }
        CHECK(again);
    });
}

TEST_CASE("100 clients at once each receive every event, in order; a message over the size limit closes its sender")
{
    world w(1000);
    w.run([&w]() -> asio::awaitable<void> {
        int status = 0;
        std::vector<std::unique_ptr<websocket::stream<beast::tcp_stream>>> clients;
        for (int i = 0; i < 100; ++i) {
            clients.push_back(co_await connect(w.port, "/api/v1/events?token=secret", "", status));
            REQUIRE(clients.back());
        }
        const auto first = w.bus.last_seq() + 1;
        for (int i = 0; i < 50; ++i)
            w.publish(i);
        for (auto& c : clients)
            for (std::uint64_t s = first; s < first + 50; ++s)
                REQUIRE(seq_of(co_await next(*c)) == s);
        // 4 KiB is the most a client may send on the event stream.
        auto& big = clients.front();
        co_await big->async_write(asio::buffer(std::string(5000, 'x')), use_tuple);
        beast::flat_buffer buf;
        auto [ec, n] = co_await big->async_read(buf, use_tuple);
        CHECK(ec == websocket::error::closed);
        CHECK(big->reason().code == websocket::close_code::too_big);
        // The others are unaffected.
        w.publish(99);
        CHECK(seq_of(co_await next(*clients.back())) == first + 50);
    });
}

namespace {
// (A plain coroutine function, not a capturing lambda: g++ 12 frees a lambda coroutine's captures twice.)
asio::awaitable<void> write_all(asio::local::stream_protocol::socket& s, const std::string& data)
{
    co_await asio::async_write(s, asio::buffer(data), use_tuple);
}
} // namespace

TEST_CASE("vnc: bytes both ways between the browser and the VM's VNC socket; \"binary\" answered; refusals before the upgrade")
{
    world w(10);
    auto dir = std::filesystem::temp_directory_path() / ("paddock-vnc-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const std::string sock_path = (dir / "vnc.sock").string();
    asio::local::stream_protocol::acceptor qemu(w.ioc, asio::local::stream_protocol::endpoint(sock_path));
    w.run([&]() -> asio::awaitable<void> {
        int status = 0;
        // Not running: 409 before any upgrade.
        CHECK_FALSE(co_await connect(w.port, "/api/v1/vms/vm1/vnc", "Bearer secret", status));
        CHECK(status == 409);
        w.backend.vnc_path = sock_path;
        CHECK_FALSE(co_await connect(w.port, "/api/v1/vms/vm1/vnc?token=nope", "", status));
        CHECK(status == 401);
        // noVNC's way: ?token= and the "binary" subprotocol.
        auto ex = co_await asio::this_coro::executor;
        websocket::response_type res;
        auto ws = co_await connect(w.port, "/api/v1/vms/vm1/vnc?token=secret", "", status, "binary", &res);
        REQUIRE(ws);
        CHECK(res[beast::http::field::sec_websocket_protocol] == "binary");
        auto [aec, guest] = co_await qemu.async_accept(use_tuple);
        REQUIRE_FALSE(aec);
        // The server speaks first in RFB: its version reaches the browser...
        co_await asio::async_write(guest, asio::buffer(std::string("RFB 003.008\n")), use_tuple);
        CHECK(co_await read_until(*ws, "RFB 003.008\n") == "RFB 003.008\n");
        // ...and the browser's answer reaches QEMU.
        ws->binary(true);
        co_await ws->async_write(asio::buffer(std::string("RFB 003.008\n")), use_tuple);
        CHECK((co_await read_some(guest, "RFB 003.008\n")) == "RFB 003.008\n");
        // A big screen update arrives whole, however it is cut into frames.
        std::string big(3 << 20, 'x');
        for (std::size_t i = 0; i < big.size(); i += 4096)
            big[i] = static_cast<char>('a' + (i / 4096) % 26);
        asio::co_spawn(ex, write_all(guest, big), [](std::exception_ptr) {});
        std::string got;
        while (got.size() < big.size()) {
            beast::flat_buffer buf;
            auto [ec, n] = co_await ws->async_read(buf, use_tuple);
            if (ec)
                break;
            got += beast::buffers_to_string(buf.data());
        }
        CHECK(got == big);
        // QEMU closes: the browser hears it.
        guest.close();
        CHECK((co_await read_until(*ws, "close:")).find("close:1000:") != std::string::npos);
    });
    std::filesystem::remove_all(dir);
}
