// SPDX-License-Identifier: MIT
// DRIVER: the anti-spoofing table's keeper.
#include "net/guard.hpp"

#include <algorithm>
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
    auto listing = run_nft(fd, "list table bridge paddock_guard");
    if (!listing)
        return out; // the namespace is being rebuilt: the next sync restores the table
    if (auto c = net::parse_guard_counters(*listing, ports))
        out = std::move(*c);
    return out;
}

} // namespace

guard::guard(asio::any_io_executor loop, std::string services, event_bus& bus, std::string services6)
    : loop_(loop), services_(std::move(services)), services6_(std::move(services6)), bus_(bus)
{
}

guard::~guard()
{
    worker_.stop(); // a job under way finishes; its result is never delivered
    worker_.join();
}

status guard::open(int ns_fd)
{
    ns_fd_ = ns_fd;
    installed_ = false; // a new namespace: its table comes with this sync
    current_.clear();
    sync();
    return ok();
}

void guard::set_ports(std::vector<guard_port> ports)
{
    wanted_ = std::move(ports);
    sync();
}

asio::awaitable<void> guard::run()
{
    asio::steady_timer tick(loop_);
    for (;;) {
        tick.expires_after(std::chrono::seconds(2));
        auto [ec] = co_await tick.async_wait(asio::as_tuple(asio::use_awaitable));
        if (ec)
            co_return; // cancelled
        if (failure_ && std::chrono::steady_clock::now() >= retry_at_)
            sync();
        else
            poll();
    }
}

asio::awaitable<status> guard::installed(std::string tap, std::chrono::milliseconds limit)
{
    const auto until = std::chrono::steady_clock::now() + limit;
    for (;;) {
        for (auto& p : current_)
            if (p.tap == tap)
                co_return ok();
        if (std::chrono::steady_clock::now() >= until)
            co_return fail(errc::fabric_down, "the anti-spoofing chain of " + tap + " is not installed" +
                                                  (failure_ ? ": " + *failure_ : std::string(" yet")));
        auto t = std::make_shared<asio::steady_timer>(loop_, until);
        waiters_.push_back(t);
        co_await t->async_wait(asio::as_tuple(asio::use_awaitable)); // woken by every install
    }
}

void guard::wake_waiters()
{
    for (auto& w : waiters_)
        if (auto t = w.lock())
            t->cancel();
    waiters_.clear();
}

void guard::report(metric_list& out) const
{
    auto& f = out.family("paddock_guard_dropped_packets_total", "counter",
                         "Frames the anti-spoofing table dropped, by VM and reason (mac, arp, ip, dhcp_server, "
                         "dhcp_chaddr, syn_flood, dns_flood, dhcp_flood, ethertype; vm=\"\" with reason unknown_port: a tap-* port of no VM).");
    for (auto& [vm, reasons] : totals())
        for (auto& [why, n] : reasons)
            f.add({{"vm", vm}, {"reason", why}}, static_cast<double>(n));
    out.family("paddock_guard_install_failures", "gauge",
               "Failed installs of the anti-spoofing table since the last one that succeeded.")
        .add(static_cast<double>(failures_));
}

void guard::sync()
{
    if (ns_fd_ < 0)
        return; // not opened yet: open() syncs
    if (busy_) {
        resync_ = true;
        return;
    }
    busy_ = true;
    auto next = std::make_shared<std::vector<guard_port>>(wanted_);
    auto old = std::make_shared<std::vector<guard_port>>(current_);
    auto doc = std::make_shared<std::string>(guard_document(*next, services_, services6_));
    const bool had_table = installed_;
    const int fd = dup_fd(ns_fd_);
    asio::post(worker_, [this, fd, next, old, doc, had_table] {
        auto before = std::make_shared<std::optional<guard_counts>>(had_table ? read_counts(fd, *old) : std::nullopt);
        auto applied = std::make_shared<result<std::string>>(run_nft(fd, *doc));
        if (fd >= 0)
            ::close(fd);
        asio::post(loop_, [this, next, before, applied] {
            if (*before)
                counted(**before); // what the old table counted
            if (!*applied) {
                // The old table (if any) stays as it was, counters and all: nothing is rolled over.
                ++failures_;
                failure_ = "cannot install the anti-spoofing table: " + applied->error().message;
                retry_at_ = std::chrono::steady_clock::now() + std::chrono::seconds(std::min(30, 1 << std::min(failures_, 5)));
                log::error("guard", *failure_, " (retrying)");
            }
            else {
                for (auto& [vm, reasons] : last_)
                    for (auto& [why, n] : reasons)
                        base_[vm][why] += n;
                last_.clear();
                current_ = std::move(*next);
                installed_ = true;
                if (failure_)
                    log::info("guard", "anti-spoofing table installed after ", failures_, " failure(s)");
                failure_.reset();
                failures_ = 0;
                log::debug("guard", "anti-spoofing table holds ", current_.size(), " VM port(s)");
            }
            wake_waiters();
            finished();
        });
    });
}

void guard::poll()
{
    if (busy_ || !installed_)
        return;
    busy_ = true;
    auto ports = std::make_shared<std::vector<guard_port>>(current_);
    const int fd = dup_fd(ns_fd_);
    asio::post(worker_, [this, fd, ports] {
        auto now = std::make_shared<std::optional<guard_counts>>(read_counts(fd, *ports));
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

void guard::counted(const guard_counts& now)
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
        if (!delta.total)
            continue;
        if (vm.empty()) {
            log::warn("guard", "dropped ", delta.total, " frame(s) from tap-* ports that belong to no VM");
            continue;
        }
        log::warn("guard", vm, ": dropped ", delta.total, " spoofed or foreign frame(s)");
        bus_.publish(event_type::vm_blocked, vm, std::move(delta), std::chrono::system_clock::now());
    }
    last_ = now;
}

guard_counts guard::totals() const
{
    guard_counts t = base_;
    for (auto& [vm, reasons] : last_)
        for (auto& [why, n] : reasons)
            t[vm][why] += n;
    return t;
}

} // namespace paddock::net
