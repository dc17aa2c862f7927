// SPDX-License-Identifier: MIT
// Component tests: run one test body (a coroutine) on an io_context until it finishes, while the
// servers and watchers it started keep running in the background; rethrows what the body threw.
#pragma once

#include <exception>
#include <functional>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

namespace paddock::testing {

inline void run_body(boost::asio::io_context& ioc, const std::function<boost::asio::awaitable<void>()>& body)
{
    std::exception_ptr err;
    boost::asio::co_spawn(ioc, body(), [&](std::exception_ptr e) {
        err = e;
        ioc.stop();
    });
    ioc.run();
    ioc.restart();
    if (err)
        std::rethrow_exception(err);
}

} // namespace paddock::testing
