// SPDX-License-Identifier: MIT
#include "base/in_netns.hpp"

#include <cerrno>
#include <cstring>
#include <string>
#include <thread>

#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

namespace paddock {

status run_in_netns(int ns_fd, const std::function<status()>& fn)
{
    status result = ok();
    std::thread t([&] {
        if (::setns(ns_fd, CLONE_NEWNET) != 0) {
            result = fail(errc::setns, std::string("setns: ") + std::strerror(errno));
            return;
        }
        result = fn();
    });
    t.join();
    return result;
}

int socket_in(int ns_fd, int domain, int type, int protocol)
{
    int fd = -1, err = 0;
    auto st = run_in_netns(ns_fd, [&]() -> status {
        fd = ::socket(domain, type, protocol);
        err = errno;
        return ok();
    });
    if (!st)
        err = EPERM;
    if (fd < 0)
        errno = err;
    return fd;
}

namespace {

result<int> bound_at(int ns_fd, const sockaddr* sa, socklen_t len, const std::string& where, bool tcp)
{
    int fd = socket_in(ns_fd, sa->sa_family, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return fail(errc::netns_failed, "socket for " + where + " in the namespace: " + std::strerror(errno));
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (sa->sa_family == AF_INET6)
        ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    // A deep backlog: a guest's burst of connections must not crowd out the others' before the
    // server's per-client limits close the excess.
    if (::bind(fd, sa, len) != 0 || (tcp && ::listen(fd, SOMAXCONN) != 0)) {
        std::string why = std::strerror(errno);
        ::close(fd);
        return fail(errc::netns_failed, "listen on " + where + " in the namespace: " + why);
    }
    return fd;
}

} // namespace

result<int> bound_socket(int ns_fd, ipv4 addr, std::uint16_t port, bool tcp)
{
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(addr.value);
    return bound_at(ns_fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa,
                    to_string(addr) + ":" + std::to_string(port) + (tcp ? "/tcp" : "/udp"), tcp);
}

result<int> bound_socket(int ns_fd, const ipv6& addr, std::uint16_t port, bool tcp)
{
    sockaddr_in6 sa{};
    sa.sin6_family = AF_INET6;
    sa.sin6_port = htons(port);
    std::memcpy(&sa.sin6_addr, addr.b.data(), 16);
    return bound_at(ns_fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa,
                    "[" + to_string(addr) + "]:" + std::to_string(port) + (tcp ? "/tcp" : "/udp"), tcp);
}

} // namespace paddock
