// SPDX-License-Identifier: MIT
// CORE: the host's memory from /proc/meminfo's text (MemTotal, MemAvailable; kB there, bytes here).
// Pure: the caller reads the file.
#pragma once

#include <cstdint>
#include <string_view>

namespace paddock {

struct meminfo {
    std::uint64_t total = 0, available = 0; // bytes; 0 when the line is missing
};
meminfo parse_meminfo(std::string_view text);

} // namespace paddock
