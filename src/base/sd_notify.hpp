// SPDX-License-Identifier: MIT
// DRIVER: the service manager's notification protocol (sd_notify(3), written against its
// documentation; no libsystemd): datagrams of "KEY=VALUE" lines sent to the AF_UNIX datagram
// socket named by $NOTIFY_SOCKET (a path, or "@name" for an abstract one). Without that variable
// every call does nothing.
#pragma once

#include <chrono>
#include <string_view>

namespace paddock {

class notifier {
public:
    // Reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID, then removes them from the environment
    // (the QEMUs the daemon starts must not inherit them).
    static notifier from_environment();

    notifier() = default;
    notifier(notifier&& o) noexcept;
    notifier& operator=(notifier&& o) noexcept;
    notifier(const notifier&) = delete;
    ~notifier();

    bool active() const { return fd_ >= 0; }
    // Best effort and never blocking: "READY=1", "STATUS=...", "WATCHDOG=1", "STOPPING=1", or
    // several lines at once.
    void send(std::string_view state) const;
    // How often the manager expects WATCHDOG=1 at the latest (0: it does not watch).
    std::chrono::microseconds watchdog() const { return watchdog_; }

private:
    int fd_ = -1;
    std::chrono::microseconds watchdog_{0};
};

} // namespace paddock
