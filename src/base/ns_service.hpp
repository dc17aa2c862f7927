// SPDX-License-Identifier: MIT
// A service that lives in the fabric's network namespace: the DHCP, DNS and cloud-init seed
// servers and the anti-spoofing guard. The daemon drives every one the same way: open() at
// start-up and again each time the namespace is made anew (the service moves its sockets or its
// table into the new one; the old namespace's are dropped), run() once until cancelled.
#pragma once

#include <boost/asio/awaitable.hpp>

#include "base/error.hpp"

namespace paddock {

class ns_service {
public:
    virtual ~ns_service() = default;
    // Short name for logs ("dhcp", "dns", ...).
    virtual const char* name() const = 0;
    // Takes up its place in the namespace `ns_fd` (borrowed: valid until the next open()).
    virtual status open(int ns_fd) = 0;
    // Serves until cancelled; sockets opened later are picked up.
    virtual boost::asio::awaitable<void> run() = 0;
};

} // namespace paddock
