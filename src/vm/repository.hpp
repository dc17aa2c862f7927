// SPDX-License-Identifier: MIT
// The VMs' durable records (table `vms`), written through the store's writer. insert() and erase()
// complete once durable (create and remove answer only then). save() records a state change
// without making anyone wait; one that fails is retried every second with the VM's latest record
// until it is kept, so a running QEMU is never forgotten by the next daemon.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include "base/error.hpp"
#include "store/rows.hpp"
#include "store/writer.hpp"
#include "vm/lifecycle.hpp"
#include "vm/spec.hpp"

namespace paddock::vm {

// What is kept of a VM across daemon restarts.
struct record {
    spec s;
    std::string mac, ip, tap, accel;
    state st = state::stopped;
    std::string reason;
    std::int64_t created_at = 0, started_at = 0;
    int pid = 0;
    bool resume = false; // start it when the daemon next starts (it was stopped with "restore")
};

store::vm_row to_row(const record& r);
// A record from its row; fails when the stored spec no longer parses.
result<record> from_row(const store::vm_row& row);

class repository {
public:
    // `latest(name)` gives the current record of a VM for a retry (false when it is gone).
    using latest_fn = std::function<bool(const std::string& name, record& out)>;

    repository(boost::asio::any_io_executor ex, store::writer& w, latest_fn latest);

    boost::asio::awaitable<status> insert(record r);
    void save(const record& r);
    boost::asio::awaitable<status> erase(std::string name);

private:
    // Re-saves every VM in failed_ with its latest record, in a second.
    void retry_later();

    boost::asio::any_io_executor ex_;
    store::writer& writer_;
    latest_fn latest_;
    std::map<std::string, std::uint64_t> seq_; // per VM: the newest save() submitted
    std::map<std::string, bool> failed_;
    boost::asio::steady_timer retry_;
    bool retry_armed_ = false;
};

} // namespace paddock::vm
