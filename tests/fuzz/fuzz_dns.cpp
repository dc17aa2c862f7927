// SPDX-License-Identifier: MIT
// libFuzzer target: the DNS codec, cache and resolver must never crash, hang or read out of bounds,
// for any query and any upstream reply. Every reply the resolver makes must parse as a reply to the
// question it was asked; the cache must stay within its bound.
#include <cstdint>
#include <cstdlib>
#include <span>

#include "dns/message.hpp"
#include "dns/resolver.hpp"

using namespace paddock;

namespace {
dns::resolver make_resolver()
{
    dns::zone_config c;
    c.cache_entries = 64;
    c.subnet6 = parse_cidr6("fd12:3456:789a::/64");
    c.peer_clients = {cidr{ipv4{0xCB007103u}, 32}};
    dns::directory d;
    d.address_of = [](std::string_view n) {
        return n == "web" ? std::optional<ipv4>(ipv4{0xC0A81A0Bu}) : std::nullopt;
    };
    d.name_of = [](ipv4 a) {
        return a.value == 0xC0A81A0Bu ? std::optional<std::string>("web") : std::nullopt;
    };
    d.address6_of = [](std::string_view n) {
        return n == "web" ? parse_ipv6("fd12:3456:789a:0:5054:ff:fe12:3456") : std::nullopt;
    };
    d.name_of6 = [](const ipv6& a) {
        return a == *parse_ipv6("fd12:3456:789a:0:5054:ff:fe12:3456") ? std::optional<std::string>("web") : std::nullopt;
    };
    return dns::resolver(c, d);
}

void check_reply(dns::view query_msg, const dns::bytes& out)
{
    auto q = dns::parse_query(query_msg);
    auto r = dns::parse_reply(out);
    if (!q || !r || !dns::same_question(query_msg, q->question_end, out, r->question_end))
        std::abort();
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    static dns::resolver r = make_resolver();
    static dns::resolver::time_point now{};
    now += std::chrono::seconds(size > 0 ? data[0] % 8 : 1);
    dns::view in(data, size);
    (void)dns::parse_reply(in);
    const bool tcp = size > 1 && (data[1] & 1);
    auto s = r.handle(in, ipv4{0xC0A81A0Au}, tcp, now);
    if (s.what == dns::step::kind::reply)
        check_reply(in, s.out);
    if (s.what == dns::step::kind::forward) {
        // The input, with its header turned into a reply's, as the upstream's answer.
        dns::bytes reply(data, data + size);
        reply[2] |= 0x80;
        auto a = r.from_upstream(in, s.q, s.key, reply, tcp, now);
        if (a.out)
            check_reply(in, *a.out);
        check_reply(in, r.failed(in, s.q));
        auto again = r.handle(in, ipv4{0xC0A81A0Au}, tcp, now);
        if (again.what == dns::step::kind::reply)
            check_reply(in, again.out);
    }
    // The same message from an IPv6 client on the /64 and from a peer host (local names only).
    auto s6 = r.handle(in, *parse_ipv6("fd12:3456:789a::99"), tcp, now);
    if (s6.what == dns::step::kind::reply)
        check_reply(in, s6.out);
    auto sp = r.handle(in, ipv4{0xCB007103u}, tcp, now);
    if (sp.what == dns::step::kind::reply)
        check_reply(in, sp.out);
    if (sp.what == dns::step::kind::forward)
        std::abort(); // a peer host is never forwarded for
    if (r.cache_size() > 64)
        std::abort();
    return 0;
}
