// SPDX-License-Identifier: MIT
// What the DHCP server needs from durable storage, as an interface app implements (dhcp does not
// know the store). commit() applies a batch of lease and reservation changes in one transaction;
// reload() reads back what is on disk, to put the engine right after a failed commit.
#pragma once

#include <functional>
#include <string>
#include <variant>
#include <vector>

#include "base/error.hpp"
#include "dhcp/engine.hpp"

namespace paddock::dhcp {

struct put_reservation { reservation r; };
struct delete_reservation { std::string mac; };
using store_op = std::variant<change, put_reservation, delete_reservation>;

// Leases and reservations as stored.
struct snapshot {
    std::vector<lease> leases;
    std::vector<reservation> reservations;
};

class persistence {
public:
    virtual ~persistence() = default;
    // All or nothing; `done` runs on the server's executor once the batch is durable (or failed,
    // in which case nothing of it was kept).
    virtual void commit(std::vector<store_op> ops, std::function<void(status)> done) = 0;
    // What the store holds now; `done` runs on the server's executor.
    virtual void reload(std::function<void(result<snapshot>)> done) = 0;
};

} // namespace paddock::dhcp
