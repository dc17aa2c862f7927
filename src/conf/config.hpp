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
#include "net/network_config.hpp"

namespace paddock::conf {

struct qemu_config {
    std::string binary = "qemu-system-x86_64";
    std::string accel = "auto"; // auto | kvm | tcg
    // How often each running VM's figures are sampled (CPU, memory, disk, network): 1-60 s, 0 =
    // never. The last hour is kept at this resolution.
    std::uint32_t stats_interval_s = 5;
};

// The DNS service on the bridge address (VM names, forwarding to the host's resolvers).
struct dns_service_config {
    bool enabled = true;
    std::vector<std::string> upstreams;           // IP addresses; empty: the nameservers in resolv_conf
    std::string resolv_conf = "/etc/resolv.conf"; // read again when it changes
    std::uint32_t cache_entries = 4096;           // 0: no cache
};

// Where VMs find their cloud-init NoCloud seed: "http" (the seed server; the URL in the SMBIOS
// serial), "disk" (a `cidata` FAT disk per VM) or "both".
struct cloud_init_config {
    std::string seed = "both";
};

// The API over TLS: "off" (plain HTTP), "self-signed" (a key and certificate made in
// state_dir/tls on first start) or "files" (the config names a PEM certificate chain and key).
struct tls_config {
    std::string mode = "off";
    std::string cert, key; // absolute paths, mode "files" only
};

struct config {
    std::string listen_host = "127.0.0.1"; // IPv4 dotted quad or IPv6 (without brackets)
    std::uint16_t listen_port = 8080;
    std::string state_dir = "/var/lib/paddock";
    std::string auth = "token"; // token | none
    // Without TLS, a listen address other than loopback needs this explicit opt-out.
    bool allow_insecure_listen = false;
    tls_config tls;
    net::network_config network;
    qemu_config qemu;
    dns_service_config dns_service;
    cloud_init_config cloud_init;
};

// The DNS servers handed out (DHCP option 6): network.dns; when none are configured, the bridge
// address (our DNS service), or the gateway when the service is off.
std::vector<ipv4> effective_dns(const config& c);

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

// Whether the listen address is loopback (127.0.0.0/8 or ::1).
bool loopback_listen(const config& cfg);

// Interface names: 1..15 bytes of [A-Za-z0-9_.-], not "." or "..".
bool valid_ifname(std::string_view s);

} // namespace paddock::conf
