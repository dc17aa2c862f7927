// SPDX-License-Identifier: MIT
// DRIVER: keeps the anti-spoofing table (net/guard_ruleset) in the namespace in step with the VMs
// (rebuilt whenever a VM is created or removed, or the namespace is rebuilt: open()), and reads its
// drop counters every 2 s (run()): what was dropped since the last read is announced per VM (`vm.blocked`) and
// counted for /metrics (totals survive the table's rebuilds).
// libnftables is synchronous and slow for big tables (a rebuild with 200 VMs takes ~100 ms, a
// counter listing ~50 ms), so the nft work and the parsing run on a worker thread of their own, one
// job at a time, in order; results come back to the daemon's loop, which alone owns the state.
// Rebuilds asked for while one runs coalesce into one; a counter read is skipped while busy.
#pragma once

#include <functional>
#include <optional>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/thread_pool.hpp>

#include "base/error.hpp"
#include "base/metrics.hpp"
#include "base/ns_service.hpp"
#include "net/guard_ruleset.hpp"

namespace paddock { class event_bus; }

namespace paddock::net {

class guard final : public ns_service {
public:
    using ports_fn = std::function<std::vector<net::guard_port>()>;
    guard(boost::asio::any_io_executor loop, ports_fn ports, event_bus& bus);
    ~guard() override;

    const char* name() const override { return "guard"; }
    // Installs the table in the namespace `ns_fd`.
    status open(int ns_fd) override;
    // Reads the counters every 2 s until cancelled.
    boost::asio::awaitable<void> run() override;

    // Rebuilds the table for the VMs as they are now (asynchronously).
    void sync();
    // Reads the drop counters (asynchronously).
    void poll();
    // Drops since start, by VM and reason.
    net::guard_counts totals() const;
    void report(metric_list& out) const;

private:
    // On the loop: a counter reading of the table that holds `ports`.
    void counted(const net::guard_counts& now);
    // On the loop: a worker job ended; runs the rebuild asked for meanwhile.
    void finished();

    boost::asio::any_io_executor loop_;
    int ns_fd_ = -1;
    ports_fn ports_;
    event_bus& bus_;
    std::vector<net::guard_port> current_;
    net::guard_counts base_, last_;
    bool busy_ = false, resync_ = false;
    boost::asio::thread_pool worker_{1};
};

} // namespace paddock::net
