// SPDX-License-Identifier: MIT
// vm::host over the real network.
#include "app/vm_host.hpp"

#include "net/listeners.hpp"

#include <algorithm>
#include <tuple>

namespace paddock::app {
namespace asio = boost::asio;

asio::awaitable<std::map<std::string, vm::net_counters>> vm_host::tap_counters()
{
    std::map<std::string, vm::net_counters> out;
    for (auto& [name, l] : co_await fabric_.taps()) // the TAP's receive side is what the guest sent
        out[name] = vm::net_counters{l.tx_bytes, l.rx_bytes, l.tx_packets, l.rx_packets};
    co_return out;
}

std::vector<net::port_forward> firewall_forwards(const std::vector<vm::forward_target>& all)
{
    std::vector<net::port_forward> out;
    out.reserve(all.size());
    for (const auto& t : all) {
        auto to = parse_ipv4(t.ip);
        auto listen = parse_ipv4(t.f.listen);
        if (to && listen)
            out.push_back({t.f.proto, *listen, t.f.host_port, *to, t.f.guest_port});
    }
    // One order whatever the VMs' order: the same forwards make the same table (a restart adopts it).
    std::sort(out.begin(), out.end(), [](const net::port_forward& a, const net::port_forward& b) {
        return std::tie(a.proto, a.host_port, a.listen) < std::tie(b.proto, b.host_port, b.listen);
    });
    return out;
}

asio::awaitable<status> vm_host::set_forwards(std::vector<vm::forward_target> all)
{
    return fabric_.set_forwards(firewall_forwards(all));
}

std::string vm_host::port_holder(const port_map& f) const { return net::port_holder(f.proto, f.listen, f.host_port); }

bool vm_host::local_address(const std::string& ip) const { return net::local_ipv4(ip); }

bool vm_host::mac_in_use(const std::string& mac) const
{
    if (dhcp_.core().reservations().count(mac))
        return true;
    for (auto& [ip, l] : dhcp_.core().leases())
        if (l.mac == mac)
            return true;
    return false;
}

asio::awaitable<result<ipv4>> vm_host::reserve(std::string mac, std::optional<ipv4> ip, std::string vm)
{
    dhcp::reservation r;
    r.mac = mac;
    r.hostname = vm;
    r.vm = vm;
    auto a = dhcp_.core().address_for(mac, ip);
    if (!a)
        co_return a.error();
    r.ip = *a;
    if (auto st = co_await dhcp_.reserve(r); !st) {
        auto f = st.error();
        if (f.code == errc::invalid_ip)
            f.code = errc::invalid_field;
        if (f.code != errc::store_failed)
            f.message = "ip: " + f.message;
        co_return f;
    }
    co_return r.ip;
}

bool vm_host::leased(const std::string& vm, const std::string& mac) const
{
    for (auto& [ip, l] : dhcp_.core().leases())
        if (l.state == dhcp::lease_state::bound && l.vm == vm && l.mac == mac)
            return true;
    return false;
}

std::vector<std::pair<std::string, std::string>> vm_host::vm_reservations() const
{
    std::vector<std::pair<std::string, std::string>> out;
    for (auto& [mac, r] : dhcp_.core().reservations())
        if (!r.vm.empty())
            out.emplace_back(mac, r.vm);
    return out;
}

} // namespace paddock::app
