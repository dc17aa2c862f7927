// SPDX-License-Identifier: MIT
// DRIVER: the DHCP server on the daemon's io_context. Its UDP socket (port 67) and a packet
// socket (for link-layer unicast to clients without an address) are created inside the fabric's
// namespace. Packets are drained in batches and decided by the engine; lease changes are written
// through `persistence` (app's store writer: group commits), one batch in flight at a time and
// at most one commit per 0.5 ms under load, and an ACK leaves only once the transaction holding
// its lease has committed.
// OFFERs and NAKs carry no durable state and leave at once. Committed changes are announced on the
// event bus (lease.bound / lease.released / lease.expired).
//
// A failed commit promised nothing: its ACKs are withheld (clients retry), the batch that queued
// behind it is dropped too (it was decided on top of the failed one), and the engine is rebuilt
// from what the store holds before anyone waiting on those writes hears of the failure. Packets
// that arrive meanwhile are dropped and counted.
#pragma once

#include <array>
#include <functional>
#include <memory>
#include <optional>
#include <chrono>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "base/error.hpp"
#include "base/rate_table.hpp"
#include "dhcp/admission.hpp"
#include "dhcp/engine.hpp"
#include "dhcp/persistence.hpp"

#include "base/event_bus.hpp"
#include "base/metrics.hpp"
#include "base/ns_service.hpp"

namespace paddock::dhcp {

class server final : public ns_service {
public:
    // Makes a socket where the server must live: socket(2)'s arguments in, an fd (or -1 with
    // errno set) out.
    using socket_factory = std::function<int(int domain, int type, int protocol)>;

    server(boost::asio::any_io_executor ex, engine_config cfg, persistence& store, event_bus& bus);
    ~server() override;

    // Start-up: puts what the store holds into the engine (before run()).
    void load(const snapshot& s);
    const char* name() const override { return "dhcp"; }
    // (Re)creates the sockets in the namespace `ns_fd`; the receive loop picks them up by itself.
    status open(int ns_fd) override;
    // The same through `make` (tests: sockets anywhere).
    status open_with(const socket_factory& make);
    // Receives and answers until cancelled; also runs lease expiry once a second.
    boost::asio::awaitable<void> run() override;
    // Packets by type and outcome, failed commits, leases, pool use.
    void report(metric_list& out) const;

    // Live reservations; complete once durable (store_failed when the write was not kept, and
    // then the engine is as the store is).
    boost::asio::awaitable<status> reserve(reservation r);
    // not_found when `mac` has no reservation.
    boost::asio::awaitable<status> unreserve(std::string mac);
    // Removes the reservation and every lease of `mac` (a removed VM), durably.
    boost::asio::awaitable<status> forget(std::string mac);

    // Packets a second one client (a MAC on a bridge port) gets answered (twice that in a burst);
    // beyond, dropped and counted as outcome "limited". 0: no limit.
    void limit_clients(double per_second) { client_rate_ = rate_table(per_second, 2 * per_second, client_rate_cap); }
    // Packets a second all clients on one bridge port get answered together (twice that in a
    // burst); beyond, dropped and counted as "limited". 0: no limit. Packets of no known port
    // (unmarked) are not held to it.
    void limit_ports(double per_second) { port_rate_ = rate_table(per_second, 2 * per_second, client_rate_cap); }
    static constexpr std::size_t client_rate_cap = 4096; // clients whose rate is tracked (the most recent)

    // Called for every lease bound, once its commit is durable (typed: app routes it to the VMs).
    void on_bound(std::function<void(const lease&)> f) { on_bound_ = std::move(f); }

    const engine& core() const { return engine_; }
    boost::json::object lease_json(const lease& l) const;
    // A lease as events carry it.
    static lease_info info_of(const lease& l);
    boost::json::array leases_json() const;
    boost::json::array reservations_json() const;

    // Counters since start, for /metrics and the benchmark notes.
    // Outcome of one received packet: what was sent back, or why nothing was.
    // limited: over its client's rate or its port's lease cap.
    enum class outcome : std::uint8_t { offer, ack, nak, no_reply, shed, limited, malformed, count };
    static const char* outcome_name(outcome o);
    struct counters {
        std::uint64_t received = 0, malformed = 0, replies = 0, commits = 0, committed_ops = 0, send_errors = 0,
                      failed_commits = 0, dropped_while_reconciling = 0, shed = 0,
                      limited = 0;
        // [message type 1..8, 0 = unknown][outcome]
        std::array<std::array<std::uint64_t, static_cast<std::size_t>(outcome::count)>, 9> by_type{};
        void count(std::optional<msg_type> t, outcome o)
        {
            ++by_type[t && static_cast<std::size_t>(*t) < 9 ? static_cast<std::size_t>(*t) : 0][static_cast<std::size_t>(o)];
        }
    };
    const counters& stats() const { return stats_; }

    struct held;
    struct batch;
    struct waiter;

    // A bound lease's event is news when its binding changed, or the last one for it is a minute
    // old (renewals show up, but a client renewing in a loop cannot flood the event stream).
    static constexpr std::chrono::seconds renewal_event_every{60};

private:
    // Whether lease.bound for `l` is news (see renewal_event_every); remembers it if so.
    bool news(const lease& l, std::chrono::steady_clock::time_point now);

    struct published {
        std::string mac, client_id, hostname, vm;
        std::chrono::steady_clock::time_point at;
    };
    std::unordered_map<std::uint32_t, published> published_; // by address: bounded by the subnet

    boost::asio::awaitable<void> receive_loop();
    boost::asio::awaitable<void> expiry_loop();
    // `received_us`: the kernel's receive time; `now_us`: the wall clock (both unix microseconds).
    // `port`: the bridge port's mark (see open_with), 0 when unknown.
    void process(std::span<const std::uint8_t> pkt, int ifindex, std::uint32_t port, bool to_broadcast,
                 std::int64_t received_us, std::int64_t now_us);
    void send(const reply& r, int ifindex);
    void flush();
    // Queues `ops` for the next group commit and waits until they are durable.
    boost::asio::awaitable<status> durable(std::vector<store_op> ops);
    void committed(batch& b, const status& st);
    // After a failed commit: rebuild the engine from the store, then wake `reconcile_waiters_`.
    void reconcile(status why);
    void rebuild(const snapshot& s);

    boost::asio::any_io_executor ex_;
    engine engine_;
    persistence& store_;
    event_bus& bus_;
    boost::asio::ip::udp::socket udp_;
    int raw_fd_ = -1;
    boost::asio::steady_timer reopened_;
    std::unique_ptr<batch> pending_;
    bool committing_ = false;
    bool reconciling_ = false;
    std::vector<std::shared_ptr<waiter>> reconcile_waiters_;
    status reconcile_cause_ = ok();
    boost::asio::steady_timer retry_;
    // Commit pacing (see flush()).
    static constexpr std::chrono::microseconds commit_spacing{500};
    boost::asio::steady_timer pace_;
    bool pace_armed_ = false;
    std::chrono::steady_clock::time_point next_commit_{};
    std::function<void(const lease&)> on_bound_;
    counters stats_;
    admission_config admission_;
    rate_table client_rate_{10, 20, client_rate_cap};
    rate_table port_rate_{200, 400, client_rate_cap};
    std::chrono::steady_clock::time_point port_full_warned_{};
};

} // namespace paddock::dhcp
