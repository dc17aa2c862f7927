// SPDX-License-Identifier: MIT
// DRIVER: watches rtnetlink (links, IPv4 addresses) in the host and in the fabric's namespace,
// and nfnetlink's nftables group in the host, through libnl sockets on the daemon's io_context.
// Any event schedules a reconcile (coalesced over a few milliseconds); a short periodic tick
// catches what netlink does not announce (the namespace's bind mount being removed).
#pragma once

#include <chrono>
#include <functional>
#include <memory>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

namespace paddock::net {

class fabric_worker;

class link_watch {
public:
    // reconcile(full): full = true after netlink events or the slow safety tick; false on the
    // fast tick, where the callee may only do cheap checks.
    link_watch(boost::asio::any_io_executor ex, fabric_worker& f, std::function<void(bool full)> reconcile);
    ~link_watch();

    // Runs until cancelled.
    boost::asio::awaitable<void> run();

private:
    struct source;
    boost::asio::awaitable<void> read_loop(std::shared_ptr<source> s);
    void open_sources();
    void notify() { dirty_ = true; wake_.cancel(); }

    boost::asio::any_io_executor ex_;
    fabric_worker& fabric_;
    std::function<void(bool)> reconcile_;
    boost::asio::steady_timer wake_;
    bool dirty_ = false;
    unsigned ns_generation_ = 0;
    std::shared_ptr<source> host_links_, ns_links_, host_nft_;
};

} // namespace paddock::net
