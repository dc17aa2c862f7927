// SPDX-License-Identifier: MIT
// CORE: the forwarder's answer cache. Bounded (least recently used goes first), keyed by the
// question and the flags that change an answer; keeps NOERROR and NXDOMAIN replies for their TTL
// (negative ones for the SOA's negative TTL, RFC 2308) under a ceiling, and hands them back aged,
// with the asking client's ID and question spelling. The clock is the caller's.
#pragma once

#include <chrono>
#include <cstdint>
#include <list>
#include <optional>
#include <string>
#include <unordered_map>

#include "dns/message.hpp"

namespace paddock::dns {

class cache {
public:
    using time_point = std::chrono::steady_clock::time_point;
    static constexpr std::size_t max_message = 4096;

    cache(std::size_t max_entries, std::uint32_t max_ttl, std::uint32_t max_negative_ttl);

    // The key for a query: its name without case, type, class, and the RD, CD, DO and EDNS bits.
    static std::string key(const query& q);
    // The kept reply for `k` aged to `now`, answering `q` (raw bytes `msg`); nullopt when there is
    // none or it has expired.
    std::optional<bytes> find(const std::string& k, view msg, const query& q, time_point now);
    // Keeps `reply` when it may be kept; says whether it did.
    bool put(const std::string& k, view reply, const reply_info& info, time_point now);

    std::size_t size() const { return map_.size(); }
    std::size_t capacity() const { return max_entries_; }

private:
    struct entry {
        bytes msg;
        std::vector<std::size_t> ttl_offsets;
        std::vector<std::uint32_t> ttls;
        time_point stored, expires;
        std::list<std::string>::iterator lru;
    };

    std::size_t max_entries_;
    std::uint32_t max_ttl_, max_negative_ttl_;
    std::unordered_map<std::string, entry> map_;
    std::list<std::string> lru_; // front: most recently used
};

} // namespace paddock::dns
