// SPDX-License-Identifier: MIT
// QEMU and helper processes: spawning detached, recognising a VM's QEMU by its command line
// marker, pidfds, and describing how a process ended.
#pragma once

#include <string>
#include <vector>

#include "base/error.hpp"

namespace paddock::vm {

// Starts argv[0] in its own session (it outlives the daemon), stdin /dev/null, stderr to `log`,
// stdout to /dev/null (or to `log` too with `stdout_to_log`), with `keep_fd` as fd 3 (-1: none)
// and nothing else inherited. Returns the pid.
result<int> spawn_detached(const std::vector<std::string>& argv, int keep_fd, const std::string& log,
                           bool stdout_to_log = false);
// True when `pid` is a QEMU started for VM `name` (its -name carries "process=paddock-<name>").
bool process_matches(int pid, const std::string& name);
// pidfd_open(2): readable once the process exits (zombie or not); -1 on failure.
int pidfd_open(int pid);
// Has the process behind `pidfd` exited? Asks the kernel now (poll with no wait): a reactor's
// readiness notification can be spurious, so a wake-up on a pidfd is confirmed with this.
bool pidfd_exited(int pidfd);
// "exit code 1", "killed by signal 9 (Killed)", or that the status is unknown (not our child).
std::string describe_wait_status(int wait_status, bool have_status);

} // namespace paddock::vm
