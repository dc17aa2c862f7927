// SPDX-License-Identifier: MIT
// CORE: the VM spec (SPEC section 3) parsed from a POST body and validated field by field, plus
// the name rules that keep a VM's files inside state_dir and its TAP name unique and short.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.hpp"
#include "base/port_map.hpp"

namespace paddock::vm {

// NoCloud data a VM gets (SPEC section 3, "cloud_init").
struct cloud_init {
    bool given = false;
    std::string user_data;                        // served as-is at .../user-data
    std::vector<std::string> ssh_authorized_keys; // served as public-keys in meta-data
};

struct spec {
    std::string name;
    int cpus = 1;
    int memory_mib = 512;
    int disk_gib = 0;        // 0: the overlay keeps the image's size
    std::string image;       // disk boot
    std::string kernel;      // direct kernel boot
    std::string initrd;
    std::string cmdline;
    std::string mac;         // empty: generated
    std::string ip;          // empty: a free pool address
    bool start = false;
    cloud_init ci;
    std::string cpu_model;   // QEMU's -cpu; empty: "host" under KVM, "max" under TCG
    std::string firmware = "bios"; // "bios" (SeaBIOS) | "uefi" (OVMF, variables kept per VM)
    std::string cdrom;       // an ISO image from the store, on an IDE CD-ROM drive
    // Boot devices in order: "disk", "cdrom", "network"; empty: disk, then CD-ROM.
    std::vector<std::string> boot_order;
    // When the daemon starts and finds the VM's QEMU gone (a host reboot): "never" leaves it,
    // "always" starts it, "restore" starts it if it was running (or was stopped with restore).
    std::string autostart = "never";
    // Host ports forwarded to this VM (vm/forwards.hpp); no two overlap.
    std::vector<port_map> forwards;
};

// PATCH /api/v1/vms/{name}: what changes (cpus and memory only while the VM has no QEMU).
struct vm_patch {
    std::optional<int> cpus, memory_mib;
    std::optional<std::string> autostart;
};
result<vm_patch> parse_patch(std::string_view body);

// The boot order a VM uses: its own, or disk then CD-ROM (those it has).
std::vector<std::string> effective_boot_order(const spec& s);

// Parses and validates a POST /api/v1/vms body. Failures name the field:
// code "invalid_json" / "invalid_field" / "unsupported_field", message "memory_mib: ...".
result<spec> parse_spec(std::string_view body);
std::string spec_to_json(const spec& s);

// ^[a-z][a-z0-9-]{0,31}$
bool valid_vm_name(std::string_view s);
// Image names (files in state_dir/images): ^[a-zA-Z0-9][a-zA-Z0-9._-]{0,63}$, no "..".
bool valid_image_name(std::string_view s);
// TAP device name for a VM: "tap-<name>" when it fits in 15 bytes, else "tap-<first 6>-<4 hex>".
std::string tap_name(std::string_view vm_name);

} // namespace paddock::vm
