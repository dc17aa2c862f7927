// SPDX-License-Identifier: MIT
// rtnetlink through libnl-3.
#include "net/links.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/route.h>
#include <linux/rtnetlink.h>

#include <cstdlib>

#include "net/netns.hpp"

namespace paddock::net {

namespace {
failure nl_fail(const std::string& what, int err)
{
    return fail(errc::netlink_failed, what + ": " + nl_geterror(err));
}

struct link_ptr {
    rtnl_link* p = nullptr;
    ~link_ptr()
    {
        if (p)
            rtnl_link_put(p);
    }
};

struct addr_ptr {
    nl_addr* p = nullptr;
    ~addr_ptr()
    {
        if (p)
            nl_addr_put(p);
    }
};

nl_addr* make_addr(ipv4 a, int prefix)
{
    std::uint32_t be = htonl(a.value);
    nl_addr* n = nl_addr_build(AF_INET, &be, sizeof be);
    if (n && prefix >= 0)
        nl_addr_set_prefixlen(n, prefix);
    return n;
}
} // namespace

result<rtnl> rtnl::connect()
{
    nl_sock* sk = nl_socket_alloc();
    if (!sk)
        return fail(errc::netlink_failed, "nl_socket_alloc failed");
    if (int err = nl_connect(sk, NETLINK_ROUTE); err < 0) {
        nl_socket_free(sk);
        return nl_fail("connect NETLINK_ROUTE", err);
    }
    return rtnl(sk);
}

result<rtnl> rtnl::connect_in(int ns_fd)
{
    std::optional<rtnl> out;
    failure err;
    auto st = run_in_netns(ns_fd, [&]() -> status {
        auto r = connect();
        if (!r)
            return r.error();
        out.emplace(std::move(*r));
        return ok();
    });
    if (!st)
        return st.error();
    return std::move(*out);
}

rtnl& rtnl::operator=(rtnl&& o) noexcept
{
    if (this != &o) {
        if (sk_)
            nl_socket_free(sk_);
        sk_ = o.sk_;
        o.sk_ = nullptr;
    }
    return *this;
}

rtnl::~rtnl()
{
    if (sk_)
        nl_socket_free(sk_);
}

namespace {
link_info info_of(rtnl_link* l)
{
    link_info i;
    i.ifindex = rtnl_link_get_ifindex(l);
    const char* t = rtnl_link_get_type(l);
    i.type = t ? t : "";
    i.up = (rtnl_link_get_flags(l) & IFF_UP) != 0;
    i.master = rtnl_link_get_master(l);
    if (nl_addr* a = rtnl_link_get_addr(l); a && nl_addr_get_len(a) == 6) {
        char buf[32];
        i.mac = nl_addr2str(a, buf, sizeof buf);
    }
    i.rx_bytes = rtnl_link_get_stat(l, RTNL_LINK_RX_BYTES);
    i.tx_bytes = rtnl_link_get_stat(l, RTNL_LINK_TX_BYTES);
    i.rx_packets = rtnl_link_get_stat(l, RTNL_LINK_RX_PACKETS);
    i.tx_packets = rtnl_link_get_stat(l, RTNL_LINK_TX_PACKETS);
    return i;
}
} // namespace

std::optional<link_info> rtnl::get_link(const std::string& name)
{
    link_ptr l;
    if (rtnl_link_get_kernel(sk_, 0, name.c_str(), &l.p) < 0 || !l.p)
        return std::nullopt;
    return info_of(l.p);
}

std::vector<std::pair<std::string, link_info>> rtnl::links()
{
    std::vector<std::pair<std::string, link_info>> out;
    nl_cache* cache = nullptr;
    if (rtnl_link_alloc_cache(sk_, AF_UNSPEC, &cache) < 0)
        return out;
    for (nl_object* o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
        auto* l = reinterpret_cast<rtnl_link*>(o);
        out.emplace_back(rtnl_link_get_name(l) ? rtnl_link_get_name(l) : "", info_of(l));
    }
    nl_cache_free(cache);
    return out;
}

std::vector<if_address> rtnl::addresses(int ifindex)
{
    std::vector<if_address> out;
    nl_cache* cache = nullptr;
    if (rtnl_addr_alloc_cache(sk_, &cache) < 0)
        return out;
    for (nl_object* o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
        auto* a = reinterpret_cast<rtnl_addr*>(o);
        if (rtnl_addr_get_ifindex(a) != ifindex || rtnl_addr_get_family(a) != AF_INET)
            continue;
        nl_addr* local = rtnl_addr_get_local(a);
        if (!local || nl_addr_get_len(local) != 4)
            continue;
        std::uint32_t be = 0;
        std::memcpy(&be, nl_addr_get_binary_addr(local), 4);
        out.push_back({ipv4{ntohl(be)}, rtnl_addr_get_prefixlen(a)});
    }
    nl_cache_free(cache);
    return out;
}

std::vector<std::pair<ipv6, int>> rtnl::addresses6(int ifindex)
{
    std::vector<std::pair<ipv6, int>> out;
    nl_cache* cache = nullptr;
    if (rtnl_addr_alloc_cache(sk_, &cache) < 0)
        return out;
    for (nl_object* o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
        auto* a = reinterpret_cast<rtnl_addr*>(o);
        if (rtnl_addr_get_ifindex(a) != ifindex || rtnl_addr_get_family(a) != AF_INET6)
            continue;
        nl_addr* local = rtnl_addr_get_local(a);
        if (!local || nl_addr_get_len(local) != 16)
            continue;
        ipv6 v;
        std::memcpy(v.b.data(), nl_addr_get_binary_addr(local), 16);
        out.emplace_back(v, rtnl_addr_get_prefixlen(a));
    }
    nl_cache_free(cache);
    return out;
}

status rtnl::add_address6(int ifindex, const ipv6& a, int prefix)
{
    rtnl_addr* ad = rtnl_addr_alloc();
    addr_ptr local{nl_addr_build(AF_INET6, a.b.data(), 16)};
    nl_addr_set_prefixlen(local.p, prefix);
    rtnl_addr_set_ifindex(ad, ifindex);
    rtnl_addr_set_local(ad, local.p);
    rtnl_addr_set_flags(ad, IFA_F_NODAD);
    int err = rtnl_addr_add(sk_, ad, 0);
    rtnl_addr_put(ad);
    if (err < 0 && err != -NLE_EXIST)
        return nl_fail("add address " + to_string(a) + "/" + std::to_string(prefix), err);
    return ok();
}

status rtnl::delete_address6(int ifindex, const ipv6& a, int prefix)
{
    rtnl_addr* ad = rtnl_addr_alloc();
    addr_ptr local{nl_addr_build(AF_INET6, a.b.data(), 16)};
    nl_addr_set_prefixlen(local.p, prefix);
    rtnl_addr_set_ifindex(ad, ifindex);
    rtnl_addr_set_local(ad, local.p);
    int err = rtnl_addr_delete(sk_, ad, 0);
    rtnl_addr_put(ad);
    if (err < 0 && err != -NLE_NOADDR && err != -NLE_OBJ_NOTFOUND)
        return nl_fail("delete address " + to_string(a) + "/" + std::to_string(prefix), err);
    return ok();
}

std::vector<std::pair<cidr, ipv4>> rtnl::own_routes()
{
    std::vector<std::pair<cidr, ipv4>> out;
    nl_cache* cache = nullptr;
    if (rtnl_route_alloc_cache(sk_, AF_INET, 0, &cache) < 0)
        return out;
    for (nl_object* o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
        auto* r = reinterpret_cast<rtnl_route*>(o);
        if (rtnl_route_get_protocol(r) != route_protocol || rtnl_route_get_table(r) != RT_TABLE_MAIN ||
            rtnl_route_get_nnexthops(r) < 1)
            continue;
        nl_addr* dst = rtnl_route_get_dst(r);
        nl_addr* gw = rtnl_route_nh_get_gateway(rtnl_route_nexthop_n(r, 0));
        if (!dst || !gw || nl_addr_get_len(dst) != 4 || nl_addr_get_len(gw) != 4)
            continue;
        std::uint32_t d = 0, g = 0;
        std::memcpy(&d, nl_addr_get_binary_addr(dst), 4);
        std::memcpy(&g, nl_addr_get_binary_addr(gw), 4);
        out.push_back({cidr{ipv4{ntohl(d)}, static_cast<int>(nl_addr_get_prefixlen(dst))}, ipv4{ntohl(g)}});
    }
    nl_cache_free(cache);
    return out;
}

namespace {
rtnl_route* route_object(const cidr& subnet, ipv4 via)
{
    rtnl_route* r = rtnl_route_alloc();
    addr_ptr dst{make_addr(subnet.network, subnet.prefix)};
    addr_ptr gw{make_addr(via, -1)};
    rtnl_route_set_family(r, AF_INET);
    rtnl_route_set_table(r, RT_TABLE_MAIN);
    rtnl_route_set_protocol(r, route_protocol);
    rtnl_route_set_scope(r, RT_SCOPE_UNIVERSE);
    rtnl_route_set_dst(r, dst.p);
    rtnl_nexthop* nh = rtnl_route_nh_alloc();
    rtnl_route_nh_set_gateway(nh, gw.p);
    rtnl_route_add_nexthop(r, nh);
    return r;
}
} // namespace

status rtnl::add_route(const cidr& subnet, ipv4 via)
{
    rtnl_route* r = route_object(subnet, via);
    int err = rtnl_route_add(sk_, r, NLM_F_CREATE | NLM_F_REPLACE);
    rtnl_route_put(r);
    if (err < 0)
        return nl_fail("add route " + to_string(subnet) + " via " + to_string(via), err);
    return ok();
}

status rtnl::delete_route(const cidr& subnet, ipv4 via)
{
    rtnl_route* r = route_object(subnet, via);
    int err = rtnl_route_delete(sk_, r, 0);
    rtnl_route_put(r);
    if (err < 0 && err != -NLE_OBJ_NOTFOUND)
        return nl_fail("delete route " + to_string(subnet) + " via " + to_string(via), err);
    return ok();
}

status rtnl::create_veth(const std::string& name, const std::string& peer_name, int peer_ns_fd)
{
    link_ptr l{rtnl_link_veth_alloc()};
    if (!l.p)
        return fail(errc::netlink_failed, "rtnl_link_veth_alloc failed");
    rtnl_link_set_name(l.p, name.c_str());
    link_ptr peer{rtnl_link_veth_get_peer(l.p)};
    rtnl_link_set_name(peer.p, peer_name.c_str());
    // Create the peer directly in the namespace: 3 ms instead of 33 ms for create-then-move.
    rtnl_link_set_ns_fd(peer.p, peer_ns_fd);
    if (int err = rtnl_link_add(sk_, l.p, NLM_F_CREATE | NLM_F_EXCL); err < 0)
        return nl_fail("create veth " + name + " <-> " + peer_name, err);
    return ok();
}

status rtnl::create_bridge(const std::string& name, const std::string& mac)
{
    link_ptr l{rtnl_link_alloc()};
    rtnl_link_set_name(l.p, name.c_str());
    if (int err = rtnl_link_set_type(l.p, "bridge"); err < 0)
        return nl_fail("create bridge " + name, err);
    addr_ptr a;
    if (int err = nl_addr_parse(mac.c_str(), AF_LLC, &a.p); err < 0)
        return nl_fail("create bridge " + name + ": MAC " + mac, err);
    rtnl_link_set_addr(l.p, a.p);
    if (int err = rtnl_link_add(sk_, l.p, NLM_F_CREATE | NLM_F_EXCL); err < 0)
        return nl_fail("create bridge " + name, err);
    return ok();
}

status rtnl::set_mac(const std::string& name, const std::string& mac)
{
    link_ptr l;
    if (int err = rtnl_link_get_kernel(sk_, 0, name.c_str(), &l.p); err < 0)
        return nl_fail("find " + name, err);
    addr_ptr a;
    if (int err = nl_addr_parse(mac.c_str(), AF_LLC, &a.p); err < 0)
        return nl_fail("set the MAC of " + name + " to " + mac, err);
    link_ptr change{rtnl_link_alloc()};
    rtnl_link_set_addr(change.p, a.p);
    if (int err = rtnl_link_change(sk_, l.p, change.p, 0); err < 0)
        return nl_fail("set the MAC of " + name + " to " + mac, err);
    return ok();
}

status rtnl::set_up(const std::string& name)
{
    link_ptr l;
    if (int err = rtnl_link_get_kernel(sk_, 0, name.c_str(), &l.p); err < 0)
        return nl_fail("find " + name, err);
    link_ptr change{rtnl_link_alloc()};
    rtnl_link_set_flags(change.p, IFF_UP);
    if (int err = rtnl_link_change(sk_, l.p, change.p, 0); err < 0)
        return nl_fail("set " + name + " up", err);
    return ok();
}

status rtnl::set_master(const std::string& name, int master_ifindex)
{
    auto i = get_link(name);
    if (!i)
        return fail(errc::netlink_failed, "set master of " + name + ": no such link");
    if (int err = rtnl_link_enslave_ifindex(sk_, master_ifindex, i->ifindex); err < 0)
        return nl_fail("enslave " + name, err);
    return ok();
}

status rtnl::delete_link(const std::string& name)
{
    link_ptr l{rtnl_link_alloc()};
    rtnl_link_set_name(l.p, name.c_str());
    if (int err = rtnl_link_delete(sk_, l.p); err < 0 && err != -NLE_NODEV && err != -NLE_OBJ_NOTFOUND)
        return nl_fail("delete " + name, err);
    return ok();
}

status rtnl::add_address(int ifindex, if_address a)
{
    rtnl_addr* ad = rtnl_addr_alloc();
    addr_ptr local{make_addr(a.address, a.prefix)};
    cidr c{{a.address.value}, a.prefix};
    addr_ptr bcast{make_addr(ipv4{(a.address.value & c.mask()) | ~c.mask()}, -1)};
    rtnl_addr_set_ifindex(ad, ifindex);
    rtnl_addr_set_local(ad, local.p);
    rtnl_addr_set_broadcast(ad, bcast.p);
    int err = rtnl_addr_add(sk_, ad, 0);
    rtnl_addr_put(ad);
    if (err < 0 && err != -NLE_EXIST)
        return nl_fail("add address " + to_string(a.address) + "/" + std::to_string(a.prefix), err);
    return ok();
}

result<int> open_tap(int ns_fd, const std::string& name)
{
    int fd = -1;
    auto st = run_in_netns(ns_fd, [&]() -> status {
        fd = ::open("/dev/net/tun", O_RDWR | O_CLOEXEC);
        if (fd < 0)
            return fail(errc::tap_failed, std::string("open /dev/net/tun: ") + std::strerror(errno));
        ifreq ifr{};
        ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
        std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
        if (::ioctl(fd, TUNSETIFF, &ifr) != 0) {
            auto f = fail(errc::tap_failed, "create tap " + name + ": " + std::strerror(errno));
            ::close(fd);
            fd = -1;
            return f;
        }
        return ok();
    });
    if (!st)
        return st.error();
    return fd;
}

result<int> read_sysctl(const char* path)
{
    int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail(errc::sysctl_failed, std::string("read ") + path + ": " + std::strerror(errno));
    char buf[16] = {};
    ssize_t n = ::read(fd, buf, sizeof buf - 1);
    ::close(fd);
    if (n < 1)
        return fail(errc::sysctl_failed, std::string("read ") + path + ": empty");
    return std::atoi(buf);
}

status write_sysctl(const char* path, int value)
{
    int fd = ::open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return fail(errc::sysctl_failed, std::string("write ") + path + ": " + std::strerror(errno));
    const std::string v = std::to_string(value) + "\n";
    ssize_t n = ::write(fd, v.data(), v.size());
    ::close(fd);
    if (n != static_cast<ssize_t>(v.size()))
        return fail(errc::sysctl_failed, std::string("write ") + path + ": " + std::strerror(errno));
    return ok();
}

std::string ra_dependent_interface()
{
    // Routes learned from RAs, by interface index (libnl's route cache, IPv6 only).
    nl_sock* sk = nl_socket_alloc();
    if (!sk)
        return {};
    std::string found;
    nl_cache* routes = nullptr;
    nl_cache* links = nullptr;
    if (nl_connect(sk, NETLINK_ROUTE) == 0 && rtnl_route_alloc_cache(sk, AF_INET6, 0, &routes) == 0 &&
        rtnl_link_alloc_cache(sk, AF_UNSPEC, &links) == 0) {
        for (nl_object* o = nl_cache_get_first(routes); o && found.empty(); o = nl_cache_get_next(o)) {
            auto* r = reinterpret_cast<rtnl_route*>(o);
            if (rtnl_route_get_protocol(r) != RTPROT_RA || rtnl_route_get_nnexthops(r) < 1)
                continue;
            int ifindex = rtnl_route_nh_get_ifindex(rtnl_route_nexthop_n(r, 0));
            char name[IFNAMSIZ] = {};
            if (!rtnl_link_i2name(links, ifindex, name, sizeof name))
                continue;
            const std::string path = std::string("/proc/sys/net/ipv6/conf/") + name + "/accept_ra";
            if (auto v = read_sysctl(path.c_str()); v && *v == 1)
                found = name;
        }
    }
    if (routes)
        nl_cache_free(routes);
    if (links)
        nl_cache_free(links);
    nl_socket_free(sk);
    return found;
}

} // namespace paddock::net
