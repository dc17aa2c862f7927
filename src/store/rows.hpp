// SPDX-License-Identifier: MIT
// Typed repositories over the store's tables: settings, leases, reservations, VMs and images. Plain row
// structs (the store knows nothing of dhcp or vm types; those modules convert). Each function runs
// on the connection it is given: at start-up, inside a store::writer job, or in `teardown`; the
// statements are prepared once per connection.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/error.hpp"
#include "store/db.hpp"


namespace paddock::store {

// Settings: daemon facts kept across runs (e.g. the host's ip_forward before Paddock changed it).
result<std::optional<std::string>> get_setting(db& d, const std::string& key);
status put_setting(db& d, const std::string& key, const std::string& value);
status erase_setting(db& d, const std::string& key);

struct lease_row {
    std::uint32_t ip = 0; // host byte order
    std::string mac, client_id, hostname, vm, state;
    std::int64_t expires_at = 0;
};
result<std::vector<lease_row>> load_leases(db& d);
status put_lease(db& d, const lease_row& l);
// Deletes the row for `ip` only while it still belongs to `mac`.
status erase_lease(db& d, std::uint32_t ip, const std::string& mac);

struct reservation_row {
    std::string mac;
    std::uint32_t ip = 0;
    std::string hostname, vm;
};
result<std::vector<reservation_row>> load_reservations(db& d);
status put_reservation(db& d, const reservation_row& r);
status erase_reservation(db& d, const std::string& mac);

struct vm_row {
    std::string name, spec_json, mac, ip, tap, state, reason, accel;
    std::int64_t created_at = 0, started_at = 0;
    int pid = 0;
    bool resume = false; // start it when the daemon next starts (stopped with "restore")
};
result<std::vector<vm_row>> load_vms(db& d);
// Inserts or replaces the row named r.name.
status put_vm(db& d, const vm_row& r);
status erase_vm(db& d, const std::string& name);

struct image_row {
    std::string name, format, kind, sha256;
    std::int64_t size = 0, virtual_size = 0, added_at = 0;
};
result<std::vector<image_row>> load_images(db& d);
status put_image(db& d, const image_row& r);
status erase_image(db& d, const std::string& name);

} // namespace paddock::store
