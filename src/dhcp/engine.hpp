// SPDX-License-Identifier: MIT
// CORE: the DHCPv4 server's decisions (RFC 2131 §4.3) and its lease table. No sockets, no clock:
// `now` (unix seconds) comes in, and handle() returns the reply to send (with where to send it,
// RFC 2131 §4.1) plus the lease changes the driver must make durable before an ACK leaves.
//
// Message flow: DISCOVER → OFFER (address held for offer_hold_s); REQUEST → ACK/NAK in the
// four client states: SELECTING (server id present), INIT-REBOOT (requested address, no ciaddr),
// RENEWING (ciaddr, unicast) and REBINDING (ciaddr, broadcast); DECLINE quarantines the address;
// RELEASE frees it; INFORM gets configuration without a lease.
//
// Address choice for a DISCOVER: the client's reservation (by MAC), its current lease, the address
// it asks for, the address it had last, then the next free pool address (round robin, so freed
// addresses are reused last). An address is never bound to two clients: every binding goes through
// allocatable(). The server is authoritative for its subnet: a request for an address it cannot
// give gets a NAK, never silence.
#pragma once

#include <cstdint>
#include <list>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/error.hpp"
#include "dhcp/message.hpp"
#include "base/ipv4.hpp"

namespace paddock::dhcp {

struct engine_config {
    cidr subnet;
    ipv4 server_id;   // the bridge address
    ipv4 router;      // the gateway
    std::vector<ipv4> dns;
    std::string domain;
    ipv4 pool_start, pool_end;
    std::uint32_t lease_time_s = 3600;
    std::uint32_t offer_hold_s = 30;
    std::uint32_t decline_hold_s = 600;
    std::size_t history_cap = 4096; // clients whose last address is remembered (more: the oldest go)
    std::uint32_t renew_quiet_s = 2; // a renewal this soon after the last is answered, not committed
    // Leases (offered or bound) that clients on one bridge port may hold, reserved MACs (VMs)
    // not counted; 0: no cap. Only packets whose port is known count (packet_meta::port).
    std::size_t max_leases_per_port = 0;
};

enum class lease_state { offered, bound, declined };
const char* to_string(lease_state s);

struct lease {
    ipv4 ip;
    std::string mac;
    std::string client_id; // hex of option 61, empty when the client sent none
    std::string hostname;
    std::string vm;        // the VM the address is reserved for, if any
    lease_state state = lease_state::offered;
    std::int64_t expires_at = 0;
    std::uint32_t port = 0; // the bridge port it was asked from, when counted against its cap (memory only)
};

struct reservation {
    std::string mac;
    ipv4 ip;
    std::string hostname; // sent as option 12
    std::string vm;
};

// A change the driver persists (and announces) before the matching ACK leaves.
struct change {
    enum class kind { bound, released, expired, declined, removed };
    kind what;
    lease l;
};
const char* to_string(change::kind k);

struct reply {
    message msg;
    ipv4 to;          // destination address
    std::uint16_t port = 68;
    bool link_unicast = false; // no IP yet: unicast by link layer to chaddr (packet socket)
    bool after_commit = false; // an ACK that binds: send only once `changes` are durable
};

struct decision {
    std::optional<reply> out;
    std::vector<change> changes;
    std::string note; // why, for the debug log (only when the engine explains, see explain())
    bool pool_exhausted = false; // no address was left for a DISCOVER (worth a warning)
    bool port_full = false;      // refused: the client's port holds max_leases_per_port leases
};

struct packet_meta {
    bool broadcast = false; // the request was addressed to a broadcast address (REBINDING)
    std::uint32_t port = 0; // an identifier of the bridge port it came in on; 0: unknown
};

class engine {
public:
    explicit engine(engine_config cfg);

    decision handle(const message& m, packet_meta meta, std::int64_t now);
    // Whether decisions carry a note saying why (for the debug log). Off by default: building a
    // sentence per packet is measurable at 10,000 packets a second.
    void explain(bool on) { explain_ = on; }
    bool explaining() const { return explain_; }
    // Drops offers past their hold, expires bound leases and ends declines' quarantine.
    std::vector<change> expire(std::int64_t now);

    // Reservations (live: no effect on other clients). reserve() fails when the address is not a
    // host in the subnet, is the server's or the router's, is reserved for another MAC, or is
    // leased to another client.
    status reserve(const reservation& r);
    // Removes the reservation of `mac`; its current lease, if any, stays until it ends.
    bool unreserve(const std::string& mac);
    // Drops every lease held by `mac` (a removed VM); returns the removals to persist.
    std::vector<change> forget(const std::string& mac);
    // A free pool address for a new reservation (not leased, not reserved), if any.
    std::optional<ipv4> free_address() const;
    // The address a reservation for `mac` gets: `want` when given, else the MAC's current
    // reservation, else a free pool address; pool_exhausted when there is none. (reserve() then
    // checks that the address can be had.)
    result<ipv4> address_for(const std::string& mac, std::optional<ipv4> want) const;

    // Start-up: put back what the store holds (no changes are produced).
    void restore(const lease& l);

    const std::map<std::uint32_t, lease>& leases() const { return by_ip_; }
    const std::map<std::string, reservation>& reservations() const { return resv_by_mac_; }
    std::size_t pool_size() const { return cfg_.pool_end.value - cfg_.pool_start.value + 1; }
    std::size_t pool_used() const;
    const engine_config& config() const { return cfg_; }

    // How many clients' last addresses are remembered (for tests and /metrics).
    std::size_t history_size() const { return history_.size(); }
    // Leases counted against `port`'s cap.
    std::size_t port_leases(std::uint32_t port) const;

private:
    // Clients' last addresses (a client that comes back gets its old one again), for the most
    // recently seen clients only: made-up clients push out the oldest, memory stays flat.
    class client_history {
    public:
        explicit client_history(std::size_t cap) : cap_(cap) {}
        std::optional<std::uint32_t> find(const std::string& key) const;
        void put(const std::string& key, std::uint32_t ip);
        void erase(const std::string& key);
        std::size_t size() const { return index_.size(); }

    private:
        std::size_t cap_;
        std::list<std::pair<std::string, std::uint32_t>> order_; // newest first
        std::unordered_map<std::string, std::list<std::pair<std::string, std::uint32_t>>::iterator> index_;
    };

    static std::string client_key(const message& m);
    bool in_pool(ipv4 a) const { return !(a < cfg_.pool_start) && !(cfg_.pool_end < a); }
    bool allocatable(ipv4 a, const std::string& key, const std::string& mac) const;
    std::optional<ipv4> choose(const message& m, const std::string& key);
    lease* lease_of(const std::string& key);
    lease& bind(ipv4 ip, const std::string& key, const message& m, std::uint32_t port, std::int64_t now, decision& d);
    // The port a new lease of `mac` from `port` counts against (0: none, e.g. a reserved MAC).
    std::uint32_t counted_port(const std::string& mac, std::uint32_t port) const;
    // Whether `key` (holding no lease yet) is refused because its port is full; says why in `d`.
    bool port_full(const std::string& key, std::uint32_t port, decision& d);
    // Moves `l`'s count to `port`.
    void set_port(lease& l, std::uint32_t port);
    void drop(std::uint32_t ip);
    // Removes a binding of `ip` under another client key (the reserved MAC's old client identifier).
    void evict_other(ipv4 ip, const std::string& key, decision& d);
    // `lease_s`: the lease time to announce (0: the configured one).
    reply make_reply(const message& req, msg_type t, ipv4 yiaddr, const lease* l, std::uint32_t lease_s = 0) const;
    // A client asking again for the binding it was given less than renew_quiet_s ago: the same
    // binding, nothing new to commit (a client renewing in a loop costs no write and no event).
    const lease* recent_binding(const std::string& key, ipv4 want, std::int64_t now);

    engine_config cfg_;
    std::map<std::uint32_t, lease> by_ip_;
    std::unordered_map<std::string, std::uint32_t> by_client_;
    client_history history_;
    std::map<std::string, reservation> resv_by_mac_;
    std::map<std::uint32_t, std::string> resv_by_ip_;
    std::unordered_map<std::uint32_t, std::size_t> port_leases_; // port -> leases counted against it
    std::uint32_t cursor_;
    bool explain_ = false;
};

} // namespace paddock::dhcp
