// SPDX-License-Identifier: MIT
// DRIVER: one accepted API connection, plain TCP or TLS, as one stream type. The HTTP session,
// the WebSocket clients (events, console, VNC) and uploads are written once against it; which
// layer carries the bytes is decided per connection at accept. The TCP stream (its timeouts,
// cancellation) is the lowest layer in both cases, so Beast's timeouts work unchanged.
// A TLS connection keeps the TLS context it was accepted with: a certificate reload (SIGHUP)
// applies to new connections and leaves open ones as they are.
#pragma once

#include <array>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/buffers_prefix.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/role.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/websocket/teardown.hpp>

namespace paddock::api {

class conn_stream {
public:
    using executor_type = boost::asio::any_io_executor;
    using tls_stream = boost::beast::ssl_stream<boost::beast::tcp_stream>;

    explicit conn_stream(boost::beast::tcp_stream s) : plain_(std::move(s)) {}
    conn_stream(boost::beast::tcp_stream s, std::shared_ptr<boost::asio::ssl::context> ctx)
        : tls_(std::make_unique<tls_stream>(std::move(s), *ctx)), ctx_(std::move(ctx))
    {
    }

    bool is_tls() const { return tls_ != nullptr; }
    executor_type get_executor() { return tcp().get_executor(); }
    // The TCP stream under either layer (Beast's get_lowest_layer finds it through this).
    boost::beast::tcp_stream& next_layer() { return tls_ ? tls_->next_layer() : *plain_; }
    boost::beast::tcp_stream& tcp() { return next_layer(); }
    void expires_after(std::chrono::steady_clock::duration d) { tcp().expires_after(d); }
    void cancel() { tcp().cancel(); }

    // The TLS handshake within `limit` (the daemon's side, or with `client` the `paddock` command's,
    // naming `server_name` for SNI when it is a host name); plain connections have none. Fails when
    // the peer went away or spoke something else (plain HTTP to the TLS port, say), or its
    // certificate was refused.
    boost::asio::awaitable<boost::beast::error_code> handshake(std::chrono::milliseconds limit, bool client = false,
                                                               std::string server_name = {});
    // Ends the sending side (TLS: without waiting for the peer's close_notify).
    void shutdown_send();

    template <class Buffers, class Token>
    auto async_read_some(const Buffers& b, Token&& token)
    {
        return boost::asio::async_initiate<Token, void(boost::beast::error_code, std::size_t)>(
            [this](auto handler, const Buffers& bufs) {
                if (tls_)
                    tls_->async_read_some(bufs, std::move(handler));
                else
                    plain_->async_read_some(bufs, std::move(handler));
            },
            token, b);
    }

    template <class Buffers, class Token>
    auto async_write_some(const Buffers& b, Token&& token)
    {
        return boost::asio::async_initiate<Token, void(boost::beast::error_code, std::size_t)>(
            [this](auto handler, const Buffers& bufs) {
                if (tls_)
                    tls_->async_write_some(without_empty(bufs), std::move(handler));
                else
                    plain_->async_write_some(bufs, std::move(handler));
            },
            token, b);
    }

    // The WebSocket close: Beast tears the connection down through these (found by ADL).
    friend void teardown(boost::beast::role_type role, conn_stream& s, boost::beast::error_code& ec)
    {
        using boost::beast::websocket::teardown;
        if (s.tls_)
            teardown(role, *s.tls_, ec);
        else
            teardown(role, s.plain_->socket(), ec);
    }
    template <class Handler>
    friend void async_teardown(boost::beast::role_type role, conn_stream& s, Handler&& h)
    {
        using boost::beast::websocket::async_teardown;
        if (s.tls_)
            async_teardown(role, *s.tls_, std::forward<Handler>(h));
        else
            async_teardown(role, *s.plain_, std::forward<Handler>(h));
    }

private:
    // The first non-empty buffers of `b` (up to 8). Beast's TLS stream writes nothing, and reports
    // success, when a sequence starts with an empty buffer followed by a large one (its flattening
    // looks at the first buffer only), which is what asio::async_write hands on once a reply's
    // head is sent: the body was never written.
    template <class Buffers>
    static auto without_empty(const Buffers& b)
    {
        std::array<boost::asio::const_buffer, 8> parts{};
        std::size_t k = 0, bytes = 0;
        for (auto it = boost::asio::buffer_sequence_begin(b); it != boost::asio::buffer_sequence_end(b) && k < parts.size(); ++it) {
            boost::asio::const_buffer c(*it);
            if (c.size() == 0)
                continue;
            parts[k++] = c;
            bytes += c.size();
        }
        return boost::beast::buffers_prefix(bytes, parts);
    }

    std::optional<boost::beast::tcp_stream> plain_;
    std::unique_ptr<tls_stream> tls_;
    std::shared_ptr<boost::asio::ssl::context> ctx_;
};

} // namespace paddock::api
