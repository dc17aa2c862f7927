// SPDX-License-Identifier: MIT
// DRIVER: the VNC bridge.
#include "api/ws_vnc.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include "api/http_metrics.hpp"

namespace paddock::api {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using unix_socket = asio::local::stream_protocol::socket;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

namespace {

constexpr std::size_t behind_limit = 1 << 20; // read from QEMU only while less waits for the browser
constexpr std::size_t chunk = 64 << 10;

// Browser -> VM: each message as it comes (the one writer of the VNC socket).
asio::awaitable<void> to_vm(std::shared_ptr<ws_client> c, std::shared_ptr<unix_socket> vnc)
{
    beast::flat_buffer buf;
    for (;;) {
        auto [ec, n] = co_await c->ws.async_read(buf, use_tuple);
        if (ec)
            break;
        auto [wec, wn] = co_await asio::async_write(*vnc, buf.data(), use_tuple);
        if (wec) {
            c->end(websocket::close_code::normal, "the VM's display closed");
            break;
        }
        buf.consume(buf.size());
    }
    c->gone();
    boost::system::error_code ignored;
    vnc->close(ignored);
}

// VM -> browser: what QEMU sends, in chunks, while the browser keeps up.
asio::awaitable<void> to_browser(std::shared_ptr<ws_client> c, std::shared_ptr<unix_socket> vnc)
{
    for (;;) {
        co_await c->room(behind_limit);
        if (c->ended())
            break;
        auto data = std::make_shared<std::string>(chunk, '\0');
        auto [ec, n] = co_await vnc->async_read_some(asio::buffer(*data), use_tuple);
        if (ec) {
            c->end(websocket::close_code::normal, ec == asio::error::operation_aborted ? "closed" : "the VM's display closed");
            break;
        }
        data->resize(n);
        c->push(std::move(data));
    }
    boost::system::error_code ignored;
    vnc->close(ignored);
}

} // namespace

asio::awaitable<result<unix_socket>> connect_vnc(std::string path, std::chrono::milliseconds timeout)
{
    using namespace asio::experimental::awaitable_operators;
    auto ex = co_await asio::this_coro::executor;
    unix_socket s(ex);
    asio::steady_timer t(ex);
    t.expires_after(timeout);
    auto r = co_await (s.async_connect(asio::local::stream_protocol::endpoint(path), use_tuple) || t.async_wait(use_tuple));
    if (r.index() == 1)
        co_return fail(errc::timeout, "the VM's display did not answer within " + std::to_string(timeout.count()) + " ms");
    if (auto [ec] = std::get<0>(r); ec)
        co_return fail(errc::invalid_state, "the VM's display is not reachable: " + ec.message());
    co_return s;
}

asio::awaitable<void> serve_vnc(conn_stream stream, http::request<http::string_body> req, unix_socket vnc,
                                ws_limits limits, std::shared_ptr<session_registry> registry, http_metrics* metrics)
{
    limits.max_frames = 1 << 16;
    limits.max_bytes = 2 * behind_limit + chunk; // never reached: the reader waits for room first
    limits.max_message = 64 << 10;
    auto c = std::make_shared<ws_client>(std::move(stream), limits, true);
    registered reg(registry, c);
    if (!co_await c->accept(req, "binary"))
        co_return;
    if (metrics)
        ++metrics->ws_vnc_open;
    auto v = std::make_shared<unix_socket>(std::move(vnc));
    asio::co_spawn(c->ws.get_executor(), to_vm(c, v), asio::detached);
    asio::co_spawn(c->ws.get_executor(), to_browser(c, v), asio::detached);
    bool behind = co_await c->write_loop();
    boost::system::error_code ignored;
    v->close(ignored);
    if (behind && metrics)
        ++metrics->ws_dropped;
    if (metrics)
        --metrics->ws_vnc_open;
}

} // namespace paddock::api
