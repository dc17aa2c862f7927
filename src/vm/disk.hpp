// SPDX-License-Identifier: MIT
// DRIVER: a VM's disk, a thin qcow2 overlay on an image (never a copy), made by qemu-img. The tool
// runs as a child awaited through a pidfd on the io_context (no thread, no polling), each with a
// deadline after which it is killed.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "base/error.hpp"

namespace paddock::vm {

// Creates `overlay` backed by `base` (format detected with qemu-img info), grown to `gib` GiB
// when non-zero. qemu-img's output goes to `log`. Fails with tool_failed and qemu-img's words.
boost::asio::awaitable<status> make_overlay(boost::asio::any_io_executor ex, std::string base, std::string overlay,
                                            int gib, std::string log);

// Creates an empty qcow2 of `gib` GiB at `path` (a disk to install an OS to).
boost::asio::awaitable<status> make_blank(boost::asio::any_io_executor ex, std::string path, int gib, std::string log);

// Runs a tool to completion, awaiting its pidfd, killed after `limit`; returns what it wrote
// (stdout and stderr, through the file `log`). tool_failed with its words when it fails.
// `pass_fd`, when given, is the tool's fd 3.
boost::asio::awaitable<result<std::string>> run_tool(boost::asio::any_io_executor ex, std::vector<std::string> argv,
                                                     std::string log, std::chrono::seconds limit, int pass_fd = -1);

} // namespace paddock::vm
