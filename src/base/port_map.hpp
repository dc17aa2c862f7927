// SPDX-License-Identifier: MIT
// Plain data: a host port forwarded to a VM's port.
#pragma once

#include <cstdint>
#include <string>

namespace paddock {

// A host port forwarded to a VM's port (PUT /api/v1/vms/{name}/forwards/{proto}/{host_port}).
struct port_map {
    std::string proto;                   // tcp | udp
    std::uint16_t host_port = 0, guest_port = 0;
    std::string listen = "0.0.0.0";      // one host address, or 0.0.0.0 for every one
    bool operator==(const port_map&) const = default;
};

} // namespace paddock
