// SPDX-License-Identifier: MIT
// DRIVER: measures how late the io_context runs a timer: the worst stall of the loop, since start
// and over the last one to two seconds. Every `period` a timer is armed; the time between when it
// should have fired and when its handler ran is the lateness. Stalls shorter than the period are
// seen when they cover a timer's expiry, so the benchmark runs it at 1 ms (PADDOCK_LOOP_PROBE_MS).
#pragma once

#include <chrono>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "base/metrics.hpp"

namespace paddock {

class loop_probe {
public:
    loop_probe(boost::asio::any_io_executor ex, std::chrono::milliseconds period) : ex_(ex), period_(period) {}
    ~loop_probe();
    loop_probe(const loop_probe&) = delete;
    loop_probe& operator=(const loop_probe&) = delete;

    // Runs until cancelled.
    boost::asio::awaitable<void> run();

    std::chrono::milliseconds period() const { return period_; }
    double worst_ms() const { return worst_us_ / 1000.0; }
    // The worst lateness less the time the loop's thread waited for a core meanwhile (the kernel's
    // run-queue wait): the stall the daemon's own work caused, on a machine whose cores are busy.
    double worst_own_ms() const { return worst_own_us_ / 1000.0; }
    // The worst over the current and the previous 1 s window.
    double recent_worst_ms() const { return std::max(window_us_, previous_window_us_) / 1000.0; }
    double recent_worst_own_ms() const { return std::max(own_window_us_, previous_own_window_us_) / 1000.0; }
    void report(metric_list& out) const
    {
        out.family("paddock_loop_stall_seconds", "gauge",
                   "How late the daemon's event loop ran a timer: the worst in the last 1-2 s (window=recent) and since start "
                   "(window=start); window=start_own and recent_own: less the time the loop waited for a core.")
            .add({{"window", "recent"}}, recent_worst_ms() / 1000.0)
            .add({{"window", "start"}}, worst_ms() / 1000.0)
            .add({{"window", "start_own"}}, worst_own_ms() / 1000.0)
            .add({{"window", "recent_own"}}, recent_worst_own_ms() / 1000.0);
    }

private:
    boost::asio::any_io_executor ex_;
    std::chrono::milliseconds period_;
    std::int64_t worst_us_ = 0, window_us_ = 0, previous_window_us_ = 0, worst_own_us_ = 0;
    std::int64_t own_window_us_ = 0, previous_own_window_us_ = 0;
    int schedstat_fd_ = -1;
};

} // namespace paddock
