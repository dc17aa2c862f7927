// SPDX-License-Identifier: MIT
// Durable leases and reservations in the SQLite store (tables `leases`, `reservations` of
// state_dir/paddock.db). One connection, used by one thread at a time: the DHCP driver hands it to
// its writer thread for group commits. Commits use synchronous=FULL: a lease is on disk before
// the ACK that announces it leaves.
#pragma once

#include <string>
#include <variant>
#include <vector>

#include "base/error.hpp"
#include "dhcp/engine.hpp"

struct sqlite3;

namespace paddock::dhcp {

struct put_reservation { reservation r; };
struct delete_reservation { std::string mac; };
using store_op = std::variant<change, put_reservation, delete_reservation>;

class lease_store {
public:
    static result<lease_store> open(const std::string& path);
    lease_store(lease_store&& o) noexcept : h_(o.h_) { o.h_ = nullptr; }
    lease_store& operator=(lease_store&&) = delete;
    ~lease_store();

    result<std::vector<lease>> load_leases();
    result<std::vector<reservation>> load_reservations();
    // Applies every op in one transaction (all or nothing).
    status commit(const std::vector<store_op>& ops);

private:
    explicit lease_store(sqlite3* h) : h_(h) {}
    sqlite3* h_;
};

} // namespace paddock::dhcp
