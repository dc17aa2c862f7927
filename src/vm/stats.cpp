// SPDX-License-Identifier: MIT
// CORE: a running VM's resource figures.
#include "vm/stats.hpp"

#include <charconv>
#include <string>

#include <boost/json.hpp>

namespace paddock::vm {
namespace json = boost::json;

namespace {
// Per second over `dt_s`, 0 when a counter went backwards (guarded by the caller) or no time passed.
float rate(std::uint64_t now, std::uint64_t before, double dt_s)
{
    return dt_s > 0 && now >= before ? static_cast<float>(static_cast<double>(now - before) / dt_s) : 0.f;
}
constexpr double mib = 1024.0 * 1024.0;

bool went_back(const vm_counters& a, const vm_counters& b)
{
    if (a.cpu_s < b.cpu_s)
        return true;
    if (a.disk && b.disk && (a.disk->rd_bytes < b.disk->rd_bytes || a.disk->wr_bytes < b.disk->wr_bytes))
        return true;
    return a.net && b.net && (a.net->rx_bytes < b.net->rx_bytes || a.net->tx_bytes < b.net->tx_bytes);
}

std::optional<std::uint64_t> as_u64(const json::value* v)
{
    if (!v)
        return std::nullopt;
    if (v->is_uint64()) // QEMU prints "not reported" (-1) of an unsigned field as 2^64 - 1
        return v->as_uint64() == UINT64_MAX ? std::nullopt : std::optional<std::uint64_t>(v->as_uint64());
    if (v->is_int64() && v->as_int64() >= 0)
        return static_cast<std::uint64_t>(v->as_int64());
    return std::nullopt;
}
} // namespace

const stats_point& vm_stats::add(const vm_counters& c, std::int64_t t_ms, int cpus, std::int64_t started_s)
{
    if (last_ && (went_back(c, *last_) || t_ms <= last_ms_))
        last_.reset();
    stats_point p;
    p.t_ms = t_ms;
    p.uptime_s = started_s > 0 && t_ms / 1000 >= started_s ? t_ms / 1000 - started_s : 0;
    p.rss_mib = static_cast<float>(static_cast<double>(c.rss_bytes) / mib);
    if (c.guest && c.guest->total > 0) {
        p.guest_total_mib = static_cast<float>(static_cast<double>(c.guest->total) / mib);
        const auto used = c.guest->total > c.guest->available ? c.guest->total - c.guest->available : 0;
        p.guest_used_mib = static_cast<float>(static_cast<double>(used) / mib);
    }
    if (last_) {
        const double dt = static_cast<double>(t_ms - last_ms_) / 1000.0;
        p.cpu_pct = static_cast<float>((c.cpu_s - last_->cpu_s) / dt / (cpus > 0 ? cpus : 1) * 100.0);
        if (c.disk && last_->disk) {
            p.disk_rd_bps = rate(c.disk->rd_bytes, last_->disk->rd_bytes, dt);
            p.disk_wr_bps = rate(c.disk->wr_bytes, last_->disk->wr_bytes, dt);
            p.disk_rd_iops = rate(c.disk->rd_ops, last_->disk->rd_ops, dt);
            p.disk_wr_iops = rate(c.disk->wr_ops, last_->disk->wr_ops, dt);
        }
        if (c.net && last_->net) {
            p.net_rx_bps = rate(c.net->rx_bytes, last_->net->rx_bytes, dt);
            p.net_tx_bps = rate(c.net->tx_bytes, last_->net->tx_bytes, dt);
            p.net_rx_pps = rate(c.net->rx_packets, last_->net->rx_packets, dt);
            p.net_tx_pps = rate(c.net->tx_packets, last_->net->tx_packets, dt);
        }
    }
    last_ = c;
    last_ms_ = t_ms;
    if (ring_.empty())
        ring_.reserve(cap_);
    if (ring_.size() < cap_)
        ring_.push_back(p); // grows to its capacity as the first hour fills
    else
        ring_[head_] = p;
    head_ = (head_ + 1) % cap_;
    n_ = std::min(n_ + 1, cap_);
    return *newest();
}

result<proc_reading> parse_proc_stat(std::string_view text, long ticks_per_s, long page_bytes)
{
    // "pid (comm) state f4 f5 ...": comm may hold spaces and parentheses; the fields start after
    // the last ')'. utime and stime are fields 14 and 15, rss (pages) field 24.
    auto close = text.rfind(')');
    if (close == std::string_view::npos || ticks_per_s <= 0 || page_bytes <= 0)
        return fail(errc::invalid_field, "/proc stat: no \"(comm)\"");
    std::string_view rest = text.substr(close + 1);
    std::uint64_t field[25] = {};
    int n = 3; // the first field after ')' is field 3
    std::size_t i = 0;
    while (n <= 24) {
        while (i < rest.size() && rest[i] == ' ')
            ++i;
        std::size_t j = i;
        while (j < rest.size() && rest[j] != ' ' && rest[j] != '\n')
            ++j;
        if (j == i)
            return fail(errc::invalid_field, "/proc stat: only " + std::to_string(n - 1) + " fields");
        if (n >= 14) {
            auto [p, ec] = std::from_chars(rest.data() + i, rest.data() + j, field[n]);
            if (ec != std::errc() || p != rest.data() + j)
                return fail(errc::invalid_field, "/proc stat: field " + std::to_string(n) + " is not a number");
        }
        i = j;
        ++n;
    }
    proc_reading r;
    r.cpu_s = static_cast<double>(field[14] + field[15]) / static_cast<double>(ticks_per_s);
    r.rss_bytes = field[24] * static_cast<std::uint64_t>(page_bytes);
    return r;
}

result<disk_counters> parse_blockstats(const json::value& v)
{
    if (!v.is_array())
        return fail(errc::invalid_field, "query-blockstats: expected an array");
    disk_counters d;
    for (auto& dev : v.as_array()) {
        auto* s = dev.is_object() ? dev.as_object().if_contains("stats") : nullptr;
        if (!s || !s->is_object())
            return fail(errc::invalid_field, "query-blockstats: a device without \"stats\"");
        auto& o = s->as_object();
        auto rb = as_u64(o.if_contains("rd_bytes")), wb = as_u64(o.if_contains("wr_bytes"));
        auto ro = as_u64(o.if_contains("rd_operations")), wo = as_u64(o.if_contains("wr_operations"));
        if (!rb || !wb || !ro || !wo)
            return fail(errc::invalid_field, "query-blockstats: a device's counters are missing");
        d.rd_bytes += *rb;
        d.wr_bytes += *wb;
        d.rd_ops += *ro;
        d.wr_ops += *wo;
    }
    return d;
}

std::optional<guest_memory> parse_balloon_stats(const json::value& v)
{
    auto* stats = v.is_object() ? v.as_object().if_contains("stats") : nullptr;
    if (!stats || !stats->is_object())
        return std::nullopt;
    auto& o = stats->as_object();
    auto total = as_u64(o.if_contains("stat-total-memory")); // -1 (not reported) is no uint
    auto avail = as_u64(o.if_contains("stat-available-memory"));
    if (!avail)
        avail = as_u64(o.if_contains("stat-free-memory")); // kernels before 4.16 report free only
    if (!total || !avail || *total == 0)
        return std::nullopt;
    return guest_memory{*total, std::min(*avail, *total)};
}

} // namespace paddock::vm
