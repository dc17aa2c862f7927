// SPDX-License-Identifier: MIT
// DRIVER: waiting for a process to exit.
#include "vm/exit_wait.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "vm/process.hpp"

namespace paddock::vm {
namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;

asio::awaitable<bool> wait_exit(asio::posix::stream_descriptor& pidfd, std::chrono::milliseconds limit)
{
    constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
    asio::steady_timer deadline(co_await asio::this_coro::executor, limit);
    for (;;) {
        auto which = co_await (pidfd.async_wait(asio::posix::stream_descriptor::wait_read, use_tuple) ||
                               deadline.async_wait(use_tuple));
        if (pidfd_exited(pidfd.native_handle()))
            co_return true;
        if (which.index() == 1 || std::get<0>(std::get<0>(which)))
            co_return false; // the deadline, or a failed wait
    }
}

} // namespace paddock::vm
