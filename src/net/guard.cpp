// SPDX-License-Identifier: MIT
// DRIVER: the anti-spoofing table's keeper.
#include "net/guard.hpp"

#include <chrono>
#include <memory>

#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/object.hpp>

#include "base/event_bus.hpp"
#include "base/log.hpp"
#include "net/netns.hpp"
#include "net/nft.hpp"

namespace paddock::net {
namespace asio = boost::asio;

namespace {

// Runs an nft command inside the namespace `fd` (on the worker thread: setns is per thread).
result<std::string> run_nft(int fd, const std::string& cmd)
{
    result<std::string> out = fail(errc::nft_failed, "not run");
    auto st = run_in_netns(fd, [&]() -> status {
        net::nft n; // a context made inside the namespace talks to the namespace's nf_tables
        out = n.run(cmd);
        return ok();
    });
    if (!st)
        return st.error();
    return out;
}

// The namespace's fd, duplicated so a rebuild of the namespace cannot close it under the worker.
int dup_fd(int fd) { return fd >= 0 ? ::dup(fd) : -1; }

std::optional<net::guard_counts> read_counts(int fd, const std::vector<net::guard_port>& ports)
{
    std::optional<net::guard_counts> out;
    if (ports.empty())
        return out;
    auto listing = run_nft(fd, "list table bridge paddock_guard");
    if (!listing)
        return out; // the namespace is being rebuilt: the next sync restores the table
    if (auto c = net::parse_guard_counters(*listing, ports))
        out = std::move(*c);
    return out;
}

} // namespace

guard::guard(asio::any_io_executor loop, ports_fn ports, event_bus& bus)
    : loop_(loop), ports_(std::move(ports)), bus_(bus)
{
}

status guard::open(int ns_fd)
{
    ns_fd_ = ns_fd;
    sync();
    return ok();
}

asio::awaitable<void> guard::run()
{
    asio::steady_timer tick(loop_);
    for (;;) {
        tick.expires_after(std::chrono::seconds(2));
        auto [ec] = co_await tick.async_wait(asio::as_tuple(asio::use_awaitable));
        if (ec)
            co_return; // cancelled
        poll();
    }
}

void guard::report(metric_list& out) const
{
    auto& f = out.family("paddock_guard_dropped_packets_total", "counter",
                         "Frames a VM's port sent that the anti-spoofing table dropped, by VM and reason "
                         "(mac, arp, ip, dhcp_server, ethertype).");
    for (auto& [vm, reasons] : totals())
        for (auto& [why, n] : reasons)
            f.add({{"vm", vm}, {"reason", why}}, static_cast<double>(n));
}

guard::~guard()
{
    worker_.stop(); // a job under way finishes; its result is never delivered
    worker_.join();
}

void guard::sync()
{
    if (busy_) {
        resync_ = true;
        return;
    }
    busy_ = true;
    auto next = std::make_shared<std::vector<net::guard_port>>(ports_());
    auto old = std::make_shared<std::vector<net::guard_port>>(current_);
    auto doc = std::make_shared<std::string>(net::guard_document(*next));
    const int fd = dup_fd(ns_fd_);
    asio::post(worker_, [this, fd, next, old, doc] {
        auto before = std::make_shared<std::optional<net::guard_counts>>(read_counts(fd, *old));
        auto applied = std::make_shared<result<std::string>>(run_nft(fd, *doc));
        if (fd >= 0)
            ::close(fd);
        asio::post(loop_, [this, next, before, applied] {
            if (*before)
                counted(**before); // keep what the old table counted
            for (auto& [vm, reasons] : last_)
                for (auto& [why, n] : reasons)
                    base_[vm][why] += n;
            last_.clear();
            current_ = std::move(*next);
            if (!*applied)
                log::error("guard", "cannot install the anti-spoofing table: ", applied->error().message);
            else
                log::debug("guard", "anti-spoofing table holds ", current_.size(), " VM port(s)");
            finished();
        });
    });
}

void guard::poll()
{
    if (busy_ || current_.empty())
        return;
    busy_ = true;
    auto ports = std::make_shared<std::vector<net::guard_port>>(current_);
    const int fd = dup_fd(ns_fd_);
    asio::post(worker_, [this, fd, ports] {
        auto now = std::make_shared<std::optional<net::guard_counts>>(read_counts(fd, *ports));
        if (fd >= 0)
            ::close(fd);
        asio::post(loop_, [this, now] {
            if (*now)
                counted(**now);
            finished();
        });
    });
}

void guard::finished()
{
    busy_ = false;
    if (resync_) { // a rebuild was asked for while the worker was busy
        resync_ = false;
        sync();
    }
}

void guard::counted(const net::guard_counts& now)
{
    for (auto& [vm, reasons] : now) {
        blocked_report delta;
        for (auto& [why, n] : reasons) {
            const std::uint64_t before = last_[vm][why];
            if (n > before) {
                delta.dropped[why] = n - before;
                delta.total += n - before;
            }
        }
        if (delta.total) {
            log::warn("guard", vm, ": dropped ", delta.total, " spoofed or foreign frame(s)");
            bus_.publish(event_type::vm_blocked, vm, std::move(delta), std::chrono::system_clock::now());
        }
    }
    last_ = now;
}

net::guard_counts guard::totals() const
{
    net::guard_counts t = base_;
    for (auto& [vm, reasons] : last_)
        for (auto& [why, n] : reasons)
            t[vm][why] += n;
    return t;
}

} // namespace paddock::net
