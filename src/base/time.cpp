// SPDX-License-Identifier: MIT
// Wall-clock helpers.
#include "base/time.hpp"

#include <cstdio>
#include <ctime>

namespace paddock {

std::string iso8601(std::int64_t unix_seconds)
{
    std::time_t s = static_cast<std::time_t>(unix_seconds);
    std::tm tm{};
    gmtime_r(&s, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

std::string iso8601_ms(std::chrono::system_clock::time_point t)
{
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
    std::string s = iso8601(ms / 1000);
    char frac[8];
    std::snprintf(frac, sizeof frac, ".%03dZ", static_cast<int>(ms % 1000));
    return s.substr(0, s.size() - 1) + frac;
}

std::int64_t unix_now()
{
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

} // namespace paddock
