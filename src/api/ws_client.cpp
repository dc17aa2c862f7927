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

ws_client::ws_client(beast::tcp_stream s, ws_limits l, bool binary)
    : ws(std::move(s)), limits_(l), wake_(ws.get_executor(), asio::steady_timer::time_point::max()),
      kill_(ws.get_executor())
{
    beast::get_lowest_layer(ws).expires_never(); // the WebSocket's own timeouts take over
    ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    ws.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(http::field::server, "paddockd"); }));
    ws.read_message_max(limits_.max_message);
    ws.binary(binary);
}

asio::awaitable<bool> ws_client::accept(const http::request<http::string_body>& req)
{
    auto [ec] = co_await ws.async_accept(req, use_tuple);
    co_return !ec;
}

void ws_client::push(frame f)
{
    if (behind_ || gone_ || ending_)
        return;
    if (queue_.size() + 1 > limits_.max_frames || bytes_ + f->size() > limits_.max_bytes) {
        fall_behind();
        return;
    }
    bytes_ += f->size();
    queue_.push_back(std::move(f));
    wake_.cancel();
}

void ws_client::end(websocket::close_code code, std::string why)
{
    if (ending_ || behind_ || gone_)
        return;
    ending_ = true;
    why_ = websocket::close_reason(code, why.substr(0, 120)); // a close frame's payload is at most 125 bytes
    wake_.cancel();
}

void ws_client::gone()
{
    gone_ = true;
    wake_.cancel();
}

void ws_client::fall_behind()
{
    behind_ = true;
    queue_.clear();
    bytes_ = 0;
    wake_.cancel();
    why_ = websocket::close_reason(websocket::close_code::policy_error,
                                   "too slow: more than " + std::to_string(limits_.max_frames) + " frames or " +
                                       std::to_string(limits_.max_bytes) + " bytes queued");
}

asio::awaitable<bool> ws_client::write_loop()
{
    while (!gone_ && !behind_) {
        if (queue_.empty()) {
            if (ending_)
                break;
            wake_.expires_at(asio::steady_timer::time_point::max());
            co_await wake_.async_wait(use_tuple);
            continue;
        }
        frame f = queue_.front();
        auto [wec, wn] = co_await ws.async_write(asio::buffer(*f), use_tuple);
        if (wec) {
            gone_ = true;
            break;
        }
        if (!queue_.empty() && queue_.front() == f) {
            bytes_ -= f->size();
            queue_.pop_front();
        }
    }
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
