// SPDX-License-Identifier: MIT
// DRIVER: DHCP server sockets, batching, group commit.
#include "dhcp/server.hpp"

#include <cerrno>
#include <cstring>

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include "base/event_bus.hpp"
#include "base/log.hpp"
#include "base/time.hpp"
#include "dhcp/frame.hpp"
#include "net/netns.hpp"

namespace paddock::dhcp {
namespace asio = boost::asio;
namespace json = boost::json;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

struct server::held {
    reply r;
    int ifindex;
};
struct server::waiter {
    asio::steady_timer t;
    status st = ok();
    explicit waiter(asio::any_io_executor ex) : t(ex, asio::steady_timer::time_point::max()) {}
};
struct server::batch {
    std::vector<store_op> ops;
    std::vector<held> replies;
    std::vector<std::shared_ptr<waiter>> waiters;
};

namespace {
// (A helper, not a braced list: g++ 12 rejects those inside coroutine bodies.)
std::vector<store_op> one(store_op op)
{
    std::vector<store_op> v;
    v.push_back(std::move(op));
    return v;
}

} // namespace

server::server(asio::any_io_executor ex, engine_config cfg, lease_store store, event_bus& bus)
    : ex_(ex), engine_(std::move(cfg)), store_(std::move(store)), bus_(bus), udp_(ex), reopened_(ex),
      pending_(std::make_unique<batch>())
{
}

server::~server()
{
    writer_.join(); // no commit may touch store_ after this object is gone
    if (raw_fd_ >= 0)
        ::close(raw_fd_);
}

status server::load()
{
    auto resv = store_.load_reservations();
    if (!resv)
        return resv.error();
    for (auto& r : *resv)
        if (auto st = engine_.reserve(r); !st)
            log::warn("dhcp", "stored reservation ", r.mac, " -> ", to_string(r.ip), " skipped: ", st.error().message);
    auto leases = store_.load_leases();
    if (!leases)
        return leases.error();
    for (auto& l : *leases)
        engine_.restore(l);
    log::info("dhcp", "restored ", leases->size(), " lease(s) and ", resv->size(), " reservation(s)");
    return ok();
}

status server::open(int ns_fd)
{
    int udp = -1, raw = -1;
    auto st = net::run_in_netns(ns_fd, [&]() -> status {
        udp = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (udp < 0)
            return fail(errc::dhcp_socket, std::string("socket: ") + std::strerror(errno));
        int one = 1;
        int buf = 4 << 20;
        ::setsockopt(udp, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        ::setsockopt(udp, SOL_SOCKET, SO_BROADCAST, &one, sizeof one);
        ::setsockopt(udp, IPPROTO_IP, IP_PKTINFO, &one, sizeof one);
        // A generous receive buffer absorbs bursts while a commit is in flight.
        if (::setsockopt(udp, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof buf) != 0)
            ::setsockopt(udp, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(67);
        a.sin_addr.s_addr = htonl(INADDR_ANY);
        if (::bind(udp, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
            return fail(errc::dhcp_socket, std::string("bind 0.0.0.0:67 in the namespace: ") + std::strerror(errno));
        // Protocol 0: a send-only packet socket (it receives nothing, so costs nothing).
        raw = ::socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (raw < 0)
            return fail(errc::dhcp_socket, std::string("packet socket: ") + std::strerror(errno));
        return ok();
    });
    if (!st) {
        if (udp >= 0)
            ::close(udp);
        if (raw >= 0)
            ::close(raw);
        return st;
    }
    boost::system::error_code ec;
    if (udp_.is_open())
        udp_.close(ec);
    udp_.assign(asio::ip::udp::v4(), udp, ec);
    if (ec) {
        ::close(udp);
        ::close(raw);
        return fail(errc::dhcp_socket, "assign: " + ec.message());
    }
    if (raw_fd_ >= 0)
        ::close(raw_fd_);
    raw_fd_ = raw;
    reopened_.cancel();
    log::info("dhcp", "listening on 0.0.0.0:67 in the namespace (server id ", to_string(engine_.config().server_id),
              ", pool ", to_string(engine_.config().pool_start), "-", to_string(engine_.config().pool_end), ")");
    return ok();
}

asio::awaitable<void> server::run()
{
    using namespace asio::experimental::awaitable_operators;
    co_await (receive_loop() && expiry_loop());
}

asio::awaitable<void> server::receive_loop()
{
    std::vector<std::uint8_t> buf(4096);
    for (;;) {
        auto cs = co_await asio::this_coro::cancellation_state;
        if (cs.cancelled() != asio::cancellation_type::none)
            co_return;
        if (!udp_.is_open()) {
            reopened_.expires_at(asio::steady_timer::time_point::max());
            co_await reopened_.async_wait(use_tuple);
            continue;
        }
        auto [ec] = co_await udp_.async_wait(asio::ip::udp::socket::wait_read, use_tuple);
        if (ec) {
            cs = co_await asio::this_coro::cancellation_state;
            if (cs.cancelled() != asio::cancellation_type::none)
                co_return;
            continue; // the socket was replaced (namespace recreated)
        }
        const std::int64_t now = unix_now();
        const int fd = udp_.native_handle();
        // Drain what is queued; each batch ends in at most one commit.
        for (int i = 0; i < 512; ++i) {
            sockaddr_in from{};
            iovec iov{buf.data(), buf.size()};
            alignas(cmsghdr) char control[CMSG_SPACE(sizeof(in_pktinfo))];
            msghdr mh{};
            mh.msg_name = &from;
            mh.msg_namelen = sizeof from;
            mh.msg_iov = &iov;
            mh.msg_iovlen = 1;
            mh.msg_control = control;
            mh.msg_controllen = sizeof control;
            ssize_t n = ::recvmsg(fd, &mh, MSG_DONTWAIT);
            if (n < 0)
                break;
            int ifindex = 0;
            bool to_broadcast = false;
            for (cmsghdr* c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
                if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
                    in_pktinfo pi;
                    std::memcpy(&pi, CMSG_DATA(c), sizeof pi);
                    ifindex = pi.ipi_ifindex;
                    ipv4 dst{ntohl(pi.ipi_addr.s_addr)};
                    to_broadcast = dst.value == 0xFFFFFFFFu || dst == engine_.config().subnet.broadcast();
                }
            ++stats_.received;
            process(std::span(buf.data(), static_cast<std::size_t>(n)), ifindex, to_broadcast, now);
        }
        flush();
    }
}

asio::awaitable<void> server::expiry_loop()
{
    asio::steady_timer t(ex_);
    for (;;) {
        t.expires_after(std::chrono::seconds(1));
        auto [ec] = co_await t.async_wait(use_tuple);
        auto cs = co_await asio::this_coro::cancellation_state;
        if (ec || cs.cancelled() != asio::cancellation_type::none)
            co_return;
        auto changes = engine_.expire(unix_now());
        for (auto& c : changes) {
            log::info("dhcp", "lease ", to_string(c.what), ": ", to_string(c.l.ip), " ", c.l.mac);
            pending_->ops.push_back(c);
        }
        flush();
    }
}

void server::process(std::span<const std::uint8_t> pkt, int ifindex, bool to_broadcast, std::int64_t now)
{
    auto m = decode(pkt);
    if (!m) {
        ++stats_.malformed;
        log::debug("dhcp", "dropped malformed packet: ", m.error().message);
        return;
    }
    decision d = engine_.handle(*m, packet_meta{to_broadcast}, now);
    if (d.pool_exhausted)
        log::warn("dhcp", d.note);
    else if (!d.note.empty())
        log::debug("dhcp", d.note);
    for (auto& c : d.changes)
        pending_->ops.push_back(std::move(c));
    if (!d.out)
        return;
    if (d.out->after_commit)
        pending_->replies.push_back({std::move(*d.out), ifindex});
    else
        send(*d.out, ifindex);
}

void server::send(const reply& r, int ifindex)
{
    const auto payload = encode(r.msg);
    const ipv4 src = engine_.config().server_id;
    ssize_t n = -1;
    if (r.link_unicast && raw_fd_ >= 0 && ifindex > 0) {
        auto frame = ipv4_udp_frame(src, r.to, 67, r.port, payload);
        sockaddr_ll ll{};
        ll.sll_family = AF_PACKET;
        ll.sll_protocol = htons(ETH_P_IP);
        ll.sll_ifindex = ifindex;
        ll.sll_halen = 6;
        std::memcpy(ll.sll_addr, r.msg.chaddr.data(), 6);
        n = ::sendto(raw_fd_, frame.data(), frame.size(), 0, reinterpret_cast<sockaddr*>(&ll), sizeof ll);
    }
    else if (udp_.is_open()) {
        sockaddr_in to{};
        to.sin_family = AF_INET;
        to.sin_port = htons(r.port);
        to.sin_addr.s_addr = htonl(r.link_unicast ? 0xFFFFFFFFu : r.to.value);
        iovec iov{const_cast<std::uint8_t*>(payload.data()), payload.size()};
        alignas(cmsghdr) char control[CMSG_SPACE(sizeof(in_pktinfo))] = {};
        msghdr mh{};
        mh.msg_name = &to;
        mh.msg_namelen = sizeof to;
        mh.msg_iov = &iov;
        mh.msg_iovlen = 1;
        if (ifindex > 0) {
            // Out of the interface the request came in on, from the server's address.
            mh.msg_control = control;
            mh.msg_controllen = sizeof control;
            cmsghdr* c = CMSG_FIRSTHDR(&mh);
            c->cmsg_level = IPPROTO_IP;
            c->cmsg_type = IP_PKTINFO;
            c->cmsg_len = CMSG_LEN(sizeof(in_pktinfo));
            in_pktinfo pi{};
            pi.ipi_ifindex = ifindex;
            pi.ipi_spec_dst.s_addr = htonl(src.value);
            std::memcpy(CMSG_DATA(c), &pi, sizeof pi);
        }
        n = ::sendmsg(udp_.native_handle(), &mh, MSG_DONTWAIT);
    }
    if (n < 0) {
        ++stats_.send_errors;
        log::debug("dhcp", "send to ", to_string(r.to), " failed: ", std::strerror(errno));
        return;
    }
    ++stats_.replies;
}

void server::flush()
{
    if (committing_ || (pending_->ops.empty() && pending_->waiters.empty())) {
        // Nothing durable to wait for: replies held without changes cannot happen, but never strand one.
        if (!committing_ && !pending_->replies.empty()) {
            for (auto& h : pending_->replies)
                send(h.r, h.ifindex);
            pending_->replies.clear();
        }
        return;
    }
    committing_ = true;
    std::shared_ptr<batch> b(pending_.release());
    pending_ = std::make_unique<batch>();
    asio::post(writer_, [this, b] {
        status st = store_.commit(b->ops);
        asio::post(ex_, [this, b, st] {
            committing_ = false;
            committed(*b, st);
            flush();
        });
    });
}

void server::committed(batch& b, const status& st)
{
    if (!st) {
        // Nothing was promised yet: the held ACKs are dropped and the clients will retry.
        log::error("dhcp", "lease commit failed (", b.replies.size(), " ACK(s) withheld): ", st.error().message);
        for (auto& w : b.waiters) {
            w->st = st;
            w->t.cancel();
        }
        return;
    }
    ++stats_.commits;
    stats_.committed_ops += b.ops.size();
    for (auto& h : b.replies)
        send(h.r, h.ifindex);
    const auto now = std::chrono::system_clock::now();
    for (auto& op : b.ops) {
        auto* c = std::get_if<change>(&op);
        if (!c)
            continue;
        const char* type = c->what == change::kind::bound      ? "lease.bound"
                           : c->what == change::kind::released ? "lease.released"
                           : c->what == change::kind::expired  ? "lease.expired"
                                                               : nullptr;
        if (type)
            bus_.publish(type, c->l.vm, lease_json(c->l), now);
        if (c->what == change::kind::declined)
            log::warn("dhcp", "address ", to_string(c->l.ip), " declined by a client: quarantined");
    }
    for (auto& w : b.waiters)
        w->t.cancel();
}

asio::awaitable<status> server::durable(std::vector<store_op> ops)
{
    auto w = std::make_shared<waiter>(ex_);
    for (auto& op : ops)
        pending_->ops.push_back(std::move(op));
    pending_->waiters.push_back(w);
    flush();
    co_await w->t.async_wait(use_tuple); // cancelled once the batch holding `ops` is committed
    co_return w->st;
}

asio::awaitable<status> server::reserve(reservation r)
{
    auto before = engine_.reservations();
    if (auto st = engine_.reserve(r); !st)
        co_return st;
    // Named first: g++ 12 mishandles aggregate temporaries inside a co_await expression.
    auto ops = one(put_reservation{r});
    auto st = co_await durable(std::move(ops));
    if (!st) {
        engine_.unreserve(r.mac);
        if (auto old = before.find(r.mac); old != before.end())
            engine_.reserve(old->second);
    }
    co_return st;
}

asio::awaitable<bool> server::unreserve(std::string mac)
{
    if (!engine_.unreserve(mac))
        co_return false;
    auto ops = one(delete_reservation{mac});
    co_await durable(std::move(ops));
    co_return true;
}

asio::awaitable<void> server::forget(std::string mac)
{
    std::vector<store_op> ops;
    if (engine_.unreserve(mac))
        ops.push_back(delete_reservation{mac});
    for (auto& c : engine_.forget(mac))
        ops.push_back(c);
    if (!ops.empty())
        co_await durable(std::move(ops));
}

json::object server::lease_json(const lease& l) const
{
    json::object o{{"mac", l.mac},
                   {"ip", to_string(l.ip)},
                   {"hostname", l.hostname},
                   {"vm", l.vm.empty() ? json::value(nullptr) : json::value(l.vm)},
                   {"expires_at", iso8601(l.expires_at)},
                   {"state", to_string(l.state)}};
    if (!l.client_id.empty())
        o["client_id"] = l.client_id;
    return o;
}

json::array server::leases_json() const
{
    json::array out;
    for (auto& [ip, l] : engine_.leases())
        out.push_back(lease_json(l));
    // Reservations whose client holds no lease yet are listed too: the address is known before boot.
    for (auto& [mac, r] : engine_.reservations()) {
        auto it = engine_.leases().find(r.ip.value);
        if (it != engine_.leases().end() && it->second.mac == mac)
            continue;
        out.push_back(json::object{{"mac", mac},
                                   {"ip", to_string(r.ip)},
                                   {"hostname", r.hostname},
                                   {"vm", r.vm.empty() ? json::value(nullptr) : json::value(r.vm)},
                                   {"expires_at", nullptr},
                                   {"state", "reserved"}});
    }
    return out;
}

json::array server::reservations_json() const
{
    json::array out;
    for (auto& [mac, r] : engine_.reservations())
        out.push_back(json::object{{"mac", mac},
                                   {"ip", to_string(r.ip)},
                                   {"hostname", r.hostname},
                                   {"vm", r.vm.empty() ? json::value(nullptr) : json::value(r.vm)}});
    return out;
}

} // namespace paddock::dhcp
