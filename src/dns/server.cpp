// SPDX-License-Identifier: MIT
// DRIVER: the DNS service.
#include "dns/server.hpp"

#include <array>
#include <fstream>
#include <sstream>

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "base/accept_loop.hpp"
#include "base/in_netns.hpp"
#include "base/log.hpp"
#include "base/udp_batch.hpp"

namespace paddock::dns {
namespace asio = boost::asio;
using udp = asio::ip::udp;
using tcp = asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

struct server::live {
    live(std::size_t max_in_flight, std::size_t max_tcp) : forwards(max_in_flight, 32), streams_open(max_tcp, 8) {}
    std::shared_ptr<udp::socket> datagrams, datagrams6;
    std::shared_ptr<tcp::acceptor> streams, streams6;
    conn_limit forwards;     // forwarded queries waiting: 32 per client at most, max_in_flight in all
    conn_limit streams_open; // TCP clients: 8 per client at most, max_tcp_clients in all
    std::uint64_t timeouts = 0;
};

namespace {

// Closes `s` when `t` fires (a deadline for a chain of reads and writes).
template <class Socket>
void close_at_deadline(asio::steady_timer& t, Socket& s, std::chrono::milliseconds after)
{
    t.expires_after(after);
    t.async_wait([&s](boost::system::error_code ec) {
        if (!ec) {
            boost::system::error_code ignored;
            s.close(ignored);
        }
    });
}

std::array<asio::const_buffer, 2> framed(const std::array<std::uint8_t, 2>& len, const bytes& msg)
{
    return {asio::buffer(len), asio::buffer(msg)};
}

std::array<std::uint8_t, 2> length_of(const bytes& msg)
{
    return {static_cast<std::uint8_t>(msg.size() >> 8), static_cast<std::uint8_t>(msg.size())};
}

// One sendmmsg batch of replies.
struct send_batch {
    static constexpr int n = 64;
    std::array<mmsghdr, n> hdr{};
    std::array<iovec, n> iov{};
    std::array<sockaddr_in, n> from{};
};

// A short wait (no socket yet, or a failing one: never spin).
asio::awaitable<void> pause(asio::any_io_executor ex, int ms)
{
    asio::steady_timer t(ex, std::chrono::milliseconds(ms));
    co_await t.async_wait(use_tuple);
}

// The key a client's limits are counted under: its IPv4 address, or a hash of its IPv6 one.
std::uint32_t client_key(const asio::ip::address& a)
{
    if (a.is_v4())
        return a.to_v4().to_uint();
    std::uint32_t key = 0;
    for (auto b : a.to_v6().to_bytes())
        key = key * 31 + b;
    return key;
}

ipv6 ipv6_of(const asio::ip::address_v6& a)
{
    ipv6 out;
    const auto raw = a.to_bytes();
    std::copy(raw.begin(), raw.end(), out.b.begin());
    return out;
}

// The resolver's answer for a client of either family.
step handle_from(resolver& core, view msg, const asio::ip::address& client, bool tcp)
{
    const auto now = std::chrono::steady_clock::now();
    if (client.is_v4())
        return core.handle(msg, ipv4{client.to_v4().to_uint()}, tcp, now);
    return core.handle(msg, ipv6_of(client.to_v6()), tcp, now);
}

} // namespace

server::server(asio::any_io_executor ex, resolver& core, server_options o)
    : ex_(ex), core_(core), opt_(std::move(o)), live_(std::make_shared<live>(opt_.max_in_flight, opt_.max_tcp_clients))
{
}

status server::open(int ns_fd)
{
    // UDP and a listening TCP socket on addr:53, taken over by the server.
    auto listen = [&](const auto& addr, bool v6) -> status {
        auto u = bound_socket(ns_fd, addr, 53, false);
        if (!u)
            return u.error();
        auto t = bound_socket(ns_fd, addr, 53, true);
        if (!t) {
            ::close(*u);
            return t.error();
        }
        return adopt(*u, *t, v6);
    };
    if (auto st = listen(opt_.address, false); !st)
        return st;
    std::string also;
    if (opt_.address6) {
        if (auto st = listen(*opt_.address6, true); !st)
            return st;
        also = " and [" + to_string(*opt_.address6) + "]:53";
    }
    log::info("dns", "serving ", core_.config().domain, " on ", to_string(opt_.address), ":53", also, " (UDP and TCP) in the namespace");
    return ok();
}

void server::report(metric_list& out) const
{
    auto& q = out.family("paddock_dns_queries_total", "counter",
                         "DNS queries by outcome: answered from the VMs' names (local), from the cache (cached), by an "
                         "upstream server (forwarded), SERVFAIL after no upstream answered (failed), refused (client "
                         "outside the subnet), notimp, malformed (dropped), shed (dropped: too many in flight).");
    for (std::size_t o = 0; o < outcome_count; ++o)
        q.add({{"outcome", to_string(static_cast<outcome>(o))}}, static_cast<double>(core_.counts()[o]));
    out.family("paddock_dns_cache_entries", "gauge", "Answers in the DNS cache.").add(static_cast<double>(core_.cache_size()));
    out.family("paddock_dns_upstream_timeouts_total", "counter", "Forwarded queries an upstream server did not answer in time.")
        .add(static_cast<double>(upstream_timeouts()));
}

status server::adopt(int udp_fd, int tcp_fd, bool v6)
{
    auto u = std::make_shared<udp::socket>(ex_);
    auto t = std::make_shared<tcp::acceptor>(ex_);
    const char* family = v6 ? "IPv6" : "IPv4";
    boost::system::error_code ec;
    u->assign(v6 ? udp::v6() : udp::v4(), udp_fd, ec);
    if (!ec)
        u->non_blocking(true, ec); // a reply that finds the send buffer full is dropped, never waited for
    if (ec) {
        ::close(udp_fd);
        ::close(tcp_fd);
        return fail(errc::netns_failed, std::string("DNS UDP socket (") + family + "): " + ec.message());
    }
    t->assign(v6 ? tcp::v6() : tcp::v4(), tcp_fd, ec);
    if (ec) {
        ::close(tcp_fd);
        return fail(errc::netns_failed, std::string("DNS TCP socket (") + family + "): " + ec.message());
    }
    auto& datagrams = v6 ? live_->datagrams6 : live_->datagrams;
    auto& streams = v6 ? live_->streams6 : live_->streams;
    boost::system::error_code ignored;
    if (datagrams)
        datagrams->close(ignored);
    if (streams)
        streams->close(ignored);
    datagrams = u;
    streams = t;
    return ok();
}

std::uint64_t server::upstream_timeouts() const { return live_->timeouts; }

std::vector<std::string> server::upstream_names()
{
    std::vector<std::string> out;
    for (auto& a : upstreams())
        out.push_back(a.to_string());
    return out;
}

asio::awaitable<void> server::run()
{
    if (opt_.address6)
        co_await (udp_loop() && tcp_loop(false) && udp6_loop() && tcp_loop(true));
    else
        co_await (udp_loop() && tcp_loop(false));
}

asio::awaitable<void> server::udp6_loop()
{
    auto l = live_;
    bytes buf(4096);
    for (;;) {
        auto cs = co_await asio::this_coro::cancellation_state;
        if (cs.cancelled() != asio::cancellation_type::none)
            co_return;
        auto sock = l->datagrams6;
        if (!sock) {
            co_await pause(ex_, 200);
            continue;
        }
        udp::endpoint from;
        auto [ec, n] = co_await sock->async_receive_from(asio::buffer(buf), from, use_tuple);
        if (ec) {
            if (sock == l->datagrams6 && ec != asio::error::operation_aborted)
                co_await pause(ex_, 100);
            continue;
        }
        if (!from.address().is_v6())
            continue;
        dns::view msg(buf.data(), n);
        step s = handle_from(core_, msg, from.address(), false);
        if (s.what == step::kind::reply) {
            boost::system::error_code ignored;
            sock->send_to(asio::buffer(s.out), from, 0, ignored);
        }
        else if (s.what == step::kind::forward) {
            auto slot = l->forwards.take(client_key(from.address()));
            if (!slot) {
                core_.shed();
                continue;
            }
            asio::co_spawn(ex_, forward_udp(sock, from, std::make_shared<step>(std::move(s)), bytes(msg.begin(), msg.end()), l,
                                            std::move(*slot)),
                           asio::detached);
        }
    }
}

asio::awaitable<void> server::udp_loop()
{
    auto l = live_;
    for (;;) {
        auto cs = co_await asio::this_coro::cancellation_state;
        if (cs.cancelled() != asio::cancellation_type::none)
            co_return;
        auto sock = l->datagrams;
        if (!sock) {
            co_await pause(ex_, 200);
            continue;
        }
        auto [ec] = co_await sock->async_wait(udp::socket::wait_read, use_tuple);
        if (ec) {
            if (sock == l->datagrams && ec != asio::error::operation_aborted)
                co_await pause(ex_, 100);
            continue; // replaced after a namespace rebuild, or cancelled
        }
        drain(sock);
    }
}

void server::drain(const std::shared_ptr<udp::socket>& sock)
{
    // Bigger queries (EDNS options) than 4 KiB are cut, then dropped as malformed.
    static thread_local udp_batch rx(send_batch::n, 4096);
    static thread_local send_batch tx;
    std::array<bytes, send_batch::n> replies;
    const int fd = sock->native_handle();
    for (int round = 0; round < 8; ++round) {
        int got = rx.receive(fd);
        if (got == 0)
            return;
        const auto now = std::chrono::steady_clock::now();
        int out = 0;
        for (int k = 0; k < got; ++k) {
            auto d = rx.datagram(k);
            dns::view msg(d.data(), d.size());
            const sockaddr_in& from = rx.from(k);
            step s = core_.handle(msg, ipv4{ntohl(from.sin_addr.s_addr)}, false, now);
            if (s.what == step::kind::reply) {
                replies[out] = std::move(s.out);
                tx.iov[out] = {replies[out].data(), replies[out].size()};
                tx.hdr[out] = {};
                tx.from[out] = from;
                tx.hdr[out].msg_hdr.msg_name = &tx.from[out];
                tx.hdr[out].msg_hdr.msg_namelen = sizeof(sockaddr_in);
                tx.hdr[out].msg_hdr.msg_iov = &tx.iov[out];
                tx.hdr[out].msg_hdr.msg_iovlen = 1;
                ++out;
            }
            else if (s.what == step::kind::forward) {
                auto slot = live_->forwards.take(ntohl(from.sin_addr.s_addr));
                if (!slot) {
                    core_.shed();
                    continue;
                }
                udp::endpoint client(asio::ip::address_v4(ntohl(from.sin_addr.s_addr)), ntohs(from.sin_port));
                asio::co_spawn(ex_,
                               forward_udp(sock, client, std::make_shared<step>(std::move(s)),
                                           bytes(msg.begin(), msg.end()), live_, std::move(*slot)),
                               asio::detached);
            }
        }
        for (int sent = 0; sent < out;) {
            int n = ::sendmmsg(fd, tx.hdr.data() + sent, static_cast<unsigned>(out - sent), MSG_DONTWAIT);
            if (n <= 0)
                break; // the socket buffer is full: those clients ask again
            sent += n;
        }
        if (got < rx.capacity())
            return;
    }
}

asio::awaitable<void> server::forward_udp(std::shared_ptr<udp::socket> sock, udp::endpoint client,
                                              std::shared_ptr<step> s, bytes msg, std::shared_ptr<live> l,
                                              [[maybe_unused]] conn_limit::slot held)
{
    bytes reply = co_await resolve(msg, *s, false, l);
    boost::system::error_code ec;
    if (sock->is_open())
        sock->send_to(asio::buffer(reply), client, 0, ec);
}

asio::awaitable<bytes> server::resolve(const bytes& msg, const step& s, bool tcp, std::shared_ptr<live> l)
{
    std::vector<asio::ip::address> ups;
    for (auto& [domain, addr] : opt_.peer_zones) {
        const std::string& n = s.q.name;
        if (n == domain || (n.size() > domain.size() && n.ends_with(domain) && n[n.size() - domain.size() - 1] == '.')) {
            boost::system::error_code ec;
            auto a = asio::ip::make_address(addr, ec);
            if (!ec)
                ups.push_back(a);
            break;
        }
    }
    if (ups.empty())
        ups = upstreams();
    std::optional<bytes> last;
    for (std::size_t i = 0; i < ups.size() && i < 3; ++i) {
        bytes out = msg;
        dns::put16(out.data(), static_cast<std::uint16_t>(rng_()));
        std::optional<bytes> got = co_await ask_udp(udp::endpoint(ups[i], 53), out);
        if (!got) {
            ++l->timeouts;
            continue;
        }
        dns::upstream_answer a = core_.from_upstream(msg, s.q, s.key, *got, tcp, std::chrono::steady_clock::now());
        if (a.out && a.truncated && tcp) {
            std::optional<bytes> full = co_await ask_tcp(tcp::endpoint(ups[i], 53), out);
            if (full) {
                dns::upstream_answer b = core_.from_upstream(msg, s.q, s.key, *full, tcp, std::chrono::steady_clock::now());
                if (b.out)
                    a = std::move(b);
            }
        }
        if (!a.out)
            continue;
        if ((a.rcode == dns::rcode::servfail || a.rcode == dns::rcode::refused) && i + 1 < ups.size()) {
            last = std::move(a.out);
            continue;
        }
        core_.forwarded();
        co_return std::move(*a.out);
    }
    if (last) {
        core_.forwarded();
        co_return std::move(*last);
    }
    co_return core_.failed(msg, s.q);
}

asio::awaitable<std::optional<bytes>> server::ask_udp(udp::endpoint up, const bytes& out)
{
    std::optional<bytes> none;
    udp::socket s(ex_);
    boost::system::error_code ec;
    s.open(up.protocol(), ec);
    if (!ec)
        s.connect(up, ec);
    if (ec)
        co_return none;
    auto [sec, sent] = co_await s.async_send(asio::buffer(out), use_tuple);
    if (sec)
        co_return none;
    asio::steady_timer timer(ex_, opt_.upstream_timeout);
    bytes buf(65535);
    for (;;) {
        auto r = co_await (s.async_receive(asio::buffer(buf), use_tuple) || timer.async_wait(use_tuple));
        if (r.index() == 1)
            co_return none; // timed out
        auto [rec, n] = std::get<0>(r);
        if (rec)
            co_return none; // e.g. ICMP port unreachable
        if (n >= dns::header_size && buf[0] == out[0] && buf[1] == out[1]) {
            buf.resize(n);
            co_return buf;
        }
    }
}

asio::awaitable<std::optional<bytes>> server::ask_tcp(tcp::endpoint up, const bytes& out)
{
    std::optional<bytes> none;
    tcp::socket s(ex_);
    asio::steady_timer deadline(ex_);
    close_at_deadline(deadline, s, opt_.upstream_timeout);
    auto [cec] = co_await s.async_connect(up, use_tuple);
    if (cec)
        co_return none;
    const auto len = length_of(out);
    auto [wec, wn] = co_await asio::async_write(s, framed(len, out), use_tuple);
    if (wec)
        co_return none;
    std::array<std::uint8_t, 2> head{};
    auto [hec, hn] = co_await asio::async_read(s, asio::buffer(head), use_tuple);
    if (hec)
        co_return none;
    bytes buf(static_cast<std::size_t>(head[0] << 8 | head[1]));
    auto [bec, bn] = co_await asio::async_read(s, asio::buffer(buf), use_tuple);
    deadline.cancel();
    if (bec || buf.size() < dns::header_size || buf[0] != out[0] || buf[1] != out[1])
        co_return none;
    co_return buf;
}

asio::awaitable<void> server::tcp_loop(bool v6)
{
    auto l = live_;
    return accept_loop(ex_, [l, v6] { return v6 ? l->streams6 : l->streams; }, [this, l](tcp::socket sock) {
        boost::system::error_code ec;
        auto peer = sock.remote_endpoint(ec);
        if (ec)
            return;
        if (auto slot = l->streams_open.take(client_key(peer.address()))) // else closed here
            asio::co_spawn(ex_, serve_tcp(std::move(sock), l, std::move(*slot)), asio::detached);
    });
}

asio::awaitable<void> server::serve_tcp(tcp::socket sock, std::shared_ptr<live> l, [[maybe_unused]] conn_limit::slot held)
{
    boost::system::error_code pec;
    auto peer = sock.remote_endpoint(pec);
    if (pec)
        co_return;
    const auto client = peer.address();
    asio::steady_timer deadline(ex_);
    for (int served = 0; served < 1000; ++served) {
        close_at_deadline(deadline, sock, std::chrono::seconds(10)); // idle, then the whole query
        std::array<std::uint8_t, 2> head{};
        auto [hec, hn] = co_await asio::async_read(sock, asio::buffer(head), use_tuple);
        if (hec)
            co_return;
        bytes msg(static_cast<std::size_t>(head[0] << 8 | head[1]));
        auto [bec, bn] = co_await asio::async_read(sock, asio::buffer(msg), use_tuple);
        if (bec)
            co_return;
        deadline.cancel();
        step s = handle_from(core_, msg, client, true);
        bytes reply;
        if (s.what == step::kind::drop)
            co_return; // malformed: the stream cannot be trusted further
        if (s.what == step::kind::reply)
            reply = std::move(s.out);
        else {
            auto waiting = l->forwards.take(client_key(client));
            if (!waiting) {
                core_.shed();
                co_return;
            }
            reply = co_await resolve(msg, s, true, l);
        }
        close_at_deadline(deadline, sock, std::chrono::seconds(5));
        const auto len = length_of(reply);
        auto [wec, wn] = co_await asio::async_write(sock, framed(len, reply), use_tuple);
        if (wec)
            co_return;
        deadline.cancel();
    }
}

std::vector<asio::ip::address> server::upstreams()
{
    const auto now = std::chrono::steady_clock::now();
    if (resolv_mtime_ns_ != -1 && now - resolv_checked_ < std::chrono::seconds(1))
        return cached_upstreams_;
    resolv_checked_ = now;
    std::vector<std::string> names = opt_.upstreams;
    std::string source = "the config";
    if (names.empty()) {
        struct stat st{};
        std::int64_t mtime = 0;
        if (::stat(opt_.resolv_conf.c_str(), &st) == 0)
            mtime = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec + st.st_size;
        if (mtime == resolv_mtime_ns_)
            return cached_upstreams_;
        resolv_mtime_ns_ = mtime;
        std::ifstream in(opt_.resolv_conf);
        std::stringstream text;
        text << in.rdbuf();
        names = dns::parse_resolv_conf(text.str());
        source = opt_.resolv_conf;
    }
    else if (resolv_mtime_ns_ != -1)
        return cached_upstreams_;
    else
        resolv_mtime_ns_ = 0;
    std::vector<asio::ip::address> out;
    std::string shown;
    for (auto& n : names) {
        boost::system::error_code ec;
        auto a = asio::ip::make_address(n, ec);
        if (ec || n == opt_.own_address) {
            log::warn("dns", "upstream \"", n, "\" from ", source, " skipped: ", ec ? "not an IP address" : "that is this server");
            continue;
        }
        out.push_back(a);
        shown += (shown.empty() ? "" : ", ") + n;
    }
    if (out.empty())
        log::warn("dns", "no upstream DNS servers in ", source, ": names outside the VMs' domain get SERVFAIL");
    else
        log::info("dns", "upstream servers (", source, "): ", shown);
    cached_upstreams_ = std::move(out);
    return cached_upstreams_;
}

} // namespace paddock::dns
