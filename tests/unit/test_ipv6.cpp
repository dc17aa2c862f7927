// SPDX-License-Identifier: MIT
// Unit: IPv6 addresses and prefixes (base/ipv6), Router Advertisements and stateless DHCPv6
// (dhcp/ipv6_config), the resolver's AAAA and ip6.arpa answers, the guard's IPv6 rules and the
// network.ipv6 setting.
#include <doctest/doctest.h>

#include <boost/json.hpp>

#include "base/ipv6.hpp"
#include "conf/config.hpp"
#include "dhcp/ipv6_config.hpp"
#include "dns/message.hpp"
#include "dns/resolver.hpp"
#include "net/guard_ruleset.hpp"

using namespace paddock;

TEST_CASE("IPv6 addresses and /64 prefixes: parsing, RFC 5952 text, SLAAC, ULA, reverse names")
{
    CHECK(to_string(*parse_ipv6("FD00:0:0:0::1")) == "fd00::1");
    CHECK_FALSE(parse_ipv6("fd00::1::2"));
    CHECK_FALSE(parse_ipv6("192.168.1.1"));
    CHECK_FALSE(parse_ipv6(""));
    auto p = parse_cidr6("fd12:3456:789a:1::/64");
    REQUIRE(p);
    CHECK(to_string(*p) == "fd12:3456:789a:1::/64");
    CHECK_FALSE(parse_cidr6("fd12:3456:789a:1::1/64")); // host bits
    CHECK_FALSE(parse_cidr6("fd12::/129"));
    CHECK_FALSE(parse_cidr6("fd12::/064"));
    CHECK_FALSE(parse_cidr6("fd12::"));
    CHECK(p->contains(*parse_ipv6("fd12:3456:789a:1:5054:ff:fe12:3456")));
    CHECK_FALSE(p->contains(*parse_ipv6("fd12:3456:789a:2::1")));
    // Modified EUI-64 (RFC 4291 appendix A): the universal/local bit flipped, ff:fe in the middle.
    CHECK(to_string(*slaac_address(*p, "52:54:00:12:34:56")) == "fd12:3456:789a:1:5054:ff:fe12:3456");
    CHECK(to_string(*link_local("52:54:00:12:34:56")) == "fe80::5054:ff:fe12:3456");
    CHECK(to_string(*link_local("00:16:3e:00:00:01")) == "fe80::216:3eff:fe00:1");
    CHECK_FALSE(slaac_address(*p, "not-a-mac"));
    CHECK(to_string(ula_prefix(0x123456789aull)) == "fd12:3456:789a::/64");
    CHECK(to_string(ula_prefix(0xFFFFFFFFFFull)) == "fdff:ffff:ffff::/64");
    auto a = *parse_ipv6("2001:db8::567:89ab");
    CHECK(reverse_name(a) == "b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
    CHECK(from_reverse_name(reverse_name(a)) == a);
    CHECK(from_reverse_name("B.A.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.B.D.0.1.0.0.2.IP6.ARPA.") == a);
    CHECK_FALSE(from_reverse_name("1.0.0.127.in-addr.arpa"));
    CHECK_FALSE(from_reverse_name("g.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"));
}

namespace {
dhcp::ra_params params()
{
    dhcp::ra_params p;
    p.prefix = *parse_cidr6("fd12:3456:789a::/64");
    p.dns = *parse_ipv6("fd12:3456:789a::2");
    p.domain = "paddock.internal";
    return p;
}
} // namespace

TEST_CASE("the Router Advertisement: O flag, lifetimes, prefix (L, A), RDNSS and DNSSL padded to 8 bytes")
{
    auto m = dhcp::router_advertisement(params());
    REQUIRE(m.size() == 16 + 32 + 24 + 32);
    CHECK(m[0] == 134);
    CHECK(m[4] == 64);
    CHECK(m[5] == 0x40); // O, not M
    CHECK((m[6] << 8 | m[7]) == 1800);
    // Prefix information
    CHECK(m[16] == 3);
    CHECK(m[17] == 4);
    CHECK(m[18] == 64);
    CHECK(m[19] == 0xC0);
    const auto p = params();
    CHECK(std::equal(m.begin() + 32, m.begin() + 48, p.prefix.network.b.begin()));
    // RDNSS (RFC 8106): length 3, the server
    CHECK(m[48] == 25);
    CHECK(m[49] == 3);
    CHECK(std::equal(m.begin() + 56, m.begin() + 72, p.dns.b.begin()));
    // DNSSL: "paddock.internal" in wire form (18 bytes) after 8 bytes of header, padded to 32
    CHECK(m[72] == 31);
    CHECK(m[73] == 4);
    CHECK(m[80] == 7);
    CHECK(std::string(m.begin() + 81, m.begin() + 88) == "paddock");
    CHECK(m[97] == 0);
}

TEST_CASE("Router Solicitations are recognised; odd ones are not")
{
    std::uint8_t rs[] = {133, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0x52, 0x54, 0, 1, 2, 3};
    CHECK(dhcp::router_solicitation(rs, sizeof rs));
    CHECK(dhcp::router_solicitation(rs, 8));
    CHECK_FALSE(dhcp::router_solicitation(rs, 7));
    rs[9] = 0; // an option of length 0
    CHECK_FALSE(dhcp::router_solicitation(rs, sizeof rs));
    rs[9] = 2; // longer than the message
    CHECK_FALSE(dhcp::router_solicitation(rs, sizeof rs));
    rs[0] = 134;
    CHECK_FALSE(dhcp::router_solicitation(rs, 8));
}

TEST_CASE("stateless DHCPv6: INFORMATION-REQUEST gets DNS, domain and our DUID; others nothing")
{
    const mac_bytes mac{2, 0, 0, 0, 0, 1};
    std::vector<std::uint8_t> req{11, 0xAB, 0xCD, 0xEF, 0, 1, 0, 4, 9, 8, 7, 6, 0, 6, 0, 2, 0, 23};
    auto r = dhcp::dhcpv6_reply(req.data(), req.size(), params(), mac);
    REQUIRE(r);
    CHECK((*r)[0] == 7);
    CHECK((*r)[1] == 0xAB);
    CHECK((*r)[3] == 0xEF);
    const std::vector<std::uint8_t> server_id{0, 2, 0, 10, 0, 3, 0, 1, 2, 0, 0, 0, 0, 1};
    CHECK(std::search(r->begin(), r->end(), server_id.begin(), server_id.end()) != r->end());
    const std::vector<std::uint8_t> client_id{0, 1, 0, 4, 9, 8, 7, 6};
    CHECK(std::search(r->begin(), r->end(), client_id.begin(), client_id.end()) != r->end());
    std::vector<std::uint8_t> dns{0, 23, 0, 16};
    const auto server = params().dns;
    dns.insert(dns.end(), server.b.begin(), server.b.end());
    CHECK(std::search(r->begin(), r->end(), dns.begin(), dns.end()) != r->end());
    // Another server's request, a SOLICIT, truncated options: no reply.
    auto other = req;
    other.insert(other.end(), {0, 2, 0, 10, 0, 3, 0, 1, 2, 0, 0, 0, 0, 2});
    CHECK_FALSE(dhcp::dhcpv6_reply(other.data(), other.size(), params(), mac));
    auto mine = req;
    mine.insert(mine.end(), server_id.begin() + 0, server_id.end());
    CHECK(dhcp::dhcpv6_reply(mine.data(), mine.size(), params(), mac));
    auto solicit = req;
    solicit[0] = 1;
    CHECK_FALSE(dhcp::dhcpv6_reply(solicit.data(), solicit.size(), params(), mac));
    CHECK_FALSE(dhcp::dhcpv6_reply(req.data(), req.size() - 1, params(), mac));
    CHECK_FALSE(dhcp::dhcpv6_reply(req.data(), 3, params(), mac));
    CHECK(dhcp::dns_wire_name("a.bc") == dhcp::bytes6{1, 'a', 2, 'b', 'c', 0});
    CHECK_FALSE(dhcp::dns_wire_name("a..b"));
}

namespace {
dns::bytes query(const std::string& name, std::uint16_t qtype)
{
    dns::bytes b{0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
    auto n = *dns::encode_name(name);
    b.insert(b.end(), n.begin(), n.end());
    b.insert(b.end(), {static_cast<std::uint8_t>(qtype >> 8), static_cast<std::uint8_t>(qtype), 0, 1});
    return b;
}
} // namespace

TEST_CASE("the resolver answers AAAA and ip6.arpa PTR for VMs, and IPv6 clients on the /64 or link-local only")
{
    dns::zone_config z;
    z.subnet6 = parse_cidr6("fd12:3456:789a::/64");
    const ipv6 web6 = *parse_ipv6("fd12:3456:789a:0:5054:ff:fe12:3456");
    dns::directory d;
    d.address_of = [](std::string_view n) { return n == "web" ? std::optional<ipv4>(ipv4{0xC0A81A0Bu}) : std::nullopt; };
    d.name_of = [](ipv4) { return std::optional<std::string>(); };
    d.address6_of = [&](std::string_view n) { return n == "web" ? std::optional<ipv6>(web6) : std::nullopt; };
    d.name_of6 = [&](const ipv6& a) { return a == web6 ? std::optional<std::string>("web") : std::nullopt; };
    dns::resolver r(z, d);
    const ipv6 client = *parse_ipv6("fd12:3456:789a::99");
    auto s = r.handle(query("web.paddock.internal", dns::type::aaaa), client, false, {});
    REQUIRE(s.what == dns::step::kind::reply);
    auto info = dns::parse_reply(s.out);
    REQUIRE(info);
    CHECK(info->answers == 1);
    CHECK(std::search(s.out.begin(), s.out.end(), web6.b.begin(), web6.b.end()) != s.out.end());
    // A only has the IPv4 address; ANY both.
    CHECK(dns::parse_reply(r.handle(query("web.paddock.internal", dns::type::a), client, false, {}).out)->answers == 1);
    CHECK(dns::parse_reply(r.handle(query("web.paddock.internal", dns::type::any), client, false, {}).out)->answers == 2);
    // PTR in ip6.arpa
    s = r.handle(query(reverse_name(web6), dns::type::ptr), client, false, {});
    REQUIRE(dns::parse_reply(s.out));
    CHECK(dns::parse_reply(s.out)->answers == 1);
    s = r.handle(query(reverse_name(*parse_ipv6("fd12:3456:789a::77")), dns::type::ptr), client, false, {});
    CHECK(dns::parse_reply(s.out)->rcode == dns::rcode::nxdomain);
    // Clients: link-local yes, another prefix refused.
    CHECK(dns::parse_reply(r.handle(query("web.paddock.internal", dns::type::aaaa), *parse_ipv6("fe80::1234"), false, {}).out)->rcode ==
          dns::rcode::noerror);
    CHECK(dns::parse_reply(r.handle(query("web.paddock.internal", dns::type::aaaa), *parse_ipv6("2001:db8::1"), false, {}).out)->rcode ==
          dns::rcode::refused);
}

TEST_CASE("the guard's IPv6 rules: own addresses and DAD only, no RA, redirect or DHCPv6 server; uncounted drop when off")
{
    net::guard_port p{"web", "tap-web", "52:54:00:12:34:56", "192.168.26.10", "fd12::5054:ff:fe12:3456", "fe80::5054:ff:fe12:3456"};
    auto d = net::guard_document({p}, "192.168.26.2", "fd12::2");
    CHECK(d.find("ip6 daddr fd12::2 udp dport 53 limit rate over 2000/second burst 4000 packets counter drop comment \"dns_flood\"") !=
          std::string::npos);
    CHECK(d.find("ip6 daddr fd12::2 tcp flags & (syn | ack) == syn limit rate over 50/second burst 100 packets counter drop comment \"syn_flood\"") !=
          std::string::npos);
    CHECK(d.find("icmpv6 type nd-router-advert counter drop comment \"ra\"") != std::string::npos);
    CHECK(d.find("icmpv6 type nd-redirect counter drop comment \"redirect\"") != std::string::npos);
    CHECK(d.find("udp sport 547 counter drop comment \"dhcp6_server\"") != std::string::npos);
    CHECK(d.find("ip6 saddr != { fe80::5054:ff:fe12:3456, fd12::5054:ff:fe12:3456 } counter drop comment \"ip6\"") !=
          std::string::npos);
    CHECK(d.find("ether type != { ip, arp, ip6 }") != std::string::npos);
    CHECK(d.find("nd-neighbor-advert @th,64,128 != { 0xfe80000000000000505400fffe123456, 0xfd12000000000000505400fffe123456 } "
                 "counter drop comment \"nd\"") != std::string::npos);
    CHECK(d.find("ether type ip6 drop") == std::string::npos);
    p.ip6.clear();
    p.ll6.clear();
    d = net::guard_document({p}, "192.168.26.2");
    CHECK(d.find("ether type ip6 drop") != std::string::npos);
    CHECK(d.find("nd-router-advert") == std::string::npos);
}

TEST_CASE("network.ipv6: auto (the default), false, a /64; anything else named")
{
    auto parse = [](const std::string& v) { return conf::parse_config(R"({"network": {"ipv6": )" + v + "}}"); };
    auto def = conf::parse_config("{}");
    REQUIRE(def);
    CHECK(def->network.ipv6_mode == "auto");
    CHECK(parse("false")->network.ipv6_mode == "off");
    CHECK(parse("true")->network.ipv6_mode == "auto");
    auto given = parse(R"("fd00:1:2:3::/64")");
    REQUIRE(given);
    CHECK(given->network.ipv6_mode == "prefix");
    CHECK(to_string(*given->network.prefix6) == "fd00:1:2:3::/64");
    for (const char* bad : {R"("fd00::/48")", R"("fd00::1/64")", R"("fe80::/64")", R"("ff02::/64")", R"("::/64")", "1", R"("yes")"}) {
        auto r = parse(bad);
        REQUIRE_MESSAGE(!r, bad);
        CHECK_MESSAGE(r.error().message.starts_with("network.ipv6:"), r.error().message);
    }
    CHECK(boost::json::parse(conf::to_json_text(*given)).at("network").at("ipv6") == "fd00:1:2:3::/64");
}
