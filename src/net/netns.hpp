// SPDX-License-Identifier: MIT
// Named network namespaces (the `ip netns` convention: a bind mount under /run/netns) and
// running a short piece of work inside one on a helper thread (setns affects one thread only).
#pragma once

#include <functional>
#include <string>

#include <sys/types.h>

#include "base/error.hpp"
#include "base/in_netns.hpp" // run_in_netns

namespace paddock::net {

inline constexpr const char* netns_dir = "/run/netns";

std::string netns_path(const std::string& name);

// Identity of a namespace file (nsfs device + inode); {0,0} when it does not exist.
struct netns_id {
    dev_t dev = 0;
    ino_t ino = 0;
    bool operator==(const netns_id&) const = default;
    bool valid() const { return ino != 0; }
};
netns_id netns_identity(const std::string& name);
netns_id fd_identity(int fd);
// Is `fd` the namespace mounted as /run/netns/<name> now (not deleted, not replaced)? Two stats.
bool holds_netns(const std::string& name, int fd);

// Creates /run/netns/<name> holding a fresh network namespace with `lo` down (callers raise it).
status create_netns(const std::string& name);
// Unmounts and removes /run/netns/<name>; succeeds when it does not exist.
status delete_netns(const std::string& name);
// Opens the namespace file (O_RDONLY|O_CLOEXEC); -1 with errno set on failure.
int open_netns(const std::string& name);

} // namespace paddock::net
