// SPDX-License-Identifier: MIT
// DRIVER: netlink event monitoring for the fabric.
#include "net/link_watch.hpp"

#include <linux/netfilter/nfnetlink.h>
#include <linux/rtnetlink.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <netlink/netlink.h>
#include <netlink/socket.h>

#include "base/log.hpp"
#include "net/fabric_worker.hpp"
#include "net/netns.hpp"

namespace paddock::net {
namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {
// We only need to know that something changed: every message is accepted and dropped.
int accept_message(nl_msg*, void*) { return NL_OK; }
} // namespace

// One subscribed libnl socket, read through a posix::stream_descriptor on the io_context.
struct link_watch::source {
    const char* what;
    nl_sock* sk = nullptr;
    asio::posix::stream_descriptor sd;

    source(asio::any_io_executor ex, const char* w) : what(w), sd(ex) {}
    ~source()
    {
        if (sd.is_open())
            sd.release(); // libnl owns the fd
        if (sk)
            nl_socket_free(sk);
    }
    void close()
    {
        boost::system::error_code ec;
        sd.cancel(ec);
    }
};

namespace {
// Opens a libnl socket for `protocol` subscribed to `groups`, in the calling thread's namespace.
nl_sock* subscribe(int protocol, std::initializer_list<int> groups)
{
    nl_sock* sk = nl_socket_alloc();
    if (!sk)
        return nullptr;
    nl_socket_disable_seq_check(sk);
    nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, accept_message, nullptr);
    if (nl_connect(sk, protocol) < 0) {
        nl_socket_free(sk);
        return nullptr;
    }
    for (int g : groups)
        nl_socket_add_membership(sk, g);
    nl_socket_set_nonblocking(sk);
    // Bursts (a namespace going away) can be large; a bigger buffer avoids ENOBUFS storms.
    nl_socket_set_buffer_size(sk, 1 << 20, 0);
    return sk;
}
} // namespace

link_watch::link_watch(asio::any_io_executor ex, fabric_worker& f, std::function<void(bool)> reconcile)
    : ex_(ex), fabric_(f), reconcile_(std::move(reconcile)), wake_(ex)
{
}

link_watch::~link_watch()
{
    for (auto* s : {&host_links_, &ns_links_, &host_nft_})
        if (*s)
            (*s)->close();
}

void link_watch::open_sources()
{
    auto start = [&](std::shared_ptr<source>& slot, const char* what, nl_sock* sk) {
        if (slot)
            slot->close();
        slot.reset();
        if (!sk) {
            log::warn("watch", "cannot subscribe to ", what, " events; relying on the periodic check");
            return;
        }
        auto s = std::make_shared<source>(ex_, what);
        s->sk = sk;
        s->sd.assign(nl_socket_get_fd(sk));
        slot = s;
        asio::co_spawn(ex_, read_loop(s), [what](std::exception_ptr e) {
            if (e)
                log::error("watch", what, " reader ended with an exception");
        });
    };
    if (!host_links_)
        start(host_links_, "host rtnetlink",
              subscribe(NETLINK_ROUTE, {RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV4_NETCONF, RTNLGRP_IPV6_IFADDR,
                                        RTNLGRP_IPV4_ROUTE}));
    if (!host_nft_)
        start(host_nft_, "nftables", subscribe(NETLINK_NETFILTER, {NFNLGRP_NFTABLES}));
    if (fabric_.ns_fd() >= 0 && ns_generation_ != fabric_.generation()) {
        nl_sock* sk = nullptr;
        run_in_netns(fabric_.ns_fd(), [&]() -> status {
            sk = subscribe(NETLINK_ROUTE, {RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR});
            return ok();
        });
        start(ns_links_, "namespace rtnetlink", sk);
        ns_generation_ = fabric_.generation();
    }
}

asio::awaitable<void> link_watch::read_loop(std::shared_ptr<source> s)
{
    for (;;) {
        auto [ec] = co_await s->sd.async_wait(asio::posix::stream_descriptor::wait_read,
                                              asio::as_tuple(asio::use_awaitable));
        if (ec)
            co_return; // cancelled: replaced or shutting down
        // Drain what is queued; an overrun (ENOBUFS) also means "something changed".
        for (int i = 0; i < 64; ++i)
            if (nl_recvmsgs_default(s->sk) < 0)
                break;
        log::debug("watch", s->what, " event");
        notify();
    }
}

asio::awaitable<void> link_watch::run()
{
    auto fast = 250ms;
    auto last_full = std::chrono::steady_clock::now();
    open_sources();
    for (;;) {
        auto cs = co_await asio::this_coro::cancellation_state;
        if (cs.cancelled() != asio::cancellation_type::none)
            co_return;
        wake_.expires_after(fast);
        co_await wake_.async_wait(asio::as_tuple(asio::use_awaitable)); // timeout or notify()
        cs = co_await asio::this_coro::cancellation_state;
        if (cs.cancelled() != asio::cancellation_type::none)
            co_return;
        bool full = dirty_ || std::chrono::steady_clock::now() - last_full > 10s;
        if (dirty_) {
            // Coalesce a burst of events (a deleted namespace produces dozens) into one pass.
            wake_.expires_after(15ms);
            co_await wake_.async_wait(asio::as_tuple(asio::use_awaitable));
        }
        dirty_ = false;
        if (full)
            last_full = std::chrono::steady_clock::now();
        reconcile_(full);
        open_sources();
    }
}

} // namespace paddock::net
