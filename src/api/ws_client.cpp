// SPDX-License-Identifier: MIT
// DRIVER: one WebSocket client's queue and writer.
#include "api/ws_client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

namespace paddock::api {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

ws_client::ws_client(conn_stream s, ws_limits l, bool binary)
    : ws(std::move(s)), limits_(l), queue_(ws.get_executor()), kill_(ws.get_executor()), room_(ws.get_executor())
{
    beast::get_lowest_layer(ws).expires_never(); // the WebSocket's own timeouts take over
    ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    ws.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(http::field::server, "paddockd"); }));
    ws.read_message_max(limits_.max_message);
    ws.binary(binary);
}

asio::awaitable<bool> ws_client::accept(const http::request<http::string_body>& req, std::string subprotocol)
{
    if (!subprotocol.empty()) {
        // Sec-WebSocket-Protocol is a comma-separated list; echo ours only when offered.
        const std::string offered(req[http::field::sec_websocket_protocol]);
        bool found = false;
        for (std::size_t at = 0; at <= offered.size();) {
            auto comma = offered.find(',', at);
            std::string item = offered.substr(at, comma == std::string::npos ? std::string::npos : comma - at);
            item.erase(0, item.find_first_not_of(" \t"));
            item.erase(item.find_last_not_of(" \t") + 1);
            found = found || item == subprotocol;
            if (comma == std::string::npos)
                break;
            at = comma + 1;
        }
        if (found)
            ws.set_option(websocket::stream_base::decorator([subprotocol](websocket::response_type& res) {
                res.set(http::field::server, "paddockd");
                res.set(http::field::sec_websocket_protocol, subprotocol);
            }));
    }
    auto [ec] = co_await ws.async_accept(req, use_tuple);
    co_return !ec;
}

asio::awaitable<void> ws_client::room(std::size_t bytes)
{
    while (!ended() && queue_.bytes() > bytes) {
        room_.expires_at(asio::steady_timer::time_point::max());
        co_await room_.async_wait(use_tuple);
    }
}

void ws_client::push(frame f)
{
    if (behind_ || gone_ || ending_)
        return;
    if (queue_.size() + 1 > limits_.max_frames || queue_.bytes() + f->size() > limits_.max_bytes) {
        fall_behind();
        return;
    }
    const std::size_t n = f->size();
    queue_.push(std::move(f), n);
}

void ws_client::end(websocket::close_code code, std::string why)
{
    if (ending_ || behind_ || gone_)
        return;
    ending_ = true;
    room_.cancel();
    why_ = websocket::close_reason(code, why.substr(0, 120)); // a close frame's payload is at most 125 bytes
    queue_.finish();
}

void ws_client::gone()
{
    gone_ = true;
    room_.cancel();
    queue_.abort();
}

void ws_client::fall_behind()
{
    behind_ = true;
    room_.cancel();
    queue_.abort();
    why_ = websocket::close_reason(websocket::close_code::policy_error,
                                   "too slow: more than " + std::to_string(limits_.max_frames) + " frames or " +
                                       std::to_string(limits_.max_bytes) + " bytes queued");
}

asio::awaitable<bool> ws_client::write_loop()
{
    while (auto f = co_await queue_.next()) {
        auto [wec, wn] = co_await ws.async_write(asio::buffer(**f), use_tuple);
        room_.cancel();
        if (wec) {
            gone_ = true;
            break;
        }
    }
    room_.cancel();
    if (!gone_ && (behind_ || ending_)) {
        // The close frame may not get through a full buffer: end the connection after a grace anyway.
        kill_.expires_after(limits_.close_grace);
        kill_.async_wait([this](boost::system::error_code ec) {
            if (!ec) {
                beast::error_code ignored;
                beast::get_lowest_layer(ws).socket().close(ignored);
            }
        });
        co_await ws.async_close(why_, use_tuple);
        kill_.cancel();
    }
    beast::error_code ignored;
    beast::get_lowest_layer(ws).socket().close(ignored);
    co_return behind_;
}

} // namespace paddock::api
