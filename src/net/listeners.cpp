// SPDX-License-Identifier: MIT
// CORE: /proc/net tables parsed, and which listeners a forward would shadow.
#include "net/listeners.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <charconv>
#include <cstring>

namespace paddock::net {

namespace {
bool hex_u32(std::string_view s, std::uint32_t& out)
{
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out, 16);
    return ec == std::errc() && end == s.data() + s.size();
}

// "0100007F:1F90" (IPv4) or 32 hex digits ":" port (IPv6): each 32-bit word as the kernel holds it.
bool parse_endpoint(std::string_view s, bool v6, std::string& addr, std::uint16_t& port)
{
    auto colon = s.find(':');
    if (colon == std::string_view::npos)
        return false;
    std::string_view a = s.substr(0, colon), p = s.substr(colon + 1);
    std::uint32_t pv = 0;
    if (!hex_u32(p, pv) || pv > 65535 || a.size() != (v6 ? 32u : 8u))
        return false;
    port = static_cast<std::uint16_t>(pv);
    unsigned char bytes[16];
    for (std::size_t w = 0; w < a.size() / 8; ++w) {
        std::uint32_t word = 0;
        if (!hex_u32(a.substr(w * 8, 8), word))
            return false;
        std::memcpy(bytes + 4 * w, &word, 4); // the word as stored in memory: network byte order
    }
    char text[INET6_ADDRSTRLEN];
    if (!::inet_ntop(v6 ? AF_INET6 : AF_INET, bytes, text, sizeof text))
        return false;
    addr = text;
    return true;
}

bool loopback(std::string_view a) { return a.starts_with("127.") || a == "::1" || a.starts_with("::ffff:127."); }
bool wildcard(std::string_view a) { return a == "0.0.0.0" || a == "::"; }

} // namespace

std::vector<listener> parse_proc_net(std::string_view text, bool tcp, bool v6)
{
    std::vector<listener> out;
    bool header = true;
    while (!text.empty()) {
        auto nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
        if (header) {
            header = false;
            continue;
        }
        // sl local remote st tx:rx tr:when retr uid timeout inode
        std::vector<std::string_view> f;
        for (std::size_t i = 0; i < line.size();) {
            while (i < line.size() && line[i] == ' ')
                ++i;
            std::size_t j = i;
            while (j < line.size() && line[j] != ' ')
                ++j;
            if (j > i)
                f.push_back(line.substr(i, j - i));
            i = j;
        }
        if (f.size() < 10)
            continue;
        if (tcp && f[3] != "0A")
            continue;
        listener l;
        std::uint64_t inode = 0;
        auto [end, ec] = std::from_chars(f[9].data(), f[9].data() + f[9].size(), inode);
        if (ec != std::errc() || !parse_endpoint(f[1], v6, l.address, l.port) || l.port == 0)
            continue;
        l.inode = inode;
        out.push_back(std::move(l));
    }
    return out;
}

bool shadows(const listener& l, std::string_view listen)
{
    if (wildcard(l.address))
        return true;
    if (listen == "0.0.0.0")
        return !loopback(l.address) && l.address.find(':') == std::string::npos; // DNAT is IPv4
    return l.address == listen || l.address == "::ffff:" + std::string(listen);
}

} // namespace paddock::net
