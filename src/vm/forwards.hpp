// SPDX-License-Identifier: MIT
// CORE: port forwards (host port -> VM port) as the API and the VM spec give them: parsing,
// validation and which two of them compete for one host port.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <boost/json/value.hpp>

#include "base/error.hpp"
#include "base/port_map.hpp"

namespace paddock::vm {

inline constexpr std::size_t max_forwards = 256; // per VM

// PUT /api/v1/vms/{name}/forwards/{proto}/{host_port} with a body {"guest_port"?: 1-65535
// (default: the host port), "listen"?: an IPv4 address or "0.0.0.0" (default: every address)};
// an empty body takes both defaults. Failures name the field.
result<port_map> parse_forward(std::string_view proto, std::string_view host_port, std::string_view body);
// One element of a spec's "forwards": {"proto", "host_port", "guest_port"?, "listen"?}.
result<port_map> read_forward(const boost::json::value& v, const std::string& field);
// The path's {proto}/{host_port} of DELETE: "tcp"/"udp" and 1-65535.
result<port_map> parse_forward_key(std::string_view proto, std::string_view host_port);

// Do `a` and `b` take the same host port (same protocol and port, and the same listen address or
// either on every address)?
bool overlaps(const port_map& a, const port_map& b);
// "tcp/8080 on 0.0.0.0"
std::string forward_name(const port_map& f);

} // namespace paddock::vm
