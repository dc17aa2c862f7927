// SPDX-License-Identifier: MIT
// What `run` and `teardown` both start with: the state directory (0700), the lock that keeps one
// daemon per state directory, and the store. The API token lives here too.
#pragma once

#include <optional>
#include <vector>
#include <string>

#include "base/error.hpp"
#include "net/fabric.hpp"
#include "conf/config.hpp"
#include "store/db.hpp"

namespace paddock::app {

struct opened_state;

// The held lock on state_dir/paddockd.lock (it holds the owner's pid); released when destroyed.
class state_lock {
public:
    state_lock() = default;
    state_lock(state_lock&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
    state_lock& operator=(state_lock&&) = delete;
    ~state_lock();

private:
    friend result<opened_state> open_state(const conf::config& cfg, bool stop_holder);
    int fd_ = -1;
};

struct opened_state {
    state_lock lock;
    store::db db;
};

// Makes state_dir, takes its lock and opens the store. Another daemon holding the lock is an
// error naming its pid, or with `stop_holder` (teardown) is sent SIGTERM and waited for (10 s).
result<opened_state> open_state(const conf::config& cfg, bool stop_holder);

// Reads state_dir/api-token, or creates it (32 random bytes as hex, mode 0600).
result<std::string> api_token(const std::string& state_dir);

// The API's TLS certificate and key for `cfg.tls` ("files": as configured; "self-signed":
// state_dir/tls, made when missing, for this host's names and addresses), with the certificate's
// SHA-256 fingerprint. Called at start and again on SIGHUP.
struct tls_material {
    std::string cert, key, fingerprint;
};
result<tls_material> tls_files_for(const conf::config& cfg);

// The store setting that keeps the host's net.ipv4.ip_forward from before Paddock's first start.
inline constexpr const char* forward_key = "host.ip_forward_before";
// That value, if recorded.
inline constexpr const char* forward6_key = "host.ip6_forward_before";
// The host's forwarding sysctls from before Paddock's first start (each none if never recorded).
result<net::host_sysctls> forward_before(store::db& db);
// The store key a recorded sysctl goes under.
const char* sysctl_key(const std::string& sysctl);
// The store setting holding the random 40-bit ID the "auto" IPv6 prefix is made from.
inline constexpr const char* ula_id_key = "network.ipv6_ula_id";
// The /64 VMs get (network.ipv6): "auto" reads the ID from the store, making and keeping one on the
// first start; none when "off".
result<std::optional<cidr6>> resolve_ipv6(store::db& db, const net::network_config& n);

} // namespace paddock::app
