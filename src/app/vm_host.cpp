// SPDX-License-Identifier: MIT
// vm::host over the real network.
#include "app/vm_host.hpp"

namespace paddock::app {
namespace asio = boost::asio;

asio::awaitable<std::map<std::string, vm::net_counters>> vm_host::tap_counters()
{
    std::map<std::string, vm::net_counters> out;
    for (auto& [name, l] : co_await fabric_.taps()) // the TAP's receive side is what the guest sent
        out[name] = vm::net_counters{l.tx_bytes, l.rx_bytes, l.tx_packets, l.rx_packets};
    co_return out;
}

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
