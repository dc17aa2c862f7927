// SPDX-License-Identifier: MIT
// What `run` and `teardown` both start with: the state directory (0700), the lock that keeps one
// daemon per state directory, and the store. The API token lives here too.
#pragma once

#include <optional>
#include <vector>
#include <string>

#include "base/error.hpp"
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
result<std::optional<int>> forward_before(store::db& db);

} // namespace paddock::app
