// SPDX-License-Identifier: MIT
// Recognising a VM's QEMU process by its command line marker, and pidfds.
#pragma once

#include <string>

namespace paddock::vm {

// True when `pid` is a QEMU started for VM `name` (its -name carries "process=paddock-<name>").
bool process_matches(int pid, const std::string& name);
// pidfd_open(2): readable once the process exits (zombie or not); -1 on failure.
int pidfd_open(int pid);

} // namespace paddock::vm
