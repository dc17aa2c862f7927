// SPDX-License-Identifier: MIT
// CORE: the DNS service's decisions.
#include "dns/resolver.hpp"

#include <algorithm>

namespace paddock::dns {
namespace {

constexpr std::string_view arpa_suffix = ".in-addr.arpa";

bool ends_with_label(std::string_view name, std::string_view zone)
{
    return name.size() > zone.size() && name.ends_with(zone) && name[name.size() - zone.size() - 1] == '.';
}

// 26.168.192.in-addr.arpa for 192.168.26.0/24 (whole octets of the prefix, at least one).
std::string reverse_zone_of(const cidr& c)
{
    int octets = std::max(1, c.prefix / 8);
    std::string out;
    for (int i = octets - 1; i >= 0; --i) {
        if (!out.empty())
            out += '.';
        out += std::to_string((c.network.value >> (24 - 8 * i)) & 0xFF);
    }
    return out + std::string(arpa_suffix);
}

// d.c.b.a.in-addr.arpa -> a.b.c.d
std::optional<ipv4> reverse_address(std::string_view name)
{
    if (!name.ends_with(arpa_suffix))
        return std::nullopt;
    name.remove_suffix(arpa_suffix.size());
    std::string forward;
    for (int i = 0; i < 4; ++i) {
        auto dot = name.rfind('.');
        auto label = dot == std::string_view::npos ? name : name.substr(dot + 1);
        if (!forward.empty())
            forward += '.';
        forward += label;
        if (dot == std::string_view::npos) {
            if (i != 3)
                return std::nullopt;
            name = {};
        }
        else
            name = name.substr(0, dot);
    }
    if (!name.empty())
        return std::nullopt;
    return parse_ipv4(forward);
}

} // namespace

const char* to_string(outcome o)
{
    switch (o) {
    case outcome::local: return "local";
    case outcome::cached: return "cached";
    case outcome::forwarded: return "forwarded";
    case outcome::failed: return "failed";
    case outcome::refused: return "refused";
    case outcome::notimp: return "notimp";
    case outcome::malformed: return "malformed";
    case outcome::shed: return "shed";
    }
    return "?";
}

resolver::resolver(zone_config cfg, directory dir)
    : cfg_(std::move(cfg)), dir_(std::move(dir)), cache_(cfg_.cache_entries, cfg_.max_ttl, cfg_.max_negative_ttl)
{
    zone_wire_ = encode_name(cfg_.domain).value_or(bytes{0});
    reverse_zone_ = reverse_zone_of(cfg_.subnet);
    reverse_zone_wire_ = encode_name(reverse_zone_).value_or(bytes{0});
    if (cfg_.subnet6) {
        // The /64's zone: its 16 nibbles, reversed.
        std::string full = reverse_name(cfg_.subnet6->network);
        reverse_zone6_wire_ = encode_name(full.substr(32)).value_or(bytes{0});
    }
}

step resolver::handle(view msg, ipv4 client, bool tcp, time_point now)
{
    auto who = client_kind::other;
    if (cfg_.subnet.contains(client))
        who = client_kind::own;
    else
        for (auto& p : cfg_.peer_clients)
            if (p.contains(client))
                who = client_kind::peer;
    return handle_from(msg, who, tcp, now);
}

step resolver::handle(view msg, const ipv6& client, bool tcp, time_point now)
{
    const bool link_local = client.b[0] == 0xFE && (client.b[1] & 0xC0) == 0x80;
    return handle_from(msg, link_local || (cfg_.subnet6 && cfg_.subnet6->contains(client)) ? client_kind::own : client_kind::other,
                       tcp, now);
}

step resolver::handle_from(view msg, client_kind who, bool tcp, time_point now)
{
    step s;
    auto q = parse_query(msg);
    if (!q) {
        count(outcome::malformed);
        return s;
    }
    s.what = step::kind::reply;
    if (who == client_kind::other) {
        count(outcome::refused);
        s.out = make_reply(msg, *q, rcode::refused, false, {}, {});
        return s;
    }
    if (q->opcode() != 0) {
        count(outcome::notimp);
        s.out = make_reply(msg, *q, rcode::notimp, false, {}, {});
        return s;
    }
    if (auto mine = local(msg, *q)) {
        count(outcome::local);
        s.out = fit(msg, *q, std::move(*mine), tcp);
        return s;
    }
    // Another host asks for our VMs' names only: no recursion for it.
    if (who == client_kind::peer) {
        count(outcome::refused);
        s.out = make_reply(msg, *q, rcode::refused, false, {}, {});
        return s;
    }
    std::string key = cache::key(*q);
    if (auto hit = cache_.find(key, msg, *q, now)) {
        count(outcome::cached);
        s.out = fit(msg, *q, std::move(*hit), tcp);
        return s;
    }
    s.what = step::kind::forward;
    s.q = std::move(*q);
    s.key = std::move(key);
    return s;
}

std::optional<bytes> resolver::local(view msg, const query& q)
{
    if (q.qclass != class_in && q.qclass != 255)
        return std::nullopt;
    const std::string& n = q.name;
    const bool in_zone = !cfg_.domain.empty() && (n == cfg_.domain || ends_with_label(n, cfg_.domain));
    const bool bare = q.plain_name && !n.empty() && n.find('.') == std::string::npos;
    if (in_zone || bare) {
        std::string_view vm = n;
        if (in_zone)
            vm = n == cfg_.domain ? std::string_view{} : std::string_view(n).substr(0, n.size() - cfg_.domain.size() - 1);
        if (vm.empty()) { // the zone itself: its SOA, nothing else
            if (q.qtype != type::soa && q.qtype != type::any)
                return zone_reply(msg, q, rcode::noerror, zone_wire_, nullptr);
            record soa{type::soa, cfg_.local_ttl, soa_rdata(zone_wire_, cfg_.local_ttl), std::nullopt};
            return zone_reply(msg, q, rcode::noerror, zone_wire_, &soa);
        }
        std::optional<ipv4> a;
        std::optional<ipv6> a6;
        if (q.plain_name && vm.find('.') == std::string_view::npos) {
            a = dir_.address_of(vm);
            if (a && cfg_.subnet6 && dir_.address6_of)
                a6 = dir_.address6_of(vm);
        }
        if (!a)
            return zone_reply(msg, q, rcode::nxdomain, zone_wire_, nullptr);
        std::vector<record> answers;
        if (q.qtype == type::a || q.qtype == type::any) {
            record r{type::a, cfg_.local_ttl, bytes(4), std::nullopt};
            put16(r.rdata.data(), static_cast<std::uint16_t>(a->value >> 16));
            put16(r.rdata.data() + 2, static_cast<std::uint16_t>(a->value));
            answers.push_back(std::move(r));
        }
        if (a6 && (q.qtype == type::aaaa || q.qtype == type::any))
            answers.push_back(record{type::aaaa, cfg_.local_ttl, bytes(a6->b.begin(), a6->b.end()), std::nullopt});
        if (answers.empty())
            return zone_reply(msg, q, rcode::noerror, zone_wire_, nullptr);
        return make_reply(msg, q, rcode::noerror, true, answers, {});
    }
    if (auto ip6 = from_reverse_name(n); ip6 && cfg_.subnet6 && cfg_.subnet6->contains(*ip6)) {
        std::optional<std::string> vm;
        if (dir_.name_of6)
            vm = dir_.name_of6(*ip6);
        std::optional<bytes> target;
        if (vm)
            target = encode_name(*vm + "." + cfg_.domain);
        if (!target)
            return zone_reply(msg, q, rcode::nxdomain, reverse_zone6_wire_, nullptr);
        if (q.qtype != type::ptr && q.qtype != type::any)
            return zone_reply(msg, q, rcode::noerror, reverse_zone6_wire_, nullptr);
        record r{type::ptr, cfg_.local_ttl, std::move(*target), std::nullopt};
        return zone_reply(msg, q, rcode::noerror, reverse_zone6_wire_, &r);
    }
    auto ip = reverse_address(n);
    if (!ip || !cfg_.subnet.contains(*ip))
        return std::nullopt;
    std::optional<std::string> vm = dir_.name_of(*ip);
    std::optional<bytes> target;
    if (vm)
        target = encode_name(*vm + "." + cfg_.domain);
    if (!target)
        return zone_reply(msg, q, rcode::nxdomain, reverse_zone_wire_, nullptr);
    if (q.qtype != type::ptr && q.qtype != type::any)
        return zone_reply(msg, q, rcode::noerror, reverse_zone_wire_, nullptr);
    record r{type::ptr, cfg_.local_ttl, std::move(*target), std::nullopt};
    return zone_reply(msg, q, rcode::noerror, reverse_zone_wire_, &r);
}

// An authoritative answer: the record, or (NXDOMAIN / no data) the zone's SOA for negative caching.
bytes resolver::zone_reply(view msg, const query& q, std::uint8_t rc, const bytes& zone, const record* answer)
{
    if (answer)
        return make_reply(msg, q, rc, true, std::span<const record>(answer, 1), {});
    record soa{type::soa, cfg_.local_ttl, soa_rdata(zone, cfg_.local_ttl), zone};
    return make_reply(msg, q, rc, true, {}, std::span<const record>(&soa, 1));
}

bytes resolver::fit(view msg, const query& q, bytes out, bool tcp) const
{
    return out.size() <= q.reply_limit(tcp) ? std::move(out) : truncated_reply(msg, q);
}

upstream_answer resolver::from_upstream(view msg, const query& q, const std::string& key, view reply, bool tcp,
                                        time_point now)
{
    upstream_answer a;
    auto info = parse_reply(reply);
    if (!info || !same_question(msg, q.question_end, reply, info->question_end))
        return a;
    a.truncated = info->truncated;
    a.rcode = info->rcode;
    cache_.put(key, reply, *info, now);
    bytes out(reply.begin(), reply.end());
    put16(out.data(), q.id);
    a.out = fit(msg, q, std::move(out), tcp);
    return a;
}

bytes resolver::failed(view msg, const query& q)
{
    count(outcome::failed);
    return make_reply(msg, q, rcode::servfail, false, {}, {});
}

std::vector<std::string> parse_resolv_conf(std::string_view text)
{
    std::vector<std::string> out;
    while (!text.empty()) {
        auto nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
        auto word = [&line]() {
            auto b = line.find_first_not_of(" \t\r");
            if (b == std::string_view::npos)
                return std::string_view{};
            line.remove_prefix(b);
            auto e = line.find_first_of(" \t\r");
            auto w = line.substr(0, e);
            line = e == std::string_view::npos ? std::string_view{} : line.substr(e);
            return w;
        };
        if (word() != "nameserver")
            continue;
        std::string addr(word());
        if (addr.empty() || addr[0] == '#' || addr[0] == ';')
            continue;
        if (std::find(out.begin(), out.end(), addr) == out.end())
            out.push_back(addr);
    }
    return out;
}

} // namespace paddock::dns
