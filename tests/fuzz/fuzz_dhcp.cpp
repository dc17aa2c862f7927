// SPDX-License-Identifier: MIT
// libFuzzer target: the DHCP codec and the request handler must never crash, hang or read out of
// bounds, for any input. A decoded message goes through the engine; any reply must encode and
// decode again; the lease table must keep one address per client.
#include <cstdint>
#include <set>
#include <span>

#include "dhcp/engine.hpp"
#include "dhcp/message.hpp"

using namespace paddock;

namespace {
dhcp::engine make_engine()
{
    dhcp::engine_config c;
    c.subnet = *parse_cidr("192.168.26.0/24");
    c.server_id = *parse_ipv4("192.168.26.2");
    c.router = *parse_ipv4("192.168.26.1");
    c.dns = {c.router};
    c.domain = "paddock.internal";
    c.pool_start = *parse_ipv4("192.168.26.10");
    c.pool_end = *parse_ipv4("192.168.26.20");
    dhcp::engine e(c);
    e.reserve({"52:54:00:00:00:01", *parse_ipv4("192.168.26.40"), "web1", "web1"});
    return e;
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    static dhcp::engine e = make_engine();
    static std::int64_t now = 1000;
    auto m = dhcp::decode(std::span(data, size));
    if (!m.ok())
        return 0;
    // The first byte steers time and the broadcast marker, so expiry paths are reached too.
    now += size > 0 ? data[0] % 64 : 1;
    auto d = e.handle(*m, {size > 1 && (data[1] & 1)}, now);
    if (d.out) {
        auto again = dhcp::decode(dhcp::encode(d.out->msg));
        if (!again.ok() || again->xid != m->xid)
            __builtin_trap();
    }
    if (size > 2 && data[2] == 0xee)
        e.expire(now);
    std::set<std::string> holders;
    for (auto& [ip, l] : e.leases())
        if (l.state == dhcp::lease_state::bound && !holders.insert(l.mac + "/" + l.client_id).second)
            __builtin_trap();
    return 0;
}
