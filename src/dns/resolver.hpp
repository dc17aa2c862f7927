// SPDX-License-Identifier: MIT
// CORE: what the DNS service does with a message, without sockets or a clock of its own.
//  - names under the VMs' domain (`<vm>.paddock.internal`, and a bare `<vm>`) and reverse names in
//    the VM subnet are answered here, authoritatively, from the daemon's directory of VMs;
//  - everything else is answered from the cache or handed back to the driver to forward upstream,
//    whose reply comes back through from_upstream() (checked against the question, cached);
//  - a message that is not a well-formed query is dropped and counted; a client outside the
//    subnet is refused (no open resolver); an opcode other than QUERY gets NOTIMP.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/ipv4.hpp"
#include "base/ipv6.hpp"
#include "dns/cache.hpp"
#include "dns/message.hpp"

namespace paddock::dns {

struct zone_config {
    std::string domain = "paddock.internal";
    cidr subnet{{0xC0A81A00u}, 24};
    std::optional<cidr6> subnet6;      // the VMs' IPv6 /64 (AAAA, ip6.arpa names, clients); none: IPv4 only
    std::vector<cidr> peer_clients;    // other hosts' VM subnets and hosts: answered for our names only
    std::uint32_t local_ttl = 5;       // VMs come and go: keep it short
    std::size_t cache_entries = 4096;
    std::uint32_t max_ttl = 3600;      // ceiling on what the cache keeps a positive answer for
    std::uint32_t max_negative_ttl = 900;
};

// The VMs as the daemon knows them at the moment of the query.
struct directory {
    std::function<std::optional<ipv4>(std::string_view vm)> address_of;
    std::function<std::optional<std::string>(ipv4)> name_of;
    std::function<std::optional<ipv6>(std::string_view vm)> address6_of; // may be empty (no IPv6)
    std::function<std::optional<std::string>(const ipv6&)> name_of6;
};

enum class outcome : std::uint8_t { local, cached, forwarded, failed, refused, notimp, malformed, shed };
inline constexpr std::size_t outcome_count = 8;
const char* to_string(outcome o);

struct step {
    enum class kind { reply, forward, drop };
    kind what = kind::drop;
    bytes out;       // kind::reply: the answer to send
    query q;         // kind::forward: the query, parsed
    std::string key; // kind::forward: its cache key
};

struct upstream_answer {
    std::optional<bytes> out; // the reply for the client; empty when the message answers something else
    bool truncated = false;   // the server set TC: ask it again over TCP when the client can take more
    std::uint8_t rcode = 0;   // the server's; SERVFAIL and REFUSED are worth asking the next server
};

class resolver {
public:
    using time_point = cache::time_point;

    resolver(zone_config cfg, directory dir);

    // A message from `client` over UDP or TCP.
    step handle(view msg, ipv4 client, bool tcp, time_point now);
    // The same from an IPv6 client: answered when it is on the VM /64 or link-local.
    step handle(view msg, const ipv6& client, bool tcp, time_point now);
    // A server's reply to the query `q` (raw bytes `msg`) that handle() said to forward. The driver
    // may ask again (over TCP, or the next server), so the outcome is counted by forwarded().
    upstream_answer from_upstream(view msg, const query& q, const std::string& key, view reply, bool tcp,
                                  time_point now);
    // SERVFAIL for a forwarded query no server answered.
    bytes failed(view msg, const query& q);
    // A forwarded query answered with a server's reply.
    void forwarded() { count(outcome::forwarded); }
    // A query dropped by the driver (too many in flight).
    void shed() { count(outcome::shed); }

    const std::array<std::uint64_t, outcome_count>& counts() const { return counts_; }
    std::size_t cache_size() const { return cache_.size(); }
    const zone_config& config() const { return cfg_; }

private:
    enum class client_kind { own, peer, other };
    step handle_from(view msg, client_kind who, bool tcp, time_point now);
    std::optional<bytes> local(view msg, const query& q);
    bytes zone_reply(view msg, const query& q, std::uint8_t rc, const bytes& zone, const record* answer);
    bytes fit(view msg, const query& q, bytes out, bool tcp) const;
    void count(outcome o) { ++counts_[static_cast<std::size_t>(o)]; }

    zone_config cfg_;
    directory dir_;
    cache cache_;
    bytes zone_wire_, reverse_zone_wire_, reverse_zone6_wire_;
    std::string reverse_zone_;
    std::array<std::uint64_t, outcome_count> counts_{};
};

// The `nameserver` addresses of a resolv.conf text, in order, without repeats.
std::vector<std::string> parse_resolv_conf(std::string_view text);

} // namespace paddock::dns
