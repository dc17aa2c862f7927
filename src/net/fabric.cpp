// SPDX-License-Identifier: MIT
// The network fabric: create, adopt, repair, describe, tear down.
#include "net/fabric.hpp"

#include <unistd.h>

#include <algorithm>
#include <tuple>
#include <utility>

#include <boost/json.hpp>

#include "base/log.hpp"
#include "net/nft_ruleset.hpp"

namespace paddock::net {
namespace json = boost::json;

namespace {
nft_spec spec_of(const network_config& c, std::uint16_t api_port, const std::vector<port_forward>& forwards)
{
    nft_spec s;
    s.subnet = c.subnet;
    s.host_veth = c.host_veth;
    s.api_port = api_port;
    s.guest_host_access = c.guest_host_access;
    s.egress_deny = c.egress_deny;
    s.forwards = forwards;
    s.subnet6 = c.prefix6;
    s.routed = c.routed_subnets();
    for (auto& p : c.peers)
        s.peer_hosts.push_back(p.gateway);
    s.dns_address = c.bridge_address;
    return s;
}

bool table_present(nft& n) { return n.run(nft_list_table_command()).ok(); }
} // namespace

fabric::fabric(network_config cfg, std::uint16_t api_port, host_sysctls before, forward_recorder record)
    : cfg_(std::move(cfg)), api_port_(api_port), before_(before), record_forward_(std::move(record))
{
}

fabric::~fabric() { close_namespace(); }

void fabric::close_namespace()
{
    ns_.reset();
    if (ns_fd_ >= 0)
        ::close(ns_fd_);
    ns_fd_ = -1;
}

result<std::vector<std::string>> fabric::ensure()
{
    std::vector<std::string> done;
    if (!host_) {
        auto h = rtnl::connect();
        if (!h)
            return h.error();
        host_.emplace(std::move(*h));
    }
    for (auto step : {&fabric::ensure_sysctl, &fabric::ensure_namespace, &fabric::ensure_links, &fabric::ensure_nft,
                      &fabric::ensure_routes})
        if (auto st = (this->*step)(done); !st)
            return st.error();
    return done;
}

status fabric::ensure_sysctl(std::vector<std::string>& done)
{
    struct knob {
        const char* name;
        const char* path;
        std::optional<int>& before;
    };
    std::vector<knob> knobs{{"net.ipv4.ip_forward", ipv4_forward_path, before_.ip_forward}};
    if (cfg_.prefix6)
        knobs.push_back({"net.ipv6.conf.all.forwarding", ipv6_forward_path, before_.ip6_forward});
    for (auto& k : knobs) {
        auto cur = read_sysctl(k.path);
        if (!cur)
            return cur.error();
        // Record the host's value once, before the first change, so teardown can restore it.
        if (!k.before) {
            if (record_forward_)
                if (auto st = record_forward_(k.name, *cur); !st)
                    return st;
            k.before = *cur;
        }
        if (*cur != 1) {
            if (auto st = write_sysctl(k.path, 1); !st)
                return st;
            done.push_back(std::string("set ") + k.name + "=1");
        }
    }
    return ok();
}

status fabric::ensure_namespace(std::vector<std::string>& done)
{
    if (holds_netns(cfg_.namespace_name, ns_fd_))
        return ok();
    const netns_id on_disk = netns_identity(cfg_.namespace_name);
    if (ns_fd_ >= 0) {
        // The namespace we held was deleted or replaced out of band. Its veth peer keeps the host
        // end alive in a dead namespace: drop that end so links are rebuilt in the new one.
        close_namespace();
        if (auto l = host_->get_link(cfg_.host_veth); l && l->type == "veth")
            if (auto st = host_->delete_link(cfg_.host_veth); !st)
                return st;
    }
    if (!on_disk.valid()) {
        if (auto st = create_netns(cfg_.namespace_name); !st)
            return st;
        done.push_back("created namespace " + cfg_.namespace_name);
    }
    ns_fd_ = open_netns(cfg_.namespace_name);
    if (ns_fd_ < 0)
        return fail(errc::netns_failed, "open namespace " + cfg_.namespace_name);
    auto s = rtnl::connect_in(ns_fd_);
    if (!s) {
        close_namespace();
        return s.error();
    }
    ns_.emplace(std::move(*s));
    ++generation_;
    return ok();
}

status fabric::ensure_address(rtnl& sock, const std::string& name, int ifindex, if_address want,
                              std::vector<std::string>& done)
{
    for (auto& a : sock.addresses(ifindex))
        if (a.address == want.address && a.prefix == want.prefix)
            return ok();
    if (auto st = sock.add_address(ifindex, want); !st)
        return st;
    done.push_back("added " + to_string(want.address) + "/" + std::to_string(want.prefix) + " to " + name);
    return ok();
}

status fabric::ensure_links(std::vector<std::string>& done)
{
    const std::string& hv = cfg_.host_veth;
    const std::string nv(ns_veth_name);
    const std::string& br = cfg_.bridge;

    if (auto lo = ns_->get_link("lo"); lo && !lo->up)
        if (auto st = ns_->set_up("lo"); !st)
            return st;

    // The veth pair: both ends must exist, the host end here and its peer in the namespace.
    auto host_end = host_->get_link(hv);
    if (host_end && host_end->type != "veth")
        return fail(errc::link_conflict, "network.host_veth: " + hv + " already exists in the host and is a " +
                                         (host_end->type.empty() ? "device" : host_end->type) +
                                         ", not a veth; choose another name");
    auto ns_end = ns_->get_link(nv);
    if (host_end && !ns_end) {
        // A veth called host_veth whose peer is not in our namespace: not ours to keep.
        if (auto st = host_->delete_link(hv); !st)
            return st;
        host_end.reset();
    }
    if (!host_end) {
        if (ns_end)
            if (auto st = ns_->delete_link(nv); !st)
                return st;
        if (auto st = host_->create_veth(hv, nv, ns_fd_); !st)
            return st;
        done.push_back("created veth " + hv + " <-> " + cfg_.namespace_name + "/" + nv);
        host_end = host_->get_link(hv);
        ns_end = ns_->get_link(nv);
        if (!host_end || !ns_end)
            return fail(errc::netlink_failed, "veth " + hv + " vanished right after its creation");
    }

    // The bridge inside the namespace.
    auto bridge = ns_->get_link(br);
    if (bridge && bridge->type != "bridge") {
        if (auto st = ns_->delete_link(br); !st)
            return st;
        bridge.reset();
    }
    const std::string mac = bridge_mac(cfg_);
    if (!bridge) {
        if (auto st = ns_->create_bridge(br, mac); !st)
            return st;
        done.push_back("created bridge " + cfg_.namespace_name + "/" + br);
        bridge = ns_->get_link(br);
        if (!bridge)
            return fail(errc::netlink_failed, "bridge " + br + " vanished right after its creation");
    }
    if (bridge->mac != mac) {
        // A bridge made before it had its own MAC (or changed by hand): it would follow its ports'.
        if (auto st = ns_->set_mac(br, mac); !st)
            return st;
        done.push_back("set " + br + "'s MAC to " + mac);
    }
    if (ns_end->master != bridge->ifindex) {
        if (auto st = ns_->set_master(nv, bridge->ifindex); !st)
            return st;
        done.push_back("enslaved " + nv + " to " + br);
    }
    struct want_up {
        rtnl* sock;
        const std::string* name;
        bool up;
    };
    for (auto w : {want_up{&*ns_, &nv, ns_end->up}, want_up{&*ns_, &br, bridge->up}, want_up{&*host_, &hv, host_end->up}}) {
        if (w.up)
            continue;
        if (auto st = w.sock->set_up(*w.name); !st)
            return st;
        done.push_back("set " + *w.name + " up");
    }
    if (auto st = ensure_address(*ns_, br, bridge->ifindex, {cfg_.bridge_address, cfg_.subnet.prefix}, done); !st)
        return st;
    // VM TAPs lose their bridge when it is recreated: plug them back in.
    for (auto& [name, l] : ns_->links()) {
        if (name.rfind("tap-", 0) != 0 || l.master == bridge->ifindex)
            continue;
        if (auto st = ns_->set_master(name, bridge->ifindex); !st)
            return st;
        if (!l.up)
            ns_->set_up(name);
        done.push_back("re-attached " + name + " to " + br);
    }
    if (auto st = ensure_address(*host_, hv, host_end->ifindex, {cfg_.gateway, cfg_.subnet.prefix}, done); !st)
        return st;
    // IPv6: the gateway's ::1 and its link-local fe80::1 (the router the RAs name) on the host
    // end, ::2 on the bridge (DNS, DHCPv6); addresses of an earlier prefix (or of IPv6 turned
    // off) go.
    std::vector<ipv6> host_want, bridge_want;
    if (cfg_.prefix6) {
        host_want = {cfg_.gateway6(), network_config::gateway_link_local()};
        bridge_want = {cfg_.bridge_address6()};
    }
    for (auto [sock, name, ifindex, want] : {std::tuple{&*host_, hv, host_end->ifindex, &host_want},
                                             std::tuple{&*ns_, br, bridge->ifindex, &bridge_want}}) {
        for (auto& [a, p] : sock->addresses6(ifindex)) {
            const bool link_local = a.b[0] == 0xFE && (a.b[1] & 0xC0) == 0x80;
            if ((link_local && a != network_config::gateway_link_local()) ||
                std::find(want->begin(), want->end(), a) != want->end())
                continue;
            if (auto st = sock->delete_address6(ifindex, a, p); !st)
                return st;
            done.push_back("removed " + to_string(a) + "/" + std::to_string(p) + " from " + name);
        }
        for (auto& a : *want)
            if (auto st = ensure_address6(*sock, name, ifindex, a, 64, done); !st)
                return st;
    }
    return ok();
}

status fabric::ensure_address6(rtnl& sock, const std::string& name, int ifindex, const ipv6& want, int prefix,
                               std::vector<std::string>& done)
{
    for (auto& [a, p] : sock.addresses6(ifindex))
        if (a == want && p == prefix)
            return ok();
    if (auto st = sock.add_address6(ifindex, want, prefix); !st)
        return st;
    done.push_back("added " + to_string(want) + "/" + std::to_string(prefix) + " to " + name);
    return ok();
}

status fabric::ensure_nft(std::vector<std::string>& done)
{
    auto listing = nft_.run(nft_list_table_command());
    if (listing && !nft_fingerprint_.empty() && nft_fingerprint(*listing) == nft_fingerprint_)
        return ok();
    auto after = apply_table();
    if (!after)
        return after.error();
    // On first start an identical table is adopted silently; any later difference is a repair.
    bool adopted = listing && nft_fingerprint_.empty() && nft_fingerprint(*listing) == *after;
    nft_fingerprint_ = *after;
    if (!adopted)
        done.push_back(listing ? "restored nftables table inet paddock" : "created nftables table inet paddock");
    return ok();
}

status fabric::ensure_routes(std::vector<std::string>& done)
{
    // In the host: other hosts' VM subnets, through their next hops on the uplink. In the
    // namespace: the peer hosts through our gateway (our DNS answers them). Ours that are no
    // longer wanted (the config changed) go.
    std::vector<std::pair<cidr, ipv4>> host_want, ns_want;
    for (auto& r : cfg_.routes)
        host_want.push_back({r.subnet, r.via});
    for (auto& p : cfg_.peers) {
        host_want.push_back({p.subnet, p.gateway});
        ns_want.push_back({cidr{p.gateway, 32}, cfg_.gateway});
    }
    for (auto [sock, want, where] : {std::tuple{&*host_, &host_want, ""}, std::tuple{&*ns_, &ns_want, " in the namespace"}}) {
        auto have = sock->own_routes();
        for (auto& h : have)
            if (std::find(want->begin(), want->end(), h) == want->end()) {
                if (auto st = sock->delete_route(h.first, h.second); !st)
                    return st;
                done.push_back("removed route " + to_string(h.first) + " via " + to_string(h.second) + where);
            }
        for (auto& w : *want)
            if (std::find(have.begin(), have.end(), w) == have.end()) {
                // A next hop not reachable yet (the uplink is down) is no reason to stop: the next
                // check tries again.
                if (auto st = sock->add_route(w.first, w.second); !st) {
                    log::warn("net", st.error().message, where, " (tried again at the next check)");
                    continue;
                }
                done.push_back("added route " + to_string(w.first) + " via " + to_string(w.second) + where);
            }
    }
    return ok();
}

result<std::string> fabric::apply_table()
{
    if (auto r = nft_.run(nft_apply_document(spec_of(cfg_, api_port_, forwards_))); !r)
        return r.error();
    auto after = nft_.run(nft_list_table_command());
    if (!after)
        return after.error();
    return nft_fingerprint(*after);
}

status fabric::set_forwards(std::vector<port_forward> f)
{
    auto before = std::exchange(forwards_, std::move(f));
    if (nft_fingerprint_.empty())
        return ok(); // not brought up yet: ensure() applies them
    auto after = apply_table();
    if (!after) {
        forwards_ = std::move(before); // refused: repairs keep applying the forwards the VMs still have
        return after.error();
    }
    nft_fingerprint_ = *after;
    return ok();
}

result<int> fabric::open_tap(const std::string& name)
{
    if (ns_fd_ < 0 || !ns_)
        return fail(errc::fabric_down, "the network namespace is not up");
    auto fd = net::open_tap(ns_fd_, name);
    if (!fd)
        return fd;
    auto br = ns_->get_link(cfg_.bridge);
    status st = br ? ns_->set_master(name, br->ifindex) : status(fail(errc::fabric_down, "bridge " + cfg_.bridge + " is missing"));
    if (st)
        st = ns_->set_up(name);
    if (!st) {
        ::close(*fd);
        return st.error();
    }
    return fd;
}

status fabric::delete_tap(const std::string& name)
{
    if (!ns_)
        return fail(errc::fabric_down, "the network namespace is not up");
    return ns_->delete_link(name);
}

std::vector<std::pair<std::string, link_info>> fabric::taps()
{
    std::vector<std::pair<std::string, link_info>> out;
    if (!ns_)
        return out;
    for (auto& l : ns_->links())
        if (l.second.type == "tun")
            out.push_back(std::move(l));
    return out;
}

json::object fabric::describe()
{
    auto link_json = [](rtnl* sock, const std::string& name) {
        json::object o{{"name", name}, {"present", false}};
        if (!sock)
            return o;
        auto l = sock->get_link(name);
        if (!l)
            return o;
        o["present"] = true;
        o["type"] = l->type;
        o["up"] = l->up;
        json::array addrs;
        for (auto& a : sock->addresses(l->ifindex))
            addrs.push_back(json::string(to_string(a.address) + "/" + std::to_string(a.prefix)));
        o["addresses"] = std::move(addrs);
        return o;
    };
    rtnl* ns = ns_ ? &*ns_ : nullptr;
    bool ns_present = netns_identity(cfg_.namespace_name).valid();
    json::object out;
    out["namespace"] = json::object{{"name", cfg_.namespace_name}, {"present", ns_present}};
    out["subnet"] = to_string(cfg_.subnet);
    out["gateway"] = to_string(cfg_.gateway);
    out["bridge_address"] = to_string(cfg_.bridge_address);
    out["host_veth"] = link_json(host_ ? &*host_ : nullptr, cfg_.host_veth);
    out["namespace_veth"] = link_json(ns, std::string(ns_veth_name));
    out["bridge"] = link_json(ns, cfg_.bridge);
    out["nftables"] = json::object{{"table", "inet paddock"}, {"present", table_present(nft_)}};
    auto fwd = read_ip_forward();
    out["ip_forward"] = fwd ? *fwd : -1;
    std::uint32_t size = cfg_.pool_end.value - cfg_.pool_start.value + 1;
    out["dhcp_pool"] = json::object{{"start", to_string(cfg_.pool_start)},
                                    {"end", to_string(cfg_.pool_end)},
                                    {"size", size},
                                    {"used", 0},
                                    {"lease_time_s", cfg_.lease_time_s}};
    // Other tables' forward policies, from their chain headers only: never their rules (a host
    // with thousands of Docker or Kubernetes rules lists them in hundreds of milliseconds).
    json::array warnings;
    if (auto chains = nft_.run("list chains"))
        for (auto& w : nft_forward_drop_warnings(*chains))
            warnings.push_back(json::string(w));
    out["warnings"] = std::move(warnings);
    return out;
}

result<std::vector<std::string>> fabric::teardown(const network_config& cfg, host_sysctls before)
{
    std::vector<std::string> done;
    nft n;
    if (table_present(n)) {
        if (auto r = n.run(nft_delete_document()); !r)
            return r.error();
        done.push_back("deleted nftables table inet paddock");
    }
    // Restore the sysctl first: the kernel's asynchronous namespace cleanup holds RTNL, and a
    // sysctl write made during it spins (ERESTARTNOINTR) until the cleanup is done.
    for (auto [name, path, value] : {std::tuple{"net.ipv4.ip_forward", ipv4_forward_path, before.ip_forward},
                                     std::tuple{"net.ipv6.conf.all.forwarding", ipv6_forward_path, before.ip6_forward}}) {
        if (!value)
            continue;
        int want = *value == 1 ? 1 : 0;
        auto cur = read_sysctl(path);
        if (cur && *cur != want) {
            if (auto st = write_sysctl(path, want); !st)
                return st.error();
            done.push_back(std::string("restored ") + name + "=" + std::to_string(want));
        }
    }
    auto host = rtnl::connect();
    if (!host)
        return host.error();
    for (auto& [subnet, via] : host->own_routes()) {
        if (auto st = host->delete_route(subnet, via); !st)
            return st.error();
        done.push_back("deleted route " + to_string(subnet) + " via " + to_string(via));
    }
    // Delete the host end ourselves: namespace deletion frees the pair only asynchronously.
    if (auto l = host->get_link(cfg.host_veth); l && l->type == "veth") {
        if (auto st = host->delete_link(cfg.host_veth); !st)
            return st.error();
        done.push_back("deleted veth " + cfg.host_veth);
    }
    if (netns_identity(cfg.namespace_name).valid()) {
        if (auto st = delete_netns(cfg.namespace_name); !st)
            return st.error();
        done.push_back("deleted namespace " + cfg.namespace_name);
    }
    return done;
}

} // namespace paddock::net
