// SPDX-License-Identifier: MIT
// The daemon's internal event bus: typed events with a daemon-wide sequence number, a bounded
// replay buffer, and synchronous subscribers. Pure: no I/O, no clock (the caller passes `now`).
// Modules publish (fabric repairs, leases, VM states); the WebSocket stream will subscribe. An
// event's wire form (SPEC section 5) is serialized once, on first use, and shared by every reader.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <boost/json/object.hpp>

#include "base/port_map.hpp"

namespace paddock {

// Every event the daemon publishes. This is the one declaration: the event stream's type filter
// takes its names from all_event_types, and a unit test holds the OpenAPI document and the
// dashboard to it.
enum class event_type {
    vm_created, vm_state, vm_ip, vm_removed, lease_bound, lease_released, lease_expired, link_changed,
    network_repaired, image_added, image_removed, vm_blocked, vm_stats, vm_forwards,
};
inline constexpr event_type all_event_types[] = {
    event_type::vm_created,     event_type::vm_state,       event_type::vm_ip,         event_type::vm_removed,
    event_type::lease_bound,    event_type::lease_released, event_type::lease_expired, event_type::link_changed,
    event_type::network_repaired, event_type::image_added,  event_type::image_removed, event_type::vm_blocked,
    event_type::vm_stats,       event_type::vm_forwards,
};
// Types a stream carries only when asked for by name (?types=): vm.stats.
bool on_request_only(event_type t);
// "vm.created", "vm.state", ...
const char* to_string(event_type t);

// Payloads: plain data, one struct per kind.
struct vm_state_change {
    std::string state, previous, reason;
};
struct vm_address {
    std::string ip, mac;
};
struct lease_info {
    std::string mac, ip, hostname, vm, client_id, state;
    std::int64_t expires_at = 0;
};
struct repair_report {
    std::vector<std::string> actions;
};
// What a guest's own agent (qemu-guest-agent) says about it.
struct guest_interface {
    std::string name, mac;
    std::vector<std::string> addresses; // "192.168.26.10/24", "fe80::1/64"
    bool operator==(const guest_interface&) const = default;
};
struct guest_filesystem {
    std::string mountpoint, type, device;
    std::uint64_t total_bytes = 0, used_bytes = 0; // 0/0: the agent gave no usage
    bool operator==(const guest_filesystem&) const = default;
};
struct guest_agent_view {
    std::string os_name, os_version, kernel, hostname, agent_version;
    std::vector<guest_interface> interfaces;
    std::vector<guest_filesystem> filesystems;
    std::int64_t updated_at = 0; // unix seconds of the last answer
    bool operator==(const guest_agent_view&) const = default;
};

// A VM's forwards after a change (vm.forwards).
struct forward_list {
    std::vector<port_map> forwards;
};

// A VM as the daemon shows it (GET /api/v1/vms/{name}, vm.created): plain data; only the API
// turns it into JSON (api/vm_json).
struct vm_info {
    std::string name, state, state_reason, mac, ip, tap;
    std::string ipv6;                    // its SLAAC address on the VM /64; empty when IPv6 is off
    std::string accel;                   // of the running QEMU; empty when none ran
    std::string image, kernel, initrd, cmdline; // the boot source: image, or kernel (+ initrd, cmdline)
    std::string cpu_model;                      // as given; empty: the accelerator's default
    std::string firmware = "bios";              // bios | uefi
    std::string autostart = "never";            // never | always | restore
    std::string cdrom;                          // the ISO on its CD-ROM; empty: none
    std::vector<std::string> boot_order;        // in effect
    int cpus = 0, memory_mib = 0, disk_gib = 0; // disk_gib 0: not given
    bool ip_leased = false;
    std::int64_t created_at = 0, started_at = 0; // unix seconds; 0: never (started_at: not running)
    int pid = 0;                                 // 0: no QEMU
    bool cloud_init = false;
    std::size_t user_data_bytes = 0, ssh_keys = 0;
    std::optional<guest_agent_view> agent; // none: no guest agent answers
    std::vector<port_map> forwards;
};
// An image as GET /api/v1/images/{name} shows it (image.added, image.removed).
struct image_view {
    boost::json::object image;
};
// Frames a VM's port sent that the anti-spoofing table dropped since the last report (vm.blocked).
struct blocked_report {
    std::map<std::string, std::uint64_t> dropped; // by reason
    std::uint64_t total = 0;
};
// Fabric links whose presence or state changed (link.changed).
struct link_state {
    std::string name;
    bool present = false, up = false;
};
struct link_report {
    std::vector<link_state> links;
};
// One point of a running VM's figures (vm.stats; GET /api/v1/vms/{name}/stats): rates over the
// time since the point before.
struct stats_point {
    std::int64_t t_ms = 0; // unix milliseconds
    std::int64_t uptime_s = 0;
    float cpu_pct = 0;     // share of the VM's vCPUs: 100 = every vCPU busy all the time
    float rss_mib = 0;     // QEMU's resident memory
    float guest_used_mib = -1, guest_total_mib = -1; // the guest's own view; -1: it reports nothing
    float disk_rd_bps = 0, disk_wr_bps = 0, disk_rd_iops = 0, disk_wr_iops = 0;
    float net_rx_bps = 0, net_tx_bps = 0, net_rx_pps = 0, net_tx_pps = 0; // rx: what the guest received
};
using event_data = std::variant<std::monostate, vm_state_change, vm_address, lease_info, repair_report, vm_info, image_view,
                                blocked_report, link_report, stats_point, forward_list>;

struct event {
    std::uint64_t seq = 0;
    std::chrono::system_clock::time_point time;
    event_type type = event_type::vm_state;
    std::string vm; // empty when the event is not about one VM
    event_data data;
    // The serialized wire form, made by api::wire() on first use.
    mutable std::shared_ptr<const std::string> wire_cache;
};

// A lease as events and GET /api/v1/leases show it.
boost::json::object to_json(const lease_info& l);

class event_bus {
public:
    using subscriber = std::function<void(const event&)>;

    // `first_seq`: the daemon starts it at its start time in microseconds, so seq never goes
    // backwards across restarts and a `since` from an earlier run is recognised as such.
    explicit event_bus(std::size_t retain = 10000, std::uint64_t first_seq = 1) : retain_(retain), first_seq_(first_seq), next_seq_(first_seq) {}

    // Assigns the next sequence number, retains the event and calls every subscriber in order.
    const event& publish(event_type type, std::string vm, event_data data, std::chrono::system_clock::time_point now);
    // A live-only event (vm.stats): subscribers get it now; it is not retained (never replayed)
    // and does not advance seq (it carries the seq of the last event before it).
    void publish_live(event_type type, std::string vm, event_data data, std::chrono::system_clock::time_point now);

    // Returns a token for unsubscribe(). Subscribers must not (un)subscribe from inside a call.
    std::uint64_t subscribe(subscriber s);
    void unsubscribe(std::uint64_t token);

    std::uint64_t last_seq() const { return next_seq_ - 1; }
    // Oldest retained seq (0 when nothing is retained).
    std::uint64_t first_retained() const { return retained_.empty() ? 0 : retained_.front().seq; }
    const std::deque<event>& retained() const { return retained_; }
    std::size_t subscribers() const { return subs_.size(); }
    std::uint64_t published() const { return next_seq_ - first_seq_; }

private:
    std::size_t retain_;
    std::uint64_t first_seq_ = 1;
    std::uint64_t next_seq_ = 1;
    std::deque<event> retained_;
    std::uint64_t next_token_ = 1;
    std::map<std::uint64_t, subscriber> subs_;
};

} // namespace paddock
