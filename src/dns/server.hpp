// SPDX-License-Identifier: MIT
// DRIVER: the DNS service (dns/resolver) on the bridge address, port 53, UDP and TCP, inside the
// namespace. Its listening sockets are made in the namespace by open() (again after the namespace
// is rebuilt); the sockets that forward to upstream servers are made here, in
// the daemon's own (host) namespace, so a loopback stub resolver such as systemd-resolved's on
// 127.0.0.53 keeps working. Upstreams come from the config or from the host's resolv.conf, read
// again when it changes. Every upstream exchange has a timeout; at most `max_in_flight` forwarded
// queries wait at once (beyond that they are dropped and counted: the client asks again).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>

#include "base/conn_limit.hpp"
#include "base/error.hpp"
#include "base/ipv4.hpp"
#include "base/ipv6.hpp"
#include "base/metrics.hpp"
#include "base/ns_service.hpp"
#include "dns/resolver.hpp"

namespace paddock::dns {

struct server_options {
    ipv4 address;                                // where it listens (port 53) in the namespace
    std::optional<ipv6> address6;                // and over IPv6, when the VMs have IPv6
    std::vector<std::string> upstreams;          // fixed servers; empty: the ones in resolv_conf
    std::string resolv_conf = "/etc/resolv.conf";
    std::string own_address;                     // never forwarded to (it is us)
    // Names under another host's domain are asked of that host's DNS server: (domain, address).
    std::vector<std::pair<std::string, std::string>> peer_zones;
    std::size_t max_in_flight = 512;
    std::size_t max_tcp_clients = 64;
    std::chrono::milliseconds upstream_timeout{2000};
};

class server final : public ns_service {
public:
    server(boost::asio::any_io_executor ex, resolver& core, server_options o);

    const char* name() const override { return "dns"; }
    // Listens on address:53 and [address6]:53 (UDP and TCP) in the namespace; replaces the previous sockets.
    status open(int ns_fd) override;
    // Serves until cancelled.
    boost::asio::awaitable<void> run() override;
    // Queries by outcome, cache size, upstream timeouts.
    void report(metric_list& out) const;

    std::uint64_t upstream_timeouts() const;
    ipv4 address() const { return opt_.address; }
    const resolver& core() const { return core_; }
    // The upstream servers now in use (resolv.conf read again if it changed).
    std::vector<std::string> upstream_names();

private:
    struct live;
    boost::asio::awaitable<void> udp_loop();
    boost::asio::awaitable<void> udp6_loop();
    boost::asio::awaitable<void> tcp_loop(bool v6);
    boost::asio::awaitable<void> serve_tcp(boost::asio::ip::tcp::socket sock, std::shared_ptr<live> l, conn_limit::slot held);
    boost::asio::awaitable<void> forward_udp(std::shared_ptr<boost::asio::ip::udp::socket> sock,
                                             boost::asio::ip::udp::endpoint client, std::shared_ptr<step> s,
                                             bytes msg, std::shared_ptr<live> l,
                                             conn_limit::slot held);
    // Asks the upstream servers in turn; the reply for the client (SERVFAIL when none answered).
    boost::asio::awaitable<bytes> resolve(const bytes& msg, const step& s, bool tcp, std::shared_ptr<live> l);
    boost::asio::awaitable<std::optional<bytes>> ask_udp(boost::asio::ip::udp::endpoint up, const bytes& out);
    boost::asio::awaitable<std::optional<bytes>> ask_tcp(boost::asio::ip::tcp::endpoint up, const bytes& out);
    std::vector<boost::asio::ip::address> upstreams();
    // Takes bound sockets (UDP, and listening TCP) of one family; replaces the previous ones.
    status adopt(int udp_fd, int tcp_fd, bool v6);
    // Reads what is queued on the UDP socket and answers it (forwards start their own coroutines).
    void drain(const std::shared_ptr<boost::asio::ip::udp::socket>& sock);

    boost::asio::any_io_executor ex_;
    resolver& core_;
    server_options opt_;
    std::shared_ptr<live> live_;
    std::vector<boost::asio::ip::address> cached_upstreams_;
    std::int64_t resolv_mtime_ns_ = -1;
    std::chrono::steady_clock::time_point resolv_checked_{};
    std::mt19937 rng_{std::random_device{}()};
};

} // namespace paddock::dns
