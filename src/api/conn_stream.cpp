// SPDX-License-Identifier: MIT
// DRIVER: plain or TLS API connections.
#include "api/conn_stream.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace paddock::api {
namespace asio = boost::asio;

asio::awaitable<bool> conn_stream::handshake(std::chrono::milliseconds limit)
{
    if (!tls_)
        co_return true;
    tcp().expires_after(limit);
    auto [ec] = co_await tls_->async_handshake(asio::ssl::stream_base::server, asio::as_tuple(asio::use_awaitable));
    co_return !ec;
}

void conn_stream::shutdown_send()
{
    boost::system::error_code ignored;
    tcp().socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
}

} // namespace paddock::api
