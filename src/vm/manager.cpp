// SPDX-License-Identifier: MIT
// DRIVER: the VM registry.
#include "vm/manager.hpp"

#include "vm/forwards.hpp"

#include <cerrno>
#include <cstring>
#include <random>

#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "base/event_bus.hpp"
#include "base/log.hpp"
#include "base/mac.hpp"
#include "base/time.hpp"
#include "vm/disk.hpp"
#include "vm/host.hpp"
#include "vm/qemu_argv.hpp"

namespace paddock::vm {
namespace asio = boost::asio;

namespace {

// Argument vectors and aggregates are built outside coroutines: g++ 12 rejects braced lists of
// string literals in coroutine bodies ("array used as initializer").
std::vector<std::pair<std::string, std::string>> boot_images(const spec& s)
{
    return {{"image", s.image}, {"kernel", s.kernel}, {"initrd", s.initrd}, {"cdrom", s.cdrom}};
}

} // namespace

// Claims a name, a TAP and a MAC for as long as it lives. (A class with a constructor, not an
// aggregate: g++ 12 mis-compiles brace-initialised aggregates in coroutine frames.)
template <class Sets>
class claims {
public:
    claims(std::shared_ptr<Sets> sets, std::string name, std::string tap, std::string mac)
        : sets_(std::move(sets)), name_(std::move(name)), tap_(std::move(tap)), mac_(std::move(mac))
    {
        sets_->names.insert(name_);
        sets_->taps.insert(tap_);
        sets_->macs.insert(mac_);
    }
    claims(const claims&) = delete;
    ~claims()
    {
        sets_->names.erase(name_);
        sets_->taps.erase(tap_);
        sets_->macs.erase(mac_);
    }

private:
    std::shared_ptr<Sets> sets_;
    std::string name_, tap_, mac_;
};

// A forward being set, visible to other VMs' checks until the change ends.
struct manager::forward_claim {
    forward_claim(std::shared_ptr<claim_sets> sets, std::string vm, port_map f) : sets_(std::move(sets))
    {
        sets_->forwards.emplace_back(std::move(vm), std::move(f));
        entry_ = sets_->forwards.back();
    }
    forward_claim(const forward_claim&) = delete;
    ~forward_claim()
    {
        auto& v = sets_->forwards;
        if (auto it = std::find(v.begin(), v.end(), entry_); it != v.end())
            v.erase(it);
    }

private:
    std::shared_ptr<claim_sets> sets_;
    std::pair<std::string, port_map> entry_;
};

struct manager::in_progress {
    manager& m;
    explicit in_progress(manager& mg) : m(mg) { ++m.ops_; }
    in_progress(const in_progress&) = delete;
    ~in_progress()
    {
        if (--m.ops_ == 0)
            m.idle_.cancel();
    }
};

namespace {
failure closing_failure() { return fail(errc::shutting_down, "the daemon is shutting down; try again once it is back"); }
} // namespace

manager::manager(asio::any_io_executor ex, manager_config cfg, host& net, image_store& images, store::writer& writer,
                 event_bus& bus)
    : ex_(ex), cfg_(std::move(cfg)), net_(net), images_(images), bus_(bus), files_(cfg_.console_cap),
      repo_(ex, writer,
            [this](const std::string& name, record& out) {
                auto it = vms_.find(name);
                if (it == vms_.end())
                    return false;
                out = it->second->rec();
                return true;
            }),
      idle_(ex)
{
    env_.ex = ex_;
    env_.state_dir = cfg_.state_dir;
    env_.qemu_binary = cfg_.qemu_binary;
    env_.accel = cfg_.accel;
    env_.runas = cfg_.runas;
    env_.metadata_base = cfg_.metadata_base;
    env_.seed_disk = cfg_.seed_disk;
    env_.stats_interval_s = cfg_.stats_interval_s;
    env_.prefix6 = cfg_.prefix6;
    env_.net = &net_;
    env_.images = &images_;
    env_.repo = &repo_;
    env_.files = &files_;
    env_.bus = &bus_;
}

manager::~manager() { detach_all(); }

void manager::detach_all()
{
    for (auto& [name, vm] : vms_)
        vm->detach();
}

asio::awaitable<void> manager::shutdown(std::chrono::milliseconds limit)
{
    closing_ = true;
    const auto start = std::chrono::steady_clock::now(), until = start + limit;
    bool interrupted = false;
    while (ops_ > 0 && std::chrono::steady_clock::now() < until) {
        if (!interrupted && std::chrono::steady_clock::now() - start > std::chrono::seconds(2)) {
            // Quick operations had their chance to finish; a stop still waiting for its guest
            // returns now (shutting_down) and the guest goes on stopping by itself.
            interrupted = env_.closing = true;
            for (auto& [name, vm] : vms_)
                vm->interrupt();
        }
        idle_.expires_at(std::min(until, std::chrono::steady_clock::now() + std::chrono::milliseconds(50)));
        co_await idle_.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    if (ops_ > 0)
        log::warn("vm", ops_, " operation(s) still in progress after ", limit.count(), " ms; leaving them");
    detach_all();
}

const record* manager::find(const std::string& name) const
{
    auto it = vms_.find(name);
    return it == vms_.end() ? nullptr : &it->second->rec();
}

std::string manager::name_at(const std::string& ip) const
{
    for (auto& [n, v] : vms_)
        if (v->rec().ip == ip)
            return n;
    return {};
}

std::string manager::image_user(const std::string& name) const
{
    for (auto& [n, v] : vms_) {
        const auto& s = v->rec().s;
        if (s.image == name || s.kernel == name || s.initrd == name || s.cdrom == name)
            return n;
    }
    return {};
}

void manager::report(metric_list& out) const
{
    std::array<std::size_t, all_states.size()> n{};
    for (auto& [k, v] : vms_)
        ++n[static_cast<std::size_t>(v->rec().st)];
    auto& f = out.family("paddock_vms", "gauge", "VMs by state.");
    for (auto st : all_states)
        f.add({{"state", to_string(st)}}, static_cast<double>(n[static_cast<std::size_t>(st)]));

    // Each running VM's totals since its QEMU started (Prometheus takes a drop to a lower value as
    // a counter reset), from the last sample.
    struct family {
        const char* name;
        const char* type;
        const char* help;
        double (*value)(const vm_counters&);
        bool (*present)(const vm_counters&);
    };
    static constexpr auto always = [](const vm_counters&) { return true; };
    static constexpr auto has_disk = [](const vm_counters& c) { return c.disk.has_value(); };
    static constexpr auto has_net = [](const vm_counters& c) { return c.net.has_value(); };
    static constexpr auto has_guest = [](const vm_counters& c) { return c.guest.has_value(); };
    static const family families[] = {
        {"paddock_vm_cpu_seconds_total", "counter", "CPU time of the VM's QEMU (user + system).",
         [](const vm_counters& c) { return c.cpu_s; }, always},
        {"paddock_vm_memory_resident_bytes", "gauge", "Resident memory of the VM's QEMU.",
         [](const vm_counters& c) { return static_cast<double>(c.rss_bytes); }, always},
        {"paddock_vm_guest_memory_total_bytes", "gauge", "Memory the guest sees (its own report, virtio-balloon).",
         [](const vm_counters& c) { return static_cast<double>(c.guest->total); }, has_guest},
        {"paddock_vm_guest_memory_available_bytes", "gauge", "Memory the guest reports available.",
         [](const vm_counters& c) { return static_cast<double>(c.guest->available); }, has_guest},
        {"paddock_vm_disk_read_bytes_total", "counter", "Bytes read from the VM's drives.",
         [](const vm_counters& c) { return static_cast<double>(c.disk->rd_bytes); }, has_disk},
        {"paddock_vm_disk_written_bytes_total", "counter", "Bytes written to the VM's drives.",
         [](const vm_counters& c) { return static_cast<double>(c.disk->wr_bytes); }, has_disk},
        {"paddock_vm_disk_reads_total", "counter", "Read operations on the VM's drives.",
         [](const vm_counters& c) { return static_cast<double>(c.disk->rd_ops); }, has_disk},
        {"paddock_vm_disk_writes_total", "counter", "Write operations on the VM's drives.",
         [](const vm_counters& c) { return static_cast<double>(c.disk->wr_ops); }, has_disk},
        {"paddock_vm_network_receive_bytes_total", "counter", "Bytes the guest received on its port.",
         [](const vm_counters& c) { return static_cast<double>(c.net->rx_bytes); }, has_net},
        {"paddock_vm_network_transmit_bytes_total", "counter", "Bytes the guest sent on its port.",
         [](const vm_counters& c) { return static_cast<double>(c.net->tx_bytes); }, has_net},
        {"paddock_vm_network_receive_packets_total", "counter", "Packets the guest received on its port.",
         [](const vm_counters& c) { return static_cast<double>(c.net->rx_packets); }, has_net},
        {"paddock_vm_network_transmit_packets_total", "counter", "Packets the guest sent on its port.",
         [](const vm_counters& c) { return static_cast<double>(c.net->tx_packets); }, has_net},
    };
    for (auto& fam : families) {
        metric_family* mf = nullptr;
        for (auto& [name, v] : vms_) {
            const auto& last = v->stats().last();
            if (!last || !v->running() || !fam.present(*last))
                continue;
            if (!mf)
                mf = &out.family(fam.name, fam.type, fam.help);
            mf->add({{"vm", name}}, fam.value(*last));
        }
    }
    auto& up = out.family("paddock_vm_uptime_seconds", "gauge", "Seconds since the VM's QEMU started.");
    const auto now = unix_now();
    for (auto& [name, v] : vms_)
        if (v->running() && v->rec().started_at > 0)
            up.add({{"vm", name}}, static_cast<double>(now - v->rec().started_at));
}

void manager::queue_autostart(std::shared_ptr<supervisor> vm)
{
    autostarts_.push_back(std::move(vm));
    next_autostart();
}

// At most `autostart_parallel` starts at once: a host coming back up is not flooded with QEMUs.
void manager::next_autostart()
{
    while (autostarting_ < autostart_parallel && !autostarts_.empty() && !closing_) {
        auto vm = autostarts_.front();
        autostarts_.pop_front();
        ++autostarting_;
        const std::string name = vm->rec().s.name;
        asio::co_spawn(
            ex_,
            [](std::shared_ptr<supervisor> vm) -> asio::awaitable<status> {
                auto t = co_await vm->enter();
                if (vm->running())
                    co_return ok(); // started meanwhile by a request
                co_return co_await vm->start();
            }(vm),
            [this, name, vm](std::exception_ptr e, status st) {
                --autostarting_;
                if (e)
                    log::error("vm", name, ": autostart threw");
                else if (!st)
                    log::warn("vm", name, ": autostart (", vm->rec().s.autostart, ") failed: ", st.error().message);
                else
                    log::info("vm", name, ": started at daemon start (autostart ", vm->rec().s.autostart, ")");
                next_autostart();
            });
    }
}

result<manager::figures> manager::stats(const std::string& name) const
{
    auto it = vms_.find(name);
    if (it == vms_.end())
        return fail(errc::not_found, "no VM named " + name);
    figures f;
    f.running = it->second->running();
    f.points.reserve(it->second->stats().size());
    it->second->stats().each([&](const stats_point& p) { f.points.push_back(p); });
    return f;
}

asio::awaitable<void> manager::sample_all()
{
    std::vector<std::shared_ptr<supervisor>> due;
    for (auto& [n, v] : vms_)
        if (v->running())
            due.push_back(v);
    if (due.empty())
        co_return;
    auto taps = co_await net_.tap_counters();
    if (closing_)
        co_return;
    // One coroutine per VM, started in small groups spread evenly over the first half of the
    // interval: each reads its /proc file and waits on its QMP, so neither the loop nor the QEMUs
    // answering get a burst of every VM at once, while a group shares the loop's wake-ups (one VM
    // at a time costs about twice the CPU). A VM keeps its place in the order, so its network
    // counters (dumped once above) and its own readings are one interval apart each time.
    constexpr std::size_t group = 8;
    const std::size_t groups = (due.size() + group - 1) / group;
    const auto gap = std::chrono::microseconds(cfg_.stats_interval_s * 500'000) / static_cast<int>(groups);
    asio::steady_timer t(ex_);
    for (std::size_t i = 0; i < due.size(); ++i) {
        auto& v = due[i];
        if (closing_)
            co_return;
        std::optional<net_counters> nc;
        if (auto it = taps.find(v->rec().tap); it != taps.end())
            nc = it->second;
        asio::co_spawn(ex_, v->sample(nc), [name = v->rec().s.name](std::exception_ptr e) { log_failure("sampling", name, e); });
        if ((i + 1) % group == 0 && i + 1 < due.size()) {
            t.expires_after(gap);
            co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
        }
    }
}

asio::awaitable<void> manager::sample_loop()
{
    if (cfg_.stats_interval_s <= 0)
        co_return; // sampling is off
    const auto every = std::chrono::seconds(cfg_.stats_interval_s);
    asio::steady_timer t(ex_);
    auto next = std::chrono::steady_clock::now();
    for (;;) {
        next += every;
        const auto now = std::chrono::steady_clock::now();
        if (next < now) // the loop fell behind (a busy worker): no burst of catch-up samples
            next = now + every;
        t.expires_at(next);
        auto [ec] = co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
        if (ec || closing_)
            co_return;
        co_await sample_all();
    }
}

status manager::load(const std::vector<store::vm_row>& rows)
{
    const std::string vms_dir = cfg_.state_dir + "/vms"; // images/ belongs to the image store
    if (::mkdir(vms_dir.c_str(), 0700) != 0 && errno != EEXIST)
        return fail(errc::store_failed, "create " + vms_dir + ": " + std::strerror(errno));
    for (auto& row : rows) {
        auto r = from_row(row);
        if (!r) {
            log::error("vm", "stored VM ", row.name, " has an unreadable spec (", r.error().message, "); skipped");
            continue;
        }
        auto vm = std::make_shared<supervisor>(env_, std::move(*r));
        if (net_.leased(row.name, row.mac))
            vm->lease_bound("");
        vms_[row.name] = vm;
        ++env_.changes;
    }
    for (auto& [name, vm] : vms_) {
        if (!has_process(vm->rec().st)) {
            if (vm->autostart_due(false))
                queue_autostart(vm);
            continue;
        }
        // Re-attach to the QEMU that kept running while the daemon was away, in the VM's turn; one
        // that is gone (a host reboot) is started again when its autostart says so.
        asio::co_spawn(
            ex_,
            [](std::shared_ptr<supervisor> vm) -> asio::awaitable<status> {
                auto t = co_await vm->enter();
                co_return co_await vm->reattach();
            }(vm),
            [this, name, vm](std::exception_ptr e, status st) {
                if (e)
                    log::error("vm", name, ": re-attach threw");
                else if (!st) {
                    log::warn("vm", name, ": ", st.error().message);
                    if (st.error().code == errc::vm_gone && vm->autostart_due(true))
                        queue_autostart(vm);
                }
                else
                    log::info("vm", name, ": re-attached to its running QEMU");
            });
    }
    // A reservation made for a VM that has no record (a crash between the two writes) is dropped.
    for (auto& [mac, vm] : net_.vm_reservations()) {
        auto it = vms_.find(vm);
        if (it != vms_.end() && it->second->rec().mac == mac)
            continue;
        log::warn("vm", "dropping the reservation of ", mac, " for VM ", vm, ", which does not exist");
        asio::co_spawn(ex_, net_.release(mac), [mac](std::exception_ptr, status st) {
            if (!st)
                log::warn("vm", "cannot drop the reservation of ", mac, ": ", st.error().message);
        });
    }
    log::info("vm", "loaded ", vms_.size(), " VM(s)");
    return ok();
}

std::vector<vm_info> manager::list() const
{
    std::vector<vm_info> out;
    out.reserve(vms_.size());
    for (auto& [name, vm] : vms_)
        out.push_back(vm->info());
    return out;
}

result<vm_info> manager::get(const std::string& name) const
{
    auto it = vms_.find(name);
    if (it == vms_.end())
        return fail(errc::not_found, "no VM named \"" + name + "\"");
    return it->second->info();
}

asio::awaitable<result<std::string>> manager::console_log(std::string name)
{
    if (!vms_.count(name))
        co_return fail(errc::not_found, "no VM named \"" + name + "\"");
    co_return co_await files_.read(vm_dir(name) + "/" + console_log_file);
}

result<std::shared_ptr<console_hub>> manager::console(const std::string& name) const
{
    auto it = vms_.find(name);
    if (it == vms_.end())
        return fail(errc::not_found, "no VM named \"" + name + "\"");
    return it->second->console();
}

result<std::string> manager::vnc(const std::string& name) const
{
    auto it = vms_.find(name);
    if (it == vms_.end())
        return fail(errc::not_found, "no VM named \"" + name + "\"");
    return it->second->vnc();
}

void manager::lease_bound(const std::string& vm, const std::string& mac, const std::string& ip)
{
    auto it = vms_.find(vm);
    if (it != vms_.end() && it->second->rec().mac == mac)
        it->second->lease_bound(ip);
}

asio::awaitable<result<vm_info>> manager::create(spec s)
{
    // Everything up to the claims runs without suspending: the checks and the claims are atomic.
    if (closing_)
        co_return closing_failure();
    in_progress op(*this);
    if (vms_.count(s.name) || claimed_->names.count(s.name))
        co_return fail(errc::conflict, "a VM named \"" + s.name + "\" already exists");
    record r;
    r.s = s;
    r.tap = tap_name(s.name);
    if (r.tap == cfg_.bridge)
        co_return fail(errc::conflict, "name: \"" + s.name + "\" maps to TAP " + r.tap + ", the bridge's name");
    for (auto& [n, other] : vms_)
        if (other->rec().tap == r.tap)
            co_return fail(errc::conflict, "name: \"" + s.name + "\" maps to TAP " + r.tap + ", already used by VM " + n);
    if (claimed_->taps.count(r.tap))
        co_return fail(errc::conflict, "name: \"" + s.name + "\" maps to TAP " + r.tap + ", claimed by a VM being created");
    // The images it boots from are pinned until the create ends: a delete meanwhile is a 409.
    std::vector<image_store::pin> pins;
    for (const auto& [field, img] : boot_images(s)) {
        if (img.empty())
            continue;
        auto p = images_.hold(img, s.name, field);
        if (!p)
            co_return p.error();
        pins.push_back(std::move(*p));
    }
    // The MAC: given, or generated; unique among VMs, creates in progress and DHCP clients.
    auto used = [this](const std::string& mac) {
        if (claimed_->macs.count(mac) || net_.mac_in_use(mac))
            return true;
        for (auto& [n, other] : vms_)
            if (other->rec().mac == mac)
                return true;
        return false;
    };
    if (!s.mac.empty()) {
        if (used(s.mac))
            co_return fail(errc::conflict, "mac: " + s.mac + " is already used");
        r.mac = s.mac;
    }
    else {
        std::random_device rd;
        do
            r.mac = make_mac(rd());
        while (used(r.mac));
    }
    for (const auto& f : s.forwards)
        if (auto st = forward_refusal(s.name, f); !st)
            co_return st.error();
    claims held(claimed_, s.name, r.tap, r.mac);
    std::vector<std::unique_ptr<forward_claim>> forwards_held;
    for (const auto& f : s.forwards)
        forwards_held.push_back(std::make_unique<forward_claim>(claimed_, s.name, f));
    co_return co_await create_claimed(std::move(s), std::move(r), std::move(pins));
}

asio::awaitable<result<vm_info>> manager::create_claimed(spec s, record r,
                                                      [[maybe_unused]] std::vector<image_store::pin> pins)
{
    // The address, reserved now: known before the first boot, stable across reboots.
    std::optional<ipv4> want;
    if (!s.ip.empty()) {
        auto a = parse_ipv4(s.ip);
        if (!a)
            co_return fail(errc::invalid_field, "ip: \"" + s.ip + "\" is not an IPv4 address");
        want = *a;
    }
    auto ip = co_await net_.reserve(r.mac, want, s.name);
    if (!ip)
        co_return ip.error();
    r.ip = to_string(*ip);
    const std::string dir = vm_dir(s.name);
    co_await files_.remove_all(dir); // a leftover of a crash between mkdir and the record
    if (::mkdir(dir.c_str(), 0700) != 0) {
        auto f = fail(errc::store_failed, "create " + dir + ": " + std::strerror(errno));
        co_await net_.release(r.mac);
        co_return f;
    }
    if (!s.image.empty()) {
        // A copy-on-write overlay on the image, never a copy; grown to disk_gib when given.
        auto made = co_await make_overlay(ex_, images_.path(s.image), dir + "/" + disk_file, s.disk_gib,
                                          dir + "/qemu-img.log");
        if (!made) {
            co_await files_.remove_all(dir);
            co_await net_.release(r.mac);
            co_return fail(errc::invalid_field, "image: cannot make an overlay on \"" + s.image + "\": " + made.error().message);
        }
    }
    else if (s.disk_gib > 0) {
        // An empty disk to install to (a CD-ROM boot).
        auto made = co_await make_blank(ex_, dir + "/" + disk_file, s.disk_gib, dir + "/qemu-img.log");
        if (!made) {
            co_await files_.remove_all(dir);
            co_await net_.release(r.mac);
            co_return fail(errc::store_failed, "disk_gib: cannot make an empty disk: " + made.error().message);
        }
    }
    r.created_at = unix_now();
    r.reason = "created";
    if (auto st = co_await repo_.insert(r); !st) {
        // Not kept: undo what was made, answer 503.
        co_await files_.remove_all(dir);
        co_await net_.release(r.mac);
        co_return st.error();
    }
    auto vm = std::make_shared<supervisor>(env_, r);
    vms_[s.name] = vm;
    ++env_.changes;
    bus_.publish(event_type::vm_created, s.name, vm->info(), std::chrono::system_clock::now());
    if (!s.forwards.empty())
        if (auto st = co_await apply_forwards(); !st)
            log::error("vm", s.name, ": its port forwards are not in the firewall yet (the next repair retries): ",
                       st.error().message);
    if (s.start) {
        auto t = co_await vm->enter();
        auto st = co_await vm->start();
        if (!st)
            log::warn("vm", s.name, ": created, but the start failed: ", st.error().message);
    }
    co_return vm->info();
}

asio::awaitable<result<manager::held_vm>> manager::take_turn(const std::string& name)
{
    auto it = vms_.find(name);
    if (it == vms_.end())
        co_return fail(errc::not_found, "no VM named \"" + name + "\"");
    auto vm = it->second;
    auto t = co_await vm->enter();
    if (closing_)
        co_return closing_failure();
    if (vms_.find(name) == vms_.end() || vms_.at(name) != vm)
        co_return fail(errc::not_found, "no VM named \"" + name + "\" (it was removed meanwhile)");
    co_return held_vm(std::move(vm), std::move(t));
}

asio::awaitable<result<vm_info>> manager::patch(std::string name, vm_patch p)
{
    if (closing_)
        co_return closing_failure();
    in_progress op(*this);
    auto held = co_await take_turn(name);
    if (!held)
        co_return held.error();
    auto& vm = held->vm;
    if (auto st = vm->patch(p); !st)
        co_return st.error();
    co_return vm->info();
}

asio::awaitable<result<vm_info>> manager::act(std::string name, action a, action_options o)
{
    if (closing_)
        co_return closing_failure();
    in_progress op(*this);
    auto held = co_await take_turn(name);
    if (!held)
        co_return held.error();
    auto& vm = held->vm;
    status st = ok();
    switch (a) {
    case action::start: st = co_await vm->start(); break;
    case action::stop:
        if (o.restore)
            vm->mark_resume(); // recorded before the guest is asked to stop
        st = co_await vm->stop(o.force, o.timeout_s);
        break;
    case action::restart: st = co_await vm->restart(o.timeout_s); break;
    case action::pause: st = co_await vm->pause(); break;
    case action::resume: st = co_await vm->resume(); break;
    }
    if (!st)
        co_return st.error();
    co_return vm->info();
}

asio::awaitable<status> manager::remove(std::string name)
{
    if (closing_)
        co_return closing_failure();
    in_progress op(*this);
    auto mine = co_await take_turn(name);
    if (!mine)
        co_return mine.error();
    auto& vm = mine->vm;
    if (auto st = co_await vm->end_for_remove(); !st)
        co_return st;
    // The record goes first: a remove that was not kept leaves the VM (stopped), not half of it.
    if (auto st = co_await repo_.erase(name); !st)
        co_return st;
    // The name stays claimed until its files and address are gone.
    const record r = vm->rec();
    vms_.erase(name);
    ++env_.changes;
    claims held(claimed_, name, r.tap, r.mac);
    if (auto st = co_await net_.release(r.mac); !st)
        log::warn("vm", name, ": its reservation stays until the next start: ", st.error().message);
    net_.delete_tap(r.tap); // normally gone with QEMU already
    if (!r.s.forwards.empty())
        if (auto st = co_await apply_forwards(); !st)
            log::error("vm", name, ": its port forwards stay in the firewall until the next repair: ", st.error().message);
    co_await files_.remove_all(vm_dir(name));
    log::info("vm", name, ": removed");
    bus_.publish(event_type::vm_removed, name, std::monostate{}, std::chrono::system_clock::now());
    co_return ok();
}

status manager::forward_refusal(const std::string& vm, const port_map& f) const
{
    const std::string what = forward_name(f);
    for (auto& [n, other] : vms_) {
        if (n == vm)
            continue; // its own forward of this port is replaced
        for (auto& o : other->rec().s.forwards)
            if (overlaps(o, f))
                return fail(errc::conflict, what + " is taken: VM " + n + " forwards " + forward_name(o));
    }
    for (auto& [n, o] : claimed_->forwards)
        if (overlaps(o, f) && !(n == vm && o.proto == f.proto && o.host_port == f.host_port))
            return fail(errc::conflict, what + " is taken: VM " + n + " is setting " + forward_name(o));
    if (f.listen != "0.0.0.0" && !net_.local_address(f.listen))
        return fail(errc::invalid_field, "listen: " + f.listen + " is not an address of this host");
    if (auto holder = net_.port_holder(f); !holder.empty())
        return fail(errc::conflict, what + " is taken: " + holder + " listens there");
    return ok();
}

std::vector<forward_target> manager::forward_targets() const
{
    std::vector<forward_target> out;
    for (auto& [n, vm] : vms_)
        for (auto& f : vm->rec().s.forwards)
            out.push_back({f, vm->rec().ip});
    return out;
}

asio::awaitable<status> manager::apply_forwards() { co_return co_await net_.set_forwards(forward_targets()); }

asio::awaitable<status> manager::change_forwards(supervisor& vm, std::vector<port_map> after)
{
    std::vector<port_map> before = vm.rec().s.forwards;
    vm.set_forwards(std::move(after));
    if (auto st = co_await apply_forwards(); !st) {
        vm.set_forwards(std::move(before)); // not in the firewall: the VM keeps what it had
        co_return st;
    }
    bus_.publish(event_type::vm_forwards, vm.rec().s.name, forward_list{vm.rec().s.forwards}, std::chrono::system_clock::now());
    co_return ok();
}

result<std::vector<port_map>> manager::forwards(const std::string& name) const
{
    auto it = vms_.find(name);
    if (it == vms_.end())
        return fail(errc::not_found, "no VM named \"" + name + "\"");
    return it->second->rec().s.forwards;
}

asio::awaitable<result<manager::forward_put>> manager::put_forward(std::string name, port_map f)
{
    // The checks and the claim run before the first suspension: of two VMs asking for one port,
    // the second is refused.
    if (closing_)
        co_return closing_failure();
    in_progress op(*this);
    if (!vms_.count(name))
        co_return fail(errc::not_found, "no VM named \"" + name + "\"");
    if (auto st = forward_refusal(name, f); !st)
        co_return st.error();
    forward_claim claim(claimed_, name, f);
    auto held = co_await take_turn(name);
    if (!held)
        co_return held.error();
    auto& vm = held->vm;
    std::vector<port_map> before = vm->rec().s.forwards, after = before;
    bool created = true;
    for (auto& o : after)
        if (o.proto == f.proto && o.host_port == f.host_port) {
            o = f;
            created = false;
        }
    if (created) {
        if (after.size() >= max_forwards)
            co_return fail(errc::invalid_field, "forwards: " + name + " has " + std::to_string(max_forwards) +
                                                    " forwards, the most a VM can have");
        after.push_back(f);
    }
    if (!created && after == before)
        co_return forward_put(f, false);
    if (auto st = co_await change_forwards(*vm, std::move(after)); !st)
        co_return st.error();
    log::info("vm", name, ": forward ", forward_name(f), " -> port ", f.guest_port, created ? " added" : " changed");
    co_return forward_put(f, created);
}

asio::awaitable<status> manager::delete_forward(std::string name, std::string proto, std::uint16_t host_port)
{
    if (closing_)
        co_return closing_failure();
    in_progress op(*this);
    auto held = co_await take_turn(name);
    if (!held)
        co_return held.error();
    auto& vm = held->vm;
    std::vector<port_map> before = vm->rec().s.forwards, after;
    for (auto& o : before)
        if (!(o.proto == proto && o.host_port == host_port))
            after.push_back(o);
    if (after.size() == before.size())
        co_return fail(errc::not_found, name + " has no forward of " + proto + "/" + std::to_string(host_port));
    if (auto st = co_await change_forwards(*vm, std::move(after)); !st)
        co_return st;
    log::info("vm", name, ": forward ", proto, "/", host_port, " removed");
    co_return ok();
}

} // namespace paddock::vm
