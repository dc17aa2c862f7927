// SPDX-License-Identifier: MIT
// CORE: DHCPv4 server decisions and lease table.
#include "dhcp/engine.hpp"

#include <algorithm>
#include <cstdio>

namespace paddock::dhcp {

namespace {

std::string hex(const std::vector<std::uint8_t>& v)
{
    static constexpr char digits[] = "0123456789abcdef";
    std::string out(v.size() * 2, '0');
    for (std::size_t i = 0; i < v.size(); ++i) {
        out[i * 2] = digits[v[i] >> 4];
        out[i * 2 + 1] = digits[v[i] & 15];
    }
    return out;
}

std::string key_of(const lease& l) { return l.client_id.empty() ? "hw:" + l.mac : "id:" + l.client_id; }

const ipv4 broadcast_all{0xFFFFFFFFu};

} // namespace

const char* to_string(lease_state s)
{
    switch (s) {
    case lease_state::offered: return "offered";
    case lease_state::bound: return "bound";
    case lease_state::declined: return "declined";
    }
    return "?";
}

const char* to_string(change::kind k)
{
    switch (k) {
    case change::kind::bound: return "bound";
    case change::kind::released: return "released";
    case change::kind::expired: return "expired";
    case change::kind::declined: return "declined";
    case change::kind::removed: return "removed";
    }
    return "?";
}

engine::engine(engine_config cfg) : cfg_(std::move(cfg)), history_(cfg_.history_cap), cursor_(cfg_.pool_start.value) {}

std::string engine::client_key(const message& m)
{
    // RFC 2131 §4.2: the client identifier, when given, identifies the client; else chaddr.
    if (auto it = m.options.find(opt::client_id); it != m.options.end() && !it->second.empty())
        return "id:" + hex(it->second);
    return "hw:" + m.mac();
}

lease* engine::lease_of(const std::string& key)
{
    auto it = by_client_.find(key);
    if (it == by_client_.end())
        return nullptr;
    auto l = by_ip_.find(it->second);
    return l == by_ip_.end() ? nullptr : &l->second;
}

bool engine::allocatable(ipv4 a, const std::string& key, const std::string& mac) const
{
    if (!cfg_.subnet.is_host(a) || a == cfg_.server_id || a == cfg_.router)
        return false;
    auto mine = resv_by_mac_.find(mac);
    if (mine != resv_by_mac_.end() && mine->second.ip != a)
        return false; // a reserved client gets its reserved address and no other
    auto r = resv_by_ip_.find(a.value);
    if (r != resv_by_ip_.end() && r->second != mac)
        return false;
    if (r == resv_by_ip_.end() && !in_pool(a))
        return false;
    auto l = by_ip_.find(a.value);
    if (l != by_ip_.end() && l->second.state == lease_state::declined)
        return false;
    // Held by another client: refused, unless it is this MAC's reservation held by the same MAC
    // under another client identifier (a re-imaged disk, or an initramfs client and the booted
    // system's): the reserved MAC always gets its address, and the old binding goes.
    if (l != by_ip_.end() && key_of(l->second) != key && !(r != resv_by_ip_.end() && l->second.mac == mac))
        return false;
    return true;
}

void engine::evict_other(ipv4 ip, const std::string& key, decision& d)
{
    auto it = by_ip_.find(ip.value);
    if (it == by_ip_.end() || key_of(it->second) == key)
        return;
    lease gone = it->second;
    drop(ip.value);
    if (gone.state != lease_state::offered)
        d.changes.push_back({change::kind::removed, gone});
    if (explain_)
        d.note = "the binding of " + to_string(ip) + " under " + gone.mac + "'s old client identifier is replaced";
}

result<ipv4> engine::address_for(const std::string& mac, std::optional<ipv4> want) const
{
    if (want)
        return *want;
    if (auto cur = resv_by_mac_.find(mac); cur != resv_by_mac_.end())
        return cur->second.ip;
    if (auto f = free_address())
        return *f;
    return fail(errc::pool_exhausted, "no free address left in the DHCP pool");
}

std::optional<ipv4> engine::free_address() const
{
    std::uint32_t n = cfg_.pool_end.value - cfg_.pool_start.value + 1;
    for (std::uint32_t i = 0; i < n; ++i) {
        ipv4 a{cfg_.pool_start.value + (cursor_ - cfg_.pool_start.value + i) % n};
        if (a == cfg_.server_id || a == cfg_.router || by_ip_.count(a.value) || resv_by_ip_.count(a.value))
            continue;
        if (!cfg_.subnet.is_host(a))
            continue;
        return a;
    }
    return std::nullopt;
}

std::optional<ipv4> engine::choose(const message& m, const std::string& key)
{
    const std::string mac = m.mac();
    if (auto r = resv_by_mac_.find(mac); r != resv_by_mac_.end())
        return allocatable(r->second.ip, key, mac) ? std::optional(r->second.ip) : std::nullopt;
    if (auto* l = lease_of(key); l && l->state != lease_state::declined)
        return l->ip;
    if (auto want = m.ip_option(opt::requested_ip); want && allocatable(*want, key, mac))
        return want;
    if (auto h = history_.find(key); h && allocatable(ipv4{*h}, key, mac))
        return ipv4{*h};
    auto a = free_address();
    if (a) {
        std::uint32_t n = cfg_.pool_end.value - cfg_.pool_start.value + 1;
        cursor_ = cfg_.pool_start.value + (a->value - cfg_.pool_start.value + 1) % n;
    }
    return a;
}

std::optional<std::uint32_t> engine::client_history::find(const std::string& key) const
{
    auto it = index_.find(key);
    if (it == index_.end())
        return std::nullopt;
    return it->second->second;
}

void engine::client_history::put(const std::string& key, std::uint32_t ip)
{
    erase(key);
    order_.emplace_front(key, ip);
    index_[key] = order_.begin();
    while (index_.size() > cap_) {
        index_.erase(order_.back().first);
        order_.pop_back();
    }
}

void engine::client_history::erase(const std::string& key)
{
    auto it = index_.find(key);
    if (it == index_.end())
        return;
    order_.erase(it->second);
    index_.erase(it);
}

std::uint32_t engine::counted_port(const std::string& mac, std::uint32_t port) const
{
    return cfg_.max_leases_per_port == 0 || resv_by_mac_.count(mac) ? 0 : port;
}

void engine::set_port(lease& l, std::uint32_t port)
{
    if (l.port == port)
        return;
    if (l.port)
        if (auto it = port_leases_.find(l.port); it != port_leases_.end() && --it->second == 0)
            port_leases_.erase(it);
    l.port = port;
    if (port)
        ++port_leases_[port];
}

std::size_t engine::port_leases(std::uint32_t port) const
{
    auto it = port_leases_.find(port);
    return it == port_leases_.end() ? 0 : it->second;
}

bool engine::port_full(const std::string& key, std::uint32_t port, decision& d)
{
    if (!port || port_leases(port) < cfg_.max_leases_per_port)
        return false;
    if (const lease* held = lease_of(key); held && held->state != lease_state::declined)
        return false; // a client keeps what it holds
    d.port_full = true;
    d.note = "port " + std::to_string(port) + " already holds " + std::to_string(port_leases(port)) +
             " leases (network.dhcp_max_leases_per_port): no address for another client there";
    return true;
}

void engine::drop(std::uint32_t ip)
{
    auto it = by_ip_.find(ip);
    if (it == by_ip_.end())
        return;
    set_port(it->second, 0);
    std::string key = key_of(it->second);
    if (auto c = by_client_.find(key); c != by_client_.end() && c->second == ip)
        by_client_.erase(c);
    if (it->second.state != lease_state::declined)
        history_.put(key, ip);
    by_ip_.erase(it);
}

lease& engine::bind(ipv4 ip, const std::string& key, const message& m, std::uint32_t port, std::int64_t now,
                    decision& d)
{
    evict_other(ip, key, d);
    // A client holds one address: moving to another frees the old one.
    if (auto* old = lease_of(key); old && old->ip != ip) {
        lease gone = *old;
        drop(old->ip.value);
        d.changes.push_back({change::kind::removed, gone});
    }
    lease& l = by_ip_[ip.value];
    l.ip = ip;
    l.mac = m.mac();
    auto cid = m.options.find(opt::client_id);
    l.client_id = cid != m.options.end() ? hex(cid->second) : "";
    l.state = lease_state::bound;
    l.expires_at = now + cfg_.lease_time_s;
    set_port(l, counted_port(l.mac, port));
    l.vm.clear();
    l.hostname.clear();
    if (auto r = resv_by_mac_.find(l.mac); r != resv_by_mac_.end()) {
        l.hostname = r->second.hostname;
        l.vm = r->second.vm;
    }
    if (l.hostname.empty())
        if (auto h = m.string_option(opt::hostname))
            l.hostname = h->substr(0, 63);
    by_client_[key] = ip.value;
    d.changes.push_back({change::kind::bound, l});
    return l;
}

const lease* engine::recent_binding(const std::string& key, ipv4 want, std::int64_t now)
{
    const lease* l = lease_of(key);
    if (!l || l->state != lease_state::bound || l->ip != want)
        return nullptr;
    return l->expires_at > now + static_cast<std::int64_t>(cfg_.lease_time_s) - cfg_.renew_quiet_s ? l : nullptr;
}

reply engine::make_reply(const message& req, msg_type t, ipv4 yiaddr, const lease* l, std::uint32_t lease_s) const
{
    reply r;
    message& m = r.msg;
    m.op = 2;
    m.htype = req.htype;
    m.hlen = req.hlen;
    m.xid = req.xid;
    m.flags = req.flags;
    m.giaddr = req.giaddr;
    m.chaddr = req.chaddr;
    m.yiaddr = yiaddr;
    if (t == msg_type::ack && req.type() == msg_type::inform)
        m.ciaddr = req.ciaddr;
    if (t == msg_type::ack && req.ciaddr.value != 0)
        m.ciaddr = req.ciaddr;
    m.set_u8(opt::message_type, static_cast<std::uint8_t>(t));
    m.set_ip(opt::server_id, cfg_.server_id);
    if (auto cid = req.options.find(opt::client_id); cid != req.options.end())
        m.options[opt::client_id] = cid->second; // RFC 6842: echo the client identifier

    if (t == msg_type::nak) {
        m.set_string(opt::message, "address not available to this client");
    }
    else {
        // Parameter request list (55): mask and router always; the rest when asked for, or all
        // of them when the client sent no list.
        auto prl = req.options.find(opt::param_list);
        auto wanted = [&](std::uint8_t code) {
            return prl == req.options.end() ||
                   std::find(prl->second.begin(), prl->second.end(), code) != prl->second.end();
        };
        m.set_u32(opt::subnet_mask, cfg_.subnet.mask());
        m.set_ip(opt::router, cfg_.router);
        if (wanted(opt::dns) && !cfg_.dns.empty()) {
            auto& v = m.options[opt::dns];
            for (auto a : cfg_.dns)
                for (int s : {24, 16, 8, 0})
                    v.push_back(static_cast<std::uint8_t>(a.value >> s));
        }
        if (wanted(opt::domain) && !cfg_.domain.empty())
            m.set_string(opt::domain, cfg_.domain);
        if (wanted(opt::broadcast))
            m.set_ip(opt::broadcast, cfg_.subnet.broadcast());
        if (l && !l->hostname.empty() && (wanted(opt::hostname) || !l->vm.empty()))
            m.set_string(opt::hostname, l->hostname);
        if (t != msg_type::ack || req.type() != msg_type::inform) {
            const std::uint32_t lt = lease_s ? lease_s : cfg_.lease_time_s;
            m.set_u32(opt::lease_time, lt);
            m.set_u32(opt::t1, lt / 2);
            m.set_u32(opt::t2, static_cast<std::uint32_t>(std::uint64_t{lt} * 7 / 8));
        }
        // Maximum message size (57): the IP datagram may not exceed it (at least 576, RFC 2132 §9.10).
        std::size_t limit = std::max<std::size_t>(576, req.u16_option(opt::max_size).value_or(576)) - 28;
        for (std::uint8_t droppable : {opt::domain, opt::hostname, opt::broadcast, opt::dns})
            if (encode(m).size() > limit)
                m.options.erase(droppable);
    }

    // Where the reply goes (RFC 2131 §4.1).
    if (req.giaddr.value != 0) {
        r.to = req.giaddr;
        r.port = 67;
        if (t == msg_type::nak)
            m.flags |= flag_broadcast;
    }
    else if (t == msg_type::nak) {
        r.to = broadcast_all;
    }
    else if (req.ciaddr.value != 0) {
        r.to = req.ciaddr;
    }
    else if (req.broadcast_flag() || req.htype != 1 || req.hlen != 6) {
        r.to = broadcast_all;
    }
    else {
        r.to = yiaddr;
        r.link_unicast = true;
    }
    return r;
}

decision engine::handle(const message& m, packet_meta meta, std::int64_t now)
{
    decision d;
    if (m.op != 1) {
        if (explain_)
            d.note = "not a BOOTREQUEST";
        return d;
    }
    auto type = m.type();
    if (!type) {
        if (explain_)
            d.note = "no valid DHCP message type (plain BOOTP is not served)";
        return d;
    }
    if (m.giaddr.value != 0 && !cfg_.subnet.contains(m.giaddr)) {
        if (explain_)
            d.note = "relayed from " + to_string(m.giaddr) + ", outside the served subnet";
        return d;
    }
    const std::string key = client_key(m);
    const std::string mac = m.mac();
    auto sid = m.ip_option(opt::server_id);
    auto requested = m.ip_option(opt::requested_ip);
    const std::uint32_t port = counted_port(mac, meta.port);

    switch (*type) {
    case msg_type::discover: {
        if (port_full(key, port, d))
            return d;
        auto ip = choose(m, key);
        if (!ip) {
            if (auto r = resv_by_mac_.find(mac); r != resv_by_mac_.end()) {
                auto held = by_ip_.find(r->second.ip.value);
                d.note = "no offer for " + mac + ": its reserved address " + to_string(r->second.ip) + " is " +
                         (held == by_ip_.end()                               ? std::string("not usable here")
                          : held->second.state == lease_state::declined      ? std::string("quarantined after a DECLINE")
                                                                              : "held by " + held->second.mac);
                return d;
            }
            d.note = "pool exhausted: no address for " + mac;
            d.pool_exhausted = true;
            return d;
        }
        evict_other(*ip, key, d);
        lease& l = by_ip_[ip->value];
        if (l.state != lease_state::bound || key_of(l) != key) {
            l.ip = *ip;
            l.mac = mac;
            auto cid = m.options.find(opt::client_id);
            l.client_id = cid != m.options.end() ? hex(cid->second) : "";
            l.state = lease_state::offered;
            l.hostname.clear();
            l.vm.clear();
            if (auto r = resv_by_mac_.find(mac); r != resv_by_mac_.end()) {
                l.hostname = r->second.hostname;
                l.vm = r->second.vm;
            }
            l.expires_at = now + cfg_.offer_hold_s;
            set_port(l, port);
            by_client_[key] = ip->value;
        }
        d.out = make_reply(m, msg_type::offer, *ip, &l);
        if (explain_)
            d.note = "offer " + to_string(*ip) + " to " + mac;
        return d;
    }
    case msg_type::request: {
        if (sid) {
            // SELECTING: the client picked a server.
            if (*sid != cfg_.server_id) {
                if (auto* l = lease_of(key); l && l->state == lease_state::offered)
                    drop(l->ip.value);
                if (explain_)
                    d.note = mac + " chose server " + to_string(*sid);
                return d;
            }
            ipv4 want = requested ? *requested : m.ciaddr;
            if (want.value == 0) {
                if (explain_)
                    d.note = "SELECTING request without a requested address";
                return d;
            }
            if (!allocatable(want, key, mac)) {
                d.out = make_reply(m, msg_type::nak, {}, nullptr);
                if (explain_)
                    d.note = "nak " + to_string(want) + " for " + mac + " (selecting)";
                return d;
            }
            if (port_full(key, port, d))
                return d;
            lease& l = bind(want, key, m, port, now, d);
            d.out = make_reply(m, msg_type::ack, want, &l);
            d.out->after_commit = true;
            if (explain_)
                d.note = "ack " + to_string(want) + " to " + mac + " (selecting)";
            return d;
        }
        ipv4 want;
        const char* state = nullptr;
        if (requested && m.ciaddr.value == 0) {
            want = *requested;
            state = "init-reboot";
        }
        else if (m.ciaddr.value != 0) {
            want = m.ciaddr;
            state = meta.broadcast ? "rebinding" : "renewing";
        }
        else {
            if (explain_)
                d.note = "REQUEST with neither server id, requested address nor ciaddr";
            return d;
        }
        if (!allocatable(want, key, mac)) {
            d.out = make_reply(m, msg_type::nak, {}, nullptr);
            if (explain_)
                d.note = std::string("nak ") + to_string(want) + " for " + mac + " (" + state + ")";
            return d;
        }
        if (const lease* same = recent_binding(key, want, now)) {
            d.out = make_reply(m, msg_type::ack, want, same, static_cast<std::uint32_t>(same->expires_at - now));
            if (explain_)
                d.note = std::string("ack ") + to_string(want) + " to " + mac + " (" + state + ", unchanged: renewed " +
                         std::to_string(now + cfg_.lease_time_s - same->expires_at) + " s ago)";
            return d;
        }
        if (port_full(key, port, d))
            return d;
        lease& l = bind(want, key, m, port, now, d);
        d.out = make_reply(m, msg_type::ack, want, &l);
        d.out->after_commit = true;
        if (explain_)
            d.note = std::string("ack ") + to_string(want) + " to " + mac + " (" + state + ")";
        return d;
    }
    case msg_type::decline: {
        if (sid && *sid != cfg_.server_id)
            return d;
        ipv4 ip = requested ? *requested : m.ciaddr;
        auto it = by_ip_.find(ip.value);
        if (it == by_ip_.end() || key_of(it->second) != key) {
            if (explain_)
                d.note = "decline of " + to_string(ip) + " by " + mac + ", which does not hold it";
            return d;
        }
        // Someone else answers on this address: quarantine it (RFC 2131 §4.3.3).
        lease l = it->second;
        drop(ip.value);
        history_.erase(key);
        l.state = lease_state::declined;
        l.port = 0; // counted against no port: drop() took it off
        l.expires_at = now + cfg_.decline_hold_s;
        l.client_id = "";
        l.mac = "";
        l.hostname = "";
        by_ip_[ip.value] = l;
        d.changes.push_back({change::kind::declined, l});
        if (explain_)
            d.note = mac + " declined " + to_string(ip) + ": quarantined";
        return d;
    }
    case msg_type::release: {
        if (sid && *sid != cfg_.server_id)
            return d;
        auto it = by_ip_.find(m.ciaddr.value);
        if (it == by_ip_.end() || key_of(it->second) != key || it->second.state != lease_state::bound) {
            if (explain_)
                d.note = "release of " + to_string(m.ciaddr) + " by " + mac + ", which does not hold it";
            return d;
        }
        lease l = it->second;
        drop(m.ciaddr.value);
        d.changes.push_back({change::kind::released, l});
        if (explain_)
            d.note = mac + " released " + to_string(l.ip);
        return d;
    }
    case msg_type::inform: {
        if (m.ciaddr.value == 0 && m.giaddr.value == 0) {
            if (explain_)
                d.note = "INFORM without ciaddr";
            return d;
        }
        d.out = make_reply(m, msg_type::ack, {}, nullptr);
        if (explain_)
            d.note = "inform from " + to_string(m.ciaddr);
        return d;
    }
    default:
        if (explain_)
            d.note = std::string("ignored ") + to_string(*type);
        return d;
    }
}

std::vector<change> engine::expire(std::int64_t now)
{
    std::vector<change> out;
    std::vector<std::uint32_t> gone;
    for (auto& [ip, l] : by_ip_)
        if (l.expires_at <= now)
            gone.push_back(ip);
    for (auto ip : gone) {
        lease l = by_ip_.at(ip);
        drop(ip);
        if (l.state == lease_state::bound)
            out.push_back({change::kind::expired, l});
        else if (l.state == lease_state::declined)
            out.push_back({change::kind::removed, l});
        // an expired offer was never persisted: nothing to record
    }
    return out;
}

status engine::reserve(const reservation& r)
{
    if (!parse_mac(r.mac))
        return fail(errc::invalid_mac, "\"" + r.mac + "\" is not a MAC address like 52:54:00:12:34:56");
    if (!cfg_.subnet.is_host(r.ip) || r.ip == cfg_.server_id || r.ip == cfg_.router)
        return fail(errc::invalid_ip, to_string(r.ip) + " is not a usable host address in " + to_string(cfg_.subnet));
    if (auto it = resv_by_ip_.find(r.ip.value); it != resv_by_ip_.end() && it->second != r.mac)
        return fail(errc::ip_in_use, to_string(r.ip) + " is reserved for " + it->second);
    if (auto it = by_ip_.find(r.ip.value); it != by_ip_.end() && it->second.mac != r.mac)
        return fail(errc::ip_in_use, to_string(r.ip) + " is leased to " +
                                     (it->second.mac.empty() ? std::string("nobody (declined)") : it->second.mac));
    unreserve(r.mac);
    resv_by_mac_[r.mac] = r;
    resv_by_ip_[r.ip.value] = r.mac;
    return ok();
}

bool engine::unreserve(const std::string& mac)
{
    auto it = resv_by_mac_.find(mac);
    if (it == resv_by_mac_.end())
        return false;
    resv_by_ip_.erase(it->second.ip.value);
    resv_by_mac_.erase(it);
    return true;
}

std::vector<change> engine::forget(const std::string& mac)
{
    std::vector<change> out;
    std::vector<std::uint32_t> gone;
    for (auto& [ip, l] : by_ip_)
        if (l.mac == mac)
            gone.push_back(ip);
    for (auto ip : gone) {
        lease l = by_ip_.at(ip);
        drop(ip);
        history_.erase(key_of(l));
        if (l.state != lease_state::offered)
            out.push_back({change::kind::removed, l});
    }
    return out;
}

void engine::restore(const lease& l)
{
    if (auto it = by_ip_.find(l.ip.value); it != by_ip_.end())
        drop(l.ip.value);
    lease& put = by_ip_[l.ip.value] = l;
    put.port = 0; // the store does not know ports: leases from before a restart count against none
    if (l.state != lease_state::declined)
        by_client_[key_of(l)] = l.ip.value;
}

std::size_t engine::pool_used() const
{
    std::size_t n = 0;
    for (auto& [ip, l] : by_ip_)
        if (in_pool(l.ip))
            ++n;
    for (auto& [ip, mac] : resv_by_ip_)
        if (in_pool(ipv4{ip}) && !by_ip_.count(ip))
            ++n;
    return n;
}

} // namespace paddock::dhcp
