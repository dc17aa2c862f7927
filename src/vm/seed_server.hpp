// SPDX-License-Identifier: MIT
// DRIVER: the NoCloud seed server (vm/nocloud) on the bridge address, port 80, inside the
// namespace. Its listening socket is made in the namespace by open() (again after the namespace
// is rebuilt). At most 8 connections from one address and 256 in all (more are closed at once). One request per connection, 8 KiB of header at most, 5 s to
// send it; the peer's MAC comes from the namespace's neighbour table (SIOCGARP on the bridge).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "base/conn_limit.hpp"
#include "base/error.hpp"
#include "base/ipv4.hpp"
#include "base/ns_service.hpp"
#include "vm/nocloud.hpp"

namespace paddock::vm {

class seed_server final : public ns_service {
public:
    using finder = std::function<std::optional<nocloud_vm>(const std::string&)>;
    // Listens on address:80; `bridge` is the bridge's name (for the peer's MAC).
    seed_server(boost::asio::any_io_executor ex, ipv4 address, std::string bridge, finder find);

    const char* name() const override { return "seed"; }
    // Listens on address:80 in the namespace; replaces the previous socket.
    status open(int ns_fd) override;
    // Accepts until cancelled.
    boost::asio::awaitable<void> run() override;

private:
    boost::asio::awaitable<void> serve(boost::asio::ip::tcp::socket sock, conn_limit::slot held);

    boost::asio::any_io_executor ex_;
    ipv4 address_;
    std::string bridge_;
    finder find_;
    std::shared_ptr<boost::asio::ip::tcp::acceptor> acceptor_;
    // A guest holds at most 8 connections, all guests 256 (each one request, 5 s at most).
    conn_limit limits_{256, 8};

public:
    std::uint64_t refused() const { return limits_.refused(); }
};

} // namespace paddock::vm
