// SPDX-License-Identifier: MIT
// DRIVER: the VM registry.
#include "vm/manager.hpp"

#include <cerrno>
#include <cstring>
#include <random>

#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>

#include "base/event_bus.hpp"
#include "base/log.hpp"
#include "base/mac.hpp"
#include "base/time.hpp"
#include "vm/disk.hpp"
#include "vm/host.hpp"
#include "vm/qemu_argv.hpp"

namespace paddock::vm {
namespace asio = boost::asio;
namespace json = boost::json;

namespace {

// (Outside coroutines: g++ 12 cannot keep a `struct stat`, which has an array member, in a frame.)
bool is_regular_file(const std::string& path)
{
    struct stat st{};
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// Argument vectors and aggregates are built outside coroutines: g++ 12 rejects braced lists of
// string literals in coroutine bodies ("array used as initializer").
std::vector<std::pair<std::string, std::string>> boot_images(const spec& s)
{
    return {{"image", s.image}, {"kernel", s.kernel}, {"initrd", s.initrd}};
}

// Claims a name, a TAP and a MAC for as long as it lives. (A class with a constructor, not an
// aggregate: g++ 12 mis-compiles brace-initialised aggregates in coroutine frames.)
class claims {
public:
    claims(std::set<std::string>& names, std::set<std::string>& taps, std::set<std::string>& macs, std::string name,
           std::string tap, std::string mac)
        : names_(names), taps_(taps), macs_(macs), name_(std::move(name)), tap_(std::move(tap)), mac_(std::move(mac))
    {
        names_.insert(name_);
        taps_.insert(tap_);
        macs_.insert(mac_);
    }
    claims(const claims&) = delete;
    ~claims()
    {
        names_.erase(name_);
        taps_.erase(tap_);
        macs_.erase(mac_);
    }

private:
    std::set<std::string>& names_;
    std::set<std::string>& taps_;
    std::set<std::string>& macs_;
    std::string name_, tap_, mac_;
};

} // namespace

manager::manager(asio::any_io_executor ex, manager_config cfg, host& net, store::writer& writer, event_bus& bus)
    : ex_(ex), cfg_(std::move(cfg)), net_(net), bus_(bus), files_(cfg_.console_cap),
      repo_(ex, writer,
            [this](const std::string& name, record& out) {
                auto it = vms_.find(name);
                if (it == vms_.end())
                    return false;
                out = it->second->rec();
                return true;
            })
{
    env_.ex = ex_;
    env_.state_dir = cfg_.state_dir;
    env_.qemu_binary = cfg_.qemu_binary;
    env_.accel = cfg_.accel;
    env_.runas = cfg_.runas;
    env_.metadata_base = cfg_.metadata_base;
    env_.net = &net_;
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

std::size_t manager::running() const
{
    std::size_t n = 0;
    for (auto& [k, v] : vms_)
        n += has_process(v->rec().st) ? 1 : 0;
    return n;
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
        if (s.image == name || s.kernel == name || s.initrd == name)
            return n;
    }
    return {};
}

std::array<std::size_t, all_states.size()> manager::by_state() const
{
    std::array<std::size_t, all_states.size()> n{};
    for (auto& [k, v] : vms_)
        ++n[static_cast<std::size_t>(v->rec().st)];
    return n;
}

status manager::load(const std::vector<store::vm_row>& rows)
{
    for (auto* d : {"/vms", "/images"})
        if (::mkdir((cfg_.state_dir + d).c_str(), 0700) != 0 && errno != EEXIST)
            return fail(errc::store_failed, "create " + cfg_.state_dir + d + ": " + std::strerror(errno));
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
        if (!has_process(vm->rec().st))
            continue;
        // Re-attach to the QEMU that kept running while the daemon was away, in the VM's turn.
        asio::co_spawn(
            ex_,
            [](std::shared_ptr<supervisor> vm) -> asio::awaitable<status> {
                auto t = co_await vm->enter();
                co_return co_await vm->reattach();
            }(vm),
            [name](std::exception_ptr e, status st) {
                if (e)
                    log::error("vm", name, ": re-attach threw");
                else if (!st)
                    log::warn("vm", name, ": ", st.error().message);
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

json::array manager::list() const
{
    json::array out;
    for (auto& [name, vm] : vms_)
        out.push_back(vm->to_json());
    return out;
}

std::shared_ptr<const std::string> manager::list_text()
{
    if (!list_cache_ || list_cache_changes_ != env_.changes) {
        list_cache_ = std::make_shared<const std::string>(json::serialize(json::object{{"vms", list()}}));
        list_cache_changes_ = env_.changes;
    }
    return list_cache_;
}

result<json::object> manager::get(const std::string& name) const
{
    auto it = vms_.find(name);
    if (it == vms_.end())
        return fail(errc::not_found, "no VM named \"" + name + "\"");
    return it->second->to_json();
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

void manager::lease_bound(const std::string& vm, const std::string& mac, const std::string& ip)
{
    auto it = vms_.find(vm);
    if (it != vms_.end() && it->second->rec().mac == mac)
        it->second->lease_bound(ip);
}

asio::awaitable<result<json::object>> manager::create(spec s)
{
    // Everything up to the claims runs without suspending: the checks and the claims are atomic.
    if (vms_.count(s.name) || claimed_names_.count(s.name))
        co_return fail(errc::conflict, "a VM named \"" + s.name + "\" already exists");
    record r;
    r.s = s;
    r.tap = tap_name(s.name);
    if (r.tap == cfg_.bridge)
        co_return fail(errc::conflict, "name: \"" + s.name + "\" maps to TAP " + r.tap + ", the bridge's name");
    for (auto& [n, other] : vms_)
        if (other->rec().tap == r.tap)
            co_return fail(errc::conflict, "name: \"" + s.name + "\" maps to TAP " + r.tap + ", already used by VM " + n);
    if (claimed_taps_.count(r.tap))
        co_return fail(errc::conflict, "name: \"" + s.name + "\" maps to TAP " + r.tap + ", claimed by a VM being created");
    for (const auto& [field, img] : boot_images(s))
        if (!img.empty() && !is_regular_file(cfg_.state_dir + "/images/" + img))
            co_return fail(errc::invalid_field, field + ": no image named \"" + img + "\" in " + cfg_.state_dir + "/images");
    // The MAC: given, or generated; unique among VMs, creates in progress and DHCP clients.
    auto used = [this](const std::string& mac) {
        if (claimed_macs_.count(mac) || net_.mac_in_use(mac))
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
    claims held(claimed_names_, claimed_taps_, claimed_macs_, s.name, r.tap, r.mac);
    co_return co_await create_claimed(std::move(s), std::move(r));
}

asio::awaitable<result<json::object>> manager::create_claimed(spec s, record r)
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
        auto made = co_await make_overlay(ex_, cfg_.state_dir + "/images/" + s.image, dir + "/" + disk_file, s.disk_gib,
                                          dir + "/qemu-img.log");
        if (!made) {
            co_await files_.remove_all(dir);
            co_await net_.release(r.mac);
            co_return fail(errc::invalid_field, "image: cannot make an overlay on \"" + s.image + "\": " + made.error().message);
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
    bus_.publish(event_type::vm_created, s.name, vm_view{vm->to_json()}, std::chrono::system_clock::now());
    if (s.start) {
        auto t = co_await vm->enter();
        auto st = co_await vm->start();
        if (!st)
            log::warn("vm", s.name, ": created, but the start failed: ", st.error().message);
    }
    co_return vm->to_json();
}

asio::awaitable<result<json::object>> manager::act(std::string name, action a, action_options o)
{
    auto it = vms_.find(name);
    if (it == vms_.end())
        co_return fail(errc::not_found, "no VM named \"" + name + "\"");
    auto vm = it->second;
    auto t = co_await vm->enter();
    if (vms_.find(name) == vms_.end() || vms_.at(name) != vm)
        co_return fail(errc::not_found, "no VM named \"" + name + "\" (it was removed meanwhile)");
    status st = ok();
    switch (a) {
    case action::start: st = co_await vm->start(); break;
    case action::stop: st = co_await vm->stop(o.force, o.timeout_s); break;
    case action::restart: st = co_await vm->restart(o.timeout_s); break;
    case action::pause: st = co_await vm->pause(); break;
    case action::resume: st = co_await vm->resume(); break;
    }
    if (!st)
        co_return st.error();
    co_return vm->to_json();
}

asio::awaitable<status> manager::remove(std::string name)
{
    auto it = vms_.find(name);
    if (it == vms_.end())
        co_return fail(errc::not_found, "no VM named \"" + name + "\"");
    auto vm = it->second;
    auto t = co_await vm->enter();
    if (vms_.find(name) == vms_.end() || vms_.at(name) != vm)
        co_return fail(errc::not_found, "no VM named \"" + name + "\" (it was removed meanwhile)");
    if (auto st = co_await vm->end_for_remove(); !st)
        co_return st;
    // The record goes first: a remove that was not kept leaves the VM (stopped), not half of it.
    if (auto st = co_await repo_.erase(name); !st)
        co_return st;
    // The name stays claimed until its files and address are gone.
    const record r = vm->rec();
    vms_.erase(name);
    ++env_.changes;
    claims held(claimed_names_, claimed_taps_, claimed_macs_, name, r.tap, r.mac);
    if (auto st = co_await net_.release(r.mac); !st)
        log::warn("vm", name, ": its reservation stays until the next start: ", st.error().message);
    net_.delete_tap(r.tap); // normally gone with QEMU already
    co_await files_.remove_all(vm_dir(name));
    log::info("vm", name, ": removed");
    bus_.publish(event_type::vm_removed, name, std::monostate{}, std::chrono::system_clock::now());
    co_return ok();
}

} // namespace paddock::vm
