// SPDX-License-Identifier: MIT
// Daemon configuration (SPEC section 1): embedded defaults, JSON file, flag overrides, and
// validation whose every error names the offending field. Pure: no file or socket access.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.hpp"
#include "base/ipv4.hpp"

namespace paddock::app {

struct network_config {
    std::string namespace_name = "paddock";
    std::string host_veth = "paddock0";
    std::string bridge = "br0";
    cidr subnet{{0xC0A81A00u}, 24};     // 192.168.26.0/24
    ipv4 gateway{0xC0A81A01u};          // 192.168.26.1
    ipv4 bridge_address{0xC0A81A02u};   // 192.168.26.2
    ipv4 pool_start{0xC0A81A0Au};       // 192.168.26.10
    ipv4 pool_end{0xC0A81AFAu};         // 192.168.26.250
    std::uint32_t lease_time_s = 3600;
    // DHCP option 6; empty in the file means "the gateway" (the default until Paddock serves DNS).
    std::vector<ipv4> dns;
    std::string domain = "paddock.internal"; // DHCP option 15
};

struct qemu_config {
    std::string binary = "qemu-system-x86_64";
    std::string accel = "auto"; // auto | kvm | tcg
};

struct config {
    std::string listen_host = "127.0.0.1"; // IPv4 dotted quad or IPv6 (without brackets)
    std::uint16_t listen_port = 8080;
    std::string state_dir = "/var/lib/paddock";
    std::string auth = "token"; // token | none
    network_config network;
    qemu_config qemu;
};

// The DNS servers handed out: network.dns, or the gateway when none are configured.
std::vector<ipv4> effective_dns(const network_config& n);

// Name of the namespace end of the veth pair (inside the namespace, enslaved to the bridge).
inline constexpr std::string_view ns_veth_name = "gw0";

// The embedded defaults, identical to config/paddockd.json (a unit test keeps them in step).
config defaults();

// Parses a config file's text over the defaults (comments and trailing commas are accepted).
// Unknown keys, wrong types and invalid values fail with code "invalid_config" and a message
// that starts with the field's dotted path, e.g. "network.subnet: ...".
result<config> parse_config(std::string_view text);

// Parses a --listen value "ADDR:PORT" or "[V6ADDR]:PORT" into cfg (field name "listen").
status set_listen(config& cfg, std::string_view value);

// Cross-field checks (gateway inside the subnet, pool inside the subnet, ...). parse_config
// already calls it; call it again after applying flag overrides.
status validate(const config& cfg);

// Serializes back to the JSON shape of the file (for GET /api/v1/network and debugging).
std::string to_json_text(const config& cfg);

// Interface names: 1..15 bytes of [A-Za-z0-9_.-], not "." or "..".
bool valid_ifname(std::string_view s);

} // namespace paddock::app
