// SPDX-License-Identifier: MIT
// CORE: the QEMU command line for a VM, from its spec and where its files are. Golden-tested.
// QEMU runs detached from the daemon (so it survives a daemon restart) with its QMP socket,
// console socket and pidfile in the VM's folder, its TAP handed over as fd 3, the seccomp
// sandbox on, and (when `runas` is set) privileges dropped after start-up.
#pragma once

#include <string>
#include <vector>

#include "vm/spec.hpp"

namespace paddock::vm {

struct launch_params {
    std::string binary = "qemu-system-x86_64";
    std::string accel = "tcg";  // "kvm" | "tcg"
    std::string vm_dir;         // state_dir/vms/<name>
    std::string mac;
    std::string kernel_path;    // direct kernel boot
    std::string initrd_path;
    std::string disk_path;      // the VM's qcow2 disk (an overlay on its image, or empty for an install)
    std::string seed_disk_path; // the cloud-init `cidata` seed disk (raw FAT, read-only); empty = none
    std::string cdrom_path;     // an ISO on the CD-ROM drive; empty = none
    std::string uefi_code;      // firmware "uefi": OVMF's code (read-only) ...
    std::string uefi_vars;      // ... and the VM's own copy of its variable store
    std::string runas;          // user to drop to after start-up; empty = stay root
    std::string nocloud_url;    // cloud-init NoCloud seed URL, in the SMBIOS serial; empty = none
    int tap_fd = 3;
};

std::vector<std::string> qemu_argv(const spec& s, const launch_params& p);

// Files in the VM folder.
inline constexpr const char* qmp_socket = "qmp.sock";
inline constexpr const char* console_socket = "console.sock";
inline constexpr const char* vnc_socket = "vnc.sock";
inline constexpr const char* agent_socket = "qga.sock"; // the guest agent's channel
// QOM path of the balloon (guest memory statistics) and the id of the agent's port.
inline constexpr const char* balloon_path = "/machine/peripheral/balloon0";
inline constexpr const char* agent_port_id = "agent0";
inline constexpr const char* pid_file = "qemu.pid";
inline constexpr const char* console_log_file = "console.log";
inline constexpr const char* qemu_log = "qemu.log";
inline constexpr const char* disk_file = "disk.qcow2";
inline constexpr const char* seed_disk_file = "seed.img";
inline constexpr const char* uefi_vars_file = "uefi-vars.fd";
// Debian's ovmf package: the firmware and the variable store template it goes with.
inline constexpr const char* ovmf_code = "/usr/share/OVMF/OVMF_CODE_4M.fd";
inline constexpr const char* ovmf_vars = "/usr/share/OVMF/OVMF_VARS_4M.fd";

} // namespace paddock::vm
