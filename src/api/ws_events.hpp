// SPDX-License-Identifier: MIT
// DRIVER: one client of the event stream (SPEC section 5) over a WebSocket. In the same turn of
// the loop it subscribes to the bus and queues the replay plan (api/event_stream), so the replay
// runs into live events with no gap and no duplicate. Every event is serialized once (shared by
// all clients); the client's queue and writer are api/ws_client's. Incoming messages are read and
// dropped (4 KiB at most).
#pragma once

#include <set>

#include <boost/asio/awaitable.hpp>
#include "api/conn_stream.hpp"
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "api/event_stream.hpp"
#include "api/ws_client.hpp"

namespace paddock::api {

class http_metrics;

// Serves the stream until the client goes, falls behind, or the daemon stops. `registry` holds
// the open connections (the HTTP server cancels them at shutdown).
boost::asio::awaitable<void> serve_events(conn_stream stream,
                                          boost::beast::http::request<boost::beast::http::string_body> req,
                                          event_bus& bus, events_query q, ws_limits limits,
                                          std::shared_ptr<session_registry> registry, http_metrics* metrics);

} // namespace paddock::api
