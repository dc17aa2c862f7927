// SPDX-License-Identifier: MIT
// The daemon: wires the modules together in start order, serves until SIGTERM/SIGINT, then shuts
// down in order (the fabric and the VMs stay up); and the `teardown` command.
#pragma once

#include <string>

#include "conf/config.hpp"

namespace paddock::app {

struct run_options {
    std::string www_dir;
};

// Runs the daemon until a signal; returns the process exit code.
int run_daemon(const conf::config& cfg, const run_options& opt);
// Removes everything Paddock made; asks a running daemon on the same state_dir to stop first.
int run_teardown(const conf::config& cfg);

} // namespace paddock::app
