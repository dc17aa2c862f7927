// SPDX-License-Identifier: MIT
// Pure nftables documents for the `inet paddock` table.
#include "net/nft_ruleset.hpp"

#include <algorithm>

#include <boost/json.hpp>

namespace paddock::net {
namespace json = boost::json;

namespace {

json::object table_obj()
{
    return {{"family", nft_family}, {"name", nft_table}};
}

json::object chain(const char* name, const char* type, const char* hook, int prio)
{
    return {{"family", nft_family}, {"table", nft_table}, {"name", name}, {"type", type},
            {"hook", hook},         {"prio", prio},       {"policy", "accept"}};
}

json::object rule(const char* chain_name, json::array expr)
{
    return {{"family", nft_family}, {"table", nft_table}, {"chain", chain_name}, {"expr", std::move(expr)}};
}

json::object match(json::value left, json::value right, const char* op = "==")
{
    return {{"match", {{"op", op}, {"left", std::move(left)}, {"right", std::move(right)}}}};
}

json::object meta(const char* key) { return {{"meta", {{"key", key}}}}; }
json::object payload(const char* proto, const char* field)
{
    return {{"payload", {{"protocol", proto}, {"field", field}}}};
}
json::object prefix(const cidr& c)
{
    return {{"prefix", {{"addr", to_string(c.network)}, {"len", c.prefix}}}};
}
json::object prefix(const cidr6& c)
{
    return {{"prefix", {{"addr", to_string(c.network)}, {"len", c.prefix}}}};
}
json::object counter() { return {{"counter", nullptr}}; }
json::object verdict(const char* v) { return {{v, nullptr}}; }
json::object ct_state() { return {{"ct", {{"key", "state"}}}}; }
json::object ct_status() { return {{"ct", {{"key", "status"}}}}; }
json::object fib_daddr_type() { return {{"fib", {{"result", "type"}, {"flags", json::array{"daddr"}}}}}; }

// Forwards live in maps (one kernel lookup, one element each: a table with hundreds of forwards
// applies as fast as an empty one): by protocol and port for forwards on every address, by
// address, protocol and port for the others; one map gives the VM's address, its twin the port
// (libnftables 1.0.6 cannot read a concatenated map value from JSON).
constexpr const char* map_any_addr = "fwd_any_addr";
constexpr const char* map_any_port = "fwd_any_port";
constexpr const char* map_at_addr = "fwd_at_addr";
constexpr const char* map_at_port = "fwd_at_port";

json::object forward_map(const char* name, bool with_address, const char* value_type, json::array elems)
{
    json::array type;
    if (with_address)
        type.push_back("ipv4_addr");
    type.push_back("inet_proto");
    type.push_back("inet_service");
    json::object m{{"family", nft_family}, {"table", nft_table}, {"name", name}, {"type", std::move(type)}, {"map", value_type}};
    if (!elems.empty())
        m["elem"] = std::move(elems);
    return m;
}

json::object forward_key(bool with_address)
{
    json::array parts;
    if (with_address)
        parts.push_back(payload("ip", "daddr"));
    parts.push_back(meta("l4proto"));
    parts.push_back(payload("th", "dport"));
    return {{"concat", std::move(parts)}};
}

// The DNAT rule of the forwards on every address (with_address false) or on given ones.
json::object forward_rule(const char* chain_name, bool with_address)
{
    json::array expr;
    expr.push_back(match(meta("nfproto"), "ipv4"));
    if (!with_address) {
        expr.push_back(match(fib_daddr_type(), "local"));
        expr.push_back(match(payload("ip", "daddr"), prefix(cidr{ipv4{0x7F000000u}, 8}), "!="));
    }
    expr.push_back(json::object{
        {"dnat", {{"family", "ip"},
                  {"addr", {{"map", {{"key", forward_key(with_address)}, {"data", std::string("@") + (with_address ? map_at_addr : map_any_addr)}}}}},
                  {"port", {{"map", {{"key", forward_key(with_address)}, {"data", std::string("@") + (with_address ? map_at_port : map_any_port)}}}}}}}});
    return rule(chain_name, std::move(expr));
}

json::object add(const char* what, json::object o) { return {{"add", {{what, std::move(o)}}}}; }

// Removes "handle" members and counter values recursively (traffic must not look like an edit).
void strip_handles(json::value& v)
{
    if (v.is_object()) {
        auto& o = v.get_object();
        o.erase("handle");
        if (auto* c = o.if_contains("counter"); c && c->is_object())
            *c = nullptr;
        // A map's elements list in the kernel's hash order, which a re-made map need not keep.
        if (auto* e = o.if_contains("elem"); e && e->is_array()) {
            auto& a = e->get_array();
            std::vector<std::string> texts;
            for (auto& x : a)
                texts.push_back(json::serialize(x));
            std::sort(texts.begin(), texts.end());
            a.clear();
            for (auto& t : texts)
                a.push_back(json::parse(t));
        }
        for (auto& [k, c] : o)
            strip_handles(c);
    }
    else if (v.is_array()) {
        for (auto& c : v.get_array())
            strip_handles(c);
    }
}

} // namespace

std::string nft_apply_document(const nft_spec& s)
{
    const char* veth = s.host_veth.c_str();
    json::array cmds;
    cmds.push_back(add("table", table_obj()));
    cmds.push_back(json::object{{"delete", {{"table", table_obj()}}}});
    cmds.push_back(add("table", table_obj()));
    cmds.push_back(add("chain", chain("forward", "filter", "forward", 0)));
    cmds.push_back(add("chain", chain("postrouting", "nat", "postrouting", 100)));
    cmds.push_back(add("chain", chain("input", "filter", "input", 0)));
    if (!s.forwards.empty()) {
        json::array any_addr, any_port, at_addr, at_port;
        for (const auto& f : s.forwards) {
            const bool at = f.listen.value != 0;
            json::array key;
            if (at)
                key.push_back(json::string(to_string(f.listen)));
            key.push_back(json::string(f.proto));
            key.push_back(f.host_port);
            json::object k{{"concat", std::move(key)}};
            (at ? at_addr : any_addr).push_back(json::array{k, json::string(to_string(f.to))});
            (at ? at_port : any_port).push_back(json::array{k, f.to_port});
        }
        const bool has_any = !any_addr.empty(), has_at = !at_addr.empty();
        cmds.push_back(add("map", forward_map(map_any_addr, false, "ipv4_addr", std::move(any_addr))));
        cmds.push_back(add("map", forward_map(map_any_port, false, "inet_service", std::move(any_port))));
        cmds.push_back(add("map", forward_map(map_at_addr, true, "ipv4_addr", std::move(at_addr))));
        cmds.push_back(add("map", forward_map(map_at_port, true, "inet_service", std::move(at_port))));
        cmds.push_back(add("chain", chain("prerouting", "nat", "prerouting", -100)));
        cmds.push_back(add("chain", chain("output", "nat", "output", -100)));
        for (const char* ch : {"prerouting", "output"}) {
            if (has_at)
                cmds.push_back(add("rule", forward_rule(ch, true)));
            if (has_any)
                cmds.push_back(add("rule", forward_rule(ch, false)));
        }
    }
    // Where guests may not go (a cloud host's metadata service, the operator's LAN...).
    for (const auto& c : s.egress_deny)
        cmds.push_back(add("rule", rule("forward", {match(meta("iifname"), veth), match(payload("ip", "daddr"), prefix(c)),
                                                    counter(), verdict("drop")})));
    // VMs out: anything from the VM subnet arriving on the gateway veth.
    cmds.push_back(add("rule", rule("forward", {match(meta("iifname"), veth), match(payload("ip", "saddr"), prefix(s.subnet)),
                                                counter(), verdict("accept")})));
    // Replies in: established/related traffic towards the VM subnet.
    cmds.push_back(add("rule", rule("forward", {match(meta("oifname"), veth), match(payload("ip", "daddr"), prefix(s.subnet)),
                                                match(ct_state(), json::array{"established", "related"}, "in"),
                                                counter(), verdict("accept")})));
    // Forwarded ports in: connections our prerouting or output chain DNATed to a VM.
    if (!s.forwards.empty())
        cmds.push_back(add("rule", rule("forward", {match(meta("oifname"), veth), match(payload("ip", "daddr"), prefix(s.subnet)),
                                                    match(ct_status(), "dnat", "in"), counter(), verdict("accept")})));
    // IPv6 the same way: out from the VM /64, only replies in.
    if (s.subnet6) {
        cmds.push_back(add("rule", rule("forward", {match(meta("iifname"), veth), match(payload("ip6", "saddr"), prefix(*s.subnet6)),
                                                    counter(), verdict("accept")})));
        cmds.push_back(add("rule", rule("forward", {match(meta("oifname"), veth), match(payload("ip6", "daddr"), prefix(*s.subnet6)),
                                                    match(ct_state(), json::array{"established", "related"}, "in"),
                                                    counter(), verdict("accept")})));
    }
    // Routed subnets (other hosts' VMs) come in as they are; peer hosts reach our DNS.
    if (!s.routed.empty()) {
        json::array subnets;
        for (auto& c : s.routed)
            subnets.push_back(prefix(c));
        cmds.push_back(add("rule", rule("forward", {match(meta("oifname"), veth), match(payload("ip", "saddr"), json::object{{"set", subnets}}),
                                                    match(payload("ip", "daddr"), prefix(s.subnet)), counter(), verdict("accept")})));
    }
    if (!s.peer_hosts.empty()) {
        json::array hosts;
        for (auto& h : s.peer_hosts)
            hosts.push_back(json::string(to_string(h)));
        cmds.push_back(add("rule", rule("forward", {match(meta("oifname"), veth), match(payload("ip", "saddr"), json::object{{"set", hosts}}),
                                                    match(payload("ip", "daddr"), json::string(to_string(s.dns_address))),
                                                    match(meta("l4proto"), json::object{{"set", json::array{"tcp", "udp"}}}),
                                                    match(payload("th", "dport"), 53), counter(), verdict("accept")})));
    }
    // Nothing else gets in: a new connection from outside into the VM subnet is dropped.
    cmds.push_back(add("rule", rule("forward", {match(meta("oifname"), veth), counter(), verdict("drop")})));
    // To a routed subnet: no NAT (the other host routes back to us).
    if (!s.routed.empty()) {
        json::array subnets;
        for (auto& c : s.routed)
            subnets.push_back(prefix(c));
        cmds.push_back(add("rule", rule("postrouting", {match(payload("ip", "saddr"), prefix(s.subnet)),
                                                        match(payload("ip", "daddr"), json::object{{"set", subnets}}),
                                                        counter(), verdict("accept")})));
    }
    // Masquerade the VM subnet leaving through any interface but the gateway veth.
    cmds.push_back(add("rule", rule("postrouting", {match(payload("ip", "saddr"), prefix(s.subnet)),
                                                    match(meta("oifname"), veth, "!="), counter(),
                                                    json::object{{"masquerade", nullptr}}})));
    // NAT66: the uplink has no routed prefix for the VMs' unique local /64.
    if (s.subnet6)
        cmds.push_back(add("rule", rule("postrouting", {match(payload("ip6", "saddr"), prefix(*s.subnet6)),
                                                        match(meta("oifname"), veth, "!="), counter(),
                                                        json::object{{"masquerade", nullptr}}})));
    // A guest reaching a forward at the host's address lands on a guest: masquerade it as the
    // gateway, or the reply would go straight back over the bridge and miss the DNAT.
    if (!s.forwards.empty())
        cmds.push_back(add("rule", rule("postrouting", {match(payload("ip", "saddr"), prefix(s.subnet)),
                                                        match(meta("oifname"), veth), match(ct_status(), "dnat", "in"),
                                                        counter(), json::object{{"masquerade", nullptr}}})));
    // The host as guests see it: replies, ping, what the operator opened; never the daemon's API
    // (even when it listens on a wildcard address, even if opened); nothing else.
    cmds.push_back(add("rule", rule("input", {match(meta("iifname"), veth),
                                              match(ct_state(), json::array{"established", "related"}, "in"),
                                              verdict("accept")})));
    if (s.api_port != 0)
        cmds.push_back(add("rule", rule("input", {match(meta("iifname"), veth),
                                                  match(payload("tcp", "dport"), s.api_port), counter(), verdict("drop")})));
    cmds.push_back(add("rule", rule("input", {match(meta("iifname"), veth), match(payload("icmp", "type"), "echo-request"),
                                              verdict("accept")})));
    // IPv6 needs neighbour discovery with its gateway; ping too.
    if (s.subnet6)
        cmds.push_back(add("rule", rule("input", {match(meta("iifname"), veth),
                                                  match(payload("icmpv6", "type"),
                                                        json::object{{"set", json::array{"echo-request", "nd-neighbor-solicit",
                                                                                         "nd-neighbor-advert", "nd-router-solicit"}}}),
                                                  verdict("accept")})));
    for (const auto& p : s.guest_host_access) {
        json::value port = p.first == p.last ? json::value(p.first)
                                             : json::value(json::object{{"range", json::array{p.first, p.last}}});
        cmds.push_back(add("rule", rule("input", {match(meta("iifname"), veth),
                                                  match(payload(p.proto.c_str(), "dport"), std::move(port)),
                                                  verdict("accept")})));
    }
    cmds.push_back(add("rule", rule("input", {match(meta("iifname"), veth), counter(), verdict("drop")})));
    return json::serialize(json::object{{"nftables", std::move(cmds)}});
}

std::string nft_delete_document()
{
    json::array cmds;
    cmds.push_back(json::object{{"delete", {{"table", table_obj()}}}});
    return json::serialize(json::object{{"nftables", std::move(cmds)}});
}

std::string nft_list_table_command() { return std::string("list table ") + nft_family + " " + nft_table; }

std::string nft_fingerprint(const std::string& listing_json)
{
    boost::system::error_code ec;
    json::value v = json::parse(listing_json, ec);
    if (ec || !v.is_object())
        return {};
    auto* arr = v.get_object().if_contains("nftables");
    if (!arr || !arr->is_array())
        return {};
    json::array out;
    for (auto& item : arr->get_array()) {
        if (item.is_object() && item.get_object().contains("metainfo"))
            continue;
        json::value c = item;
        strip_handles(c);
        out.push_back(std::move(c));
    }
    return json::serialize(out);
}

std::vector<std::string> nft_forward_drop_warnings(const std::string& ruleset_json)
{
    std::vector<std::string> warnings;
    boost::system::error_code ec;
    json::value v = json::parse(ruleset_json, ec);
    if (ec || !v.is_object())
        return warnings;
    auto* arr = v.get_object().if_contains("nftables");
    if (!arr || !arr->is_array())
        return warnings;
    for (auto& item : arr->get_array()) {
        if (!item.is_object())
            continue;
        auto* ch = item.get_object().if_contains("chain");
        if (!ch || !ch->is_object())
            continue;
        auto& c = ch->get_object();
        auto str = [&](const char* k) -> std::string {
            auto* p = c.if_contains(k);
            return p && p->is_string() ? std::string(p->get_string()) : std::string();
        };
        std::string family = str("family"), table = str("table"), name = str("name");
        if (family == nft_family && table == nft_table)
            continue;
        if (str("hook") != "forward" || str("policy") != "drop")
            continue;
        warnings.push_back("chain " + name + " in table " + family + " " + table +
                           " hooks forward with policy drop: forwarded VM traffic is dropped there unless one "
                           "of its rules accepts it (Docker installs such a chain; allow the VM subnet in it, "
                           "e.g. in DOCKER-USER)");
    }
    return warnings;
}

} // namespace paddock::net
