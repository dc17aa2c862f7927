// SPDX-License-Identifier: MIT
// DRIVER: the DHCP server on the daemon's io_context. Its UDP socket (port 67) and a packet
// socket (for link-layer unicast to clients without an address) are created inside the fabric's
// namespace. Packets are drained in batches and decided by the engine; lease changes are written
// by one writer thread in group commits (synchronous=FULL), and an ACK leaves only once the
// transaction holding its lease has committed. OFFERs and NAKs carry no durable state and leave at
// once. Committed changes are announced on the event bus (lease.bound / lease.released /
// lease.expired).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "base/error.hpp"
#include "dhcp/engine.hpp"
#include "dhcp/lease_store.hpp"

namespace paddock { class event_bus; }

namespace paddock::dhcp {

class server {
public:
    server(boost::asio::any_io_executor ex, engine_config cfg, lease_store store, event_bus& bus);
    ~server();

    // Start-up: reads leases and reservations from the store into the engine (before run()).
    status load();
    // (Re)creates the sockets inside the namespace `ns_fd`; call again after the namespace was
    // recreated. The receive loop picks up the new socket by itself.
    status open(int ns_fd);
    // Receives and answers until cancelled; also runs lease expiry once a second.
    boost::asio::awaitable<void> run();

    // Live reservations; complete once durable.
    boost::asio::awaitable<status> reserve(reservation r);
    boost::asio::awaitable<bool> unreserve(std::string mac);
    // Removes the reservation and every lease of `mac` (a removed VM), durably.
    boost::asio::awaitable<void> forget(std::string mac);

    const engine& core() const { return engine_; }
    boost::json::object lease_json(const lease& l) const;
    boost::json::array leases_json() const;
    boost::json::array reservations_json() const;

    // Counters since start, for /metrics and the benchmark notes.
    struct counters {
        std::uint64_t received = 0, malformed = 0, replies = 0, commits = 0, committed_ops = 0, send_errors = 0;
    };
    const counters& stats() const { return stats_; }

    struct held;
    struct batch;
    struct waiter;

private:
    boost::asio::awaitable<void> receive_loop();
    boost::asio::awaitable<void> expiry_loop();
    void process(std::span<const std::uint8_t> pkt, int ifindex, bool to_broadcast, std::int64_t now);
    void send(const reply& r, int ifindex);
    void flush();
    // Queues `ops` for the next group commit and waits until they are durable.
    boost::asio::awaitable<status> durable(std::vector<store_op> ops);
    void committed(batch& b, const status& st);

    boost::asio::any_io_executor ex_;
    engine engine_;
    lease_store store_;
    event_bus& bus_;
    boost::asio::ip::udp::socket udp_;
    int raw_fd_ = -1;
    boost::asio::steady_timer reopened_;
    std::unique_ptr<batch> pending_;
    bool committing_ = false;
    counters stats_;
    boost::asio::thread_pool writer_{1};
};

} // namespace paddock::dhcp
