// SPDX-License-Identifier: MIT
// CORE: /proc/meminfo.
#include "base/meminfo.hpp"

#include <charconv>

namespace paddock {

meminfo parse_meminfo(std::string_view text)
{
    meminfo m;
    while (!text.empty()) {
        auto nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
        auto colon = line.find(':');
        if (colon == std::string_view::npos)
            continue;
        std::string_view key = line.substr(0, colon), rest = line.substr(colon + 1);
        while (!rest.empty() && rest.front() == ' ')
            rest.remove_prefix(1);
        std::uint64_t kb = 0;
        auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), kb);
        if (ec != std::errc())
            continue;
        if (key == "MemTotal")
            m.total = kb * 1024;
        else if (key == "MemAvailable")
            m.available = kb * 1024;
    }
    return m;
}

} // namespace paddock
