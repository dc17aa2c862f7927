// SPDX-License-Identifier: MIT
// Wire names of the error codes.
#include "base/error.hpp"

namespace paddock {

const char* to_string(errc c)
{
    switch (c) {
    case errc::no_value: return "no_value";
    case errc::invalid_json: return "invalid_json";
    case errc::invalid_field: return "invalid_field";
    case errc::unsupported_field: return "unsupported_field";
    case errc::invalid_ip: return "invalid_ip";
    case errc::invalid_mac: return "invalid_mac";
    case errc::invalid_config: return "invalid_config";
    case errc::not_found: return "not_found";
    case errc::forbidden: return "forbidden";
    case errc::conflict: return "conflict";
    case errc::invalid_state: return "invalid_state";
    case errc::ip_in_use: return "ip_in_use";
    case errc::pool_exhausted: return "pool_exhausted";
    case errc::vm_gone: return "vm_gone";
    case errc::truncated: return "truncated";
    case errc::bad_op: return "bad_op";
    case errc::bad_hlen: return "bad_hlen";
    case errc::bad_cookie: return "bad_cookie";
    case errc::bad_option: return "bad_option";
    case errc::qmp_protocol: return "qmp_protocol";
    case errc::qmp_error: return "qmp_error";
    case errc::qmp_timeout: return "qmp_timeout";
    case errc::qmp_disconnected: return "qmp_disconnected";
    case errc::store_failed: return "store_failed";
    case errc::spawn_failed: return "spawn_failed";
    case errc::tool_failed: return "tool_failed";
    case errc::tap_failed: return "tap_failed";
    case errc::netlink_failed: return "netlink_failed";
    case errc::netns_failed: return "netns_failed";
    case errc::nft_failed: return "nft_failed";
    case errc::sysctl_failed: return "sysctl_failed";
    case errc::link_conflict: return "link_conflict";
    case errc::fabric_down: return "fabric_down";
    case errc::dhcp_socket: return "dhcp_socket";
    case errc::dns_malformed: return "dns_malformed";
    case errc::setns: return "setns";
    case errc::state_dir: return "state_dir";
    case errc::token: return "token";
    case errc::tls: return "tls";
    case errc::timeout: return "timeout";
    case errc::invalid_image: return "invalid_image";
    case errc::no_space: return "no_space";
    case errc::shutting_down: return "shutting_down";
    }
    return "unknown";
}

} // namespace paddock
