// SPDX-License-Identifier: MIT
// DRIVER: keeps the anti-spoofing table (net/guard_ruleset) in the namespace in step with the VMs
// (rebuilt whenever a VM is created or removed, or the namespace is rebuilt), and reads its drop
// counters every 2 s: what was dropped since the last read is announced per VM (`vm.blocked`) and
// counted for /metrics (totals survive the table's rebuilds).
#pragma once

#include <functional>
#include <vector>

#include "base/error.hpp"
#include "net/guard_ruleset.hpp"

namespace paddock { class event_bus; }

namespace paddock::app {

class guard {
public:
    using ports_fn = std::function<std::vector<net::guard_port>()>;
    guard(std::function<int()> ns_fd, ports_fn ports, event_bus& bus);

    status sync();
    void poll();
    // Drops since start, by VM and reason.
    net::guard_counts totals() const;

private:
    result<std::string> run(const std::string& cmd);

    std::function<int()> ns_fd_;
    ports_fn ports_;
    event_bus& bus_;
    std::vector<net::guard_port> current_;
    net::guard_counts base_, last_;
};

} // namespace paddock::app
