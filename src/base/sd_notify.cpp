// SPDX-License-Identifier: MIT
// DRIVER: sd_notify.
#include "base/sd_notify.hpp"

#include <cstdlib>
#include <cstring>
#include <string>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/log.hpp"

namespace paddock {

notifier notifier::from_environment()
{
    notifier n;
    const char* path = std::getenv("NOTIFY_SOCKET");
    const char* usec = std::getenv("WATCHDOG_USEC");
    const char* pid = std::getenv("WATCHDOG_PID");
    // The watchdog is ours only when no other PID is named.
    if (usec && (!pid || std::strtol(pid, nullptr, 10) == ::getpid())) {
        char* end = nullptr;
        long long us = std::strtoll(usec, &end, 10);
        if (end && *end == 0 && us > 0)
            n.watchdog_ = std::chrono::microseconds(us);
    }
    std::string where = path ? path : "";
    ::unsetenv("NOTIFY_SOCKET");
    ::unsetenv("WATCHDOG_USEC");
    ::unsetenv("WATCHDOG_PID");
    if (where.empty())
        return n;
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    if ((where[0] != '/' && where[0] != '@') || where.size() >= sizeof a.sun_path) {
        log::warn("daemon", "NOTIFY_SOCKET \"", where, "\" is not a socket path: not notifying the service manager");
        return n;
    }
    std::memcpy(a.sun_path, where.data(), where.size());
    if (where[0] == '@')
        a.sun_path[0] = 0; // abstract namespace
    socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + where.size());
    int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&a), len) != 0) {
        log::warn("daemon", "cannot reach NOTIFY_SOCKET ", where, ": ", std::strerror(errno));
        if (fd >= 0)
            ::close(fd);
        return n;
    }
    n.fd_ = fd;
    return n;
}

notifier::notifier(notifier&& o) noexcept : fd_(o.fd_), watchdog_(o.watchdog_) { o.fd_ = -1; }

notifier& notifier::operator=(notifier&& o) noexcept
{
    if (this != &o) {
        if (fd_ >= 0)
            ::close(fd_);
        fd_ = o.fd_;
        watchdog_ = o.watchdog_;
        o.fd_ = -1;
    }
    return *this;
}

notifier::~notifier()
{
    if (fd_ >= 0)
        ::close(fd_);
}

void notifier::send(std::string_view state) const
{
    if (fd_ < 0)
        return;
    if (::send(fd_, state.data(), state.size(), MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
        log::debug("daemon", "sd_notify: ", std::strerror(errno));
}

} // namespace paddock
