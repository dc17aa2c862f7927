// SPDX-License-Identifier: MIT
// DRIVER: waiting on the io_context for a process to exit, through its pidfd, with a deadline.
// A readiness wake-up is confirmed with the kernel (pidfd_exited) before it counts: readiness can
// be spurious.
#pragma once

#include <chrono>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

namespace paddock::vm {

// True once the process behind `pidfd` has exited; false when `limit` passed first (or the wait
// failed) and it still runs.
boost::asio::awaitable<bool> wait_exit(boost::asio::posix::stream_descriptor& pidfd, std::chrono::milliseconds limit);

} // namespace paddock::vm
