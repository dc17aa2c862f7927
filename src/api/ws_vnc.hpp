// SPDX-License-Identifier: MIT
// DRIVER: a VM's graphical console (GET /api/v1/vms/{name}/vnc) over a WebSocket: the bytes of
// QEMU's VNC server (a unix socket in the VM's folder, never a TCP port) both ways, as binary
// frames, for noVNC in the dashboard. Each viewer has its own VNC connection (QEMU shares the
// display). What the VM sends is read on only while less than 1 MiB waits for the browser (the
// guest's screen cannot pile up in the daemon); a message from the browser is at most 64 KiB. Ends
// when either side closes, the VM stops, or the daemon shuts down.
#pragma once

#include <memory>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include "api/conn_stream.hpp"
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "api/ws_client.hpp"
#include "base/error.hpp"

namespace paddock::api {

class http_metrics;

// Connects to the VNC socket at `path` within `timeout`: unavailable with the reason when it cannot.
boost::asio::awaitable<result<boost::asio::local::stream_protocol::socket>> connect_vnc(std::string path,
                                                                                         std::chrono::milliseconds timeout);

boost::asio::awaitable<void> serve_vnc(conn_stream stream,
                                       boost::beast::http::request<boost::beast::http::string_body> req,
                                       boost::asio::local::stream_protocol::socket vnc, ws_limits limits,
                                       std::shared_ptr<session_registry> registry, http_metrics* metrics);

} // namespace paddock::api
