// SPDX-License-Identifier: MIT
// CORE: the anti-spoofing table.
#include "net/guard_ruleset.hpp"

#include <boost/json.hpp>

#include "base/hex.hpp"
#include "base/ipv6.hpp"

namespace paddock::net {

namespace {
std::string chain_of(const std::string& vm)
{
    std::string c = "vm_" + vm;
    for (auto& ch : c)
        if (ch == '-')
            ch = '_'; // VM names have no '_', so this stays unique
    return c;
}

// "52:54:00:aa:bb:cc" as the 48-bit number nft compares a raw payload with.
std::string mac_number(const std::string& mac)
{
    std::string n = "0x";
    for (char ch : mac)
        if (ch != ':')
            n += ch;
    return n;
}
// "fe80::1" as the 128-bit number nft compares a raw payload with.
std::string number_of(const std::string& address6)
{
    const ipv6 a = parse_ipv6(address6).value_or(ipv6{});
    return "0x" + hex_of(a.b.data(), a.b.size());
}
// A guest's new connections and DNS queries to the daemon's own services (`family`: ip or ip6):
// far above what a client does (a busy resolver asks some hundreds of queries a second), far below
// what would load the daemon.
std::string service_limits(const char* family, const std::string& services)
{
    const std::string to = std::string("    ether type ") + family + " " + family + " daddr " + services;
    return to + " tcp flags & (syn | ack) == syn limit rate over 50/second burst 100 packets counter drop comment \"syn_flood\"\n" +
           to + " udp dport 53 limit rate over 2000/second burst 4000 packets counter drop comment \"dns_flood\"\n";
}
} // namespace

std::string guard_document(const std::vector<guard_port>& ports, const std::string& services, const std::string& services6)
{
    std::string d = "table bridge paddock_guard\ndelete table bridge paddock_guard\n"
                    "table bridge paddock_guard {\n"
                    "  map ports { type ifname : verdict; }\n"
                    "  chain prerouting {\n"
                    "    type filter hook prerouting priority -200; policy accept;\n"
                    // DHCP carries its bridge port to the server as its mark (a UDP socket on the
                    // bridge sees only the bridge): a hash of the port's index, never 0.
                    "    ether type ip udp dport 67 meta mark set jhash meta iif mod 2147483647 offset 1\n"
                    "    iifname vmap @ports\n"
                    // A VM's TAP whose chain is not (yet) in: dropped, never let through unfiltered.
                    "    iifname \"tap-*\" counter drop comment \"unknown_port\"\n"
                    "  }\n";
    for (auto& p : ports) {
        const std::string& m = p.mac;
        d += "  chain " + chain_of(p.vm) + " {\n";
        d += "    ether saddr != " + m + " counter drop comment \"mac\"\n";
        if (p.ip6.empty()) {
            d += "    ether type ip6 drop\n"; // the VM subnet is IPv4: guests' own IPv6 chatter goes, uncounted
            d += "    ether type != { ip, arp } counter drop comment \"ethertype\"\n";
        }
        else {
            d += "    ether type != { ip, arp, ip6 } counter drop comment \"ethertype\"\n";
            // A guest is never a router nor a DHCPv6 server.
            d += "    ether type ip6 icmpv6 type nd-router-advert counter drop comment \"ra\"\n";
            d += "    ether type ip6 icmpv6 type nd-redirect counter drop comment \"redirect\"\n";
            d += "    ether type ip6 udp sport 547 counter drop comment \"dhcp6_server\"\n";
            d += "    ether type ip6 udp dport 546 counter drop comment \"dhcp6_server\"\n";
            d += "    ether type ip6 udp dport 547 limit rate over 50/second burst 100 packets counter drop comment \"dhcp_flood\"\n";
            if (!services6.empty())
                d += service_limits("ip6", services6);
            // Duplicate address detection and the listener reports that come with it use ::.
            d += "    ether type ip6 ip6 saddr :: icmpv6 type { nd-neighbor-solicit, mld-listener-report, mld2-listener-report } accept\n";
            d += "    ether type ip6 ip6 saddr != { " + p.ll6 + ", " + p.ip6 + " } counter drop comment \"ip6\"\n";
            // Its own neighbour advertisements only: no claiming another host's address (the
            // target, 8 bytes into the message).
            d += "    ether type ip6 icmpv6 type nd-neighbor-advert @th,64,128 != { " + number_of(p.ll6) + ", " +
                 number_of(p.ip6) + " } counter drop comment \"nd\"\n";
        }
        d += "    ether type arp arp saddr ether != " + m + " counter drop comment \"arp\"\n";
        d += "    ether type arp arp saddr ip != { 0.0.0.0, " + p.ip + " } counter drop comment \"arp\"\n";
        // A VM is never a DHCP server: nothing from it reaches a client's port 68, whatever its
        // source port (clients only look at the destination).
        d += "    ether type ip udp dport 68 counter drop comment \"dhcp_server\"\n";
        d += "    ether type ip udp sport 67 counter drop comment \"dhcp_server\"\n";
        // DHCP to the server speaks for the port's own MAC only: chaddr (28 bytes into the BOOTP
        // message, after the 8-byte UDP header) must be it. So one guest can neither take leases
        // under made-up MACs nor decline or release another client's address.
        d += "    ether type ip udp dport 67 @th,288,48 != " + mac_number(m) + " counter drop comment \"dhcp_chaddr\"\n";
        d += service_limits("ip", services);
        // DHCP per guest: a lease is 2 packets.
        d += "    ether type ip udp dport 67 limit rate over 50/second burst 100 packets counter drop comment \"dhcp_flood\"\n";
        d += "    ether type ip ip saddr 0.0.0.0 udp sport 68 udp dport 67 accept\n";
        d += "    ether type ip ip saddr != " + p.ip + " counter drop comment \"ip\"\n";
        d += "  }\n";
    }
    d += "}\n";
    if (!ports.empty()) {
        d += "add element bridge paddock_guard ports {";
        bool first = true;
        for (auto& p : ports) {
            d += (first ? " \"" : ", \"") + p.tap + "\" : goto " + chain_of(p.vm);
            first = false;
        }
        d += " }\n";
    }
    return d;
}

std::string guard_delete_document() { return "table bridge paddock_guard\ndelete table bridge paddock_guard\n"; }

result<guard_counts> parse_guard_counters(std::string_view text, const std::vector<guard_port>& ports)
{
    boost::system::error_code ec;
    auto v = boost::json::parse(text, ec);
    if (ec || !v.is_object() || !v.as_object().contains("nftables") || !v.at("nftables").is_array())
        return fail(errc::nft_failed, "unexpected nft JSON listing");
    std::map<std::string, std::string> vm_of_chain{{"prerouting", ""}}; // "": ports of no VM
    for (auto& p : ports)
        vm_of_chain[chain_of(p.vm)] = p.vm;
    guard_counts out;
    for (auto& item : v.at("nftables").as_array()) {
        if (!item.is_object() || !item.as_object().contains("rule"))
            continue;
        const auto& r = item.at("rule").as_object();
        if (!r.contains("chain") || !r.contains("comment") || !r.contains("expr"))
            continue;
        auto it = vm_of_chain.find(std::string(r.at("chain").as_string()));
        if (it == vm_of_chain.end())
            continue;
        for (auto& e : r.at("expr").as_array())
            if (e.is_object() && e.as_object().contains("counter") && e.at("counter").is_object())
                out[it->second][std::string(r.at("comment").as_string())] +=
                    e.at("counter").at("packets").to_number<std::uint64_t>();
    }
    return out;
}

} // namespace paddock::net
