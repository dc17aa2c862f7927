// SPDX-License-Identifier: MIT
// The daemon: owns the io_context, the store, the fabric, the link watch and the HTTP server,
// in that start order; handles signals (SIGTERM/SIGINT: stop the daemon only, leave the fabric
// and VMs running); and the `teardown` command.
#pragma once

#include "app/config.hpp"

namespace paddock::app {

struct run_options {
    std::string www_dir;
};

// Runs the daemon until a signal; returns the process exit code.
int run_daemon(const config& cfg, const run_options& opt);
// Removes everything Paddock made; asks a running daemon on the same state_dir to stop first.
int run_teardown(const config& cfg);

// "kvm" when /dev/kvm is usable and the CPU shows vmx/svm (LAB-NOTES §2.2), else "tcg";
// qemu.accel "kvm"/"tcg" forces the choice.
std::string detect_accel(const std::string& configured);

} // namespace paddock::app
