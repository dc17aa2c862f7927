// SPDX-License-Identifier: MIT
// DRIVER: the event stream over a WebSocket.
#include "api/ws_events.hpp"

#include <deque>
#include <memory>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include "base/log.hpp"
#include "base/time.hpp"

namespace paddock::api {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

namespace {

using frame = std::shared_ptr<const std::string>;

// What the subscriber, the writer and the reader of one client share.
struct client {
    websocket::stream<beast::tcp_stream> ws;
    std::deque<frame> queue;
    std::size_t bytes = 0;
    ws_limits limits;
    bool behind = false; // fell behind: close it
    bool gone = false;   // the reader saw the end
    asio::steady_timer wake;
    asio::steady_timer kill;

    client(beast::tcp_stream s, ws_limits l)
        : ws(std::move(s)), limits(l), wake(ws.get_executor(), asio::steady_timer::time_point::max()),
          kill(ws.get_executor())
    {
    }

    void push(frame f)
    {
        if (behind || gone)
            return;
        if (queue.size() + 1 > limits.max_frames || bytes + f->size() > limits.max_bytes) {
            fall_behind();
            return;
        }
        bytes += f->size();
        queue.push_back(std::move(f));
        wake.cancel();
    }

    void fall_behind()
    {
        behind = true;
        queue.clear();
        bytes = 0;
        wake.cancel();
        // The close frame may not get through a full buffer: end the connection after a grace anyway.
        kill.expires_after(limits.close_grace);
        kill.async_wait([this](boost::system::error_code ec) {
            if (!ec) {
                beast::error_code ignored;
                beast::get_lowest_layer(ws).socket().close(ignored);
            }
        });
    }
};

asio::awaitable<void> read_and_drop(std::shared_ptr<client> c)
{
    beast::flat_buffer buf;
    for (;;) {
        auto [ec, n] = co_await c->ws.async_read(buf, use_tuple);
        if (ec)
            break;
        buf.consume(buf.size());
    }
    c->gone = true;
    c->wake.cancel();
}

} // namespace

asio::awaitable<void> serve_events(beast::tcp_stream stream, http::request<http::string_body> req, event_bus& bus,
                                   events_query q, ws_limits limits, std::set<beast::tcp_stream*>& registry)
{
    auto c = std::make_shared<client>(std::move(stream), limits);
    registry.insert(&c->ws.next_layer());
    beast::get_lowest_layer(c->ws).expires_never(); // the WebSocket's own timeouts take over
    c->ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    c->ws.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(http::field::server, "paddockd"); }));
    c->ws.read_message_max(4096);
    c->ws.text(true);
    auto [aec] = co_await c->ws.async_accept(req, use_tuple);
    if (aec) {
        registry.erase(&c->ws.next_layer());
        co_return;
    }
    // One turn of the loop, no suspension: replay queued, then subscribed.
    auto p = plan(q, bus.retained(), bus.last_seq());
    if (p.resync) {
        auto oldest = bus.first_retained() ? bus.first_retained() : bus.last_seq() + 1;
        c->push(std::make_shared<const std::string>(
            resync_frame(bus.last_seq(), oldest, iso8601_ms(std::chrono::system_clock::now()),
                         "events after your `since` are no longer retained (or come from another run of the daemon): "
                         "fetch the state again, then continue from this seq")));
    }
    for (const event* e : p.replay)
        c->push(wire(*e));
    std::weak_ptr<client> weak = c;
    auto token = bus.subscribe([weak, q](const event& e) {
        if (auto cl = weak.lock(); cl && wanted(q, e.type))
            cl->push(wire(e));
    });
    asio::co_spawn(c->ws.get_executor(), read_and_drop(c), [](std::exception_ptr) {});
    // The one writer.
    while (!c->gone && !c->behind) {
        if (c->queue.empty()) {
            c->wake.expires_at(asio::steady_timer::time_point::max());
            co_await c->wake.async_wait(use_tuple);
            continue;
        }
        frame f = c->queue.front();
        auto [wec, wn] = co_await c->ws.async_write(asio::buffer(*f), use_tuple);
        if (wec)
            break;
        if (!c->queue.empty() && c->queue.front() == f) {
            c->bytes -= f->size();
            c->queue.pop_front();
        }
    }
    bus.unsubscribe(token);
    if (c->behind) {
        log::info("events", "closing a client that fell behind");
        websocket::close_reason why(websocket::close_code::policy_error,
                                    "too slow: more than " + std::to_string(limits.max_frames) + " events queued");
        co_await c->ws.async_close(why, use_tuple);
    }
    c->kill.cancel();
    beast::error_code ignored;
    beast::get_lowest_layer(c->ws).socket().close(ignored);
    registry.erase(&c->ws.next_layer());
}

} // namespace paddock::api
