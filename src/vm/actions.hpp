// SPDX-License-Identifier: MIT
// The operations on one VM, as the API names them, and their options. Pure data.
#pragma once

namespace paddock::vm {

enum class action { start, stop, restart, pause, resume };

struct action_options {
    bool force = false; // stop only: SIGKILL at once instead of the ACPI power button
    int timeout_s = 30; // stop, restart: seconds of grace before forcing
    bool restore = false; // stop only: start it again when the daemon next starts (autostart "restore")
};

const char* to_string(action a);

} // namespace paddock::vm
