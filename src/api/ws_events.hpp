// SPDX-License-Identifier: MIT
// DRIVER: one client of the event stream (SPEC section 5) over a WebSocket. In the same turn of
// the loop it subscribes to the bus and queues the replay plan (api/event_stream), so the replay
// runs into live events with no gap and no duplicate. Every event is serialized once (shared by
// all clients); each client has a bounded queue and one writer. A client that falls behind (queue
// over max_frames or max_bytes) is closed with a close reason, by force after 2 s if it cannot even
// take the close frame; it never slows the daemon or other clients. Beast's suggested server
// timeouts give pings and an idle timeout; incoming messages are read and dropped (4 KiB at most).
#pragma once

#include <chrono>
#include <cstddef>
#include <set>

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "api/event_stream.hpp"

namespace paddock::api {

struct ws_limits {
    std::size_t max_frames = 8192;
    std::size_t max_bytes = 8 << 20;
    // How long a client that fell behind gets to take the close frame before the connection ends.
    std::chrono::milliseconds close_grace{2000};
};

// Serves the stream until the client goes, falls behind, or the daemon stops. `registry` holds
// the open connections (the HTTP server cancels them at shutdown).
boost::asio::awaitable<void> serve_events(boost::beast::tcp_stream stream,
                                          boost::beast::http::request<boost::beast::http::string_body> req,
                                          event_bus& bus, events_query q, ws_limits limits,
                                          std::set<boost::beast::tcp_stream*>& registry);

} // namespace paddock::api
