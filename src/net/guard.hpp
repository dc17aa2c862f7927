// SPDX-License-Identifier: MIT
// DRIVER: keeps the anti-spoofing table (net/guard_ruleset) in the namespace in step with the VMs.
// The daemon tells it which VM ports there are (set_ports(), whenever a VM is created or removed);
// open() installs the table in a (new) namespace; run() reads its drop counters every 2 s (what
// was dropped since the last read is announced per VM as `vm.blocked` and counted for /metrics;
// totals survive the table's rebuilds) and retries a failed install with backoff.
//
// The table fails closed: a `tap-*` port without its chain is dropped, and a VM starts only once
// its chain is in (installed()). A port counts as installed only when nft took the table; a
// failure is kept for GET /api/v1/network's warnings until an install succeeds.
//
// libnftables is synchronous and slow for big tables (a rebuild with 200 VMs takes ~100 ms, a
// counter listing ~50 ms), so the nft work and the parsing run on a worker thread of their own, one
// job at a time, in order; results come back to the daemon's loop, which alone owns the state.
// Rebuilds asked for while one runs coalesce into one; a counter read is skipped while busy.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include "base/error.hpp"
#include "base/metrics.hpp"
#include "base/ns_service.hpp"
#include "net/guard_ruleset.hpp"

namespace paddock { class event_bus; }

namespace paddock::net {

class guard final : public ns_service {
public:
    // `services`: the daemon's address on the bridge (its DNS and seed servers).
    guard(boost::asio::any_io_executor loop, std::string services, event_bus& bus, std::string services6 = {});
    ~guard() override;

    const char* name() const override { return "guard"; }
    // Installs the table in the namespace `ns_fd`.
    status open(int ns_fd) override;
    // Reads the counters every 2 s, and retries a failed install, until cancelled.
    boost::asio::awaitable<void> run() override;

    // The VM ports the table must hold; rebuilt asynchronously.
    void set_ports(std::vector<guard_port> ports);
    // Completes once `tap`'s chain is in the table, or fails (fabric_down) after `limit`.
    boost::asio::awaitable<status> installed(std::string tap, std::chrono::milliseconds limit);

    // Drops since start, by VM and reason (VM "" for ports that belong to no VM).
    guard_counts totals() const;
    void report(metric_list& out) const;
    // Why the last install failed, while it has not succeeded since.
    const std::optional<std::string>& failure() const { return failure_; }

private:
    void sync();
    void poll();
    // On the loop: a counter reading of the table.
    void counted(const guard_counts& now);
    // On the loop: a worker job ended; runs the rebuild asked for meanwhile.
    void finished();
    void wake_waiters();

    boost::asio::any_io_executor loop_;
    std::string services_, services6_;
    event_bus& bus_;
    int ns_fd_ = -1;
    std::vector<guard_port> wanted_, current_; // current_: what the table holds
    bool installed_ = false;                  // the table exists (a counter read makes sense)
    guard_counts base_, last_;
    bool busy_ = false, resync_ = false;
    std::optional<std::string> failure_;
    int failures_ = 0;
    std::chrono::steady_clock::time_point retry_at_{};
    std::vector<std::weak_ptr<boost::asio::steady_timer>> waiters_;
    boost::asio::thread_pool worker_{1};
};

} // namespace paddock::net
