// SPDX-License-Identifier: MIT
// DRIVER: runs the network fabric (net/fabric) on a worker thread of its own, so no netlink dump,
// nft listing or repair ever runs on the daemon's loop (with a big host ruleset they take
// hundreds of milliseconds). After start-up the fabric is touched only by that thread, one job at
// a time, in order: checks and repairs (coalesced: a check asked for while one runs becomes one
// more), TAP creation and deletion, and the description GET /api/v1/network serves. Results come
// back to the loop, which keeps its own copy of the namespace's fd, the namespace generation and
// the last description (a snapshot: reading it costs nothing).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/json/object.hpp>

#include "base/error.hpp"
#include "base/event_bus.hpp" // link_state
#include "base/metrics.hpp"
#include "net/links.hpp"
#include "net/nft_ruleset.hpp"

namespace paddock::net {

class fabric;

class fabric_worker {
public:
    // What one check did: the changes it made (or its failure), whether the namespace was made
    // again (services must move into the new one), and the fabric links whose presence or state
    // differs from the last description.
    using checked_fn = std::function<void(const result<std::vector<std::string>>& r, bool namespace_changed,
                                          const std::vector<link_state>& links)>;

    // `f` has been brought up (ensure() succeeded) on this thread; from now on only the worker uses it.
    fabric_worker(boost::asio::any_io_executor loop, fabric& f, checked_fn checked);
    ~fabric_worker();
    fabric_worker(const fabric_worker&) = delete;
    fabric_worker& operator=(const fabric_worker&) = delete;

    // Asks for a check and repair (`full`), or only when the namespace is no longer ours (cheap,
    // on the loop: two stats).
    void check(bool full);
    // A VM's TAP, made in the namespace and plugged into the bridge; its fd for QEMU.
    boost::asio::awaitable<result<int>> open_tap(std::string name);
    void delete_tap(std::string name);
    // The table's port forwards replaced (applied when this completes).
    boost::asio::awaitable<status> set_forwards(std::vector<port_forward> f);
    // The namespace's TAPs and their counters, dumped on the worker (empty once stopped).
    boost::asio::awaitable<std::vector<std::pair<std::string, link_info>>> taps();

    // Loop side: the namespace (this object's own descriptor), its generation, the last description.
    int ns_fd() const { return ns_fd_; }
    unsigned generation() const { return generation_; }
    bool intact() const;
    const boost::json::object& snapshot() const { return snapshot_; }
    // Stops taking jobs and waits for the one under way (its result is not delivered).
    void stop();
    // Checks that changed something (repairs), for /metrics.
    void report(metric_list& out) const;

private:
    struct outcome;
    void run_check();
    void apply(outcome o);

    boost::asio::any_io_executor loop_;
    fabric& fabric_;
    checked_fn checked_;
    std::string ns_name_;
    int ns_fd_ = -1;
    unsigned generation_ = 0;
    boost::json::object snapshot_;
    bool busy_ = false, again_ = false, stopped_ = false;
    std::uint64_t repairs_ = 0;
    boost::asio::thread_pool worker_{1};
};

} // namespace paddock::net
