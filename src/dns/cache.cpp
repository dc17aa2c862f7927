// SPDX-License-Identifier: MIT
// CORE: the forwarder's answer cache.
#include "dns/cache.hpp"

#include <algorithm>

namespace paddock::dns {

cache::cache(std::size_t max_entries, std::uint32_t max_ttl, std::uint32_t max_negative_ttl)
    : max_entries_(max_entries), max_ttl_(max_ttl), max_negative_ttl_(max_negative_ttl)
{
}

std::string cache::key(const query& q)
{
    std::string k(q.wire_name.begin(), q.wire_name.end());
    const std::uint8_t bits = (q.recursion_desired() ? 1 : 0) | (q.checking_disabled() ? 2 : 0) |
                              (q.dnssec_ok ? 4 : 0) | (q.edns ? 8 : 0);
    k.push_back(static_cast<char>(q.qtype >> 8));
    k.push_back(static_cast<char>(q.qtype));
    k.push_back(static_cast<char>(q.qclass >> 8));
    k.push_back(static_cast<char>(q.qclass));
    k.push_back(static_cast<char>(bits));
    return k;
}

std::optional<bytes> cache::find(const std::string& k, view msg, const query& q, time_point now)
{
    auto it = map_.find(k);
    if (it == map_.end())
        return std::nullopt;
    entry& e = it->second;
    if (now >= e.expires) {
        lru_.erase(e.lru);
        map_.erase(it);
        return std::nullopt;
    }
    lru_.splice(lru_.begin(), lru_, e.lru);
    bytes out = e.msg;
    const auto age = static_cast<std::uint32_t>(std::chrono::duration_cast<std::chrono::seconds>(now - e.stored).count());
    for (std::size_t i = 0; i < e.ttl_offsets.size(); ++i) {
        const std::uint32_t t = e.ttls[i] > age ? e.ttls[i] - age : 0;
        put16(&out[e.ttl_offsets[i]], static_cast<std::uint16_t>(t >> 16));
        put16(&out[e.ttl_offsets[i] + 2], static_cast<std::uint16_t>(t));
    }
    put16(out.data(), q.id);
    // The same name in the client's spelling (0x20 case randomisation survives the cache).
    std::copy(msg.begin() + header_size, msg.begin() + static_cast<std::ptrdiff_t>(q.question_end),
              out.begin() + header_size);
    return out;
}

bool cache::put(const std::string& k, view reply, const reply_info& info, time_point now)
{
    if (max_entries_ == 0 || info.truncated || reply.size() > max_message)
        return false;
    std::uint32_t life = 0;
    if (info.rcode == rcode::noerror && info.answers > 0 && info.min_ttl)
        life = std::min(*info.min_ttl, max_ttl_);
    else if ((info.rcode == rcode::nxdomain || (info.rcode == rcode::noerror && info.answers == 0)) &&
             info.soa_negative_ttl)
        life = std::min(*info.soa_negative_ttl, max_negative_ttl_);
    if (life == 0)
        return false;
    entry e;
    e.msg.assign(reply.begin(), reply.end());
    e.ttl_offsets = info.ttl_offsets;
    for (auto off : info.ttl_offsets) {
        const std::uint32_t raw = static_cast<std::uint32_t>(get16(reply, off)) << 16 | get16(reply, off + 2);
        e.ttls.push_back(std::min(raw & 0x80000000u ? 0 : raw, life));
    }
    e.stored = now;
    e.expires = now + std::chrono::seconds(life);
    if (auto old = map_.find(k); old != map_.end()) {
        lru_.erase(old->second.lru);
        map_.erase(old);
    }
    while (map_.size() >= max_entries_ && !lru_.empty()) {
        map_.erase(lru_.back());
        lru_.pop_back();
    }
    lru_.push_front(k);
    e.lru = lru_.begin();
    map_.emplace(k, std::move(e));
    return true;
}

} // namespace paddock::dns
