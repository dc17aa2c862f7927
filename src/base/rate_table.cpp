// SPDX-License-Identifier: MIT
// CORE: token buckets per key.
#include "base/rate_table.hpp"

#include <algorithm>

namespace paddock {

rate_table::rate_table(double per_second, double burst, std::size_t cap)
    : rate_(per_second), burst_(std::max(burst, 1.0)), cap_(std::max<std::size_t>(cap, 1))
{
}

bool rate_table::allow(const std::string& key, std::int64_t now_us)
{
    if (rate_ <= 0)
        return true;
    auto it = index_.find(key);
    if (it == index_.end()) {
        order_.push_front({key, burst_, now_us});
        index_.emplace(key, order_.begin());
        if (index_.size() > cap_) {
            index_.erase(order_.back().key);
            order_.pop_back();
        }
        it = index_.find(key);
    }
    else
        order_.splice(order_.begin(), order_, it->second);
    entry& e = *it->second;
    if (now_us > e.at_us) {
        e.tokens = std::min(burst_, e.tokens + static_cast<double>(now_us - e.at_us) * rate_ / 1e6);
        e.at_us = now_us;
    }
    if (e.tokens < 1)
        return false;
    e.tokens -= 1;
    return true;
}

} // namespace paddock
