// SPDX-License-Identifier: MIT
// Work inside a network namespace from a process whose threads live in another: a short-lived
// helper thread enters the namespace (setns affects one thread only) and runs the work there.
// Sockets made inside it stay bound to that namespace afterwards, so the daemon's servers make
// their listening sockets in the fabric's namespace and serve them from the host's loop.
#pragma once

#include <cstdint>
#include <functional>

#include "base/error.hpp"
#include "base/ipv4.hpp"
#include "base/ipv6.hpp"

namespace paddock {

// Runs fn on a helper thread that has entered the namespace `ns_fd`, and waits for it.
status run_in_netns(int ns_fd, const std::function<status()>& fn);

// socket(2) inside the namespace: the descriptor, or -1 with errno set.
int socket_in(int ns_fd, int domain, int type, int protocol);

// A non-blocking socket bound to addr:port inside the namespace: TCP and listening, or UDP.
result<int> bound_socket(int ns_fd, ipv4 addr, std::uint16_t port, bool tcp);
// The same on an IPv6 address (IPv6 only: never also IPv4-mapped).
result<int> bound_socket(int ns_fd, const ipv6& addr, std::uint16_t port, bool tcp);

} // namespace paddock
