// SPDX-License-Identifier: MIT
// `paddockd shutdown-vms`: gracefully stops every running VM through the running daemon, all at
// once, each marked to be started again at the daemon's next start (autostart "restore").
#pragma once

#include "conf/config.hpp"

namespace paddock::app {

// Returns the exit code: 0 when every VM stopped (or none ran), 1 otherwise.
int run_shutdown_vms(const conf::config& cfg, int timeout_s);

} // namespace paddock::app
