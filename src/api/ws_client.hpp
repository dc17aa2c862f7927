// SPDX-License-Identifier: MIT
// DRIVER: what every WebSocket client of the daemon has (event stream, console): a bounded queue
// of shared frames and one writer. A client whose queue would pass max_frames or max_bytes has
// fallen behind: its queue is dropped and it is closed with a close reason, by force after
// close_grace if it cannot even take the close frame. The server side can also end a client with
// a reason (the VM stopped). Beast's suggested server timeouts give pings and an idle timeout.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include "api/conn_stream.hpp"
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/websocket/stream.hpp>

#include "base/send_queue.hpp"

namespace paddock::api {

// The HTTP server's open connections, each with how it ends when the daemon shuts down.
class session_registry {
public:
    void insert(const void* s, std::function<void()> on_close) { open_[s] = std::move(on_close); }
    void erase(const void* s) { open_.erase(s); }
    std::size_t size() const { return open_.size(); }
    bool closing() const { return closing_; }
    // Shutdown: every connection is told to end (idle ones at once, busy ones after their reply).
    void close_all()
    {
        closing_ = true;
        auto now = open_; // a closer may end its connection at once
        for (auto& [s, f] : now)
            if (f)
                f();
    }

private:
    std::map<const void*, std::function<void()>> open_;
    bool closing_ = false;
};

struct ws_limits {
    std::size_t max_frames = 8192;
    std::size_t max_bytes = 8 << 20;
    // How long a client that fell behind gets to take the close frame before the connection ends.
    std::chrono::milliseconds close_grace{2000};
    std::size_t max_message = 4096; // largest message a client may send
};

class ws_client {
public:
    using frame = std::shared_ptr<const std::string>;

    ws_client(conn_stream s, ws_limits l, bool binary);

    // Completes the upgrade; false when the client went away. `subprotocol`: answered when the
    // client offers it (noVNC offers "binary").
    boost::asio::awaitable<bool> accept(const boost::beast::http::request<boost::beast::http::string_body>& req,
                                        std::string subprotocol = {});

    // Queues a frame (dropped once the client has ended).
    void push(frame f);
    // Ends the client: the writer sends what is queued, then closes with `code` and `why`.
    void end(boost::beast::websocket::close_code code, std::string why);
    // The reader saw the connection end.
    void gone();

    // Waits until at most `bytes` are queued, or the client has ended (a producer that can wait,
    // like the VNC bridge, reads on only then instead of piling frames up).
    boost::asio::awaitable<void> room(std::size_t bytes);
    bool ended() const { return behind_ || gone_ || ending_; }

    // The one writer: runs until the client is gone, fell behind, or was ended (then closes).
    // Returns true when it closed the client for falling behind.
    boost::asio::awaitable<bool> write_loop();

    boost::beast::websocket::stream<conn_stream> ws;

private:
    void fall_behind();

    ws_limits limits_;
    send_queue<frame> queue_; // written by write_loop() alone
    bool behind_ = false, gone_ = false, ending_ = false;
    boost::beast::websocket::close_reason why_;
    boost::asio::steady_timer kill_;
    boost::asio::steady_timer room_; // woken by the writer after each frame
};

// Keeps a WebSocket client in the HTTP server's registry for its lifetime; at shutdown the client
// is ended with 1001 (going away).
class registered {
public:
    registered(std::shared_ptr<session_registry> reg, const std::shared_ptr<ws_client>& c)
        : reg_(std::move(reg)), s_(&c->ws.next_layer())
    {
        std::weak_ptr<ws_client> weak = c;
        reg_->insert(s_, [weak] {
            if (auto cl = weak.lock())
                cl->end(boost::beast::websocket::close_code::going_away, "the daemon is shutting down");
        });
    }
    ~registered() { reg_->erase(s_); }
    registered(const registered&) = delete;
    registered& operator=(const registered&) = delete;

private:
    std::shared_ptr<session_registry> reg_;
    const void* s_;
};

} // namespace paddock::api
