// SPDX-License-Identifier: MIT
// DRIVER: the accept loop of a server listening inside the namespace.
#include "base/accept_loop.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace paddock {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

asio::awaitable<void> accept_loop(asio::any_io_executor ex, std::function<std::shared_ptr<tcp::acceptor>()> current,
                                  std::function<void(tcp::socket)> take)
{
    for (;;) {
        auto cs = co_await asio::this_coro::cancellation_state;
        if (cs.cancelled() != asio::cancellation_type::none)
            co_return;
        auto a = current();
        if (!a) {
            asio::steady_timer t(ex, std::chrono::milliseconds(200));
            co_await t.async_wait(use_tuple);
            continue;
        }
        auto [ec, sock] = co_await a->async_accept(use_tuple);
        if (!ec)
            take(std::move(sock));
        else if (a == current() && ec != asio::error::operation_aborted) {
            asio::steady_timer t(ex, std::chrono::milliseconds(100));
            co_await t.async_wait(use_tuple);
        }
    }
}

} // namespace paddock
