// SPDX-License-Identifier: MIT
// DRIVER: the NoCloud seed server.
#include "vm/seed_server.hpp"

#include <cstring>

#include <net/if_arp.h>
#include <netinet/in.h>
#include <sys/ioctl.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "base/accept_loop.hpp"
#include "base/in_netns.hpp"
#include "base/log.hpp"

namespace paddock::vm {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

namespace {
// The MAC the namespace's neighbour table has for `ip` on `dev`, or "".
std::string neighbour_mac(int fd, const asio::ip::address_v4& ip, const std::string& dev)
{
    arpreq r{};
    auto* sin = reinterpret_cast<sockaddr_in*>(&r.arp_pa);
    sin->sin_family = AF_INET;
    sin->sin_addr.s_addr = htonl(ip.to_uint());
    std::strncpy(r.arp_dev, dev.c_str(), sizeof r.arp_dev - 1);
    if (::ioctl(fd, SIOCGARP, &r) != 0 || !(r.arp_flags & ATF_COM))
        return {};
    char buf[18];
    const auto* m = reinterpret_cast<const unsigned char*>(r.arp_ha.sa_data);
    std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
    return buf;
}
} // namespace

seed_server::seed_server(asio::any_io_executor ex, ipv4 address, std::string bridge, finder find)
    : ex_(ex), address_(address), bridge_(std::move(bridge)), find_(std::move(find))
{
}

status seed_server::open(int ns_fd)
{
    auto fd = bound_socket(ns_fd, address_, 80, true);
    if (!fd)
        return fd.error();
    auto a = std::make_shared<tcp::acceptor>(ex_);
    boost::system::error_code ec;
    a->assign(tcp::v4(), *fd, ec);
    if (ec && ::close(*fd) == 0)
        return fail(errc::netns_failed, "metadata socket: " + ec.message());
    if (acceptor_) {
        boost::system::error_code ignored;
        acceptor_->close(ignored);
    }
    acceptor_ = a;
    return ok();
}

asio::awaitable<void> seed_server::run()
{
    return accept_loop(ex_, [this] { return acceptor_; }, [this](tcp::socket sock) {
        boost::system::error_code ec;
        auto peer = sock.remote_endpoint(ec);
        if (ec || !peer.address().is_v4())
            return;
        auto held = limits_.take(peer.address().to_v4().to_uint());
        if (!held) {
            log::debug("metadata", peer.address().to_string(), ": connection limit reached; closed");
            return; // sock closes here
        }
        asio::co_spawn(ex_, serve(std::move(sock), std::move(*held)), asio::detached);
    });
}

asio::awaitable<void> seed_server::serve(tcp::socket sock, [[maybe_unused]] conn_limit::slot held)
{
    beast::tcp_stream stream(std::move(sock));
    beast::flat_buffer buf;
    http::request_parser<http::empty_body> parser;
    parser.header_limit(8192);
    stream.expires_after(std::chrono::seconds(5));
    auto [ec, n] = co_await http::async_read(stream, buf, parser, use_tuple);
    if (ec)
        co_return;
    boost::system::error_code pec;
    auto peer = stream.socket().remote_endpoint(pec);
    if (pec || !peer.address().is_v4())
        co_return;
    const auto& req = parser.get();
    const std::string mac = neighbour_mac(stream.socket().native_handle(), peer.address().to_v4(), bridge_);
    auto reply = vm::nocloud_answer(std::string_view(req.method_string().data(), req.method_string().size()),
                                    std::string_view(req.target().data(), req.target().size()),
                                    peer.address().to_string(), mac, find_);
    log::debug("metadata", peer.address().to_string(), " (", mac.empty() ? "mac unknown" : mac, ") ",
               req.method_string(), " ", req.target(), " -> ", reply.status);
    http::response<http::string_body> res{static_cast<http::status>(reply.status), req.version()};
    res.set(http::field::server, "paddockd");
    res.set(http::field::content_type, "text/plain; charset=utf-8");
    res.keep_alive(false);
    res.body() = std::move(reply.body);
    res.prepare_payload();
    if (req.method() == http::verb::head)
        res.body().clear();
    stream.expires_after(std::chrono::seconds(5));
    co_await http::async_write(stream, res, use_tuple);
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

} // namespace paddock::vm
