// SPDX-License-Identifier: MIT
// DRIVER: the event stream over a WebSocket.
#include "api/ws_events.hpp"

#include <memory>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include "api/event_json.hpp"
#include "api/http_metrics.hpp"
#include "base/log.hpp"
#include "base/time.hpp"

namespace paddock::api {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

namespace {
asio::awaitable<void> read_and_drop(std::shared_ptr<ws_client> c)
{
    beast::flat_buffer buf;
    for (;;) {
        auto [ec, n] = co_await c->ws.async_read(buf, use_tuple);
        if (ec)
            break;
        buf.consume(buf.size());
    }
    c->gone();
}
} // namespace

asio::awaitable<void> serve_events(conn_stream stream, http::request<http::string_body> req, event_bus& bus,
                                   events_query q, ws_limits limits, std::shared_ptr<session_registry> registry,
                                   http_metrics* metrics)
{
    auto c = std::make_shared<ws_client>(std::move(stream), limits, false);
    registered reg(registry, c);
    if (!co_await c->accept(req))
        co_return;
    if (metrics)
        ++metrics->ws_events_open;
    // One turn of the loop, no suspension: replay queued, then subscribed. The replay takes at
    // most half of the client's queue (frames and bytes): the rest is room for live events.
    auto p = plan(q, bus.retained(), bus.last_seq(), limits.max_frames / 2);
    std::size_t bytes = 0, first = p.replay.size();
    for (; first > 0; --first) {
        const std::size_t next = wire(*p.replay[first - 1])->size();
        if (bytes + next > limits.max_bytes / 2)
            break;
        bytes += next;
    }
    if (first > 0) {
        p.resync = p.cut = true;
        p.replay.erase(p.replay.begin(), p.replay.begin() + static_cast<std::ptrdiff_t>(first));
    }
    if (p.resync) {
        auto oldest = !p.replay.empty() ? p.replay.front()->seq
                                        : (bus.first_retained() ? bus.first_retained() : bus.last_seq() + 1);
        c->push(std::make_shared<const std::string>(resync_frame(
            bus.last_seq(), oldest, iso8601_ms(std::chrono::system_clock::now()),
            p.cut ? "more events came after your `since` than one replay carries: fetch the state again; the newest "
                    "follow as history, then live events"
                  : "events after your `since` are no longer retained (or come from another run of the daemon): "
                    "fetch the state again, then continue from this seq")));
    }
    for (const event* e : p.replay)
        c->push(wire(*e));
    std::weak_ptr<ws_client> weak = c;
    auto gate = std::make_shared<stats_gate>(q.stats_every_s);
    auto token = bus.subscribe([weak, q, gate](const event& e) {
        auto cl = weak.lock();
        if (!cl || !wanted(q, e.type, e.vm))
            return;
        if (auto* p = std::get_if<stats_point>(&e.data); p && !gate->pass(e.vm, p->t_ms))
            return;
        cl->push(wire(e));
    });
    asio::co_spawn(c->ws.get_executor(), read_and_drop(c), asio::detached);
    bool behind = co_await c->write_loop();
    bus.unsubscribe(token);
    if (behind) {
        log::info("events", "closed a client that fell behind");
        if (metrics)
            ++metrics->ws_dropped;
    }
    if (metrics)
        --metrics->ws_events_open;
}

} // namespace paddock::api
