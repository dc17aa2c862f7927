// SPDX-License-Identifier: MIT
// DRIVER: the anti-spoofing table's keeper.
#include "app/guard.hpp"

#include <chrono>

#include <boost/json/object.hpp>

#include "base/event_bus.hpp"
#include "base/log.hpp"
#include "net/netns.hpp"
#include "net/nft.hpp"

namespace paddock::app {

guard::guard(std::function<int()> ns_fd, ports_fn ports, event_bus& bus)
    : ns_fd_(std::move(ns_fd)), ports_(std::move(ports)), bus_(bus)
{
}

result<std::string> guard::run(const std::string& cmd)
{
    // A libnftables context made inside the namespace talks to the namespace's nf_tables.
    result<std::string> out = fail(errc::nft_failed, "not run");
    auto st = net::run_in_netns(ns_fd_(), [&]() -> status {
        net::nft n;
        out = n.run(cmd);
        return ok();
    });
    if (!st)
        return st.error();
    return out;
}

status guard::sync()
{
    poll(); // keep what the old table counted
    for (auto& [vm, reasons] : last_)
        for (auto& [why, n] : reasons)
            base_[vm][why] += n;
    last_.clear();
    current_ = ports_();
    auto r = run(net::guard_document(current_));
    if (!r) {
        log::error("guard", "cannot install the anti-spoofing table: ", r.error().message);
        return r.error();
    }
    log::debug("guard", "anti-spoofing table holds ", current_.size(), " VM port(s)");
    return ok();
}

void guard::poll()
{
    if (current_.empty())
        return;
    auto listing = run("list table bridge paddock_guard");
    if (!listing)
        return; // the namespace is being rebuilt: the next sync restores the table
    auto now = net::parse_guard_counters(*listing, current_);
    if (!now)
        return;
    for (auto& [vm, reasons] : *now) {
        boost::json::object delta;
        std::uint64_t total = 0;
        for (auto& [why, n] : reasons) {
            const std::uint64_t before = last_[vm][why];
            if (n > before) {
                delta[why] = n - before;
                total += n - before;
            }
        }
        if (total) {
            log::warn("guard", vm, ": dropped ", total, " spoofed or foreign frame(s)");
            bus_.publish(event_type::vm_blocked, vm, vm_view{boost::json::object{{"dropped", delta}, {"total", total}}},
                         std::chrono::system_clock::now());
        }
    }
    last_ = std::move(*now);
}

net::guard_counts guard::totals() const
{
    net::guard_counts t = base_;
    for (auto& [vm, reasons] : last_)
        for (auto& [why, n] : reasons)
            t[vm][why] += n;
    return t;
}

} // namespace paddock::app
