// SPDX-License-Identifier: MIT
// DRIVER: DHCP server sockets, batching, group commit.
#include "dhcp/server.hpp"

#include <cerrno>
#include <array>
#include <cstring>
#include <ctime>

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
#include "base/in_netns.hpp"
#include "base/log.hpp"
#include "base/time.hpp"
#include "base/udp_batch.hpp"
#include "dhcp/admission.hpp"
#include "dhcp/frame.hpp"

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

server::server(asio::any_io_executor ex, engine_config cfg, persistence& store, event_bus& bus)
    : ex_(ex), engine_(std::move(cfg)), store_(store), bus_(bus), udp_(ex), reopened_(ex),
      pending_(std::make_unique<batch>()), retry_(ex), pace_(ex)
{
    engine_.explain(log::current_level() <= log::level::debug);
}

server::~server()
{
    const auto& s = stats_;
    log::info("dhcp", "since start: ", s.received, " received, ", s.replies, " replies, ", s.shed, " shed (waited too long), ",
              s.limited, " limited, ", s.malformed, " malformed, ", s.send_errors, " send errors, ", s.commits, " commits of ", s.committed_ops,
              " changes, ", s.failed_commits, " failed");
    if (raw_fd_ >= 0)
        ::close(raw_fd_);
}

void server::rebuild(const snapshot& s)
{
    const bool explain = engine_.explaining();
    engine_ = engine(engine_.config());
    engine_.explain(explain);
    for (auto& r : s.reservations)
        if (auto st = engine_.reserve(r); !st)
            log::warn("dhcp", "stored reservation ", r.mac, " -> ", to_string(r.ip), " skipped: ", st.error().message);
    for (auto& l : s.leases)
        engine_.restore(l);
}

void server::load(const snapshot& s)
{
    rebuild(s);
    log::info("dhcp", "restored ", s.leases.size(), " lease(s) and ", s.reservations.size(), " reservation(s)");
}

status server::open(int ns_fd)
{
    return open_with([ns_fd](int d, int t, int p) { return socket_in(ns_fd, d, t, p); });
}

void server::report(metric_list& out) const
{
    auto& pk = out.family("paddock_dhcp_packets_total", "counter",
                          "DHCP packets received, by message type and outcome (what was sent back, or why nothing was).");
    for (std::size_t t = 0; t < stats_.by_type.size(); ++t)
        for (std::size_t o = 0; o < stats_.by_type[t].size(); ++o) {
            if (stats_.by_type[t][o] == 0)
                continue;
            const char* type = t == 0 ? "unknown" : to_string(static_cast<msg_type>(t));
            pk.add({{"type", type}, {"outcome", outcome_name(static_cast<outcome>(o))}}, static_cast<double>(stats_.by_type[t][o]));
        }
    out.family("paddock_dhcp_failed_commits_total", "counter", "Lease commits the store refused (their ACKs were withheld).")
        .add(static_cast<double>(stats_.failed_commits));
    std::size_t bound = 0;
    for (auto& [ip, l] : engine_.leases())
        bound += l.state == lease_state::bound ? 1 : 0;
    out.family("paddock_dhcp_active_leases", "gauge", "Bound DHCP leases.").add(static_cast<double>(bound));
    out.family("paddock_dhcp_pool_free", "gauge", "Pool addresses neither leased, offered nor reserved.")
        .add(static_cast<double>(engine_.pool_size() - std::min(engine_.pool_size(), engine_.pool_used())));
    out.family("paddock_dhcp_pool_size", "gauge", "Addresses in the DHCP pool.").add(static_cast<double>(engine_.pool_size()));
}

status server::open_with(const socket_factory& make)
{
    int udp = -1, raw = -1;
    auto st = [&]() -> status {
        udp = make(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (udp < 0)
            return fail(errc::dhcp_socket, std::string("socket: ") + std::strerror(errno));
        int one = 1;
        int buf = 1 << 20;
        ::setsockopt(udp, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        ::setsockopt(udp, SOL_SOCKET, SO_BROADCAST, &one, sizeof one);
        ::setsockopt(udp, IPPROTO_IP, IP_PKTINFO, &one, sizeof one);
        // The kernel's receive time of each request: how long it waited decides admission.
        ::setsockopt(udp, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
        // The packet's mark: the guard table marks DHCP with a hash of the bridge port it came in
        // on (the only per-port fact a UDP socket on the bridge can see; Linux 5.19+).
        ::setsockopt(udp, SOL_SOCKET, SO_RCVMARK, &one, sizeof one);
        // Room for bursts while a commit is in flight, but bounded: a deeper queue only holds
        // requests longer than their clients wait (admission drops those).
        if (::setsockopt(udp, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof buf) != 0)
            ::setsockopt(udp, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(67);
        a.sin_addr.s_addr = htonl(INADDR_ANY);
        if (::bind(udp, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
            return fail(errc::dhcp_socket, std::string("bind 0.0.0.0:67 in the namespace: ") + std::strerror(errno));
        // Protocol 0: a send-only packet socket (it receives nothing, so costs nothing).
        raw = make(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (raw < 0)
            return fail(errc::dhcp_socket, std::string("packet socket: ") + std::strerror(errno));
        return ok();
    }();
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

namespace {
std::int64_t realtime_us()
{
    timespec ts{};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000;
}
} // namespace

asio::awaitable<void> server::receive_loop()
{
    // 64 datagrams a syscall; DHCP messages fit 2 KiB (RFC 2131: 576 unless option 57 says more).
    udp_batch rx(64, 2048,
                 CMSG_SPACE(sizeof(in_pktinfo)) + CMSG_SPACE(sizeof(timespec)) + CMSG_SPACE(sizeof(std::uint32_t)));
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
        const int fd = udp_.native_handle();
        // Drain what is queued, 64 datagrams a syscall; each drain ends in at most one commit.
        for (int round = 0; round < 8; ++round) {
            int got = rx.receive(fd);
            if (got == 0)
                break;
            const std::int64_t now_us = realtime_us();
            for (int k = 0; k < got; ++k) {
                msghdr& mh = rx.header(k);
                int ifindex = 0;
                std::uint32_t port = 0;
                bool to_broadcast = false;
                std::int64_t received_us = 0;
                for (cmsghdr* c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
                    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
                        in_pktinfo pi;
                        std::memcpy(&pi, CMSG_DATA(c), sizeof pi);
                        ifindex = pi.ipi_ifindex;
                        ipv4 dst{ntohl(pi.ipi_addr.s_addr)};
                        to_broadcast = dst.value == 0xFFFFFFFFu || dst == engine_.config().subnet.broadcast();
                    }
                    else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
                        timespec ts;
                        std::memcpy(&ts, CMSG_DATA(c), sizeof ts);
                        received_us = static_cast<std::int64_t>(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000;
                    }
                    else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_MARK)
                        std::memcpy(&port, CMSG_DATA(c), sizeof port);
                }
                ++stats_.received;
                if (reconciling_) {
                    ++stats_.dropped_while_reconciling; // decided on a state about to be replaced
                    continue;
                }
                process(rx.datagram(k), ifindex, port, to_broadcast, received_us, now_us);
            }
            if (got < rx.capacity())
                break;
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
        if (reconciling_)
            continue;
        auto changes = engine_.expire(unix_now());
        for (auto& c : changes) {
            log::info("dhcp", "lease ", to_string(c.what), ": ", to_string(c.l.ip), " ", c.l.mac);
            pending_->ops.push_back(c);
        }
        flush();
    }
}

const char* server::outcome_name(outcome o)
{
    switch (o) {
    case outcome::offer: return "offer";
    case outcome::ack: return "ack";
    case outcome::nak: return "nak";
    case outcome::no_reply: return "no_reply";
    case outcome::shed: return "shed";
    case outcome::limited: return "limited";
    case outcome::malformed: return "malformed";
    case outcome::count: break;
    }
    return "?";
}

void server::process(std::span<const std::uint8_t> pkt, int ifindex, std::uint32_t port, bool to_broadcast,
                     std::int64_t received_us, std::int64_t now_us)
{
    const std::int64_t now = now_us / 1'000'000; // the engine works in seconds
    auto m = decode(pkt);
    if (!m) {
        ++stats_.malformed;
        stats_.count(std::nullopt, outcome::malformed);
        log::debug("dhcp", "dropped malformed packet: ", m.error().message);
        return;
    }
    const auto type = m->type();
    if (type && !admit(admission_, *type, received_us, now_us)) {
        ++stats_.shed; // waited in the queue longer than its client waits for the answer
        stats_.count(type, outcome::shed);
        return;
    }
    // One client's rate: the port and the hardware address it speaks for (a client-id could be
    // made up per packet more cheaply than a MAC the guard lets through).
    char key[4 + 16];
    std::memcpy(key, &port, 4);
    std::memcpy(key + 4, m->chaddr.data(), m->chaddr.size());
    if ((port && !port_rate_.allow(std::string(key, 4), now_us)) || !client_rate_.allow(std::string(key, sizeof key), now_us)) {
        ++stats_.limited;
        stats_.count(type, outcome::limited);
        return;
    }
    packet_meta meta;
    meta.broadcast = to_broadcast;
    meta.port = port;
    decision d = engine_.handle(*m, meta, now);
    if (d.port_full) {
        ++stats_.limited;
        stats_.count(type, outcome::limited);
        auto t = std::chrono::steady_clock::now();
        if (t - port_full_warned_ >= std::chrono::minutes(1)) {
            port_full_warned_ = t;
            log::warn("dhcp", d.note, " (said at most once a minute)");
        }
        return;
    }
    if (!d.out)
        stats_.count(type, outcome::no_reply);
    else {
        auto rt = d.out->msg.type();
        stats_.count(type, rt == msg_type::offer ? outcome::offer : rt == msg_type::nak ? outcome::nak : outcome::ack);
    }
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
    if (reconciling_)
        return;
    if (committing_ || (pending_->ops.empty() && pending_->waiters.empty())) {
        // Nothing durable to wait for: replies held without changes cannot happen, but never strand one.
        if (!committing_ && !pending_->replies.empty()) {
            for (auto& h : pending_->replies)
                send(h.r, h.ifindex);
            pending_->replies.clear();
        }
        return;
    }
    // Pace commits under load: one right away when the last was a while ago (no added latency when
    // quiet), else at most one per commit_spacing, so each carries many leases. A waiting API call
    // or a large batch goes at once.
    const auto now = std::chrono::steady_clock::now();
    if (now < next_commit_ && pending_->waiters.empty() && pending_->ops.size() < 512) {
        if (!pace_armed_) {
            pace_armed_ = true;
            pace_.expires_at(next_commit_);
            pace_.async_wait([this](boost::system::error_code ec) {
                pace_armed_ = false;
                if (!ec)
                    flush();
            });
        }
        return;
    }
    next_commit_ = now + commit_spacing;
    committing_ = true;
    std::shared_ptr<batch> b(pending_.release());
    pending_ = std::make_unique<batch>();
    store_.commit(b->ops, [this, b](status st) {
        committing_ = false;
        committed(*b, st);
        flush();
    });
}

void server::committed(batch& b, const status& st)
{
    if (!st) {
        // Nothing was promised yet: the held ACKs are dropped and the clients will retry.
        ++stats_.failed_commits;
        log::error("dhcp", "lease commit failed (", b.replies.size(), " ACK(s) withheld): ", st.error().message);
        for (auto& w : b.waiters)
            reconcile_waiters_.push_back(w);
        reconcile(st);
        return;
    }
    ++stats_.commits;
    stats_.committed_ops += b.ops.size();
    for (auto& h : b.replies)
        send(h.r, h.ifindex);
    const auto now = std::chrono::system_clock::now();
    const auto mono = std::chrono::steady_clock::now();
    for (auto& op : b.ops) {
        auto* c = std::get_if<change>(&op);
        if (!c)
            continue;
        std::optional<event_type> type;
        if (c->what == change::kind::bound && news(c->l, mono))
            type = event_type::lease_bound;
        else if (c->what == change::kind::released)
            type = event_type::lease_released;
        else if (c->what == change::kind::expired)
            type = event_type::lease_expired;
        if (c->what != change::kind::bound)
            published_.erase(c->l.ip.value);
        if (type)
            bus_.publish(*type, c->l.vm, info_of(c->l), now);
        if (c->what == change::kind::bound && on_bound_)
            on_bound_(c->l);
        if (c->what == change::kind::declined)
            log::warn("dhcp", "address ", to_string(c->l.ip), " declined by a client: quarantined");
    }
    for (auto& w : b.waiters)
        w->t.cancel();
}

bool server::news(const lease& l, std::chrono::steady_clock::time_point now)
{
    auto& p = published_[l.ip.value];
    const bool same = p.at != std::chrono::steady_clock::time_point{} && p.mac == l.mac && p.client_id == l.client_id &&
                      p.hostname == l.hostname && p.vm == l.vm;
    if (same && now - p.at < renewal_event_every)
        return false;
    p = {l.mac, l.client_id, l.hostname, l.vm, now};
    return true;
}

void server::reconcile(status why)
{
    if (!reconciling_) {
        reconciling_ = true;
        reconcile_cause_ = why;
        // The batch queued behind the failed one was decided on top of it: drop it too.
        for (auto& w : pending_->waiters)
            reconcile_waiters_.push_back(w);
        pending_ = std::make_unique<batch>();
    }
    store_.reload([this](result<snapshot> s) {
        if (!s) {
            log::error("dhcp", "cannot read the store back (", s.error().message, "); retrying in 1 s");
            retry_.expires_after(std::chrono::seconds(1));
            retry_.async_wait([this](boost::system::error_code ec) {
                if (!ec)
                    reconcile(reconcile_cause_);
            });
            return;
        }
        rebuild(*s);
        reconciling_ = false;
        log::warn("dhcp", "lease table reloaded from the store after a failed commit (", s->leases.size(), " lease(s), ",
                  s->reservations.size(), " reservation(s))");
        auto waiters = std::move(reconcile_waiters_);
        reconcile_waiters_.clear();
        for (auto& w : waiters) {
            w->st = reconcile_cause_;
            w->t.cancel();
        }
        flush();
    });
}

asio::awaitable<status> server::durable(std::vector<store_op> ops)
{
    auto w = std::make_shared<waiter>(ex_);
    if (reconciling_)
        reconcile_waiters_.push_back(w); // the engine change behind `ops` is about to be undone
    else {
        for (auto& op : ops)
            pending_->ops.push_back(std::move(op));
        pending_->waiters.push_back(w);
        flush();
    }
    co_await w->t.async_wait(use_tuple); // cancelled once the batch holding `ops` is committed
    co_return w->st;
}

// On a failed write the engine is rebuilt from the store before durable() returns, so the change
// made here is undone with it: nothing to revert by hand.
asio::awaitable<status> server::reserve(reservation r)
{
    if (auto st = engine_.reserve(r); !st)
        co_return st;
    // Named first: g++ 12 mishandles aggregate temporaries inside a co_await expression.
    auto ops = one(put_reservation{r});
    co_return co_await durable(std::move(ops));
}

asio::awaitable<status> server::unreserve(std::string mac)
{
    if (!engine_.unreserve(mac))
        co_return fail(errc::not_found, "no reservation for " + mac);
    auto ops = one(delete_reservation{mac});
    co_return co_await durable(std::move(ops));
}

asio::awaitable<status> server::forget(std::string mac)
{
    std::vector<store_op> ops;
    if (engine_.unreserve(mac))
        ops.push_back(delete_reservation{mac});
    for (auto& c : engine_.forget(mac))
        ops.push_back(c);
    if (ops.empty())
        co_return ok();
    co_return co_await durable(std::move(ops));
}

lease_info server::info_of(const lease& l)
{
    lease_info i;
    i.mac = l.mac;
    i.ip = to_string(l.ip);
    i.hostname = l.hostname;
    i.vm = l.vm;
    i.client_id = l.client_id;
    i.state = to_string(l.state);
    i.expires_at = l.expires_at;
    return i;
}

json::object server::lease_json(const lease& l) const { return to_json(info_of(l)); }

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
