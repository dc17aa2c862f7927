// SPDX-License-Identifier: MIT
// DRIVER: Beast HTTP/1.1 listener and sessions on the daemon's io_context, feeding api::handle;
// plain HTTP, or HTTPS/WSS on the same sessions (conn_stream) once use_tls() is given a context.
// Limits: request header 16 KiB, body 1 MiB (413 beyond), 10 s to receive a whole request
// and 10 s to send a response (slow or idle clients are dropped: no slowloris), and at most
// 512 open connections, 192 from one address (more are closed at once).
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include "api/api.hpp"

namespace paddock::api {

struct http_limits {
    std::size_t header_bytes = 16 * 1024;
    std::size_t body_bytes = 1024 * 1024;
    std::chrono::milliseconds read_timeout{10000};
    std::chrono::milliseconds write_timeout{10000};
    std::size_t max_connections = 512;
    std::size_t max_per_client = 192; // open connections (HTTP and WebSocket) from one address
    // Event stream clients: the queue a client may fall behind by before it is closed.
    std::size_t ws_max_frames = 8192;
    std::size_t ws_max_bytes = 8 << 20;
    std::chrono::milliseconds ws_close_grace{2000};
};

class http_server {
public:
    // Binds and listens at once so start-up fails early (e.g. address in use).
    http_server(boost::asio::any_io_executor ex, const boost::asio::ip::tcp::endpoint& ep, const context& ctx,
                http_limits limits = {});
    boost::asio::ip::tcp::endpoint local_endpoint() const;
    // Serves HTTPS and WSS from now on, with `ctx` (null: plain HTTP). Connections already open
    // keep the context they began with: a certificate reload drops none of them.
    void use_tls(std::shared_ptr<boost::asio::ssl::context> ctx);
    bool tls() const;
    // Accepts until cancelled or stopped; open sessions are closed then too.
    boost::asio::awaitable<void> run();
    // Shutdown: stops accepting; idle connections end now, WebSocket clients get 1001 (going
    // away), a request being answered gets its reply (Connection: close) and then its connection ends.
    void stop();
    // Completes once every connection has ended, or after `limit`.
    boost::asio::awaitable<void> closed(std::chrono::milliseconds limit);

    struct state; // shared with the sessions, which may outlive run()

private:
    std::shared_ptr<state> st_;
};

} // namespace paddock::api
