// SPDX-License-Identifier: MIT
// DRIVER: one viewer of a VM's serial console (GET /api/v1/vms/{name}/console) over a WebSocket.
// It joins the VM's console hub: the recent output comes first, then every chunk the guest prints,
// as binary frames; each message the client sends (binary or text, up to 64 KiB) is typed into the
// guest. When the hub ends (the VM stopped, the daemon shuts down) the viewer is closed with the
// reason. A viewer that cannot keep up with the output (4 MiB queued) is closed as too slow.
#pragma once

#include <memory>
#include <set>

#include <boost/asio/awaitable.hpp>
#include "api/conn_stream.hpp"
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "api/ws_client.hpp"

namespace paddock::vm { class console_hub; }

namespace paddock::api {

class http_metrics;

boost::asio::awaitable<void> serve_console(conn_stream stream,
                                           boost::beast::http::request<boost::beast::http::string_body> req,
                                           std::shared_ptr<vm::console_hub> hub, ws_limits limits,
                                           std::shared_ptr<session_registry> registry, http_metrics* metrics);

} // namespace paddock::api
