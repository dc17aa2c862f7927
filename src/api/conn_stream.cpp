// SPDX-License-Identifier: MIT
// DRIVER: plain or TLS API connections.
#include "api/conn_stream.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace paddock::api {
namespace asio = boost::asio;

asio::awaitable<boost::beast::error_code> conn_stream::handshake(std::chrono::milliseconds limit, bool client,
                                                                 std::string server_name)
{
    if (!tls_)
        co_return boost::beast::error_code{};
    if (!server_name.empty())
        SSL_set_tlsext_host_name(tls_->native_handle(), server_name.c_str());
    tcp().expires_after(limit);
    auto [ec] = co_await tls_->async_handshake(client ? asio::ssl::stream_base::client : asio::ssl::stream_base::server,
                                               asio::as_tuple(asio::use_awaitable));
    tcp().expires_never();
    co_return ec;
}

void conn_stream::shutdown_send()
{
    boost::system::error_code ignored;
    tcp().socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
}

} // namespace paddock::api
