// SPDX-License-Identifier: MIT
// Daemon configuration: defaults, parsing, validation.
#include "conf/config.hpp"

#include <optional>

#include <arpa/inet.h>

#include <boost/json.hpp>

namespace paddock::conf {
namespace json = boost::json;

namespace {

bool valid_domain(std::string_view s);

failure bad(std::string_view field, std::string_view what)
{
    return fail(errc::invalid_config, std::string(field) + ": " + std::string(what));
}

std::string quoted(const json::value& v) { return json::serialize(v); }

// Each reader takes the key's path for messages and returns a failure or fills `out`.
status read_string(const json::value& v, std::string_view path, std::string& out)
{
    if (!v.is_string())
        return bad(path, "expected a string, got " + quoted(v));
    out = std::string(v.get_string());
    return ok();
}

status read_u32(const json::value& v, std::string_view path, std::uint32_t& out, std::uint64_t lo,
                std::uint64_t hi)
{
    std::uint64_t n = 0;
    if (v.is_uint64())
        n = v.get_uint64();
    else if (v.is_int64() && v.get_int64() >= 0)
        n = static_cast<std::uint64_t>(v.get_int64());
    else
        return bad(path, "expected a whole number from " + std::to_string(lo) + " to " +
                             std::to_string(hi) + ", got " + quoted(v));
    if (n < lo || n > hi)
        return bad(path, "must be from " + std::to_string(lo) + " to " + std::to_string(hi) + ", got " +
                             std::to_string(n));
    out = static_cast<std::uint32_t>(n);
    return ok();
}

// "tcp/22", "udp/5000-5100": a protocol and a port or an ascending port range.
std::optional<net::host_port> parse_host_port(std::string_view s)
{
    auto slash = s.find('/');
    if (slash == std::string_view::npos)
        return std::nullopt;
    net::host_port p;
    p.proto = std::string(s.substr(0, slash));
    if (p.proto != "tcp" && p.proto != "udp")
        return std::nullopt;
    auto number = [](std::string_view d, std::uint16_t& out) {
        if (d.empty() || d.size() > 5 || d.find_first_not_of("0123456789") != std::string_view::npos)
            return false;
        unsigned long v = std::stoul(std::string(d));
        if (v < 1 || v > 65535)
            return false;
        out = static_cast<std::uint16_t>(v);
        return true;
    };
    std::string_view ports = s.substr(slash + 1);
    auto dash = ports.find('-');
    if (!number(ports.substr(0, dash), p.first))
        return std::nullopt;
    p.last = p.first;
    if (dash != std::string_view::npos && (!number(ports.substr(dash + 1), p.last) || p.last < p.first))
        return std::nullopt;
    return p;
}

// An array of at most 8 items, each read by `item(value, "path[i]")`.
template <class Fn>
status read_list(const json::value& v, const std::string& path, std::string_view what, Fn item, std::size_t max = 8)
{
    if (!v.is_array() || v.get_array().size() > max)
        return bad(path, "expected an array of at most " + std::to_string(max) + " " + std::string(what) + ", got " + quoted(v));
    for (std::size_t i = 0; i < v.get_array().size(); ++i)
        if (auto st = item(v.get_array()[i], path + "[" + std::to_string(i) + "]"); !st)
            return st;
    return ok();
}

// An array of at most 8 strings, each turned into a T by `parse` (nullopt: "... is not <want>").
template <class T, class Parse>
status read_parsed_list(const json::value& v, const std::string& path, std::string_view what, Parse parse,
                        const std::string& want, std::vector<T>& out)
{
    out.clear();
    return read_list(v, path, what, [&](const json::value& item, const std::string& at) -> status {
        std::string s;
        if (auto r = read_string(item, at, s); !r)
            return r;
        auto t = parse(s);
        if (!t)
            return bad(at, quoted(item) + " is not " + want);
        out.push_back(*t);
        return ok();
    });
}

status read_ipv4(const json::value& v, std::string_view path, ipv4& out)
{
    std::string s;
    if (auto st = read_string(v, path, s); !st)
        return st;
    auto a = parse_ipv4(s);
    if (!a)
        return bad(path, quoted(v) + " is not an IPv4 address like 192.168.26.1");
    out = *a;
    return ok();
}

status read_object(const json::value& v, std::string_view path, const json::object*& out)
{
    if (!v.is_object())
        return bad(path, "expected an object, got " + quoted(v));
    out = &v.get_object();
    return ok();
}

std::string join(std::string_view prefix, std::string_view key)
{
    return prefix.empty() ? std::string(key) : std::string(prefix) + "." + std::string(key);
}

status unknown(std::string_view prefix, std::string_view key)
{
    return bad(join(prefix, key), "unknown key");
}

status parse_pool(const json::value& v, net::network_config& n)
{
    const json::object* o = nullptr;
    if (auto st = read_object(v, "network.dhcp_pool", o); !st)
        return st;
    for (auto& [k, val] : *o) {
        status st = ok();
        if (k == "start") st = read_ipv4(val, "network.dhcp_pool.start", n.pool_start);
        else if (k == "end") st = read_ipv4(val, "network.dhcp_pool.end", n.pool_end);
        else st = unknown("network.dhcp_pool", k);
        if (!st)
            return st;
    }
    return ok();
}

status parse_network(const json::value& v, net::network_config& n)
{
    const json::object* o = nullptr;
    if (auto st = read_object(v, "network", o); !st)
        return st;
    for (auto& [k, val] : *o) {
        std::string path = join("network", k);
        status st = ok();
        if (k == "namespace") st = read_string(val, path, n.namespace_name);
        else if (k == "host_veth") st = read_string(val, path, n.host_veth);
        else if (k == "bridge") st = read_string(val, path, n.bridge);
        else if (k == "subnet") {
            std::string s;
            st = read_string(val, path, s);
            if (st) {
                auto c = parse_cidr(s, true);
                if (!c)
                    st = bad(path, quoted(val) +
                                       " is not an IPv4 subnet in CIDR form with its host bits clear, "
                                       "like 192.168.26.0/24");
                else
                    n.subnet = *c;
            }
        }
        else if (k == "gateway") st = read_ipv4(val, path, n.gateway);
        else if (k == "bridge_address") st = read_ipv4(val, path, n.bridge_address);
        else if (k == "dhcp_pool") st = parse_pool(val, n);
        else if (k == "lease_time_s") st = read_u32(val, path, n.lease_time_s, 60, 31536000);
        else if (k == "dhcp_max_leases_per_port") st = read_u32(val, path, n.dhcp_max_leases_per_port, 0, 1000000);
        else if (k == "dhcp_client_rate") st = read_u32(val, path, n.dhcp_client_rate, 0, 1000000);
        else if (k == "dhcp_port_rate") st = read_u32(val, path, n.dhcp_port_rate, 0, 10000000);
        else if (k == "dns") {
            n.dns.clear();
            st = read_list(val, path, "IPv4 addresses", [&n](const json::value& item, const std::string& at) {
                ipv4 a;
                auto r = read_ipv4(item, at, a);
                n.dns.push_back(a);
                return r;
            });
        }
        else if (k == "guest_host_access")
            st = read_parsed_list(val, path, "\"tcp/PORT\" or \"udp/FIRST-LAST\" entries", parse_host_port,
                                  "a protocol and port like \"tcp/22\" or \"udp/5000-5100\"", n.guest_host_access);
        else if (k == "egress_deny")
            st = read_parsed_list(val, path, "IPv4 subnets", [](std::string_view s) { return parse_cidr(s); },
                                  "an IPv4 subnet in CIDR form with its host bits clear, like 169.254.0.0/16", n.egress_deny);
        else if (k == "routes") {
            n.routes.clear();
            st = read_list(val, path, "{\"subnet\", \"via\"} routes", [&n](const json::value& item, const std::string& at) -> status {
                if (!item.is_object())
                    return bad(at, "expected {\"subnet\": \"10.1.0.0/24\", \"via\": \"203.0.113.5\"}, got " + quoted(item));
                net::route r;
                bool has_subnet = false, has_via = false;
                for (auto& [rk, rv] : item.get_object()) {
                    const std::string rp = at + "." + std::string(rk);
                    if (rk == "subnet") {
                        std::string t;
                        if (auto st2 = read_string(rv, rp, t); !st2)
                            return st2;
                        auto c = parse_cidr(t, true);
                        if (!c)
                            return bad(rp, quoted(rv) + " is not an IPv4 subnet with its host bits clear, like 192.168.27.0/24");
                        r.subnet = *c;
                        has_subnet = true;
                    }
                    else if (rk == "via") {
                        if (auto st2 = read_ipv4(rv, rp, r.via); !st2)
                            return st2;
                        has_via = true;
                    }
                    else
                        return bad(rp, "unknown key (subnet, via)");
                }
                if (!has_subnet || !has_via)
                    return bad(at, std::string("\"") + (has_subnet ? "via" : "subnet") + "\" is required");
                n.routes.push_back(r);
                return ok();
            }, 64);
        }
        else if (k == "peers") {
            n.peers.clear();
            st = read_list(val, path, "peers", [&n](const json::value& item, const std::string& at) -> status {
                if (!item.is_object())
                    return bad(at, "expected {\"subnet\", \"gateway\", \"domain\"}, got " + quoted(item));
                net::peer pr;
                bool has_subnet = false, has_gateway = false, has_domain = false, has_dns = false;
                for (auto& [pk, pv] : item.get_object()) {
                    const std::string pp = at + "." + std::string(pk);
                    if (pk == "subnet") {
                        std::string t;
                        if (auto st2 = read_string(pv, pp, t); !st2)
                            return st2;
                        auto c = parse_cidr(t, true);
                        if (!c || c->prefix > 30)
                            return bad(pp, quoted(pv) + " is not an IPv4 subnet with its host bits clear, like 192.168.27.0/24");
                        pr.subnet = *c;
                        has_subnet = true;
                    }
                    else if (pk == "gateway") {
                        if (auto st2 = read_ipv4(pv, pp, pr.gateway); !st2)
                            return st2;
                        has_gateway = true;
                    }
                    else if (pk == "dns") {
                        if (auto st2 = read_ipv4(pv, pp, pr.dns); !st2)
                            return st2;
                        has_dns = true;
                    }
                    else if (pk == "domain") {
                        if (auto st2 = read_string(pv, pp, pr.domain); !st2)
                            return st2;
                        if (!valid_domain(pr.domain))
                            return bad(pp, quoted(pv) + " is not a domain name");
                        has_domain = true;
                    }
                    else
                        return bad(pp, "unknown key (subnet, gateway, domain, dns)");
                }
                if (!has_subnet || !has_gateway || !has_domain)
                    return bad(at, std::string("\"") + (!has_subnet ? "subnet" : !has_gateway ? "gateway" : "domain") + "\" is required");
                if (!has_dns)
                    pr.dns = ipv4{pr.subnet.network.value + 2};
                else if (!pr.subnet.contains(pr.dns))
                    return bad(at + ".dns", to_string(pr.dns) + " is not in the peer's subnet " + to_string(pr.subnet));
                n.peers.push_back(pr);
                return ok();
            }, 64);
        }
        else if (k == "ipv6") {
            if (val.is_bool())
                n.ipv6_mode = val.get_bool() ? "auto" : "off";
            else if (!val.is_string())
                st = bad(path, quoted(val) + " is not \"auto\", false or a /64 prefix like \"fd12:3456:789a:1::/64\"");
            else if (val.get_string() == "auto")
                n.ipv6_mode = "auto";
            else {
                auto c = parse_cidr6(std::string_view(val.get_string()));
                if (!c || c->prefix != 64)
                    st = bad(path, quoted(val) + " is not a /64 prefix with its host bits clear, like \"fd12:3456:789a:1::/64\" "
                                                 "(or \"auto\", or false)");
                else if (c->network.b[0] == 0xFF || (c->network.b[0] == 0xFE && (c->network.b[1] & 0xC0) == 0x80) ||
                         c->network == ipv6{})
                    st = bad(path, quoted(val) + " is a multicast, link-local or unspecified prefix: give a unicast /64");
                else {
                    n.ipv6_mode = "prefix";
                    n.prefix6 = *c;
                }
            }
        }
        else if (k == "domain") {
            st = read_string(val, path, n.domain);
            if (st && !valid_domain(n.domain))
                st = bad(path, quoted(val) + " is not a domain name (labels of a-z 0-9 -, dot-separated, at most 253 characters)");
        }
        else st = unknown("network", k);
        if (!st)
            return st;
    }
    return ok();
}

status parse_qemu(const json::value& v, qemu_config& q)
{
    const json::object* o = nullptr;
    if (auto st = read_object(v, "qemu", o); !st)
        return st;
    for (auto& [k, val] : *o) {
        status st = ok();
        if (k == "binary") st = read_string(val, "qemu.binary", q.binary);
        else if (k == "accel") st = read_string(val, "qemu.accel", q.accel);
        else if (k == "stats_interval_s") st = read_u32(val, "qemu.stats_interval_s", q.stats_interval_s, 0, 60);
        else st = unknown("qemu", k);
        if (!st)
            return st;
    }
    return ok();
}

status parse_cloud_init(const json::value& v, cloud_init_config& ci)
{
    const json::object* o = nullptr;
    if (auto st = read_object(v, "cloud_init", o); !st)
        return st;
    for (auto& [k, val] : *o) {
        status st = ok();
        if (k == "seed") {
            st = read_string(val, "cloud_init.seed", ci.seed);
            if (st && ci.seed != "http" && ci.seed != "disk" && ci.seed != "both")
                st = bad("cloud_init.seed", quoted(val) + " is not one of \"http\", \"disk\", \"both\"");
        }
        else st = unknown("cloud_init", k);
        if (!st)
            return st;
    }
    return ok();
}

// "tls": "self-signed" | "off" | {"cert": PATH, "key": PATH}
status parse_tls(const json::value& v, tls_config& t)
{
    if (v.is_string()) {
        t = tls_config{};
        t.mode = std::string(v.get_string());
        if (t.mode != "off" && t.mode != "self-signed")
            return bad("tls", quoted(v) + " is not \"self-signed\", \"off\" or {\"cert\": PATH, \"key\": PATH}");
        return ok();
    }
    const json::object* o = nullptr;
    if (auto st = read_object(v, "tls", o); !st)
        return bad("tls", "expected \"self-signed\", \"off\" or {\"cert\": PATH, \"key\": PATH}");
    t = tls_config{};
    t.mode = "files";
    for (auto& [k, val] : *o) {
        status st = ok();
        if (k == "cert") st = read_string(val, "tls.cert", t.cert);
        else if (k == "key") st = read_string(val, "tls.key", t.key);
        else st = unknown("tls", k);
        if (!st)
            return st;
    }
    for (auto [name, path] : {std::pair<const char*, const std::string*>{"tls.cert", &t.cert}, {"tls.key", &t.key}})
        if (path->empty() || path->front() != '/')
            return bad(name, path->empty() ? "missing: the PEM file's absolute path"
                                           : "must be an absolute path, got \"" + *path + "\"");
    return ok();
}

// An IPv4 or IPv6 address in text.
bool valid_ip(const std::string& s)
{
    in6_addr a6{};
    return parse_ipv4(s).has_value() || ::inet_pton(AF_INET6, s.c_str(), &a6) == 1;
}

status parse_dns_service(const json::value& v, dns_service_config& d)
{
    const json::object* o = nullptr;
    if (auto st = read_object(v, "dns_service", o); !st)
        return st;
    for (auto& [k, val] : *o) {
        std::string path = join("dns_service", k);
        status st = ok();
        if (k == "enabled") {
            if (val.is_bool())
                d.enabled = val.get_bool();
            else
                st = bad(path, "expected true or false, got " + quoted(val));
        }
        else if (k == "resolv_conf") {
            st = read_string(val, path, d.resolv_conf);
            if (st && d.resolv_conf.empty())
                st = bad(path, "must name a file, like /etc/resolv.conf");
        }
        else if (k == "cache_entries") st = read_u32(val, path, d.cache_entries, 0, 1000000);
        else if (k == "upstreams") {
            d.upstreams.clear();
            st = read_list(val, path, "IP addresses", [&d](const json::value& item, const std::string& at) {
                std::string a;
                auto r = read_string(item, at, a);
                if (r && !valid_ip(a))
                    r = bad(at, quoted(item) + " is not an IP address like 192.0.2.53 or 2001:db8::53");
                d.upstreams.push_back(a);
                return r;
            });
        }
        else st = unknown("dns_service", k);
        if (!st)
            return st;
    }
    return ok();
}

bool valid_netns_name(std::string_view s)
{
    if (s.empty() || s.size() > 64 || s == "." || s == "..")
        return false;
    for (char c : s)
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '-' || c == '.'))
            return false;
    return true;
}

bool valid_domain(std::string_view s)
{
    if (s.empty())
        return true; // no option 15
    if (s.size() > 253)
        return false;
    std::size_t label = 0;
    for (std::size_t i = 0; i <= s.size(); ++i) {
        char c = i < s.size() ? s[i] : '.';
        if (c == '.') {
            if (label == 0 || label > 63 || s[i - 1] == '-')
                return false;
            label = 0;
            continue;
        }
        bool okc = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || (c == '-' && label > 0);
        if (!okc)
            return false;
        ++label;
    }
    return true;
}

} // namespace

std::vector<ipv4> effective_dns(const config& c)
{
    const auto& n = c.network;
    if (!n.dns.empty())
        return n.dns;
    return {c.dns_service.enabled ? n.bridge_address : n.gateway};
}

bool valid_ifname(std::string_view s)
{
    if (s.empty() || s.size() > 15 || s == "." || s == "..")
        return false;
    for (char c : s)
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '-' || c == '.'))
            return false;
    return true;
}

config defaults() { return config{}; }

bool loopback_listen(const config& cfg)
{
    if (cfg.listen_host == "::1" || cfg.listen_host == "localhost")
        return true;
    auto a = parse_ipv4(cfg.listen_host);
    return a && (a->value >> 24) == 127;
}

status set_listen(config& cfg, std::string_view value)
{
    auto colon = value.rfind(':');
    if (colon == std::string_view::npos || colon + 1 >= value.size())
        return bad("listen", "\"" + std::string(value) + "\" is not ADDR:PORT, like 127.0.0.1:8080");
    std::string_view host = value.substr(0, colon);
    std::string_view port = value.substr(colon + 1);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        std::string h(host.substr(1, host.size() - 2));
        in6_addr a6{};
        if (::inet_pton(AF_INET6, h.c_str(), &a6) != 1)
            return bad("listen", "\"" + std::string(host) + "\" is not an IPv6 address");
        cfg.listen_host = h;
    }
    else {
        if (!parse_ipv4(host))
            return bad("listen", "\"" + std::string(host) +
                                     "\" is not an IPv4 address (write IPv6 as [::1]:8080)");
        cfg.listen_host = std::string(host);
    }
    unsigned p = 0;
    for (char c : port) {
        if (c < '0' || c > '9' || p > 65535)
            return bad("listen", "port \"" + std::string(port) + "\" is not a number from 0 to 65535");
        p = p * 10 + static_cast<unsigned>(c - '0');
    }
    if (p > 65535 || port.size() > 5)
        return bad("listen", "port \"" + std::string(port) + "\" is not a number from 0 to 65535");
    cfg.listen_port = static_cast<std::uint16_t>(p);
    return ok();
}

status validate(const config& c)
{
    const auto& n = c.network;
    if (c.state_dir.empty() || c.state_dir.front() != '/')
        return bad("state_dir", "must be an absolute path, got \"" + c.state_dir + "\"");
    for (std::size_t i = 0; i < c.state_dir.size();) {
        auto j = c.state_dir.find('/', i);
        auto part = std::string_view(c.state_dir).substr(i, j == std::string::npos ? std::string::npos : j - i);
        if (part == "..")
            return bad("state_dir", "must not contain \"..\"");
        if (j == std::string::npos)
            break;
        i = j + 1;
    }
    if (c.auth != "token" && c.auth != "none")
        return bad("auth", "must be \"token\" or \"none\", got \"" + c.auth + "\"");
    if (!loopback_listen(c) && !c.allow_insecure_listen && c.tls.mode == "off")
        return bad("listen", c.listen_host + " is not a loopback address, and the API speaks plain HTTP (tls is \"off\"): "
                             "the token and everything else would cross the network in clear. Set \"tls\": \"self-signed\" "
                             "(or a certificate and key), or set \"allow_insecure_listen\": true to accept that");
    if (!valid_netns_name(n.namespace_name))
        return bad("network.namespace", "\"" + n.namespace_name +
                                            "\" is not a namespace name (1 to 64 of A-Z a-z 0-9 _ - .)");
    if (!valid_ifname(n.host_veth))
        return bad("network.host_veth", "\"" + n.host_veth +
                                            "\" is not an interface name (1 to 15 of A-Z a-z 0-9 _ - .)");
    if (!valid_ifname(n.bridge))
        return bad("network.bridge", "\"" + n.bridge +
                                         "\" is not an interface name (1 to 15 of A-Z a-z 0-9 _ - .)");
    {
        auto overlap = [](const cidr& a, const cidr& b) {
            const int p = std::min(a.prefix, b.prefix);
            const std::uint32_t m = p == 0 ? 0 : ~std::uint32_t{0} << (32 - p);
            return (a.network.value & m) == (b.network.value & m);
        };
        const auto routed = n.routed_subnets();
        for (std::size_t i = 0; i < routed.size(); ++i) {
            const std::string at = i < n.routes.size() ? "network.routes[" + std::to_string(i) + "]"
                                                         : "network.peers[" + std::to_string(i - n.routes.size()) + "]";
            if (overlap(routed[i], n.subnet))
                return bad(at + ".subnet", to_string(routed[i]) + " overlaps the VM subnet " + to_string(n.subnet));
            for (std::size_t j = 0; j < i; ++j)
                if (overlap(routed[i], routed[j]))
                    return bad(at + ".subnet", to_string(routed[i]) + " overlaps " + to_string(routed[j]));
            const ipv4 hop = i < n.routes.size() ? n.routes[i].via : n.peers[i - n.routes.size()].gateway;
            if (n.subnet.contains(hop) || routed[i].contains(hop))
                return bad(at + (i < n.routes.size() ? ".via" : ".gateway"),
                           to_string(hop) + " must be on the uplink, not in " +
                               (n.subnet.contains(hop) ? "the VM subnet" : "the routed subnet"));
        }
        for (std::size_t i = 0; i < n.peers.size(); ++i)
            if (n.peers[i].domain == n.domain)
                return bad("network.peers[" + std::to_string(i) + "].domain", "\"" + n.domain + "\" is this host's own domain");
    }
    if (n.bridge == net::ns_veth_name || n.bridge == "lo")
        return bad("network.bridge", "\"" + n.bridge + "\" is reserved inside the namespace");
    if (n.subnet.prefix < 8 || n.subnet.prefix > 29)
        return bad("network.subnet", "prefix length must be from 8 to 29, got /" + std::to_string(n.subnet.prefix));
    const std::string sub = to_string(n.subnet);
    if (!n.subnet.is_host(n.gateway))
        return bad("network.gateway", to_string(n.gateway) + " is not a host address inside network.subnet " + sub);
    if (!n.subnet.is_host(n.bridge_address))
        return bad("network.bridge_address",
                   to_string(n.bridge_address) + " is not a host address inside network.subnet " + sub);
    if (n.bridge_address == n.gateway)
        return bad("network.bridge_address", "must differ from network.gateway " + to_string(n.gateway));
    if (!n.subnet.is_host(n.pool_start))
        return bad("network.dhcp_pool.start",
                   to_string(n.pool_start) + " is not a host address inside network.subnet " + sub);
    if (!n.subnet.is_host(n.pool_end))
        return bad("network.dhcp_pool.end",
                   to_string(n.pool_end) + " is not a host address inside network.subnet " + sub);
    if (n.pool_end < n.pool_start)
        return bad("network.dhcp_pool.end", to_string(n.pool_end) + " is below network.dhcp_pool.start " +
                                                 to_string(n.pool_start));
    auto in_pool = [&](ipv4 a) { return !(a < n.pool_start) && !(n.pool_end < a); };
    if (in_pool(n.gateway))
        return bad("network.dhcp_pool", "must not contain network.gateway " + to_string(n.gateway));
    if (in_pool(n.bridge_address))
        return bad("network.dhcp_pool",
                   "must not contain network.bridge_address " + to_string(n.bridge_address));
    if (c.qemu.binary.empty())
        return bad("qemu.binary", "must not be empty");
    if (c.qemu.accel != "auto" && c.qemu.accel != "kvm" && c.qemu.accel != "tcg")
        return bad("qemu.accel", "must be \"auto\", \"kvm\" or \"tcg\", got \"" + c.qemu.accel + "\"");
    return ok();
}

result<config> parse_config(std::string_view text)
{
    json::parse_options opt;
    opt.allow_comments = true;
    opt.allow_trailing_commas = true;
    boost::system::error_code ec;
    json::value root = json::parse(text, ec, {}, opt);
    if (ec)
        return fail(errc::invalid_config, "not valid JSON: " + ec.message());
    if (!root.is_object())
        return fail(errc::invalid_config, "the top level must be a JSON object");
    config c = defaults();
    for (auto& [k, val] : root.get_object()) {
        status st = ok();
        if (k == "listen") {
            std::string s;
            st = read_string(val, "listen", s);
            if (st)
                st = set_listen(c, s);
        }
        else if (k == "state_dir") st = read_string(val, "state_dir", c.state_dir);
        else if (k == "auth") st = read_string(val, "auth", c.auth);
        else if (k == "allow_insecure_listen") {
            if (val.is_bool())
                c.allow_insecure_listen = val.get_bool();
            else
                st = bad("allow_insecure_listen", "expected true or false");
        }
        else if (k == "network") st = parse_network(val, c.network);
        else if (k == "qemu") st = parse_qemu(val, c.qemu);
        else if (k == "dns_service") st = parse_dns_service(val, c.dns_service);
        else if (k == "cloud_init") st = parse_cloud_init(val, c.cloud_init);
        else if (k == "tls") st = parse_tls(val, c.tls);
        else st = unknown("", k);
        if (!st)
            return st.error();
    }
    if (auto st = validate(c); !st)
        return st.error();
    return c;
}

std::string to_json_text(const config& c)
{
    const auto& n = c.network;
    json::array dns;
    for (auto a : n.dns)
        dns.push_back(json::string(to_string(a)));
    json::array ups;
    for (auto& a : c.dns_service.upstreams)
        ups.push_back(json::string(a));
    json::array access, deny;
    for (auto& p : n.guest_host_access)
        access.push_back(json::string(p.proto + "/" + std::to_string(p.first) +
                                      (p.last != p.first ? "-" + std::to_string(p.last) : "")));
    for (auto& d : n.egress_deny)
        deny.push_back(json::string(to_string(d)));
    json::array routes_json, peers_json;
    for (auto& r : n.routes)
        routes_json.push_back(json::object{{"subnet", to_string(r.subnet)}, {"via", to_string(r.via)}});
    for (auto& p : n.peers)
        peers_json.push_back(json::object{{"subnet", to_string(p.subnet)}, {"gateway", to_string(p.gateway)},
                                          {"domain", p.domain}, {"dns", to_string(p.dns)}});
    std::string listen = c.listen_host.find(':') != std::string::npos ? "[" + c.listen_host + "]" : c.listen_host;
    json::object o{
        {"listen", listen + ":" + std::to_string(c.listen_port)},
        {"state_dir", c.state_dir},
        {"auth", c.auth},
        {"allow_insecure_listen", c.allow_insecure_listen},
        {"tls", c.tls.mode == "files" ? json::value{{"cert", c.tls.cert}, {"key", c.tls.key}} : json::value(c.tls.mode)},
        {"network",
         {{"namespace", n.namespace_name},
          {"host_veth", n.host_veth},
          {"bridge", n.bridge},
          {"subnet", to_string(n.subnet)},
          {"gateway", to_string(n.gateway)},
          {"bridge_address", to_string(n.bridge_address)},
          {"dhcp_pool", {{"start", to_string(n.pool_start)}, {"end", to_string(n.pool_end)}}},
          {"lease_time_s", n.lease_time_s},
          {"dhcp_max_leases_per_port", n.dhcp_max_leases_per_port},
          {"dhcp_client_rate", n.dhcp_client_rate},
          {"dhcp_port_rate", n.dhcp_port_rate},
          {"dns", dns},
          {"domain", n.domain},
          {"guest_host_access", access},
          {"egress_deny", deny},
          {"routes", routes_json},
          {"peers", peers_json},
          {"ipv6", n.ipv6_mode == "off" ? json::value(false) : n.ipv6_mode == "auto" ? json::value("auto")
                                                                                     : json::value(to_string(*n.prefix6))}}},
        {"qemu", {{"binary", c.qemu.binary}, {"accel", c.qemu.accel}, {"stats_interval_s", c.qemu.stats_interval_s}}},
        {"dns_service",
         {{"enabled", c.dns_service.enabled},
          {"upstreams", ups},
          {"resolv_conf", c.dns_service.resolv_conf},
          {"cache_entries", c.dns_service.cache_entries}}},
        {"cloud_init", {{"seed", c.cloud_init.seed}}},
    };
    return json::serialize(o);
}

} // namespace paddock::conf
