// SPDX-License-Identifier: MIT
// Unit: config parsing and validation; every error names its field.
#include <doctest/doctest.h>

#include <fstream>
#include <sstream>

#include "conf/config.hpp"
#include "base/ipv4.hpp"

using namespace paddock;

namespace {
std::string error_of(const std::string& text)
{
    auto r = conf::parse_config(text);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == errc::invalid_config);
    return r.error().message;
}
bool starts_with(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }
} // namespace

TEST_CASE("ipv4 parsing is strict")
{
    CHECK(parse_ipv4("192.168.26.1")->value == 0xC0A81A01u);
    CHECK(parse_ipv4("0.0.0.0")->value == 0);
    CHECK(parse_ipv4("255.255.255.255")->value == 0xFFFFFFFFu);
    for (const char* bad : {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.4 ", " 1.2.3.4", "1..3.4",
                            "a.b.c.d", "1.2.3.-4", "1.2.3.4/24", "1234.1.1.1"})
        CHECK_MESSAGE(!parse_ipv4(bad), bad);
}

TEST_CASE("cidr parsing, masks and membership")
{
    auto c = parse_cidr("192.168.26.0/24");
    REQUIRE(c);
    CHECK(c->mask() == 0xFFFFFF00u);
    CHECK(to_string(c->broadcast()) == "192.168.26.255");
    CHECK(c->is_host(*parse_ipv4("192.168.26.1")));
    CHECK_FALSE(c->is_host(*parse_ipv4("192.168.26.0")));
    CHECK_FALSE(c->is_host(*parse_ipv4("192.168.26.255")));
    CHECK_FALSE(c->contains(*parse_ipv4("192.168.27.1")));
    CHECK_FALSE(parse_cidr("192.168.26.1/24"));            // host bits set, strict
    CHECK(parse_cidr("192.168.26.1/24", false)->network == c->network);
    for (const char* bad : {"192.168.26.0", "192.168.26.0/", "192.168.26.0/33", "192.168.26.0/-1", "192.168.26.0/024",
                            "192.168.26.0/2x", "/24"})
        CHECK_MESSAGE(!parse_cidr(bad), bad);
    CHECK(to_string(*parse_cidr("0.0.0.0/0")) == "0.0.0.0/0");
}

TEST_CASE("empty object gives the embedded defaults")
{
    auto r = conf::parse_config("{}");
    REQUIRE(r.ok());
    CHECK(conf::to_json_text(*r) == conf::to_json_text(conf::defaults()));
    CHECK(r->listen_port == 8080);
    CHECK(r->network.namespace_name == "paddock");
}

TEST_CASE("config/paddockd.json equals the embedded defaults")
{
    std::ifstream f(PADDOCK_SOURCE_ROOT "/config/paddockd.json");
    REQUIRE(f);
    std::stringstream ss;
    ss << f.rdbuf();
    auto r = conf::parse_config(ss.str());
    REQUIRE(r.ok());
    CHECK(conf::to_json_text(*r) == conf::to_json_text(conf::defaults()));
}

TEST_CASE("a full valid config is read field by field")
{
    auto r = conf::parse_config(R"({
      // comments are allowed
      "listen": "[::1]:9090", "state_dir": "/srv/pd", "auth": "none",
      "network": {"namespace": "pd-1", "host_veth": "pd0", "bridge": "pdbr", "subnet": "10.20.0.0/16",
                  "gateway": "10.20.0.1", "bridge_address": "10.20.0.2",
                  "dhcp_pool": {"start": "10.20.1.0", "end": "10.20.9.255"}, "lease_time_s": 600},
      "qemu": {"binary": "/usr/bin/qemu-system-x86_64", "accel": "tcg"},
    })");
    REQUIRE(r.ok());
    CHECK(r->listen_host == "::1");
    CHECK(r->listen_port == 9090);
    CHECK(r->auth == "none");
    CHECK(r->network.subnet.prefix == 16);
    CHECK(to_string(r->network.pool_end) == "10.20.9.255");
    CHECK(r->network.lease_time_s == 600);
    CHECK(r->qemu.accel == "tcg");
}

TEST_CASE("the DNS service: its keys, and the DNS server DHCP hands out")
{
    auto r = conf::parse_config(R"({"dns_service": {"upstreams": ["192.0.2.53", "2001:db8::53"], "resolv_conf": "/tmp/r",
                                   "cache_entries": 0}})");
    REQUIRE(r.ok());
    CHECK(r->dns_service.upstreams.size() == 2);
    CHECK(r->dns_service.cache_entries == 0);
    CHECK(conf::effective_dns(*r) == std::vector<ipv4>{r->network.bridge_address}); // our own DNS service
    r->dns_service.enabled = false;
    CHECK(conf::effective_dns(*r) == std::vector<ipv4>{r->network.gateway});
    r->network.dns = {ipv4{0x01010101u}};
    CHECK(conf::effective_dns(*r) == std::vector<ipv4>{ipv4{0x01010101u}});
}

TEST_CASE("bad values are rejected with a message naming the field")
{
    struct row {
        const char* json;
        const char* field;
    };
    row rows[] = {
        {R"({"network": {"subnet": "192.168.26.0/33"}})", "network.subnet:"},
        {R"({"network": {"subnet": "192.168.26.1/24"}})", "network.subnet:"},
        {R"({"network": {"subnet": "banana"}})", "network.subnet:"},
        {R"({"network": {"gateway": "10.0.0.1"}})", "network.gateway:"},
        {R"({"network": {"gateway": "192.168.26.255"}})", "network.gateway:"},
        {R"({"network": {"bridge_address": "192.168.26.1"}})", "network.bridge_address:"},
        {R"({"network": {"dhcp_pool": {"start": "10.0.0.10", "end": "10.0.0.20"}}})", "network.dhcp_pool.start:"},
        {R"({"network": {"dhcp_pool": {"end": "192.168.27.5"}}})", "network.dhcp_pool.end:"},
        {R"({"network": {"dhcp_pool": {"start": "192.168.26.100", "end": "192.168.26.50"}}})", "network.dhcp_pool.end:"},
        {R"({"network": {"dhcp_pool": {"start": "192.168.26.1"}}})", "network.dhcp_pool:"},
        {R"({"network": {"host_veth": "a-name-that-is-too-long"}})", "network.host_veth:"},
        {R"({"network": {"host_veth": "bad/name"}})", "network.host_veth:"},
        {R"({"network": {"bridge": ""}})", "network.bridge:"},
        {R"({"network": {"bridge": "gw0"}})", "network.bridge:"},
        {R"({"network": {"namespace": "../etc"}})", "network.namespace:"},
        {R"({"network": {"lease_time_s": 5}})", "network.lease_time_s:"},
        {R"({"network": {"lease_time_s": "3600"}})", "network.lease_time_s:"},
        {R"({"network": {"colour": "blue"}})", "network.colour:"},
        {R"({"network": {"dhcp_pool": {"size": 3}}})", "network.dhcp_pool.size:"},
        {R"({"network": []})", "network:"},
        {R"({"dns_service": {"upstreams": ["8.8.8"]}})", "dns_service.upstreams[0]:"},
        {R"({"dns_service": {"upstreams": "1.1.1.1"}})", "dns_service.upstreams:"},
        {R"({"dns_service": {"enabled": "yes"}})", "dns_service.enabled:"},
        {R"({"dns_service": {"resolv_conf": ""}})", "dns_service.resolv_conf:"},
        {R"({"dns_service": {"cache_entries": -1}})", "dns_service.cache_entries:"},
        {R"({"qemu": {"stats_interval_s": 61}})", "qemu.stats_interval_s:"},
        {R"({"qemu": {"stats_interval_s": "5"}})", "qemu.stats_interval_s:"},
        {R"({"dns_service": {"port": 53}})", "dns_service.port:"},
        {R"({"listen": "localhost:8080"})", "listen:"},
        {R"({"listen": "127.0.0.1:99999"})", "listen:"},
        {R"({"listen": "127.0.0.1"})", "listen:"},
        {R"({"listen": 8080})", "listen:"},
        {R"({"state_dir": "relative/dir"})", "state_dir:"},
        {R"({"state_dir": "/var/lib/../etc"})", "state_dir:"},
        {R"({"auth": "maybe"})", "auth:"},
        {R"({"qemu": {"accel": "hvf"}})", "qemu.accel:"},
        {R"({"qemu": {"binary": ""}})", "qemu.binary:"},
        {R"({"qemu": {"cpu": "host"}})", "qemu.cpu:"},
        {R"({"extra": 1})", "extra:"},
    };
    for (auto& r : rows) {
        auto msg = error_of(r.json);
        CHECK_MESSAGE(starts_with(msg, r.field), r.json, " -> ", msg);
    }
}

TEST_CASE("malformed JSON and non-objects are errors, not crashes")
{
    CHECK(starts_with(error_of("{"), "not valid JSON"));
    CHECK(starts_with(error_of(""), "not valid JSON"));
    CHECK(starts_with(error_of("[1,2]"), "the top level"));
    CHECK(starts_with(error_of("\"x\""), "the top level"));
}

TEST_CASE("--listen overrides parse like the file key")
{
    auto c = conf::defaults();
    CHECK(conf::set_listen(c, "0.0.0.0:0").ok());
    CHECK(c.listen_host == "0.0.0.0");
    CHECK(c.listen_port == 0);
    CHECK_FALSE(conf::set_listen(c, "[nonsense]:80").ok());
    CHECK_FALSE(conf::set_listen(c, ":80").ok());
}

TEST_CASE("per-port DHCP lease cap and per-client rate: defaults, bounds, written back")
{
    auto d = conf::defaults();
    CHECK(d.network.dhcp_max_leases_per_port == 16);
    CHECK(d.network.dhcp_client_rate == 10);
    CHECK(d.network.dhcp_port_rate == 200);
    auto r = conf::parse_config(R"({"network": {"dhcp_max_leases_per_port": 0, "dhcp_client_rate": 0}})");
    REQUIRE(r.ok());
    CHECK(r->network.dhcp_max_leases_per_port == 0);
    CHECK(conf::to_json_text(*r).find("\"dhcp_client_rate\":0") != std::string::npos);
    for (const char* bad : {R"({"network": {"dhcp_max_leases_per_port": -1}})", R"({"network": {"dhcp_client_rate": "fast"}})"}) {
        auto e = conf::parse_config(bad);
        CAPTURE(bad);
        REQUIRE_FALSE(e.ok());
        CHECK(e.error().message.rfind("network.dhcp_", 0) == 0);
    }
}

TEST_CASE("guests' access to the host and their egress deny list are validated and default to closed")
{
    auto d = conf::defaults();
    CHECK(d.network.guest_host_access.empty());
    REQUIRE(d.network.egress_deny.size() == 1);
    CHECK(to_string(d.network.egress_deny[0]) == "169.254.0.0/16");
    auto r = conf::parse_config(R"({"network": {"guest_host_access": ["tcp/22", "udp/5000-5100"],
                                                "egress_deny": ["169.254.0.0/16", "10.0.0.0/8"]}})");
    REQUIRE(r.ok());
    REQUIRE(r->network.guest_host_access.size() == 2);
    CHECK(r->network.guest_host_access[1] == net::host_port{"udp", 5000, 5100});
    CHECK(r->network.egress_deny.size() == 2);
    for (const char* bad : {R"({"network": {"guest_host_access": ["ssh"]}})", R"({"network": {"guest_host_access": ["tcp/0"]}})",
                            R"({"network": {"guest_host_access": ["tcp/90-80"]}})", R"({"network": {"guest_host_access": ["icmp/1"]}})",
                            R"({"network": {"egress_deny": ["10.0.0.1/8"]}})", R"({"network": {"egress_deny": "10.0.0.0/8"}})"}) {
        auto e = conf::parse_config(bad);
        CAPTURE(bad);
        REQUIRE_FALSE(e.ok());
        CHECK(e.error().message.rfind("network.", 0) == 0);
    }
    // Written back as read.
    auto again = conf::parse_config(conf::to_json_text(*r));
    REQUIRE(again.ok());
    CHECK(conf::to_json_text(*again) == conf::to_json_text(*r));
}

TEST_CASE("tls: off by default, self-signed, or given files; TLS lifts the loopback rule")
{
    CHECK(conf::defaults().tls.mode == "off");
    auto s = conf::parse_config(R"({"tls": "self-signed", "listen": "0.0.0.0:8443"})");
    REQUIRE(s.ok());
    CHECK(s->tls.mode == "self-signed");
    CHECK(conf::to_json_text(*s).find(R"("tls":"self-signed")") != std::string::npos);
    auto f = conf::parse_config(R"({"tls": {"cert": "/etc/p/c.pem", "key": "/etc/p/k.pem"}, "listen": "[::]:443"})");
    REQUIRE(f.ok());
    CHECK(f->tls.mode == "files");
    CHECK(f->tls.cert == "/etc/p/c.pem");
    CHECK(f->tls.key == "/etc/p/k.pem");
    auto again = conf::parse_config(conf::to_json_text(*f));
    REQUIRE(again.ok());
    CHECK(again->tls.cert == "/etc/p/c.pem");
    auto plain = conf::parse_config(R"({"tls": "off", "listen": "0.0.0.0:8080"})");
    REQUIRE_FALSE(plain.ok());
    CHECK(plain.error().message.starts_with("listen: "));
    CHECK(plain.error().message.find("\"tls\": \"self-signed\"") != std::string::npos);
    for (const char* bad : {R"({"tls": true})", R"({"tls": "on"})", R"({"tls": {"cert": "/c"}})", R"({"tls": {"key": "/k", "cert": "c"}})"}) {
        auto r = conf::parse_config(bad);
        CHECK_FALSE(r.ok());
        if (!r.ok())
            CHECK(r.error().message.starts_with("tls"));
    }
}

TEST_CASE("routes and peers: read, defaults (a peer's DNS is its subnet's second address), refusals naming the entry")
{
    auto r = conf::parse_config(R"({"network": {"routes": [{"subnet": "10.9.0.0/16", "via": "203.0.113.9"}],
        "peers": [{"subnet": "192.168.27.0/24", "gateway": "203.0.113.3", "domain": "b.test"},
                  {"subnet": "192.168.28.0/24", "gateway": "203.0.113.4", "domain": "c.test", "dns": "192.168.28.53"}]}})");
    REQUIRE(r.ok());
    REQUIRE(r->network.routes.size() == 1);
    CHECK(to_string(r->network.routes[0].subnet) == "10.9.0.0/16");
    CHECK(to_string(r->network.routes[0].via) == "203.0.113.9");
    REQUIRE(r->network.peers.size() == 2);
    CHECK(to_string(r->network.peers[0].dns) == "192.168.27.2");
    CHECK(to_string(r->network.peers[1].dns) == "192.168.28.53");
    CHECK(r->network.routed_subnets().size() == 3);
    auto again = conf::parse_config(conf::to_json_text(*r));
    REQUIRE(again.ok());
    CHECK(again->network.peers == r->network.peers);
    CHECK(again->network.routes == r->network.routes);

    auto refused = [](const std::string& network) {
        auto c = conf::parse_config(R"({"network": )" + network + "}");
        REQUIRE_FALSE(c.ok());
        return c.error().message;
    };
    CHECK(refused(R"({"routes": [{"subnet": "192.168.26.128/25", "via": "203.0.113.9"}]})") ==
          "network.routes[0].subnet: 192.168.26.128/25 overlaps the VM subnet 192.168.26.0/24");
    CHECK(refused(R"({"routes": [{"subnet": "10.0.0.0/8", "via": "192.168.26.7"}]})").starts_with("network.routes[0].via: 192.168.26.7 must be on the uplink"));
    CHECK(refused(R"({"routes": [{"subnet": "10.0.0.0/8"}]})") == "network.routes[0]: \"via\" is required");
    CHECK(refused(R"({"routes": [{"subnet": "10.0.0.1/8", "via": "1.2.3.4"}]})").starts_with("network.routes[0].subnet:"));
    CHECK(refused(R"({"routes": [{"subnet": "10.0.0.0/8", "via": "1.2.3.4", "metric": 5}]})") == "network.routes[0].metric: unknown key (subnet, via)");
    CHECK(refused(R"({"routes": [{"subnet": "10.0.0.0/8", "via": "1.2.3.4"}], "peers": [{"subnet": "10.1.0.0/16", "gateway": "1.2.3.5", "domain": "x.test"}]})")
              .starts_with("network.peers[0].subnet: 10.1.0.0/16 overlaps 10.0.0.0/8"));
    CHECK(refused(R"({"peers": [{"subnet": "10.1.0.0/16", "gateway": "1.2.3.5"}]})") == "network.peers[0]: \"domain\" is required");
    CHECK(refused(R"({"peers": [{"subnet": "10.1.0.0/16", "gateway": "1.2.3.5", "domain": "paddock.internal"}]})")
              .starts_with("network.peers[0].domain: \"paddock.internal\" is this host's own domain"));
    CHECK(refused(R"({"peers": [{"subnet": "10.1.0.0/16", "gateway": "1.2.3.5", "domain": "x.test", "dns": "10.2.0.2"}]})")
              .starts_with("network.peers[0].dns: 10.2.0.2 is not in the peer's subnet"));
    CHECK(refused(R"({"routes": {}})").starts_with("network.routes: expected an array of at most 64"));
}
