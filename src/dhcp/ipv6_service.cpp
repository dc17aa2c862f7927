// SPDX-License-Identifier: MIT
// DRIVER: Router Advertisements and stateless DHCPv6 on the bridge.
#include "dhcp/ipv6_service.hpp"

#include <net/if.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "base/in_netns.hpp"
#include "base/log.hpp"

#ifndef IPV6_FREEBIND
#define IPV6_FREEBIND 78
#endif

namespace paddock::dhcp {
namespace asio = boost::asio;
using udp = asio::ip::udp;
using namespace asio::experimental::awaitable_operators;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

struct ipv6_service::sockets {
    explicit sockets(asio::any_io_executor ex) : icmp(ex), dhcp(ex) {}
    asio::posix::stream_descriptor icmp; // raw ICMPv6: RAs out, solicitations in
    udp::socket dhcp;                    // [::]:547
    unsigned ifindex = 0;                // the bridge in the namespace
};

namespace {
sockaddr_in6 endpoint(const ipv6& a, std::uint16_t port, unsigned ifindex)
{
    sockaddr_in6 sa{};
    sa.sin6_family = AF_INET6;
    sa.sin6_port = htons(port);
    std::memcpy(&sa.sin6_addr, a.b.data(), 16);
    sa.sin6_scope_id = ifindex;
    return sa;
}

bool join(int fd, const char* group, unsigned ifindex)
{
    ipv6_mreq m{};
    ::inet_pton(AF_INET6, group, &m.ipv6mr_multiaddr);
    m.ipv6mr_interface = ifindex;
    return ::setsockopt(fd, IPPROTO_IPV6, IPV6_ADD_MEMBERSHIP, &m, sizeof m) == 0;
}

asio::awaitable<void> pause_ms(asio::any_io_executor ex, long ms)
{
    asio::steady_timer t(ex, std::chrono::milliseconds(ms));
    co_await t.async_wait(use_tuple);
}
} // namespace

ipv6_service::ipv6_service(asio::any_io_executor ex, ra_params p, std::string bridge, mac_bytes bridge_mac, ipv6 router)
    : ex_(ex), p_(std::move(p)), bridge_(std::move(bridge)), bridge_mac_(bridge_mac), router_(router),
      ra_(router_advertisement(p_))
{
}

status ipv6_service::open(int ns_fd)
{
    unsigned ifindex = 0;
    if (auto st = run_in_netns(ns_fd, [&]() -> status {
            ifindex = ::if_nametoindex(bridge_.c_str());
            return ifindex ? ok() : fail(errc::netns_failed, "no bridge " + bridge_ + " in the namespace");
        });
        !st)
        return st;
    int icmp = socket_in(ns_fd, AF_INET6, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMPV6);
    int dh = socket_in(ns_fd, AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    auto bad = [&](const std::string& what) {
        auto f = fail(errc::netns_failed, "IPv6 service: " + what + ": " + std::strerror(errno));
        if (icmp >= 0)
            ::close(icmp);
        if (dh >= 0)
            ::close(dh);
        return f;
    };
    if (icmp < 0 || dh < 0)
        return bad("socket");
    int one = 1, zero = 0, hops = 255;
    icmp6_filter filter;
    ICMP6_FILTER_SETBLOCKALL(&filter);
    ICMP6_FILTER_SETPASS(ND_ROUTER_SOLICIT, &filter);
    if (::setsockopt(icmp, IPPROTO_ICMPV6, ICMP6_FILTER, &filter, sizeof filter) != 0 ||
        ::setsockopt(icmp, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof hops) != 0 ||
        ::setsockopt(icmp, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &hops, sizeof hops) != 0 ||
        ::setsockopt(icmp, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &zero, sizeof zero) != 0 ||
        ::setsockopt(icmp, IPPROTO_IPV6, IPV6_MULTICAST_IF, &ifindex, sizeof ifindex) != 0 ||
        ::setsockopt(icmp, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &one, sizeof one) != 0)
        return bad("ICMPv6 socket options");
    // The RAs' source is the gateway's link-local address, which lives on the host end of the
    // veth pair, not in this namespace.
    if (::setsockopt(icmp, IPPROTO_IPV6, IPV6_FREEBIND, &one, sizeof one) != 0)
        return bad("IPV6_FREEBIND");
    if (!join(icmp, "ff02::2", ifindex))
        return bad("join ff02::2");
    ::setsockopt(dh, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    ::setsockopt(dh, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    sockaddr_in6 any = endpoint(ipv6{}, 547, 0);
    if (::bind(dh, reinterpret_cast<sockaddr*>(&any), sizeof any) != 0)
        return bad("bind [::]:547");
    if (!join(dh, "ff02::1:2", ifindex))
        return bad("join ff02::1:2");
    auto s = std::make_shared<sockets>(ex_);
    boost::system::error_code ec;
    s->icmp.assign(icmp, ec);
    if (!ec)
        s->dhcp.assign(udp::v6(), dh, ec);
    if (ec) {
        ::close(dh);
        return fail(errc::netns_failed, "IPv6 service: " + ec.message());
    }
    s->ifindex = ifindex;
    if (s_) {
        s_->icmp.close(ec);
        s_->dhcp.close(ec);
    }
    s_ = s;
    log::info("ipv6", "router advertisements for ", to_string(p_.prefix), " (router ", to_string(router_), ", DNS ",
              to_string(p_.dns), ") and DHCPv6 on ", bridge_, " in the namespace");
    // A new namespace or bridge: tell the hosts at once.
    send_ra(*parse_ipv6("ff02::1"));
    return ok();
}

bool ipv6_service::send_ra(const ipv6& to)
{
    auto s = s_;
    if (!s || !s->icmp.is_open())
        return false;
    sockaddr_in6 dst = endpoint(to, 0, s->ifindex);
    iovec iov{ra_.data(), ra_.size()};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(in6_pktinfo))] = {};
    msghdr m{};
    m.msg_name = &dst;
    m.msg_namelen = sizeof dst;
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = control;
    m.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = IPPROTO_IPV6;
    c->cmsg_type = IPV6_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof(in6_pktinfo));
    in6_pktinfo pi{};
    std::memcpy(&pi.ipi6_addr, router_.b.data(), 16);
    pi.ipi6_ifindex = s->ifindex;
    std::memcpy(CMSG_DATA(c), &pi, sizeof pi);
    if (::sendmsg(s->icmp.native_handle(), &m, MSG_DONTWAIT) < 0) {
        log::warn("ipv6", "router advertisement to ", to_string(to), ": ", std::strerror(errno));
        return false;
    }
    return true;
}

asio::awaitable<void> ipv6_service::run()
{
    co_await (advertise_loop() && solicit_loop() && dhcp_loop());
}

asio::awaitable<void> ipv6_service::advertise_loop()
{
    // The first ones close together (RFC 4861 6.2.4), then every 67 to 200 s.
    const ipv6 all = *parse_ipv6("ff02::1");
    for (int n = 0;; ++n) {
        long ms = n < 3 ? 2000 : std::uniform_int_distribution<long>(67000, 200000)(rng_);
        co_await pause_ms(ex_, ms);
        auto cs = co_await asio::this_coro::cancellation_state;
        if (cs.cancelled() != asio::cancellation_type::none)
            co_return;
        if (send_ra(all))
            ++ra_periodic_;
    }
}

asio::awaitable<void> ipv6_service::solicit_loop()
{
    std::uint8_t buf[1500];
    for (;;) {
        auto cs = co_await asio::this_coro::cancellation_state;
        if (cs.cancelled() != asio::cancellation_type::none)
            co_return;
        auto s = s_;
        if (!s) {
            co_await pause_ms(ex_, 200);
            continue;
        }
        auto [ec] = co_await s->icmp.async_wait(asio::posix::stream_descriptor::wait_read, use_tuple);
        if (ec) {
            if (s == s_ && ec != asio::error::operation_aborted)
                co_await pause_ms(ex_, 100);
            continue;
        }
        for (;;) {
            sockaddr_in6 from{};
            iovec iov{buf, sizeof buf};
            alignas(cmsghdr) char control[256];
            msghdr m{};
            m.msg_name = &from;
            m.msg_namelen = sizeof from;
            m.msg_iov = &iov;
            m.msg_iovlen = 1;
            m.msg_control = control;
            m.msg_controllen = sizeof control;
            ssize_t n = ::recvmsg(s->icmp.native_handle(), &m, MSG_DONTWAIT);
            if (n < 0)
                break;
            int hop_limit = -1;
            for (cmsghdr* c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
                if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT)
                    std::memcpy(&hop_limit, CMSG_DATA(c), sizeof hop_limit);
            // Only from the link itself (hop limit 255), well formed (RFC 4861 6.1.1).
            if (hop_limit != 255 || !router_solicitation(buf, static_cast<std::size_t>(n)))
                continue;
            ++rs_;
            ipv6 src;
            std::memcpy(src.b.data(), &from.sin6_addr, 16);
            if (src != ipv6{}) {
                if (send_ra(src))
                    ++ra_solicited_;
                continue;
            }
            const auto now = std::chrono::steady_clock::now();
            if (now - last_multicast_ >= std::chrono::seconds(3) && send_ra(*parse_ipv6("ff02::1"))) {
                last_multicast_ = now;
                ++ra_solicited_;
            }
        }
    }
}

asio::awaitable<void> ipv6_service::dhcp_loop()
{
    std::uint8_t buf[1500];
    for (;;) {
        auto cs = co_await asio::this_coro::cancellation_state;
        if (cs.cancelled() != asio::cancellation_type::none)
            co_return;
        auto s = s_;
        if (!s) {
            co_await pause_ms(ex_, 200);
            continue;
        }
        udp::endpoint from;
        auto [ec, n] = co_await s->dhcp.async_receive_from(asio::buffer(buf), from, use_tuple);
        if (ec) {
            if (s == s_ && ec != asio::error::operation_aborted)
                co_await pause_ms(ex_, 100);
            continue;
        }
        auto reply = dhcpv6_reply(buf, n, p_, bridge_mac_);
        if (!reply)
            continue;
        boost::system::error_code ignored;
        s->dhcp.send_to(asio::buffer(*reply), from, 0, ignored);
        if (!ignored)
            ++dhcp_replies_;
    }
}

void ipv6_service::report(metric_list& out) const
{
    auto& ra = out.family("paddock_ipv6_router_advertisements_total", "counter",
                          "Router Advertisements sent on the bridge: periodic, or answering a solicitation.");
    ra.add({{"kind", "periodic"}}, static_cast<double>(ra_periodic_));
    ra.add({{"kind", "solicited"}}, static_cast<double>(ra_solicited_));
    out.family("paddock_ipv6_router_solicitations_total", "counter", "Router Solicitations received.")
        .add(static_cast<double>(rs_));
    out.family("paddock_dhcpv6_replies_total", "counter", "Stateless DHCPv6 replies (DNS server and domain) sent.")
        .add(static_cast<double>(dhcp_replies_));
}

} // namespace paddock::dhcp
