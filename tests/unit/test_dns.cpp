// SPDX-License-Identifier: MIT
// Unit: the DNS codec, cache and resolver core (dns/) on hand-built messages.
#include <doctest/doctest.h>

#include <chrono>
#include <map>

#include "dns/cache.hpp"
#include "dns/message.hpp"
#include "dns/resolver.hpp"

using namespace paddock;
using namespace paddock::dns;
using namespace std::chrono_literals;

namespace {

void add16(bytes& b, std::uint16_t v)
{
    b.push_back(static_cast<std::uint8_t>(v >> 8));
    b.push_back(static_cast<std::uint8_t>(v));
}
void add32(bytes& b, std::uint32_t v)
{
    add16(b, static_cast<std::uint16_t>(v >> 16));
    add16(b, static_cast<std::uint16_t>(v));
}

bytes make_query(std::uint16_t id, const std::string& name, std::uint16_t qtype, bool edns = false,
                 std::uint16_t flags = 0x0100)
{
    bytes b;
    add16(b, id);
    add16(b, flags);
    add16(b, 1);
    add16(b, 0);
    add16(b, 0);
    add16(b, edns ? 1 : 0);
    std::string s = name;
    while (!s.empty()) { // keeps the caller's case, unlike encode_name
        auto dot = s.find('.');
        std::string label = s.substr(0, dot);
        b.push_back(static_cast<std::uint8_t>(label.size()));
        b.insert(b.end(), label.begin(), label.end());
        s = dot == std::string::npos ? "" : s.substr(dot + 1);
    }
    b.push_back(0);
    add16(b, qtype);
    add16(b, class_in);
    if (edns) {
        b.push_back(0);
        add16(b, type::opt);
        add16(b, 4096);
        add32(b, 0);
        add16(b, 0);
    }
    return b;
}

// A server's reply to `q`: `answers` A records of `ttl` (10.0.0.1, .2, ...), optionally an SOA.
bytes make_answer(const bytes& q, std::uint8_t rc, int answers, std::uint32_t ttl, std::optional<std::uint32_t> soa_min = {},
                  std::uint16_t id = 0)
{
    auto parsed = parse_query(q);
    REQUIRE(parsed);
    bytes b(q.begin(), q.begin() + static_cast<std::ptrdiff_t>(parsed->question_end));
    put16(b.data(), id ? id : parsed->id);
    put16(b.data() + 2, static_cast<std::uint16_t>(0x8180 | rc));
    put16(b.data() + 6, static_cast<std::uint16_t>(answers));
    put16(b.data() + 8, soa_min ? 1 : 0);
    put16(b.data() + 10, 0);
    for (int i = 0; i < answers; ++i) {
        add16(b, 0xC00C);
        add16(b, type::a);
        add16(b, class_in);
        add32(b, ttl);
        add16(b, 4);
        add32(b, 0x0A000001u + static_cast<std::uint32_t>(i));
    }
    if (soa_min) {
        auto zone = *encode_name("example.org");
        b.insert(b.end(), zone.begin(), zone.end());
        add16(b, type::soa);
        add16(b, class_in);
        add32(b, 3600);
        bytes rd = soa_rdata(zone, *soa_min);
        add16(b, static_cast<std::uint16_t>(rd.size()));
        b.insert(b.end(), rd.begin(), rd.end());
    }
    return b;
}

std::uint8_t rcode_of(const bytes& m) { return m[3] & 0x0F; }
// Section counts: 0 questions, 1 answers, 2 authority, 3 additional.
std::uint16_t count_of(const bytes& m, int section) { return get16(m, 4 + 2 * section); }
bool flag(const bytes& m, std::uint16_t f) { return (get16(m, 2) & f) != 0; }

// The first answer record's TTL and rdata.
std::uint32_t first_ttl(const bytes& m, std::size_t question_end)
{
    std::size_t p = question_end + 6;
    return static_cast<std::uint32_t>(get16(m, p)) << 16 | get16(m, p + 2);
}
bytes first_rdata(const bytes& m, std::size_t question_end)
{
    std::size_t p = question_end + 10;
    std::size_t n = get16(m, p);
    return bytes(m.begin() + static_cast<std::ptrdiff_t>(p + 2), m.begin() + static_cast<std::ptrdiff_t>(p + 2 + n));
}

struct world {
    std::map<std::string, ipv4, std::less<>> vms{{"web", ipv4{0xC0A81A0Bu}}, {"db", ipv4{0xC0A81A0Cu}}};
    zone_config cfg;
    resolver r;
    ipv4 client{0xC0A81A0Au};
    resolver::time_point t0{};

    explicit world(std::size_t cache_entries = 4096) : cfg(make_cfg(cache_entries)), r(cfg, dir()) {}
    static zone_config make_cfg(std::size_t n)
    {
        zone_config c;
        c.cache_entries = n;
        return c;
    }
    directory dir()
    {
        directory d;
        d.address_of = [this](std::string_view n) {
            auto it = vms.find(n);
            return it == vms.end() ? std::optional<ipv4>() : std::optional<ipv4>(it->second);
        };
        d.name_of = [this](ipv4 a) {
            for (auto& [n, ip] : vms)
                if (ip == a)
                    return std::optional<std::string>(n);
            return std::optional<std::string>();
        };
        return d;
    }
    step ask(const bytes& q, bool tcp = false, resolver::time_point now = {}) { return r.handle(q, client, tcp, now); }
};

} // namespace

TEST_CASE("parse_query reads the question and EDNS, and refuses what is not a query")
{
    auto q = parse_query(make_query(0x1234, "Web.Paddock.Internal", type::a, true));
    REQUIRE(q);
    CHECK(q->id == 0x1234);
    CHECK(q->name == "web.paddock.internal");
    CHECK(q->qtype == type::a);
    CHECK(q->edns);
    CHECK(q->udp_size == 4096);
    CHECK(q->recursion_desired());
    CHECK(q->reply_limit(false) == 4096);
    CHECK(parse_query(make_query(1, "a", type::a))->reply_limit(false) == 512);

    CHECK(!parse_query(bytes(11, 0)));
    CHECK(!parse_query(make_query(1, "a.b", type::a, false, 0x8100))); // a response
    bytes two = make_query(1, "a.b", type::a);
    put16(two.data() + 4, 2);
    CHECK(!parse_query(two));
    bytes cut = make_query(1, "a.b", type::a);
    cut.resize(cut.size() - 3);
    CHECK(!parse_query(cut));
    bytes long_label = make_query(1, "a", type::a);
    long_label[12] = 64; // a label length with the reserved 01 bits
    CHECK(!parse_query(long_label));
    bytes pointer = make_query(1, "a", type::a);
    pointer[12] = 0xC0;
    pointer[13] = 0x0C; // the question points at itself
    CHECK(!parse_query(pointer));
    CHECK(parse_query(make_query(1, "", type::ns))->name.empty()); // the root
    // A name over 255 bytes.
    std::string big;
    for (int i = 0; i < 5; ++i)
        big += std::string(60, 'x') + ".";
    CHECK(!parse_query(make_query(1, big + "com", type::a)));
}

TEST_CASE("parse_reply survives compression loops and reads TTLs and the SOA's negative TTL")
{
    bytes q = make_query(7, "example.org", type::a);
    auto info = parse_reply(make_answer(q, rcode::noerror, 2, 300));
    REQUIRE(info);
    CHECK(info->answers == 2);
    CHECK(info->min_ttl == 300u);
    CHECK(info->ttl_offsets.size() == 2);
    auto neg = parse_reply(make_answer(q, rcode::nxdomain, 0, 0, 120));
    REQUIRE(neg);
    CHECK(neg->soa_negative_ttl == 120u);

    bytes loop = make_answer(q, rcode::noerror, 1, 300);
    const std::size_t owner = parse_query(q)->question_end;
    loop[owner] = 0xC0;
    loop[owner + 1] = static_cast<std::uint8_t>(owner); // points at itself
    CHECK(!parse_reply(loop));
    // Names may not read a TTL (the cache rewrites those) nor the header (the ID is rewritten).
    bytes into_ttl = make_answer(q, rcode::noerror, 2, 0x01610000u); // TTL bytes 01 'a' 00 00 read as a name
    into_ttl[owner + 16] = 0xC0;
    into_ttl[owner + 17] = static_cast<std::uint8_t>(owner + 6); // record 2's owner -> record 1's TTL
    CHECK(!parse_reply(into_ttl));
    bytes into_header = make_answer(q, rcode::noerror, 1, 300);
    into_header[owner + 1] = 4;
    CHECK(!parse_reply(into_header));
    bytes shorter = make_answer(q, rcode::noerror, 1, 300);
    shorter.pop_back();
    CHECK(!parse_reply(shorter));
    bytes top_bit = make_answer(q, rcode::noerror, 1, 0x80000001u);
    CHECK(parse_reply(top_bit)->min_ttl == 0u); // RFC 2181: treated as zero
}

TEST_CASE("VM names are answered here, authoritatively, in the asker's case")
{
    world w;
    bytes q = make_query(0xBEEF, "WEB.paddock.internal", type::a);
    auto s = w.ask(q);
    REQUIRE(s.what == step::kind::reply);
    const auto qe = parse_query(q)->question_end;
    CHECK(get16(s.out, 0) == 0xBEEF);
    CHECK(rcode_of(s.out) == rcode::noerror);
    CHECK(flag(s.out, 0x0400)); // AA
    CHECK(flag(s.out, 0x8000)); // QR
    CHECK(count_of(s.out, 1) == 1);
    CHECK(first_rdata(s.out, qe) == bytes{192, 168, 26, 11});
    CHECK(first_ttl(s.out, qe) == w.cfg.local_ttl);
    CHECK(std::equal(q.begin() + 12, q.begin() + static_cast<std::ptrdiff_t>(qe), s.out.begin() + 12));

    // A bare VM name too; AAAA has no data; an unknown name does not exist; both carry the SOA.
    CHECK(first_rdata(w.ask(make_query(1, "db", type::a)).out, parse_query(make_query(1, "db", type::a))->question_end) ==
          bytes{192, 168, 26, 12});
    auto aaaa = w.ask(make_query(2, "web.paddock.internal", type::aaaa)).out;
    CHECK(rcode_of(aaaa) == rcode::noerror);
    CHECK(count_of(aaaa, 1) == 0);
    CHECK(count_of(aaaa, 2) == 1);
    auto none = w.ask(make_query(3, "nope.paddock.internal", type::a)).out;
    CHECK(rcode_of(none) == rcode::nxdomain);
    CHECK(count_of(none, 2) == 1);
    CHECK(rcode_of(w.ask(make_query(4, "a.web.paddock.internal", type::a)).out) == rcode::nxdomain);
    CHECK(rcode_of(w.ask(make_query(5, "nope", type::a)).out) == rcode::nxdomain); // single labels never leave
    auto apex = w.ask(make_query(6, "paddock.internal", type::soa)).out;
    CHECK(count_of(apex, 1) == 1);
    CHECK(w.r.counts()[static_cast<std::size_t>(outcome::local)] == 7);
    // A VM that goes away stops resolving at once.
    w.vms.erase("db");
    CHECK(rcode_of(w.ask(make_query(7, "db.paddock.internal", type::a)).out) == rcode::nxdomain);
}

TEST_CASE("with no domain, bare VM names still resolve and the root is forwarded")
{
    zone_config c;
    c.domain = "";
    directory d;
    d.address_of = [](std::string_view n) { return n == "web" ? std::optional<ipv4>(ipv4{0xC0A81A0Bu}) : std::nullopt; };
    d.name_of = [](ipv4) { return std::optional<std::string>(); };
    resolver r(c, d);
    CHECK(rcode_of(r.handle(make_query(1, "web", type::a), ipv4{0xC0A81A0Au}, false, {}).out) == rcode::noerror);
    CHECK(r.handle(make_query(1, "", type::ns), ipv4{0xC0A81A0Au}, false, {}).what == step::kind::forward);
}

TEST_CASE("reverse lookups in the subnet are answered here, others are forwarded")
{
    world w;
    bytes q = make_query(9, "11.26.168.192.in-addr.arpa", type::ptr);
    auto s = w.ask(q);
    REQUIRE(s.what == step::kind::reply);
    CHECK(first_rdata(s.out, parse_query(q)->question_end) == *encode_name("web.paddock.internal"));
    CHECK(rcode_of(w.ask(make_query(9, "99.26.168.192.in-addr.arpa", type::ptr)).out) == rcode::nxdomain);
    CHECK(w.ask(make_query(9, "1.113.0.203.in-addr.arpa", type::ptr)).what == step::kind::forward);
    CHECK(w.ask(make_query(9, "26.168.192.in-addr.arpa", type::soa)).what == step::kind::forward);
    CHECK(w.ask(make_query(9, "x.26.168.192.in-addr.arpa", type::ptr)).what == step::kind::forward);
}

TEST_CASE("clients outside the subnet are refused, other opcodes get NOTIMP, garbage is dropped and counted")
{
    world w;
    w.client = ipv4{0xCB007101u};
    CHECK(rcode_of(w.ask(make_query(1, "example.org", type::a)).out) == rcode::refused);
    w.client = ipv4{0xC0A81A0Au};
    CHECK(rcode_of(w.ask(make_query(1, "example.org", type::a, false, 0x2800)).out) == rcode::notimp);
    CHECK(w.ask(bytes{1, 2, 3}).what == step::kind::drop);
    CHECK(w.ask(make_query(1, "x", type::a, false, 0x8000)).what == step::kind::drop);
    CHECK(w.r.counts()[static_cast<std::size_t>(outcome::malformed)] == 2);
    CHECK(w.r.counts()[static_cast<std::size_t>(outcome::refused)] == 1);
    CHECK(w.r.counts()[static_cast<std::size_t>(outcome::notimp)] == 1);
}

TEST_CASE("forwarded answers are checked, cached for their TTL and aged")
{
    world w;
    bytes q = make_query(0x0101, "example.org", type::a);
    auto s = w.ask(q, false, w.t0);
    REQUIRE(s.what == step::kind::forward);

    // A reply to another question is not an answer.
    bytes other = make_answer(make_query(0x0101, "example.net", type::a), rcode::noerror, 1, 60);
    CHECK(!w.r.from_upstream(q, s.q, s.key, other, false, w.t0).out);

    auto a = w.r.from_upstream(q, s.q, s.key, make_answer(q, rcode::noerror, 1, 60, {}, 0x7777), false, w.t0);
    REQUIRE(a.out);
    CHECK(get16(*a.out, 0) == 0x0101); // the client's ID, not the one we sent upstream
    CHECK(w.r.cache_size() == 1);

    // Asked again 10 s later with other case and ID: from the cache, TTL 50, spelled as asked.
    bytes again = make_query(0x0202, "EXAMPLE.org", type::a);
    auto hit = w.ask(again, false, w.t0 + 10s);
    REQUIRE(hit.what == step::kind::reply);
    const auto qe = parse_query(again)->question_end;
    CHECK(get16(hit.out, 0) == 0x0202);
    CHECK(first_ttl(hit.out, qe) == 50);
    CHECK(hit.out[13] == 'E');
    CHECK(w.r.counts()[static_cast<std::size_t>(outcome::cached)] == 1);
    // Expired after 60 s; a different type or RD bit is another entry.
    CHECK(w.ask(again, false, w.t0 + 60s).what == step::kind::forward);
    CHECK(w.ask(make_query(3, "example.org", type::aaaa), false, w.t0).what == step::kind::forward);
}

TEST_CASE("negative answers are cached for the SOA's negative TTL; failures are not cached")
{
    world w;
    bytes q = make_query(1, "missing.example.org", type::a);
    auto s = w.ask(q);
    w.r.from_upstream(q, s.q, s.key, make_answer(q, rcode::nxdomain, 0, 0, 30), false, w.t0);
    CHECK(w.ask(q, false, w.t0 + 29s).what == step::kind::reply);
    CHECK(w.ask(q, false, w.t0 + 30s).what == step::kind::forward);

    bytes f = make_query(2, "broken.example.org", type::a);
    auto fs = w.ask(f);
    auto fa = w.r.from_upstream(f, fs.q, fs.key, make_answer(f, rcode::servfail, 0, 0), false, w.t0);
    CHECK(fa.out);
    CHECK(fa.rcode == rcode::servfail);
    CHECK(w.ask(f, false, w.t0).what == step::kind::forward);
    CHECK(rcode_of(w.r.failed(f, fs.q)) == rcode::servfail);
}

TEST_CASE("the cache is bounded: the least recently used answer goes first")
{
    world w(2);
    auto put = [&](const std::string& name) {
        bytes q = make_query(1, name, type::a);
        auto s = w.ask(q, false, w.t0);
        REQUIRE(s.what == step::kind::forward);
        w.r.from_upstream(q, s.q, s.key, make_answer(q, rcode::noerror, 1, 300), false, w.t0);
    };
    put("a.example");
    put("b.example");
    CHECK(w.ask(make_query(1, "a.example", type::a), false, w.t0).what == step::kind::reply); // a is fresh now
    put("c.example");
    CHECK(w.r.cache_size() == 2);
    CHECK(w.ask(make_query(1, "a.example", type::a), false, w.t0).what == step::kind::reply);
    CHECK(w.ask(make_query(1, "b.example", type::a), false, w.t0).what == step::kind::forward);
}

TEST_CASE("an answer too big for the client's UDP size goes out truncated; TCP gets it whole")
{
    world w;
    bytes q = make_query(1, "many.example.org", type::a);
    auto s = w.ask(q);
    bytes big = make_answer(q, rcode::noerror, 40, 300); // 40 * 16 bytes > 512
    auto a = w.r.from_upstream(q, s.q, s.key, big, false, w.t0);
    REQUIRE(a.out);
    CHECK(flag(*a.out, 0x0200));
    CHECK(count_of(*a.out, 1) == 0);
    auto viatcp = w.ask(q, true, w.t0);
    REQUIRE(viatcp.what == step::kind::reply);
    CHECK(count_of(viatcp.out, 1) == 40);
    bytes e = make_query(2, "many.example.org", type::a, true);
    auto es = w.ask(e, false, w.t0); // EDNS: another cache entry, the client takes 4096
    REQUIRE(es.what == step::kind::forward);
}

TEST_CASE("resolv.conf: nameservers in order, once each")
{
    auto v = parse_resolv_conf("# comment\nsearch lan\nnameserver 127.0.0.53\n  nameserver\t10.0.0.1 # x\n"
                               "nameserver 127.0.0.53\nnameserver ::1\noptions edns0\nnameserver\n");
    REQUIRE(v.size() == 3);
    CHECK(v[0] == "127.0.0.53");
    CHECK(v[1] == "10.0.0.1");
    CHECK(v[2] == "::1");
    CHECK(parse_resolv_conf("").empty());
}
