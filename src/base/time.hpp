// SPDX-License-Identifier: MIT
// Wall-clock helpers: formatting is pure; unix_now() is the one clock read, for drivers only.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace paddock {

// "2026-11-29T03:00:00Z"
std::string iso8601(std::int64_t unix_seconds);
// "2026-11-29T03:00:00.123Z"
std::string iso8601_ms(std::chrono::system_clock::time_point t);
// Seconds since the epoch, now. Cores never call it: they take `now` as a parameter.
std::int64_t unix_now();

} // namespace paddock
