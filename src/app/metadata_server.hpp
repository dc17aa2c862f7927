// SPDX-License-Identifier: MIT
// DRIVER: the NoCloud seed server (vm/nocloud) on the bridge address, port 80, inside the
// namespace. Its listening socket is made in the namespace by the daemon and handed over (again
// after the namespace is rebuilt). One request per connection, 8 KiB of header at most, 5 s to
// send it; the peer's MAC comes from the namespace's neighbour table (SIOCGARP on the bridge).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "base/error.hpp"
#include "vm/nocloud.hpp"

namespace paddock::app {

class metadata_server {
public:
    using finder = std::function<std::optional<vm::nocloud_vm>(const std::string&)>;
    metadata_server(boost::asio::any_io_executor ex, std::string bridge, finder find);

    // Takes a bound, listening socket (made in the namespace); replaces the previous one.
    status open(int fd);
    // Accepts until cancelled.
    boost::asio::awaitable<void> run();

private:
    boost::asio::awaitable<void> serve(boost::asio::ip::tcp::socket sock);

    boost::asio::any_io_executor ex_;
    std::string bridge_;
    finder find_;
    std::shared_ptr<boost::asio::ip::tcp::acceptor> acceptor_;
};

} // namespace paddock::app
