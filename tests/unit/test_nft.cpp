// SPDX-License-Identifier: MIT
// Unit: the nftables documents (golden) and the readers of nft listings.
#include <doctest/doctest.h>

#include <fstream>
#include <sstream>

#include <boost/json.hpp>

#include "net/guard_ruleset.hpp"
#include "net/listeners.hpp"
#include "net/nft_ruleset.hpp"

using namespace paddock;

namespace {
std::string fixture(const char* name)
{
    std::ifstream f(std::string(PADDOCK_SOURCE_ROOT "/tests/fixtures/") + name);
    REQUIRE(f);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}
net::nft_spec default_spec()
{
    net::nft_spec s;
    s.subnet = *parse_cidr("192.168.26.0/24");
    s.host_veth = "paddock0";
    s.api_port = 8080;
    s.egress_deny = {*parse_cidr("169.254.0.0/16")};
    return s;
}
} // namespace

TEST_CASE("the apply document matches the golden file")
{
    auto want = boost::json::parse(fixture("nft_apply.json"));
    auto got = boost::json::parse(net::nft_apply_document(default_spec()));
    CHECK(boost::json::serialize(got) == boost::json::serialize(want));
}

TEST_CASE("the apply document replaces the table atomically: add, delete, add")
{
    auto doc = boost::json::parse(net::nft_apply_document(default_spec())).as_object();
    auto& cmds = doc.at("nftables").as_array();
    REQUIRE(cmds.size() >= 3);
    CHECK(cmds[0].as_object().contains("add"));
    CHECK(cmds[1].as_object().contains("delete"));
    CHECK(cmds[2].as_object().contains("add"));
}

TEST_CASE("without an API port there is no input guard rule")
{
    auto s = default_spec();
    s.api_port = 0;
    auto doc = net::nft_apply_document(s);
    CHECK(doc.find("\"dport\"") == std::string::npos);
}

TEST_CASE("fingerprints ignore handles, counters and metainfo but see rule changes")
{
    std::string a = fixture("nft_list_table.json");
    std::string b = a;
    // Same table listed later: other handles and counters.
    auto replace_all = [](std::string s, const std::string& from, const std::string& to) {
        for (auto p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size()))
            s.replace(p, from.size(), to);
        return s;
    };
    b = replace_all(b, "\"handle\": 2", "\"handle\": 42");
    b = replace_all(b, "\"packets\": 0", "\"packets\": 17");
    CHECK(net::nft_fingerprint(a) == net::nft_fingerprint(b));
    CHECK_FALSE(net::nft_fingerprint(a).empty());
    std::string c = replace_all(a, "masquerade", "accept");
    CHECK(net::nft_fingerprint(a) != net::nft_fingerprint(c));
    CHECK(net::nft_fingerprint("not json").empty());
    CHECK(net::nft_fingerprint("{\"x\":1}").empty());
}

TEST_CASE("a Docker-style forward drop policy in another table is reported")
{
    auto w = net::nft_forward_drop_warnings(fixture("nft_ruleset_docker.json"));
    REQUIRE(w.size() == 1);
    CHECK(w[0].find("FORWARD") != std::string::npos);
    CHECK(w[0].find("ip filter") != std::string::npos);
}

TEST_CASE("our own table and accepting chains give no warning")
{
    CHECK(net::nft_forward_drop_warnings(fixture("nft_list_table.json")).empty());
    CHECK(net::nft_forward_drop_warnings("garbage").empty());
    CHECK(net::nft_forward_drop_warnings("{\"nftables\": [1, {\"chain\": 3}]}").empty());
}

TEST_CASE("the anti-spoofing table: one chain per VM port, every drop counted under its reason")
{
    std::vector<net::guard_port> ports{{"web-1", "tap-web-1", "52:54:00:00:00:01", "192.168.26.10", {}, {}},
                                       {"db", "tap-db", "52:54:00:00:00:02", "192.168.26.11", {}, {}}};
    auto d = net::guard_document(ports, "192.168.26.2");
    CHECK(d.starts_with("table bridge paddock_guard\ndelete table bridge paddock_guard\n"));
    CHECK(d.find("iifname vmap @ports") != std::string::npos);
    // DHCP is marked with its port before any chain can drop it (the server counts leases per port).
    CHECK(d.find("udp dport 67 meta mark set jhash meta iif mod 2147483647 offset 1") < d.find("iifname vmap @ports"));
    CHECK(d.find("chain vm_web_1 {") != std::string::npos);
    CHECK(d.find("ether saddr != 52:54:00:00:00:01 counter drop comment \"mac\"") != std::string::npos);
    CHECK(d.find("arp saddr ip != { 0.0.0.0, 192.168.26.10 } counter drop") != std::string::npos);
    CHECK(d.find("ip saddr 0.0.0.0 udp sport 68 udp dport 67 accept") != std::string::npos);
    CHECK(d.find("ip saddr != 192.168.26.11 counter drop comment \"ip\"") != std::string::npos);
    CHECK(d.find("udp sport 67 counter drop comment \"dhcp_server\"") != std::string::npos);
    CHECK(d.find("udp dport 68 counter drop comment \"dhcp_server\"") != std::string::npos); // any source port
    CHECK(d.find("ip daddr 192.168.26.2 tcp flags & (syn | ack) == syn limit rate over 50/second burst 100 packets counter drop comment \"syn_flood\"") != std::string::npos);
    CHECK(d.find("udp dport 67 limit rate over 50/second burst 100 packets counter drop comment \"dhcp_flood\"") != std::string::npos);
    CHECK(d.find("ip daddr 192.168.26.2 udp dport 53 limit rate over 2000/second burst 4000 packets counter drop comment \"dns_flood\"") != std::string::npos);
    CHECK(d.find("udp dport 67 @th,288,48 != 0x525400000001 counter drop comment \"dhcp_chaddr\"") != std::string::npos);
    // goto: a VM's chain ends in the base chain's accept, never in the unknown-port drop below.
    CHECK(d.find("\"tap-web-1\" : goto vm_web_1, \"tap-db\" : goto vm_db") != std::string::npos);
    CHECK(d.find("iifname \"tap-*\" counter drop comment \"unknown_port\"") > d.find("iifname vmap @ports"));
    CHECK(net::guard_document({}, "192.168.26.2").find("add element") == std::string::npos);

    const char* listing = R"({"nftables":[{"metainfo":{}},{"table":{"family":"bridge","name":"paddock_guard"}},
      {"rule":{"family":"bridge","table":"paddock_guard","chain":"vm_web_1","comment":"ip","expr":[{"match":{}},{"counter":{"packets":3,"bytes":300}},{"drop":null}]}},
      {"rule":{"family":"bridge","table":"paddock_guard","chain":"vm_web_1","comment":"arp","expr":[{"counter":{"packets":1,"bytes":42}},{"drop":null}]}},
      {"rule":{"family":"bridge","table":"paddock_guard","chain":"vm_web_1","comment":"arp","expr":[{"counter":{"packets":2,"bytes":84}},{"drop":null}]}},
      {"rule":{"family":"bridge","table":"paddock_guard","chain":"vm_db","comment":"mac","expr":[{"counter":{"packets":0,"bytes":0}},{"drop":null}]}},
      {"rule":{"family":"bridge","table":"paddock_guard","chain":"prerouting","expr":[{"vmap":{}}]}},
      {"rule":{"family":"bridge","table":"paddock_guard","chain":"prerouting","comment":"unknown_port","expr":[{"counter":{"packets":5,"bytes":500}},{"drop":null}]}}]})";
    auto c = net::parse_guard_counters(listing, ports);
    REQUIRE(c.ok());
    CHECK((*c)["web-1"]["ip"] == 3);
    CHECK((*c)["web-1"]["arp"] == 3);
    CHECK((*c)["db"]["mac"] == 0);
    CHECK((*c)[""]["unknown_port"] == 5); // ports of no VM
    CHECK_FALSE(net::parse_guard_counters("{", ports).ok());
}

TEST_CASE("the bridge's own MAC: locally administered unicast, stable, different per namespace")
{
    net::network_config a;
    auto m = net::bridge_mac(a);
    CHECK(m.size() == 17);
    CHECK(m.starts_with("02:"));
    CHECK(net::bridge_mac(a) == m);
    net::network_config b;
    b.namespace_name = "paddock2";
    CHECK(net::bridge_mac(b) != m);
}

TEST_CASE("port forwards: DNAT in prerouting and output, forwarded in when DNATed, hairpin masqueraded (golden)")
{
    auto s = default_spec();
    s.forwards = {{"tcp", ipv4{0}, 8081, *parse_ipv4("192.168.26.10"), 80},
                  {"udp", *parse_ipv4("203.0.113.1"), 5353, *parse_ipv4("192.168.26.11"), 53}};
    auto got = boost::json::parse(net::nft_apply_document(s));
    auto want = boost::json::parse(fixture("nft_apply_forwards.json"));
    CHECK(boost::json::serialize(got) == boost::json::serialize(want));
    // Without forwards, no nat chains but postrouting: the table stays what it was.
    CHECK(net::nft_apply_document(default_spec()).find("prerouting") == std::string::npos);
}

TEST_CASE("/proc/net tables: TCP listeners and bound UDP sockets, IPv4 and IPv6, odd lines skipped")
{
    const std::string tcp =
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
        "   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 655 1 0 100 0 0 10 0\n"
        "   1: 0100007F:0035 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 700 1 0 100 0 0 10 0\n"
        "   2: 0100007F:9C40 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 0 1 0 100 0 0 10 0\n"
        "   3: garbage\n";
    auto l = net::parse_proc_net(tcp, true, false);
    REQUIRE(l.size() == 2);
    CHECK(l[0] == net::listener{"0.0.0.0", 8080, 655});
    CHECK(l[1] == net::listener{"127.0.0.1", 53, 700});
    const std::string tcp6 =
        "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
        "   0: 00000000000000000000000000000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 900 1 0\n"
        "   1: 00000000000000000000000001000000:0017 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 901 1 0\n";
    auto l6 = net::parse_proc_net(tcp6, true, true);
    REQUIRE(l6.size() == 2);
    CHECK(l6[0] == net::listener{"::", 22, 900});
    CHECK(l6[1] == net::listener{"::1", 23, 901});
    const std::string udp =
        "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n"
        "  100: 010011AC:14E9 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 800 2 0 0\n";
    auto u = net::parse_proc_net(udp, false, false);
    REQUIRE(u.size() == 1);
    CHECK(u[0] == net::listener{"172.17.0.1", 5353, 800});

    // Which of them a forward hides.
    CHECK(net::shadows({"0.0.0.0", 80, 1}, "203.0.113.1"));
    CHECK(net::shadows({"::", 80, 1}, "0.0.0.0"));
    CHECK(net::shadows({"203.0.113.1", 80, 1}, "0.0.0.0"));
    CHECK(net::shadows({"203.0.113.1", 80, 1}, "203.0.113.1"));
    CHECK(net::shadows({"::ffff:203.0.113.1", 80, 1}, "203.0.113.1"));
    CHECK_FALSE(net::shadows({"203.0.113.1", 80, 1}, "203.0.113.9"));
    CHECK_FALSE(net::shadows({"127.0.0.1", 80, 1}, "0.0.0.0")); // forwards skip loopback
    CHECK_FALSE(net::shadows({"::1", 80, 1}, "0.0.0.0"));
    CHECK_FALSE(net::shadows({"fd00::1", 80, 1}, "0.0.0.0")); // DNAT is IPv4
}
