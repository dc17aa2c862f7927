// SPDX-License-Identifier: MIT
// CORE: a token bucket per key, for the most recently seen `cap` keys (older keys are forgotten
// and start again with a full bucket: memory stays flat whatever keys arrive). Pure: times come
// in as numbers.
#pragma once

#include <cstdint>
#include <list>
#include <string>
#include <unordered_map>

namespace paddock {

class rate_table {
public:
    // `per_second` tokens a second, at most `burst` saved up; `per_second` 0: everything passes.
    rate_table(double per_second, double burst, std::size_t cap);

    // Takes a token from `key`'s bucket at `now_us`: false when it has none.
    bool allow(const std::string& key, std::int64_t now_us);
    std::size_t size() const { return index_.size(); }

private:
    struct entry {
        std::string key;
        double tokens;
        std::int64_t at_us;
    };
    double rate_, burst_;
    std::size_t cap_;
    std::list<entry> order_; // most recently seen first
    std::unordered_map<std::string, std::list<entry>::iterator> index_;
};

} // namespace paddock
