// SPDX-License-Identifier: MIT
// dhcp::persistence over the store: lease and reservation changes become row writes in the
// store writer's transactions; snapshots read the rows back. dhcp and store stay unaware of each
// other; this is where their types meet.
#pragma once

#include "dhcp/persistence.hpp"
#include "store/writer.hpp"

namespace paddock::app {

// Reads the stored leases and reservations (start-up, on the calling thread).
result<dhcp::snapshot> load_dhcp_snapshot(store::db& h);

class dhcp_store final : public dhcp::persistence {
public:
    explicit dhcp_store(store::writer& w) : writer_(w) {}
    void commit(std::vector<dhcp::store_op> ops, std::function<void(status)> done) override;
    void reload(std::function<void(result<dhcp::snapshot>)> done) override;

private:
    store::writer& writer_;
};

} // namespace paddock::app
