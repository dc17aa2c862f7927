// SPDX-License-Identifier: MIT
// `paddockd teardown`'s VM part (no io_context): every recorded QEMU that is still running gets
// the ACPI power button over QMP, then SIGKILL if it has not exited after `grace`; the records
// are marked stopped.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace paddock::store { class db; }

namespace paddock::vm {

// Returns one line per VM it stopped.
std::vector<std::string> stop_all(store::db& db, const std::string& state_dir, std::chrono::seconds grace);

} // namespace paddock::vm
