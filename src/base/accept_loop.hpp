// SPDX-License-Identifier: MIT
// DRIVER: the accept loop of a server whose listening socket lives in the fabric's namespace and
// is replaced when the namespace is rebuilt (the cloud-init seed server, DNS over TCP). It accepts
// on whichever acceptor `current()` gives now, waits while there is none, backs off on errors of
// the live acceptor (out of fds: never spin), and ends when cancelled.
#pragma once

#include <functional>
#include <memory>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace paddock {

boost::asio::awaitable<void> accept_loop(boost::asio::any_io_executor ex,
                                         std::function<std::shared_ptr<boost::asio::ip::tcp::acceptor>()> current,
                                         std::function<void(boost::asio::ip::tcp::socket)> take);

} // namespace paddock
