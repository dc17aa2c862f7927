// SPDX-License-Identifier: MIT
// DRIVER: the `paddock` command's connection to the daemon: HTTP or HTTPS (the system's CAs, a
// given CA, or a pinned SHA-256 fingerprint for a self-signed daemon), requests with a timeout,
// an image upload streamed from a file, and WebSockets (console, events) on the same stream type
// the daemon serves them with.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/beast/websocket/stream.hpp>

#include "api/conn_stream.hpp"
#include "base/error.hpp"
#include "cli/commands.hpp"
#include "conf/config.hpp"

namespace paddock::cli {

struct client_settings {
    api_url url;
    std::string token;       // empty: no Authorization header
    std::string fingerprint; // "AB:CD:..." to pin; empty: verify the chain and the host name
    std::string cacert;      // PEM file of CAs to trust instead of the system's
    std::chrono::seconds timeout{30};
};

struct reply {
    int status = 0;
    std::string body;
};

// How to reach the daemon that `cfg` configures, from this host: its listen address (loopback for
// a wildcard), https with the certificate's fingerprint pinned (read from its file) when TLS is
// on, and the token from state_dir/api-token (empty when unreadable or auth is "none").
client_settings local_settings(const conf::config& cfg);

class client {
public:
    explicit client(client_settings s);

    // One request on a connection of its own. Failures (errc::timeout, errc::tls, ...) say what
    // happened in words: connection refused, the fingerprint that was served, ...
    boost::asio::awaitable<result<reply>> request(boost::beast::http::verb method, std::string target,
                                                  std::string body = {},
                                                  std::chrono::seconds timeout = std::chrono::seconds(0));
    // PUT of a file's bytes (Content-Length), read and sent a MiB at a time; `progress(sent,
    // total)` after each.
    boost::asio::awaitable<result<reply>> upload(std::string target, std::string path,
                                                 std::function<void(std::uint64_t, std::uint64_t)> progress);
    using websocket = boost::beast::websocket::stream<api::conn_stream>;
    // A WebSocket on `target`, upgraded; refusals carry the API's message.
    boost::asio::awaitable<result<std::unique_ptr<websocket>>> open_websocket(std::string target);

    const client_settings& settings() const { return s_; }

private:
    boost::asio::awaitable<result<api::conn_stream>> connect();

    client_settings s_;
    std::shared_ptr<boost::asio::ssl::context> tls_;
    std::shared_ptr<std::string> seen_; // the fingerprint the server showed (for the message)
};

} // namespace paddock::cli
