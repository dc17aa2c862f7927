// SPDX-License-Identifier: MIT
// DRIVER: the io_context stall probe.
#include "base/loop_probe.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "base/log.hpp"

namespace paddock {
namespace asio = boost::asio;

asio::awaitable<void> loop_probe::run()
{
    using clock = std::chrono::steady_clock;
    asio::steady_timer t(ex_);
    auto window_end = clock::now() + std::chrono::seconds(1);
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
            window_end = now + std::chrono::seconds(1);
        }
        if (late > 2000) // placed in the debug log next to whatever the loop was doing
            log::debug("loop", "stalled ", late / 1000.0, " ms");
        window_us_ = std::max<std::int64_t>(window_us_, late);
        worst_us_ = std::max<std::int64_t>(worst_us_, late);
    }
}

} // namespace paddock
