// SPDX-License-Identifier: MIT
// CORE: admission under overload, i.e. which queued requests are still worth an answer.
//
// A request waits in the socket's queue while the server is busy. Past a point its answer comes
// too late to matter (the client has retransmitted or moved on) and answering it only delays the
// requests behind it: a queue that keeps growing makes every answer late, and the server
// collapses. So the time a request spent in the queue (the kernel's receive timestamp against
// now) decides:
//  - a DISCOVER that waited longer than `discover_max_wait` is dropped: it starts a new exchange,
//    the cheapest work to refuse, and its client will ask again;
//  - a REQUEST is kept longer (`request_max_wait`): it completes an exchange whose OFFER was
//    already paid for, and a completed exchange is what the client needs;
//  - RELEASE, DECLINE and INFORM are always kept: rare, cheap, and the first two change state.
// Without a timestamp (0) a request is kept. Pure: times come in as numbers.
#pragma once

#include <cstdint>

#include "dhcp/message.hpp"

namespace paddock::dhcp {

struct admission_config {
    std::int64_t discover_max_wait_us = 200'000;
    // Under perfdhcp's (and most clients') 1 s patience, with room for the reply's own commit.
    std::int64_t request_max_wait_us = 700'000;
};

// True when a request of `type` received at `received_us` should still be served at `now_us`.
bool admit(const admission_config& c, msg_type type, std::int64_t received_us, std::int64_t now_us);

} // namespace paddock::dhcp
