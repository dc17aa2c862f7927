// SPDX-License-Identifier: MIT
// The daemon's config (conf/) turned into each module's own settings: pure mapping, no I/O
// except detect_accel, which looks at the machine.
#pragma once

#include <string>

#include "conf/config.hpp"
#include "dhcp/engine.hpp"
#include "dns/resolver.hpp"
#include "dns/server.hpp"
#include "vm/manager.hpp"

namespace paddock::app {

dhcp::engine_config dhcp_settings(const conf::config& cfg);
dns::zone_config dns_zone(const conf::config& cfg);
dns::server_options dns_settings(const conf::config& cfg);
// `accel`: what detect_accel chose.
vm::manager_config vm_settings(const conf::config& cfg, const std::string& accel);

// "kvm" when /dev/kvm is usable and the CPU shows vmx/svm (LAB-NOTES §2.2), else "tcg";
// qemu.accel "kvm"/"tcg" forces the choice.
std::string detect_accel(const std::string& configured);

} // namespace paddock::app
