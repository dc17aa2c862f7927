// SPDX-License-Identifier: MIT
// Host sockets that hold a port: parsed from /proc/net/{tcp,udp}{,6} (CORE: the parser) and
// named by their process (DRIVER: a walk of /proc/*/fd, made only to name a holder), so a port
// forward that would hide a host service is refused naming it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace paddock::net {

struct listener {
    std::string address; // "0.0.0.0", "127.0.0.1", "::", "::1", "fe80::1"...
    std::uint16_t port = 0;
    std::uint64_t inode = 0;
    bool operator==(const listener&) const = default;
};

// The sockets of one /proc/net table that hold a port: TCP in LISTEN, every bound UDP socket.
// Lines that do not parse are skipped.
std::vector<listener> parse_proc_net(std::string_view text, bool tcp, bool v6);

// Would a DNAT of `proto` port `port` on IPv4 address `listen` ("0.0.0.0": every non-loopback
// address) take the traffic of `l`?
bool shadows(const listener& l, std::string_view listen);

// The process holding a host socket on `proto`/`port` that a forward on `listen` would shadow:
// "sshd (pid 412) on 0.0.0.0:22", or "" when none.
std::string port_holder(std::string_view proto, std::string_view listen, std::uint16_t port);

// Is `address` (IPv4) one of this network namespace's addresses?
bool local_ipv4(std::string_view address);

} // namespace paddock::net
