// SPDX-License-Identifier: MIT
// DRIVER: IPv6 configuration for the hosts on the bridge, inside the namespace. Router
// Advertisements (dhcp/ipv6_config) go out on the bridge in the gateway's name (source fe80::1,
// the host end of the veth pair: the router guests then use), three at start-up and then every
// 67 to 200 s, and at once to a Router Solicitation (unicast to its sender; multicast, at most
// every 3 s, for an unspecified sender). Stateless DHCPv6 on port 547 answers
// INFORMATION-REQUEST with the DNS server and domain. Sockets are made in the namespace by
// open() (again after it is rebuilt).
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include "base/error.hpp"
#include "base/metrics.hpp"
#include "base/ns_service.hpp"
#include "dhcp/ipv6_config.hpp"

namespace paddock::dhcp {

class ipv6_service final : public ns_service {
public:
    ipv6_service(boost::asio::any_io_executor ex, ra_params p, std::string bridge, mac_bytes bridge_mac, ipv6 router);

    const char* name() const override { return "ipv6"; }
    status open(int ns_fd) override;
    boost::asio::awaitable<void> run() override;
    // RAs sent (periodic and solicited), solicitations and DHCPv6 replies.
    void report(metric_list& out) const;

private:
    struct sockets;
    boost::asio::awaitable<void> advertise_loop();
    boost::asio::awaitable<void> solicit_loop();
    boost::asio::awaitable<void> dhcp_loop();
    // One RA to `to` (ff02::1 for all); false when the socket failed (the bridge went away).
    bool send_ra(const ipv6& to);

    boost::asio::any_io_executor ex_;
    ra_params p_;
    std::string bridge_;
    mac_bytes bridge_mac_;
    ipv6 router_;
    bytes6 ra_;
    std::shared_ptr<sockets> s_;
    std::mt19937 rng_{std::random_device{}()};
    std::chrono::steady_clock::time_point last_multicast_{};
    std::uint64_t ra_periodic_ = 0, ra_solicited_ = 0, rs_ = 0, dhcp_replies_ = 0;
};

} // namespace paddock::dhcp
