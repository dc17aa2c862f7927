// SPDX-License-Identifier: MIT
// bench/ws_latency: the event stream's delivery latency from publication. The real HTTP server and
// event stream driver (api::http_server, api/ws_events) run on one io_context and thread, as in
// the daemon; N Beast WebSocket clients run on a second thread of the same process. Events are
// published at a fixed rate, each carrying its publication time (steady clock, ns); every client
// records receipt time minus publication time for every event. Prints p50/p99/max over all.
// Usage: ws_latency CLIENTS RATE EVENTS
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include "api/http_server.hpp"
#include "base/event_bus.hpp"
#include "component/no_backend.hpp"

using namespace paddock;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

namespace {

std::int64_t now_ns()
{
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}


struct samples {
    std::mutex m;
    std::vector<std::int64_t> ns;
    std::atomic<int> connected{0}, done{0};
};

asio::awaitable<void> client(std::uint16_t port, int events, samples& out)
{
    auto ex = co_await asio::this_coro::executor;
    websocket::stream<beast::tcp_stream> ws(ex);
    co_await beast::get_lowest_layer(ws).async_connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), use_tuple);
    ws.set_option(websocket::stream_base::decorator(
        [](websocket::request_type& req) { req.set(beast::http::field::authorization, "Bearer bench"); }));
    auto [ec] = co_await ws.async_handshake("127.0.0.1", "/api/v1/events", use_tuple);
    if (ec) {
        std::fprintf(stderr, "handshake: %s\n", ec.message().c_str());
        std::exit(1);
    }
    ++out.connected;
    std::vector<std::int64_t> mine;
    mine.reserve(static_cast<std::size_t>(events));
    beast::flat_buffer buf;
    while (static_cast<int>(mine.size()) < events) {
        auto [rec, n] = co_await ws.async_read(buf, use_tuple);
        const auto t = now_ns();
        if (rec)
            break;
        std::string_view s(static_cast<const char*>(buf.data().data()), buf.size());
        auto at = s.find("\"reason\":\"");
        if (at != std::string_view::npos)
            mine.push_back(t - std::strtoll(s.data() + at + 10, nullptr, 10));
        buf.consume(buf.size());
    }
    {
        std::lock_guard l(out.m);
        out.ns.insert(out.ns.end(), mine.begin(), mine.end());
    }
    ++out.done;
}

} // namespace

int main(int argc, char** argv)
{
    const int clients = argc > 1 ? std::atoi(argv[1]) : 100;
    const int rate = argc > 2 ? std::atoi(argv[2]) : 1000;
    const int events = argc > 3 ? std::atoi(argv[3]) : 5000;
    asio::io_context server_ioc(1), client_ioc(1);
    event_bus bus(10000);
    testing::no_backend backend; // only the event stream is used
    api::context ctx;
    ctx.bus = &bus;
    ctx.token = "bench";
    ctx.svc = &backend;
    api::http_server server(server_ioc.get_executor(), tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0), ctx);
    asio::co_spawn(server_ioc, server.run(), asio::detached);
    const auto port = server.local_endpoint().port();
    samples out;
    for (int i = 0; i < clients; ++i)
        asio::co_spawn(client_ioc, client(port, events, out), asio::detached);
    std::thread client_thread([&] { client_ioc.run(); });
    asio::co_spawn(server_ioc, [&]() -> asio::awaitable<void> {
        asio::steady_timer t(server_ioc);
        while (bus.subscribers() < static_cast<std::size_t>(clients)) {
            t.expires_after(std::chrono::milliseconds(5));
            co_await t.async_wait(use_tuple);
        }
        const auto period = std::chrono::nanoseconds(1'000'000'000 / rate);
        auto next = std::chrono::steady_clock::now();
        for (int i = 0; i < events; ++i) {
            next += period;
            t.expires_at(next);
            co_await t.async_wait(use_tuple);
            bus.publish(event_type::vm_state, "bench", vm_state_change{"running", "starting", std::to_string(now_ns())},
                        std::chrono::system_clock::now());
        }
        while (out.done < clients) {
            t.expires_after(std::chrono::milliseconds(10));
            co_await t.async_wait(use_tuple);
        }
        server_ioc.stop();
    }, asio::detached);
    server_ioc.run();
    client_ioc.stop();
    client_thread.join();
    auto& v = out.ns;
    std::sort(v.begin(), v.end());
    auto pct = [&](double p) { return v.empty() ? 0.0 : v[std::min(v.size() - 1, static_cast<std::size_t>(p * v.size()))] / 1e6; };
    std::printf("Events: %d WebSocket clients, %d events at %d/s, %zu deliveries (publication -> a client has the frame)\n",
                clients, events, rate, v.size());
    std::printf("  latency p50 %.3f ms, p99 %.3f ms, max %.3f ms  (goal p99 <= 5 ms: %.2fx of the budget)\n", pct(0.5),
                pct(0.99), v.empty() ? 0.0 : v.back() / 1e6, pct(0.99) / 5.0);
    return v.size() == static_cast<std::size_t>(clients) * static_cast<std::size_t>(events) ? 0 : 1;
}
