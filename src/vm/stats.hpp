// SPDX-License-Identifier: MIT
// CORE: a running VM's resource figures. The driver reads raw counters (QEMU's /proc/<pid>/stat,
// QMP query-blockstats, the virtio-balloon's guest statistics, the TAP's link counters) and hands
// them here; this turns two readings into rates, keeps the last hour in a fixed-size ring and
// parses the raw forms. Pure: no I/O, no clock (times come in).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "base/error.hpp"
#include "base/event_bus.hpp" // stats_point

namespace paddock::vm {

struct disk_counters {
    std::uint64_t rd_bytes = 0, wr_bytes = 0, rd_ops = 0, wr_ops = 0;
};
// The guest's view: rx is what the guest received (the TAP's transmit side).
struct net_counters {
    std::uint64_t rx_bytes = 0, tx_bytes = 0, rx_packets = 0, tx_packets = 0;
};
// What the guest itself reports through virtio-balloon (bytes); absent until it does.
struct guest_memory {
    std::uint64_t total = 0, available = 0;
};

// One reading of a VM's cumulative counters.
struct vm_counters {
    double cpu_s = 0;            // QEMU's user + system CPU time
    std::uint64_t rss_bytes = 0; // QEMU's resident memory
    std::optional<guest_memory> guest;
    std::optional<disk_counters> disk; // every drive together
    std::optional<net_counters> net;
};

// A VM's figures: the last reading and a ring of the points made from the readings.
class vm_stats {
public:
    explicit vm_stats(std::size_t capacity) : cap_(capacity ? capacity : 1) {}

    // A reading taken at `t_ms` of a VM with `cpus` vCPUs that started at `started_s` (unix
    // seconds). Counters that went backwards (a new QEMU) start the rates afresh.
    const stats_point& add(const vm_counters& c, std::int64_t t_ms, int cpus, std::int64_t started_s);
    // Forgets the last reading (QEMU ended): the next one starts the rates afresh; history stays.
    void pause() { last_.reset(); }

    const std::optional<vm_counters>& last() const { return last_; }
    std::size_t size() const { return n_; }
    // Points oldest first.
    template <class F> void each(F&& f) const
    {
        for (std::size_t i = 0; i < n_; ++i)
            f(ring_[(head_ + cap_ - n_ + i) % cap_]);
    }
    const stats_point* newest() const { return n_ ? &ring_[(head_ + cap_ - 1) % cap_] : nullptr; }

private:
    std::size_t cap_;
    std::vector<stats_point> ring_;
    std::size_t head_ = 0, n_ = 0;
    std::optional<vm_counters> last_;
    std::int64_t last_ms_ = 0;
};

// /proc/<pid>/stat: user + system CPU seconds and resident bytes.
struct proc_reading {
    double cpu_s = 0;
    std::uint64_t rss_bytes = 0;
};
result<proc_reading> parse_proc_stat(std::string_view text, long ticks_per_s, long page_bytes);
// query-blockstats' answer: every drive's counters summed.
result<disk_counters> parse_blockstats(const boost::json::value& v);
// qom-get of the balloon's guest-stats: nullopt when the guest has not reported (values -1).
std::optional<guest_memory> parse_balloon_stats(const boost::json::value& v);

} // namespace paddock::vm
