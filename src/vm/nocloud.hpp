// SPDX-License-Identifier: MIT
// CORE: the cloud-init NoCloud seed each VM fetches over HTTP from the daemon, inside the
// namespace, at http://<bridge address>/vm/<name>/ (the URL QEMU puts in the SMBIOS serial):
// meta-data (instance-id, local-hostname = the VM's name, public-keys = its ssh_authorized_keys),
// user-data (as given, or an empty #cloud-config) and vendor-data (empty). Only the VM itself is
// answered: the request must come from its reserved address and, when the neighbour table knows
// the sender, from its MAC; anyone else gets 403. Pure: the driver passes the peer in.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

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

// `peer_mac`: lower-case aa:bb:..., or "" when unknown.
nocloud_reply nocloud_answer(std::string_view method, std::string_view target, const std::string& peer_ip,
                             const std::string& peer_mac,
                             const std::function<std::optional<nocloud_vm>(const std::string&)>& find);

} // namespace paddock::vm
