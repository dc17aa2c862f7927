// SPDX-License-Identifier: MIT
// One writer per socket: a queue that producers fill from the loop and that one writer coroutine
// drains in order (the QMP client's commands, a console's input to the guest, a WebSocket client's
// frames). It counts what it holds, for the callers' limits. finish() lets the writer send what is
// queued and then stop; abort() drops it and stops the writer at once.
#pragma once

#include <cstddef>
#include <deque>
#include <optional>
#include <utility>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace paddock {

template <class T>
class send_queue {
public:
    explicit send_queue(boost::asio::any_io_executor ex) : wake_(ex, boost::asio::steady_timer::time_point::max()) {}

    // Queues `item` (`bytes` long, for the limits); ignored once closed.
    void push(T item, std::size_t bytes)
    {
        if (finished_ || aborted_)
            return;
        bytes_ += bytes;
        items_.emplace_back(std::move(item), bytes);
        wake_.cancel();
    }
    // No more items: the writer gets what is queued, then none.
    void finish()
    {
        finished_ = true;
        wake_.cancel();
    }
    // Drops what is queued; the writer gets none from now on.
    void abort()
    {
        aborted_ = true;
        items_.clear();
        bytes_ = 0;
        wake_.cancel();
    }
    bool closed() const { return finished_ || aborted_; }
    std::size_t size() const { return items_.size(); }
    std::size_t bytes() const { return bytes_; }

    // The writer's side: the next item, or none once the queue is closed (after finish(): once
    // what was queued is taken).
    boost::asio::awaitable<std::optional<T>> next()
    {
        for (;;) {
            if (aborted_)
                co_return std::nullopt;
            if (!items_.empty()) {
                std::optional<T> out(std::move(items_.front().first));
                bytes_ -= items_.front().second;
                items_.pop_front();
                co_return out;
            }
            if (finished_)
                co_return std::nullopt;
            wake_.expires_at(boost::asio::steady_timer::time_point::max());
            co_await wake_.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
        }
    }

private:
    std::deque<std::pair<T, std::size_t>> items_;
    std::size_t bytes_ = 0;
    bool finished_ = false, aborted_ = false;
    boost::asio::steady_timer wake_; // a condition variable: cancelled when there is news
};

} // namespace paddock
