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

result<int> bound_socket(int ns_fd, ipv4 addr, std::uint16_t port, bool tcp)
{
    const std::string where = to_string(addr) + ":" + std::to_string(port) + (tcp ? "/tcp" : "/udp");
    int fd = socket_in(ns_fd, AF_INET, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return fail(errc::netns_failed, "socket for " + where + " in the namespace: " + std::strerror(errno));
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(addr.value);
    // A deep backlog: a guest's burst of connections must not crowd out the others' before the
    // server's per-client limits close the excess.
    if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || (tcp && ::listen(fd, SOMAXCONN) != 0)) {
        std::string why = std::strerror(errno);
        ::close(fd);
        return fail(errc::netns_failed, "listen on " + where + " in the namespace: " + why);
    }
    return fd;
}

} // namespace paddock
