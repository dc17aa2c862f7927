// SPDX-License-Identifier: MIT
// Unit: the DHCP engine's decisions (RFC 2131 §4.3) on packet literals, one field changed at a time.
#include <doctest/doctest.h>

#include <random>
#include <set>

#include "base/rate_table.hpp"
#include "dhcp/admission.hpp"
#include "dhcp/engine.hpp"

using namespace paddock;
using namespace paddock::dhcp;

namespace {
ipv4 ip(const char* s) { return *parse_ipv4(s); }

engine_config cfg(const char* pool_end = "192.168.26.250")
{
    engine_config c;
    c.subnet = *parse_cidr("192.168.26.0/24");
    c.server_id = ip("192.168.26.2");
    c.router = ip("192.168.26.1");
    c.dns = {ip("192.168.26.1")};
    c.domain = "paddock.internal";
    c.pool_start = ip("192.168.26.10");
    c.pool_end = ip(pool_end);
    c.lease_time_s = 3600;
    return c;
}

message req(msg_type t, std::uint8_t id, std::uint32_t xid = 7)
{
    message m;
    m.xid = xid;
    m.chaddr = {0x52, 0x54, 0, 0, 0, id};
    m.set_u8(opt::message_type, static_cast<std::uint8_t>(t));
    return m;
}
std::string mac(std::uint8_t id)
{
    char b[18];
    std::snprintf(b, sizeof b, "52:54:00:00:00:%02x", id);
    return b;
}
message selecting(std::uint8_t id, ipv4 want, ipv4 server = ip("192.168.26.2"))
{
    auto m = req(msg_type::request, id);
    m.set_ip(opt::requested_ip, want);
    m.set_ip(opt::server_id, server);
    return m;
}
std::optional<msg_type> type_of(const decision& d) { return d.out ? d.out->msg.type() : std::nullopt; }

// Binds client `id` through DISCOVER + REQUEST and returns its address.
ipv4 bind(engine& e, std::uint8_t id, std::int64_t now = 1000)
{
    auto o = e.handle(req(msg_type::discover, id), {}, now);
    REQUIRE(type_of(o) == msg_type::offer);
    auto a = e.handle(selecting(id, o.out->msg.yiaddr), {}, now);
    REQUIRE(type_of(a) == msg_type::ack);
    return a.out->msg.yiaddr;
}
} // namespace

TEST_CASE("DISCOVER gets an OFFER of the first pool address with the configured options")
{
    engine e(cfg());
    auto d = e.handle(req(msg_type::discover, 1), {}, 1000);
    REQUIRE(type_of(d) == msg_type::offer);
    auto& m = d.out->msg;
    CHECK(m.op == 2);
    CHECK(m.xid == 7);
    CHECK(m.yiaddr == ip("192.168.26.10"));
    CHECK(m.ip_option(opt::server_id) == ip("192.168.26.2"));
    CHECK(m.ip_option(opt::subnet_mask) == ip("255.255.255.0"));
    CHECK(m.ip_option(opt::router) == ip("192.168.26.1"));
    CHECK(m.ip_option(opt::dns) == ip("192.168.26.1"));
    CHECK(m.ip_option(opt::broadcast) == ip("192.168.26.255"));
    CHECK(m.string_option(opt::domain) == "paddock.internal");
    CHECK(m.options.at(opt::lease_time) == std::vector<std::uint8_t>{0, 0, 0x0e, 0x10});
    CHECK(d.changes.empty()); // an offer is not durable state
    CHECK_FALSE(d.out->after_commit);
    // No broadcast flag, Ethernet: link-layer unicast to the offered address (RFC 2131 §4.1).
    CHECK(d.out->link_unicast);
    CHECK(d.out->to == ip("192.168.26.10"));
    CHECK(d.out->port == 68);
}

TEST_CASE("the broadcast flag makes the reply a broadcast")
{
    engine e(cfg());
    auto m = req(msg_type::discover, 1);
    m.flags = flag_broadcast;
    auto d = e.handle(m, {}, 1000);
    CHECK_FALSE(d.out->link_unicast);
    CHECK(d.out->to == ip("255.255.255.255"));
}

TEST_CASE("REQUEST in SELECTING binds the offered address once durable")
{
    engine e(cfg());
    auto o = e.handle(req(msg_type::discover, 1), {}, 1000);
    auto a = e.handle(selecting(1, o.out->msg.yiaddr), {}, 1000);
    REQUIRE(type_of(a) == msg_type::ack);
    CHECK(a.out->after_commit);
    REQUIRE(a.changes.size() == 1);
    CHECK(a.changes[0].what == change::kind::bound);
    CHECK(a.changes[0].l.expires_at == 4600);
    CHECK(e.leases().at(ip("192.168.26.10").value).state == lease_state::bound);
}

TEST_CASE("a client that chose another server releases our offer")
{
    engine e(cfg());
    auto o = e.handle(req(msg_type::discover, 1), {}, 1000);
    auto d = e.handle(selecting(1, o.out->msg.yiaddr, ip("192.168.26.99")), {}, 1000);
    CHECK_FALSE(d.out);
    CHECK(e.leases().empty());
}

TEST_CASE("INIT-REBOOT: own address ACK, wrong subnet NAK, another client's address NAK")
{
    engine e(cfg());
    auto a1 = bind(e, 1);
    auto m = req(msg_type::request, 1);
    m.set_ip(opt::requested_ip, a1);
    CHECK(type_of(e.handle(m, {}, 2000)) == msg_type::ack);
    m.set_ip(opt::requested_ip, ip("10.0.0.5"));
    auto nak = e.handle(m, {}, 2000);
    REQUIRE(type_of(nak) == msg_type::nak);
    CHECK(nak.out->to == ip("255.255.255.255"));
    CHECK(nak.out->msg.yiaddr.value == 0);
    CHECK_FALSE(nak.out->msg.has(opt::lease_time));
    auto other = req(msg_type::request, 2);
    other.set_ip(opt::requested_ip, a1);
    CHECK(type_of(e.handle(other, {}, 2000)) == msg_type::nak);
    // A free pool address the client did not have: authoritative server ACKs it.
    other.set_ip(opt::requested_ip, ip("192.168.26.50"));
    CHECK(type_of(e.handle(other, {}, 2000)) == msg_type::ack);
}

TEST_CASE("RENEWING and REBINDING extend the lease; replies go to ciaddr")
{
    engine e(cfg());
    auto a1 = bind(e, 1, 1000);
    auto m = req(msg_type::request, 1);
    m.ciaddr = a1;
    auto r = e.handle(m, {false}, 2000);
    REQUIRE(type_of(r) == msg_type::ack);
    CHECK(r.out->to == a1);
    CHECK_FALSE(r.out->link_unicast);
    CHECK(r.out->msg.ciaddr == a1);
    CHECK(e.leases().at(a1.value).expires_at == 5600);
    CHECK(type_of(e.handle(m, {true}, 3000)) == msg_type::ack);
    CHECK(e.leases().at(a1.value).expires_at == 6600);
    auto stranger = req(msg_type::request, 2);
    stranger.ciaddr = a1;
    CHECK(type_of(e.handle(stranger, {false}, 3000)) == msg_type::nak);
}

TEST_CASE("a client renewing in a loop gets the same binding back, with nothing new to commit")
{
    engine e(cfg());
    auto a1 = bind(e, 1, 1000); // expires at 4600
    auto m = req(msg_type::request, 1);
    m.ciaddr = a1;
    // 1 s later: the same binding, its remaining time announced, no change (no write, no event).
    auto r = e.handle(m, {false}, 1001);
    REQUIRE(type_of(r) == msg_type::ack);
    CHECK(r.changes.empty());
    CHECK_FALSE(r.out->after_commit);
    const auto& lt = r.out->msg.options.at(opt::lease_time);
    REQUIRE(lt.size() == 4);
    CHECK((std::uint32_t{lt[0]} << 24 | std::uint32_t{lt[1]} << 16 | std::uint32_t{lt[2]} << 8 | lt[3]) == 3599);
    CHECK(e.leases().at(a1.value).expires_at == 4600);
    for (int i = 0; i < 1000; ++i)
        CHECK(e.handle(m, {false}, 1001).changes.empty());
    // From renew_quiet_s (2 s) on, a renewal extends the lease again.
    auto later = e.handle(m, {false}, 1002);
    REQUIRE(type_of(later) == msg_type::ack);
    CHECK(later.changes.size() == 1);
    CHECK(e.leases().at(a1.value).expires_at == 4602);
}

TEST_CASE("the per-client address history is bounded: made-up clients push out the oldest")
{
    auto c = cfg("192.168.26.12"); // 3 addresses
    c.history_cap = 16;
    engine e(c);
    for (int id = 1; id <= 200; ++id) {
        auto o = e.handle(req(msg_type::discover, static_cast<std::uint8_t>(id)), {}, 1000 + id * 100);
        if (o.out && o.out->msg.yiaddr.value)
            e.handle(selecting(static_cast<std::uint8_t>(id), o.out->msg.yiaddr), {}, 1000 + id * 100);
        e.expire(1000 + id * 100 + 4000); // every lease ends: its client goes into the history
        CHECK(e.history_size() <= 16);
    }
}

TEST_CASE("RELEASE frees the address; only its holder can release it")
{
    engine e(cfg());
    auto a1 = bind(e, 1);
    auto rel = req(msg_type::release, 2);
    rel.ciaddr = a1;
    CHECK(e.handle(rel, {}, 1500).changes.empty());
    rel = req(msg_type::release, 1);
    rel.ciaddr = a1;
    auto d = e.handle(rel, {}, 1500);
    CHECK_FALSE(d.out);
    REQUIRE(d.changes.size() == 1);
    CHECK(d.changes[0].what == change::kind::released);
    CHECK(e.leases().empty());
}

TEST_CASE("DECLINE quarantines the address until decline_hold_s, then it is free again")
{
    auto c = cfg("192.168.26.11");
    c.decline_hold_s = 600;
    engine e(c);
    auto a1 = bind(e, 1, 1000);
    auto dec = req(msg_type::decline, 1);
    dec.set_ip(opt::requested_ip, a1);
    dec.set_ip(opt::server_id, ip("192.168.26.2"));
    auto d = e.handle(dec, {}, 1000);
    REQUIRE(d.changes.size() == 1);
    CHECK(d.changes[0].what == change::kind::declined);
    // Client 2 asks for it: offered the other address; client 3 finds the pool full.
    auto m = req(msg_type::discover, 2);
    m.set_ip(opt::requested_ip, a1);
    CHECK(e.handle(m, {}, 1001).out->msg.yiaddr == ip("192.168.26.11"));
    CHECK_FALSE(e.handle(req(msg_type::discover, 3), {}, 1001).out);
    auto gone = e.expire(1601);
    bool removed = false;
    for (auto& g : gone)
        removed |= g.what == change::kind::removed && g.l.ip == a1;
    CHECK(removed);
    CHECK(type_of(e.handle(req(msg_type::discover, 3), {}, 1602)) == msg_type::offer);
}

TEST_CASE("leases expire at lease end; offers after their hold; expired offers leave no trace")
{
    engine e(cfg());
    auto a1 = bind(e, 1, 1000);
    e.handle(req(msg_type::discover, 2), {}, 1000);
    CHECK(e.leases().size() == 2);
    auto ch = e.expire(1031); // the offer (hold 30 s) goes, silently
    CHECK(ch.empty());
    CHECK(e.leases().size() == 1);
    CHECK(e.expire(4599).empty());
    ch = e.expire(4600);
    REQUIRE(ch.size() == 1);
    CHECK(ch[0].what == change::kind::expired);
    CHECK(ch[0].l.ip == a1);
    // The client comes back: it gets its old address (history) even though it is not asking for it.
    e.handle(req(msg_type::discover, 9), {}, 4601);
    CHECK(e.handle(req(msg_type::discover, 1), {}, 4601).out->msg.yiaddr == a1);
}

TEST_CASE("reservations: the reserved client gets its address, nobody else does, live add and remove")
{
    engine e(cfg());
    auto a2 = bind(e, 2);
    CHECK(e.reserve({mac(1), ip("192.168.26.40"), "web1", "web1"}).ok());
    auto d = e.handle(req(msg_type::discover, 1), {}, 1000);
    CHECK(d.out->msg.yiaddr == ip("192.168.26.40"));
    CHECK(d.out->msg.string_option(opt::hostname) == "web1");
    // The reserved client asking for another address is told no.
    auto m = req(msg_type::request, 1);
    m.set_ip(opt::requested_ip, ip("192.168.26.41"));
    CHECK(type_of(e.handle(m, {}, 1000)) == msg_type::nak);
    // Another client asking for the reserved address is told no, and never offered it.
    auto o = req(msg_type::request, 3);
    o.set_ip(opt::requested_ip, ip("192.168.26.40"));
    CHECK(type_of(e.handle(o, {}, 1000)) == msg_type::nak);
    auto disc = req(msg_type::discover, 3);
    disc.set_ip(opt::requested_ip, ip("192.168.26.40"));
    CHECK(e.handle(disc, {}, 1000).out->msg.yiaddr != ip("192.168.26.40"));
    // Reserving an address leased to someone else fails; adding one does not disturb client 2.
    CHECK(e.reserve({mac(4), a2, "", ""}).error().code == errc::ip_in_use);
    CHECK(e.reserve({mac(4), ip("192.168.26.40"), "", ""}).error().code == errc::ip_in_use);
    CHECK(e.reserve({mac(4), ip("192.168.26.2"), "", ""}).error().code == errc::invalid_ip);
    CHECK(e.reserve({mac(4), ip("10.0.0.9"), "", ""}).error().code == errc::invalid_ip);
    CHECK(e.reserve({"zz", ip("192.168.26.60"), "", ""}).error().code == errc::invalid_mac);
    CHECK(e.leases().at(a2.value).mac == mac(2));
    // A reservation outside the pool but inside the subnet is a static address.
    CHECK(e.reserve({mac(5), ip("192.168.26.251"), "", ""}).ok());
    CHECK(e.handle(req(msg_type::discover, 5), {}, 1000).out->msg.yiaddr == ip("192.168.26.251"));
    CHECK(e.unreserve(mac(1)));
    CHECK_FALSE(e.unreserve(mac(1)));
}

TEST_CASE("a reserved MAC under a new client identifier gets its address; the old binding is replaced")
{
    engine e(cfg());
    REQUIRE(e.reserve({mac(5), ip("192.168.26.40"), "web", "web"}).ok());
    // The initramfs client binds with one client identifier...
    auto d1 = req(msg_type::discover, 5);
    d1.options[opt::client_id] = {0x01, 0x52, 0x54, 0, 0, 0, 5};
    auto o1 = e.handle(d1, {}, 1000);
    REQUIRE(type_of(o1) == msg_type::offer);
    auto r1 = selecting(5, ip("192.168.26.40"));
    r1.options[opt::client_id] = d1.options[opt::client_id];
    REQUIRE(type_of(e.handle(r1, {}, 1000)) == msg_type::ack);
    // ...the booted system's client (another identifier, same MAC) still gets the reserved address.
    auto d2 = req(msg_type::discover, 5);
    d2.options[opt::client_id] = {0xff, 0, 0, 0, 1, 0, 1};
    auto o2 = e.handle(d2, {}, 1100);
    REQUIRE(type_of(o2) == msg_type::offer);
    CHECK(o2.out->msg.yiaddr == ip("192.168.26.40"));
    auto r2 = selecting(5, ip("192.168.26.40"));
    r2.options[opt::client_id] = d2.options[opt::client_id];
    auto a2 = e.handle(r2, {}, 1100);
    REQUIRE(type_of(a2) == msg_type::ack);
    CHECK(e.leases().size() == 1);
    CHECK(e.leases().at(ip("192.168.26.40").value).client_id == "ff000000010001");
    // A stranger still cannot take it.
    CHECK(type_of(e.handle(selecting(6, ip("192.168.26.40")), {}, 1100)) == msg_type::nak);
}

TEST_CASE("clients on one bridge port hold at most max_leases_per_port leases; VMs and unknown ports are not counted")
{
    auto c = cfg();
    c.max_leases_per_port = 2;
    engine e(c);
    packet_meta p7;
    p7.port = 7;
    auto bind_on = [&](std::uint8_t id, packet_meta at) -> std::optional<ipv4> {
        auto o = e.handle(req(msg_type::discover, id), at, 1000);
        if (!o.out)
            return std::nullopt;
        auto a = e.handle(selecting(id, o.out->msg.yiaddr), at, 1000);
        return a.out && a.out->msg.type() == msg_type::ack ? std::optional(a.out->msg.yiaddr) : std::nullopt;
    };
    auto a1 = bind_on(1, p7);
    REQUIRE(a1);
    REQUIRE(bind_on(2, p7));
    CHECK(e.port_leases(7) == 2);
    // A third client on port 7: no offer, and an INIT-REBOOT REQUEST for a free address gets nothing either.
    auto d = e.handle(req(msg_type::discover, 3), p7, 1000);
    CHECK_FALSE(d.out);
    CHECK(d.port_full);
    CHECK(d.note.find("network.dhcp_max_leases_per_port") != std::string::npos);
    auto ir = req(msg_type::request, 3);
    ir.set_ip(opt::requested_ip, ip("192.168.26.99"));
    auto r = e.handle(ir, p7, 1000);
    CHECK_FALSE(r.out);
    CHECK(r.port_full);
    CHECK(e.leases().size() == 2);
    // Holders keep renewing.
    auto renew = req(msg_type::request, 1);
    renew.ciaddr = *a1;
    CHECK(type_of(e.handle(renew, p7, 1100)) == msg_type::ack);
    // Another port, an unknown port (0) and a reserved MAC (a VM) are not held back by port 7.
    packet_meta p8;
    p8.port = 8;
    CHECK(bind_on(4, p8));
    CHECK(bind_on(5, {}));
    REQUIRE(e.reserve({mac(6), ip("192.168.26.60"), "vm6", "vm6"}).ok());
    CHECK(bind_on(6, p7) == ip("192.168.26.60"));
    CHECK(e.port_leases(7) == 2);
    // A release frees a place on the port; so does expiry.
    auto rel = req(msg_type::release, 2);
    for (auto& [a, l] : e.leases())
        if (l.mac == mac(2))
            rel.ciaddr = l.ip;
    e.handle(rel, p7, 1200);
    CHECK(e.port_leases(7) == 1);
    CHECK(bind_on(3, p7));
    e.expire(1000 + 3600 + 10000);
    CHECK(e.port_leases(7) == 0);
    CHECK(e.port_leases(8) == 0);
}

TEST_CASE("made-up clients on one port: the cap holds whatever they send")
{
    auto c = cfg();
    c.max_leases_per_port = 16;
    engine e(c);
    packet_meta p;
    p.port = 42;
    std::mt19937 rng(5);
    for (int i = 0; i < 20000; ++i) {
        message m = req(rng() % 2 ? msg_type::discover : msg_type::request, 0, static_cast<std::uint32_t>(i));
        for (int k = 0; k < 6; ++k)
            m.chaddr[k] = static_cast<std::uint8_t>(rng());
        if (m.type() == msg_type::request)
            m.set_ip(opt::requested_ip, ipv4{ip("192.168.26.10").value + static_cast<std::uint32_t>(rng() % 241)});
        e.handle(m, p, 1000 + i / 1000);
        REQUIRE(e.port_leases(42) <= 16);
    }
    CHECK(e.leases().size() <= 16);
}

TEST_CASE("the pool running out means no offer")
{
    engine e(cfg("192.168.26.12"));
    bind(e, 1);
    bind(e, 2);
    bind(e, 3);
    auto d = e.handle(req(msg_type::discover, 4), {}, 1000);
    CHECK_FALSE(d.out);
    CHECK(d.note.find("pool exhausted") == 0);
    CHECK(d.pool_exhausted);
    CHECK(e.pool_used() == 3);
    CHECK(e.pool_size() == 3);
    CHECK_FALSE(e.free_address());
}

TEST_CASE("relayed requests are answered to the relay on port 67; NAKs via a relay set the broadcast bit")
{
    engine e(cfg());
    auto m = req(msg_type::discover, 1);
    m.giaddr = ip("192.168.26.5");
    m.hops = 1;
    auto d = e.handle(m, {}, 1000);
    CHECK(d.out->to == ip("192.168.26.5"));
    CHECK(d.out->port == 67);
    CHECK(d.out->msg.giaddr == ip("192.168.26.5"));
    auto n = req(msg_type::request, 1);
    n.giaddr = ip("192.168.26.5");
    n.set_ip(opt::requested_ip, ip("10.9.9.9"));
    auto nak = e.handle(n, {}, 1000);
    REQUIRE(type_of(nak) == msg_type::nak);
    CHECK(nak.out->msg.broadcast_flag());
    CHECK(nak.out->port == 67);
    m.giaddr = ip("10.1.1.1"); // a relay on a network we do not serve
    CHECK_FALSE(e.handle(m, {}, 1000).out);
}

TEST_CASE("INFORM gets configuration without an address or lease time")
{
    engine e(cfg());
    auto m = req(msg_type::inform, 1);
    m.ciaddr = ip("192.168.26.5");
    auto d = e.handle(m, {}, 1000);
    REQUIRE(type_of(d) == msg_type::ack);
    CHECK(d.out->msg.yiaddr.value == 0);
    CHECK_FALSE(d.out->msg.has(opt::lease_time));
    CHECK(d.out->to == ip("192.168.26.5"));
    CHECK(d.changes.empty());
    CHECK(e.leases().empty());
}

TEST_CASE("client identifiers distinguish clients sharing a hardware address")
{
    engine e(cfg());
    auto a = req(msg_type::discover, 1);
    a.options[opt::client_id] = {1, 2, 3};
    auto b = req(msg_type::discover, 1);
    b.options[opt::client_id] = {4, 5, 6};
    auto oa = e.handle(a, {}, 1000).out->msg;
    auto ob = e.handle(b, {}, 1000).out->msg;
    CHECK(oa.yiaddr != ob.yiaddr);
    CHECK(oa.options.at(opt::client_id) == std::vector<std::uint8_t>{1, 2, 3}); // echoed (RFC 6842)
}

TEST_CASE("parameter request list and maximum message size shape the options")
{
    engine e(cfg());
    auto m = req(msg_type::discover, 1);
    m.options[opt::param_list] = {1, 3};
    auto o = e.handle(m, {}, 1000).out->msg;
    CHECK(o.has(opt::router));
    CHECK(o.has(opt::subnet_mask));
    CHECK_FALSE(o.has(opt::domain));
    CHECK_FALSE(o.has(opt::dns));
    CHECK(o.has(opt::lease_time));
    auto c = cfg();
    c.domain = std::string(250, 'd');
    engine big(c);
    auto n = req(msg_type::discover, 1);
    n.options[opt::max_size] = {0, 0}; // nonsense below 576 counts as 576
    auto r = big.handle(n, {}, 1000).out->msg;
    CHECK(encode(r).size() <= 548);
    CHECK(r.has(opt::lease_time));
}

TEST_CASE("messages that are not requests, or carry no type, get no reply")
{
    engine e(cfg());
    auto m = req(msg_type::discover, 1);
    m.op = 2;
    CHECK_FALSE(e.handle(m, {}, 1000).out);
    message bootp;
    bootp.chaddr[5] = 1;
    CHECK_FALSE(e.handle(bootp, {}, 1000).out);
    CHECK_FALSE(e.handle(req(msg_type::offer, 1), {}, 1000).out);
    auto r = req(msg_type::request, 1); // no server id, no requested ip, no ciaddr
    CHECK_FALSE(e.handle(r, {}, 1000).out);
}

TEST_CASE("restored leases are honoured: their addresses are not given to others")
{
    engine e(cfg());
    e.restore({ip("192.168.26.10"), mac(1), "", "old", "", lease_state::bound, 5000});
    auto d = e.handle(req(msg_type::discover, 2), {}, 1000);
    CHECK(d.out->msg.yiaddr == ip("192.168.26.11"));
    auto m = req(msg_type::request, 1);
    m.set_ip(opt::requested_ip, ip("192.168.26.10"));
    CHECK(type_of(e.handle(m, {}, 1000)) == msg_type::ack);
}

TEST_CASE("random traffic never binds one address to two clients")
{
    // Property: replay thousands of random client actions; at every step each bound address
    // belongs to exactly one client and each client holds at most one bound address.
    engine e(cfg("192.168.26.30"));
    std::mt19937 rng(42);
    std::int64_t now = 1000;
    for (int step = 0; step < 20000; ++step) {
        std::uint8_t id = static_cast<std::uint8_t>(1 + rng() % 40);
        ipv4 any{ip("192.168.26.5").value + static_cast<std::uint32_t>(rng() % 30)};
        message m;
        switch (rng() % 7) {
        case 0: m = req(msg_type::discover, id); break;
        case 1: m = selecting(id, any); break;
        case 2: m = req(msg_type::request, id); m.set_ip(opt::requested_ip, any); break;
        case 3: m = req(msg_type::request, id); m.ciaddr = any; break;
        case 4: m = req(msg_type::release, id); m.ciaddr = any; break;
        case 5: m = req(msg_type::decline, id); m.set_ip(opt::requested_ip, any); break;
        default: now += rng() % 400; e.expire(now); continue;
        }
        e.handle(m, {}, now);
        std::set<std::string> holders;
        for (auto& [a, l] : e.leases()) {
            CHECK(a == l.ip.value);
            if (l.state == lease_state::bound) {
                CHECK_MESSAGE(holders.insert(l.mac).second, "client ", l.mac, " holds two addresses");
                CHECK(l.ip.value >= ip("192.168.26.10").value);
                CHECK(l.ip.value <= ip("192.168.26.30").value);
            }
        }
    }
}

TEST_CASE("admission under overload: stale DISCOVERs go first, REQUESTs are kept longer, the rest always")
{
    admission_config c; // 200 ms for a DISCOVER, 700 ms for a REQUEST
    const std::int64_t t0 = 1'795'920'000'000'000;
    struct row { msg_type type; std::int64_t waited_us; bool kept; };
    row rows[] = {
        {msg_type::discover, 0, true},
        {msg_type::discover, 200'000, true},      // exactly at the limit: still served
        {msg_type::discover, 200'001, false},     // a new exchange, already late: refused first
        {msg_type::request, 200'001, true},       // completes an exchange whose OFFER was paid for
        {msg_type::request, 700'000, true},
        {msg_type::request, 700'001, false},      // its client (perfdhcp: 1 s) has given up on it
        {msg_type::release, 5'000'000, true},     // changes state: never dropped for age
        {msg_type::decline, 5'000'000, true},
        {msg_type::inform, 5'000'000, true},
    };
    for (auto& r : rows)
        CHECK_MESSAGE(admit(c, r.type, t0, t0 + r.waited_us) == r.kept, to_string(r.type), " after ", r.waited_us, " us");
    // No kernel timestamp: nothing to judge by, so it is served.
    CHECK(admit(c, msg_type::discover, 0, t0));
    // A clock step backwards (timestamp "in the future") is not a reason to drop.
    CHECK(admit(c, msg_type::discover, t0 + 5'000'000, t0));
}

TEST_CASE("a reservation's address: the one asked for, else the MAC's current one, else a free one")
{
    engine e(cfg());
    CHECK(*e.address_for(mac(1), ip("192.168.26.40")) == ip("192.168.26.40"));
    REQUIRE(e.reserve({mac(1), ip("192.168.26.41"), "", ""}).ok());
    CHECK(*e.address_for(mac(1), std::nullopt) == ip("192.168.26.41")); // kept on a second PUT
    auto f = e.address_for(mac(2), std::nullopt);
    REQUIRE(f.ok());
    CHECK(*f == *e.free_address());
}

TEST_CASE("rate_table: a bucket per key, refilled over time, bounded in size")
{
    rate_table t(10, 20, 3);
    int passed = 0;
    for (int i = 0; i < 100; ++i)
        passed += t.allow("a", 0);
    CHECK(passed == 20); // the burst
    CHECK_FALSE(t.allow("a", 50'000));
    CHECK(t.allow("a", 100'000)); // 0.1 s: one token back
    CHECK(t.allow("b", 0));
    CHECK(t.allow("c", 0));
    CHECK(t.allow("d", 0)); // pushes out the least recent, "a"
    CHECK(t.size() == 3);
    CHECK(t.allow("a", 100'000)); // forgotten: a full bucket again
    rate_table off(0, 0, 1);
    for (int i = 0; i < 1000; ++i)
        REQUIRE(off.allow("x", 0));
}
