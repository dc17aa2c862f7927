// SPDX-License-Identifier: MIT
// DRIVER: a console viewer over a WebSocket.
#include "api/ws_console.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include "api/http_metrics.hpp"
#include "base/log.hpp"
#include "vm/console_hub.hpp"

namespace paddock::api {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

namespace {

class viewer final : public vm::console_viewer {
public:
    explicit viewer(std::shared_ptr<ws_client> c) : c_(std::move(c)) {}
    void output(std::shared_ptr<const std::string> bytes) override { c_->push(std::move(bytes)); }
    void ended(vm::console_end why) override
    {
        c_->end(why == vm::console_end::daemon_stopping ? websocket::close_code::going_away : websocket::close_code::normal,
                vm::describe(why));
    }

private:
    std::shared_ptr<ws_client> c_;
};

asio::awaitable<void> type_into(std::shared_ptr<ws_client> c, std::shared_ptr<vm::console_hub> hub)
{
    beast::flat_buffer buf;
    for (;;) {
        auto [ec, n] = co_await c->ws.async_read(buf, use_tuple);
        if (ec)
            break;
        if (!hub->input(beast::buffers_to_string(buf.data()))) {
            if (!hub->ended())
                c->end(websocket::close_code::try_again_later, "input not taken: more than 64 KiB waits for the guest");
        }
        buf.consume(buf.size());
    }
    c->gone();
}

} // namespace

asio::awaitable<void> serve_console(conn_stream stream, http::request<http::string_body> req,
                                    std::shared_ptr<vm::console_hub> hub, ws_limits limits,
                                    std::shared_ptr<session_registry> registry, http_metrics* metrics)
{
    limits.max_frames = 1 << 16;
    limits.max_bytes = 4 << 20;
    limits.max_message = vm::console_hub::input_cap;
    auto c = std::make_shared<ws_client>(std::move(stream), limits, true);
    registered reg(registry, c);
    if (!co_await c->accept(req))
        co_return;
    if (metrics)
        ++metrics->ws_console_open;
    auto v = std::make_shared<viewer>(c);
    if (hub->ended())
        v->ended(vm::console_end::vm_stopped);
    else if (auto tail = hub->join(v); !tail.empty())
        c->push(std::make_shared<const std::string>(std::move(tail)));
    asio::co_spawn(c->ws.get_executor(), type_into(c, hub), asio::detached);
    bool behind = co_await c->write_loop();
    hub->leave(v.get());
    if (behind && metrics)
        ++metrics->ws_dropped;
    if (metrics)
        --metrics->ws_console_open;
}

} // namespace paddock::api
