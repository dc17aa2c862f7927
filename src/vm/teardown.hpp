// SPDX-License-Identifier: MIT
// `paddockd teardown`'s VM part: every recorded QEMU that is still running gets the ACPI power
// button through the QMP client, then SIGKILL if it has not exited after `grace`. Runs its own
// short-lived io_context (the daemon is not running).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "store/rows.hpp"

namespace paddock::vm {

// Stops the running VMs of `rows` and marks their rows stopped (the caller writes them back).
// Returns one line per VM it stopped.
std::vector<std::string> stop_all(std::vector<store::vm_row>& rows, const std::string& state_dir, std::chrono::seconds grace);

} // namespace paddock::vm
