// SPDX-License-Identifier: MIT
// DRIVER: a QMP client on the daemon's io_context, one unix socket per QEMU.
// Session: connect (retrying until the socket appears) → read the greeting → qmp_capabilities,
// all before the reader runs; then run() routes replies to execute() callers by id and events to
// on_event. One writer per socket (a queue drained by one coroutine). Every execute() has a
// timeout; a disconnect fails every pending call with "disconnected". An error reply without an
// id ends the session (qmp-spec: the server could not parse what we sent).
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "base/error.hpp"
#include "base/send_queue.hpp"
#include "qmp/protocol.hpp"

namespace paddock::qmp {

class client : public std::enable_shared_from_this<client> {
public:
    using event_handler = std::function<void(const std::string& event, const boost::json::object& data)>;

    explicit client(boost::asio::any_io_executor ex);
    ~client();

    // Connects and negotiates within `timeout` (the socket may take a while to appear).
    boost::asio::awaitable<status> connect(std::string path, std::chrono::milliseconds timeout);
    // The guest agent's channel (qemu-guest-agent speaks QMP's framing without the greeting and
    // the capabilities step): connects, and sends the 0xFF byte that makes the agent drop
    // whatever an earlier client left half-sent. Replies may carry the 0xFF sentinel of
    // guest-sync-delimited in front; a reply without an id is dropped, not fatal (stale answers
    // to an earlier client). Call guest-sync-delimited before trusting the channel.
    boost::asio::awaitable<status> connect_agent(std::string path, std::chrono::milliseconds timeout);
    // Reads until the peer goes away or close() is called; then fails every pending execute().
    boost::asio::awaitable<void> run();
    // Sends a command and waits for its reply. Failures: "qmp_timeout", "qmp_disconnected",
    // "qmp_error" (the message carries QEMU's error class and description).
    boost::asio::awaitable<result<boost::json::value>> execute(std::string cmd, boost::json::object args = {},
                                                               std::chrono::milliseconds timeout = std::chrono::seconds(5));
    void close();
    bool connected() const { return connected_; }
    void on_event(event_handler h) { on_event_ = std::move(h); }

private:
    struct pending;
    boost::asio::awaitable<status> read_line(std::string& out, std::chrono::milliseconds timeout);
    boost::asio::awaitable<void> writer();
    void fail_all(const std::string& why);

    boost::asio::any_io_executor ex_;
    boost::asio::local::stream_protocol::socket sock_;
    send_queue<std::string> outq_; // commands, written by writer() alone
    std::map<std::string, std::shared_ptr<pending>> pending_;
    std::uint64_t next_id_ = 1;
    bool connected_ = false;
    bool agent_ = false;
    line_splitter lines_;
    event_handler on_event_;
};

} // namespace paddock::qmp
