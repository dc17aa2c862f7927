// SPDX-License-Identifier: MIT
// CORE: the cloud-init NoCloud seed each VM fetches over HTTP from the daemon, inside the
// namespace, at http://<bridge address>/vm/<name>/ (the URL QEMU puts in the SMBIOS serial):
// meta-data (instance-id, local-hostname = the VM's name, public-keys = its ssh_authorized_keys),
// user-data (as given, or an empty #cloud-config), vendor-data (empty) and network-config (v2:
// DHCP on the NIC with the VM's MAC). The same files go on the VM's `cidata` seed disk. Only the VM itself is
// answered: the request must come from its reserved address and, when the neighbour table knows
// the sender, from its MAC; anyone else gets 403. Pure: the driver passes the peer in.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vm/fat_image.hpp"
#include "vm/spec.hpp"

namespace paddock::vm {

struct nocloud_vm {
    std::string name, ip, mac, instance_id;
    cloud_init ci;
};

struct nocloud_reply {
    int status = 200;
    std::string body;
};

// One seed file's contents; nullopt for a name that is not one.
std::optional<std::string> nocloud_file(const nocloud_vm& vm, std::string_view file);
// Every seed file, for the seed disk.
std::vector<fat_file> nocloud_files(const nocloud_vm& vm);
// The seed disk's volume label (cloud-init looks for "cidata" or "CIDATA").
inline constexpr const char* seed_label = "CIDATA";

// `peer_mac`: lower-case aa:bb:..., or "" when unknown.
nocloud_reply nocloud_answer(std::string_view method, std::string_view target, const std::string& peer_ip,
                             const std::string& peer_mac,
                             const std::function<std::optional<nocloud_vm>(const std::string&)>& find);

} // namespace paddock::vm
