// SPDX-License-Identifier: MIT
// DRIVER: the io_context stall probe.
#include "base/loop_probe.hpp"

#include <cstdio>

#include <fcntl.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "base/log.hpp"

namespace paddock {
namespace asio = boost::asio;

namespace {
// The calling thread's total wait on a run queue (runnable, but another thread had the core), in
// microseconds: the second field of /proc/thread-self/schedstat. -1 when unknown.
std::int64_t run_queue_wait_us(int fd)
{
    char buf[128];
    ssize_t n = fd >= 0 ? ::pread(fd, buf, sizeof buf - 1, 0) : -1;
    if (n <= 0)
        return -1;
    buf[n] = 0;
    unsigned long long on_cpu = 0, waited = 0;
    if (std::sscanf(buf, "%llu %llu", &on_cpu, &waited) != 2)
        return -1;
    return static_cast<std::int64_t>(waited / 1000);
}
} // namespace

loop_probe::~loop_probe()
{
    if (schedstat_fd_ >= 0)
        ::close(schedstat_fd_);
}

asio::awaitable<void> loop_probe::run()
{
    using clock = std::chrono::steady_clock;
    asio::steady_timer t(ex_);
    auto window_end = clock::now() + std::chrono::seconds(1);
    // Opened here, on the loop's thread: its run-queue wait is the loop's.
    schedstat_fd_ = ::open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
    std::int64_t waited_before = run_queue_wait_us(schedstat_fd_);
    for (;;) {
        auto due = clock::now() + period_;
        t.expires_at(due);
        auto [ec] = co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
        auto cs = co_await asio::this_coro::cancellation_state;
        if (ec || cs.cancelled() != asio::cancellation_type::none)
            co_return;
        auto now = clock::now();
        auto late = std::chrono::duration_cast<std::chrono::microseconds>(now - due).count();
        if (now >= window_end) {
            previous_window_us_ = window_us_;
            window_us_ = 0;
            previous_own_window_us_ = own_window_us_;
            own_window_us_ = 0;
            window_end = now + std::chrono::seconds(1);
        }
        if (late > 2000) // placed in the debug log next to whatever the loop was doing
            log::debug("loop", "stalled ", late / 1000.0, " ms");
        window_us_ = std::max<std::int64_t>(window_us_, late);
        worst_us_ = std::max<std::int64_t>(worst_us_, late);
        // The part of the lateness the loop itself spent (working, or blocked in a call): what is
        // left after the time it waited for a core since the previous tick.
        const std::int64_t waited_now = run_queue_wait_us(schedstat_fd_);
        if (waited_now >= 0 && waited_before >= 0) {
            const std::int64_t own = std::max<std::int64_t>(0, late - (waited_now - waited_before));
            worst_own_us_ = std::max(worst_own_us_, own);
            own_window_us_ = std::max(own_window_us_, own);
            if (late > 2000)
                log::debug("loop", "  of which ", (late - own) / 1000.0, " ms waiting for a core");
        }
        waited_before = waited_now;
    }
}

} // namespace paddock
