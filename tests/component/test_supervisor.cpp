// SPDX-License-Identifier: MIT
// Component: the VM manager and supervisors, driven on a private io_context with a fake host (no
// TAPs, no DHCP server) and a fake QEMU (fake_qemu.py: real processes, real QMP over unix sockets,
// real pidfds). No root, no network. Checks the lifecycle end to end, the stop deadline's
// escalation, an unexpected exit, and concurrency: one VM's operations run one at a time, and
// same-name creates give one VM and one reservation.
#include <doctest/doctest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>

#include <fcntl.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include "base/event_bus.hpp"
#include "component/run_body.hpp"
#include "store/db.hpp"
#include "store/rows.hpp"
#include "api/event_json.hpp"
#include "store/writer.hpp"
#include "vm/images.hpp"
#include "vm/host.hpp"
#include "vm/manager.hpp"

using namespace paddock;
namespace asio = boost::asio;
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

namespace {

// The network as the VMs see it, faked: TAPs are /dev/null, reservations a map; reserve() takes
// `delay` so that racing creates really overlap.
struct fake_host : vm::host {
    asio::any_io_executor ex;
    std::map<std::string, std::pair<ipv4, std::string>> resv; // mac -> (ip, vm)
    std::chrono::milliseconds delay{0};
    int taps = 0;

    explicit fake_host(asio::any_io_executor e) : ex(e) {}
    asio::awaitable<result<int>> open_tap(std::string) override
    {
        ++taps;
        co_return ::open("/dev/null", O_RDWR | O_CLOEXEC);
    }
    void delete_tap(const std::string&) override {}
    asio::awaitable<status> guarded(std::string) override { co_return ok(); }
    bool mac_in_use(const std::string& mac) const override { return resv.count(mac) > 0; }
    asio::awaitable<result<ipv4>> reserve(std::string mac, std::optional<ipv4> ip, std::string vm) override
    {
        asio::steady_timer t(ex, delay);
        co_await t.async_wait(use_tuple);
        ipv4 a = ip ? *ip : ipv4{0xC0A81A0Au + static_cast<std::uint32_t>(resv.size())};
        resv[mac] = {a, vm};
        co_return a;
    }
    asio::awaitable<status> release(std::string mac) override
    {
        resv.erase(mac);
        co_return ok();
    }
    bool leased(const std::string&, const std::string&) const override { return false; }
    std::vector<std::pair<std::string, std::string>> vm_reservations() const override
    {
        std::vector<std::pair<std::string, std::string>> out;
        for (auto& [mac, r] : resv)
            out.emplace_back(mac, r.second);
        return out;
    }
};

vm::manager_config config_for(const fs::path& dir)
{
    vm::manager_config c;
    c.state_dir = dir.string();
    c.qemu_binary = PADDOCK_SOURCE_ROOT "/tests/component/fake_qemu.py";
    c.runas = "";
    return c;
}

struct world {
    fs::path dir;
    asio::io_context ioc{1};
    event_bus bus;
    std::unique_ptr<store::writer> writer;
    fake_host host{ioc.get_executor()};
    std::unique_ptr<vm::image_store> images;
    std::unique_ptr<vm::manager> mgr;
    std::vector<std::string> states; // "name: from -> to (reason)"

    world() : dir(fs::temp_directory_path() / ("paddock-sup-" + std::to_string(::getpid()) + "-" + std::to_string(rand())))
    {
        fs::create_directories(dir / "images");
        std::ofstream(dir / "images" / "k") << "kernel";
        std::ofstream(dir / "images" / "i") << "initrd";
        auto d = store::db::open((dir / "paddock.db").string());
        REQUIRE(d.ok());
        writer = std::make_unique<store::writer>(ioc.get_executor(), std::move(*d));
        images = std::make_unique<vm::image_store>(ioc.get_executor(), (dir / "images").string(), *writer, bus);
        mgr = std::make_unique<vm::manager>(ioc.get_executor(), config_for(dir), host, *images, *writer, bus);
        REQUIRE(mgr->load({}).ok());
        bus.subscribe([this](const event& e) {
            if (auto* s = std::get_if<vm_state_change>(&e.data))
                states.push_back(e.vm + ": " + s->previous + " -> " + s->state + " (" + s->reason + ")");
        });
    }
    ~world()
    {
        ::system(("pkill -9 -f -- '" + dir.string() + "/vms/' 2>/dev/null").c_str());
        mgr.reset();
        images.reset();
        writer.reset();
        fs::remove_all(dir);
    }

    // Runs `body` to completion (background coroutines keep running meanwhile).
    void run(std::function<asio::awaitable<void>()> body) { testing::run_body(ioc, body); }

    std::string state(const std::string& name)
    {
        auto r = mgr->get(name);
        return r ? r->state : "absent";
    }
    int pid(const std::string& name)
    {
        auto r = mgr->get(name);
        return r ? r->pid : 0;
    }
};

vm::spec spec_named(const std::string& name, bool start = false)
{
    vm::spec s;
    s.name = name;
    s.kernel = "k";
    s.initrd = "i";
    s.memory_mib = 128;
    s.start = start;
    return s;
}

asio::awaitable<void> sleep_for(std::chrono::milliseconds d)
{
    asio::steady_timer t(co_await asio::this_coro::executor, d);
    co_await t.async_wait(use_tuple);
}

// Waits (up to 5 s) until the VM's state is `want`.
asio::awaitable<bool> settle(world& w, std::string name, std::string want)
{
    for (int i = 0; i < 500 && w.state(name) != want; ++i)
        co_await sleep_for(10ms);
    co_return w.state(name) == want;
}

bool alive(int pid) { return pid > 0 && ::kill(pid, 0) == 0; }

} // namespace

TEST_CASE("a VM's life through the supervisor: start, pause, resume, graceful and forced stop, remove")
{
    world w;
    // GET /api/v1/vms's cached body is never stale: the list never changes without the change count.
    int cache_checks = 0;
    std::uint64_t seen_changes = ~0ull;
    std::string seen_text;
    w.bus.subscribe([&](const event&) {
        ++cache_checks;
        std::string now = api::vms_text(w.mgr->list());
        if (w.mgr->changes() == seen_changes)
            CHECK(now == seen_text);
        seen_changes = w.mgr->changes();
        seen_text = now;
    });
    w.run([&w]() -> asio::awaitable<void> {
        auto made = co_await w.mgr->create(spec_named("vm1"));
        REQUIRE(made.ok());
        CHECK(w.host.resv.size() == 1);
        auto r = co_await w.mgr->act("vm1", vm::action::start, {});
        REQUIRE_MESSAGE(r.ok(), r.error().message);
        CHECK(w.state("vm1") == "running");
        int pid = w.pid("vm1");
        CHECK(alive(pid));
        CHECK((co_await w.mgr->act("vm1", vm::action::pause, {})).ok());
        CHECK(w.state("vm1") == "paused");
        auto again = co_await w.mgr->act("vm1", vm::action::pause, {});
        REQUIRE_FALSE(again.ok());
        CHECK(again.error().code == errc::invalid_state);
        CHECK((co_await w.mgr->act("vm1", vm::action::resume, {})).ok());
        // Graceful: the fake guest powers off on the ACPI button.
        vm::action_options graceful;
        graceful.timeout_s = 10;
        CHECK((co_await w.mgr->act("vm1", vm::action::stop, graceful)).ok());
        CHECK(w.state("vm1") == "stopped");
        CHECK_FALSE(alive(pid));
        CHECK((co_await w.mgr->act("vm1", vm::action::start, {})).ok());
        vm::action_options force;
        force.force = true;
        CHECK((co_await w.mgr->act("vm1", vm::action::stop, force)).ok());
        CHECK(w.state("vm1") == "stopped");
        auto log = co_await w.mgr->console_log("vm1");
        REQUIRE(log.ok());
        CHECK(log->find("fake console: booted") != std::string::npos);
        CHECK((co_await w.mgr->remove("vm1")).ok());
        CHECK(w.state("vm1") == "absent");
        CHECK(w.host.resv.empty());
        CHECK_FALSE(fs::exists(w.dir / "vms" / "vm1"));
    });
    std::vector<std::string> want{
        "vm1: stopped -> starting (starting (pid ",
        "vm1: starting -> running (started)",
        "vm1: running -> paused (paused)",
        "vm1: paused -> running (resumed)",
        "vm1: running -> stopping (stop requested: ACPI power button, forced after 10 s)",
        "vm1: stopping -> stopped (stopped)",
        "vm1: stopped -> starting (starting (pid ",
        "vm1: starting -> running (started)",
        "vm1: running -> stopping (forced stop)",
        "vm1: stopping -> stopped (stopped)",
    };
    // QMP's own STOP/RESUME events repeat the pause/resume with no change: nothing more is published.
    CHECK(cache_checks >= 12);
    REQUIRE(w.states.size() == want.size());
    for (std::size_t i = 0; i < want.size(); ++i)
        CHECK_MESSAGE(w.states[i].rfind(want[i], 0) == 0, w.states[i]);
    // The removal reached the store: no record is left.
    auto rows = store::load_vms(*store::db::open((w.dir / "paddock.db").string()));
    CHECK(rows->empty());
}

TEST_CASE("a guest that ignores the power button is forced after the deadline")
{
    world w;
    ::setenv("FAKE_QEMU_DEAF", "1", 1);
    w.run([&w]() -> asio::awaitable<void> {
        REQUIRE((co_await w.mgr->create(spec_named("deaf", true))).ok());
        CHECK(w.state("deaf") == "running");
        vm::action_options o;
        o.timeout_s = 1;
        auto t0 = std::chrono::steady_clock::now();
        auto r = co_await w.mgr->act("deaf", vm::action::stop, o);
        CHECK(r.ok());
        CHECK(w.state("deaf") == "stopped");
        // Forced by `quit` once the 1 s deadline passed.
        CHECK(std::chrono::steady_clock::now() - t0 >= 1s);
    });
    ::unsetenv("FAKE_QEMU_DEAF");
}

TEST_CASE("QEMU killed from outside: failed, with the reason, within the exit notification")
{
    world w;
    w.run([&w]() -> asio::awaitable<void> {
        REQUIRE((co_await w.mgr->create(spec_named("victim", true))).ok());
        int pid = w.pid("victim");
        REQUIRE(alive(pid));
        ::kill(pid, SIGKILL);
        CHECK(co_await settle(w, "victim", "failed"));
        auto v = w.mgr->get("victim");
        CHECK(v->state_reason.find("QEMU exited unexpectedly: killed by signal 9") == 0);
        // A failed VM starts again.
        CHECK((co_await w.mgr->act("victim", vm::action::start, {})).ok());
        CHECK(w.state("victim") == "running");
    });
}

TEST_CASE("concurrency: same-name creates give one VM and one reservation; one VM's operations run one at a time")
{
    world w;
    w.host.delay = 30ms; // every create suspends in reserve()
    w.run([&w]() -> asio::awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        auto both = co_await (w.mgr->create(spec_named("twin")) && w.mgr->create(spec_named("twin")));
        auto& a = std::get<0>(both);
        auto& b = std::get<1>(both);
        CHECK(a.ok() != b.ok());
        const auto& lost = a.ok() ? b : a;
        CHECK(lost.error().code == errc::conflict);
        CHECK(w.host.resv.size() == 1);
        // Two starts at once: the first starts it, the second finds it running (409).
        auto starts = co_await (w.mgr->act("twin", vm::action::start, {}) && w.mgr->act("twin", vm::action::start, {}));
        int oks = std::get<0>(starts).ok() + std::get<1>(starts).ok();
        CHECK(oks == 1);
        const auto& refused = std::get<0>(starts).ok() ? std::get<1>(starts) : std::get<0>(starts);
        CHECK(refused.error().code == errc::invalid_state);
        CHECK(w.host.taps == 1); // one QEMU was spawned, not two
        // Stop and start racing: they run in arrival order, so the VM ends up running again.
        vm::action_options force;
        force.force = true;
        auto order = co_await (w.mgr->act("twin", vm::action::stop, force) && w.mgr->act("twin", vm::action::start, {}));
        CHECK(std::get<0>(order).ok());
        CHECK(std::get<1>(order).ok());
        CHECK(w.state("twin") == "running");
        // A remove racing a pause: the pause runs first (or finds the VM gone: 404), never a crash.
        auto rm = co_await (w.mgr->act("twin", vm::action::pause, {}) && w.mgr->remove("twin"));
        CHECK(std::get<1>(rm).ok());
        CHECK(w.state("twin") == "absent");
        CHECK(w.host.resv.empty());
        (void)ex;
    });
}

TEST_CASE("the guest agent: found when its port opens, what it says in the VM's view, its guest-shutdown first on a graceful stop")
{
    world w;
    // A guest deaf to the ACPI button whose agent powers it off: a graceful stop that ends well
    // before the deadline went through the agent.
    ::setenv("FAKE_QEMU_DEAF", "1", 1);
    ::setenv("FAKE_AGENT", "1", 1);
    w.run([&w]() -> asio::awaitable<void> {
        REQUIRE((co_await w.mgr->create(spec_named("ga", true))).ok());
        CHECK(w.state("ga") == "running");
        auto before = w.mgr->get("ga");
        REQUIRE(before.ok());
        for (int i = 0; i < 300 && !w.mgr->get("ga")->agent; ++i)
            co_await sleep_for(10ms);
        auto v = w.mgr->get("ga");
        REQUIRE(v->agent.has_value());
        CHECK(v->agent->os_name == "Fake Linux 1 (test)");
        CHECK(v->agent->kernel == "6.1.0-fake");
        CHECK(v->agent->hostname == "fakehost");
        CHECK(v->agent->agent_version == "7.2.0-fake");
        REQUIRE(v->agent->interfaces.size() == 1); // lo left out
        CHECK(v->agent->interfaces[0].addresses == std::vector<std::string>{"192.168.26.10/24"});
        REQUIRE(v->agent->filesystems.size() == 1);
        CHECK(v->agent->filesystems[0].used_bytes == 1ull << 30);
        auto j = api::to_json(*v);
        CHECK(j.at("agent").at("os").at("name") == "Fake Linux 1 (test)");

        vm::action_options o;
        o.timeout_s = 20;
        auto t0 = std::chrono::steady_clock::now();
        CHECK((co_await w.mgr->act("ga", vm::action::stop, o)).ok());
        CHECK(w.state("ga") == "stopped");
        CHECK(std::chrono::steady_clock::now() - t0 < 5s);
        CHECK_FALSE(w.mgr->get("ga")->agent.has_value());
        CHECK(api::to_json(*w.mgr->get("ga")).at("agent").is_null());
    });
    ::unsetenv("FAKE_AGENT");
    ::unsetenv("FAKE_QEMU_DEAF");
}

TEST_CASE("a running VM's figures: sampled over QMP and /proc, points in the ring, vm.stats published live and not retained")
{
    world w;
    std::vector<stats_point> live;
    w.bus.subscribe([&](const event& e) {
        if (auto* p = std::get_if<stats_point>(&e.data))
            live.push_back(*p);
    });
    w.run([&w, &live]() -> asio::awaitable<void> {
        REQUIRE((co_await w.mgr->create(spec_named("st", true))).ok());
        const auto retained = w.bus.retained().size();
        const auto seq = w.bus.last_seq();
        for (int i = 0; i < 3; ++i) {
            co_await w.mgr->sample_all();
            co_await sleep_for(300ms);
        }
        auto f = w.mgr->stats("st");
        REQUIRE(f.ok());
        CHECK(f->running);
        REQUIRE(f->points.size() == 3);
        CHECK(f->points[2].rss_mib > 1);
        CHECK(f->points[2].guest_total_mib == doctest::Approx(256)); // the fake balloon's report
        CHECK(f->points[2].guest_used_mib == doctest::Approx(56));
        CHECK(f->points[2].disk_rd_iops > 0); // the fake's counters grow with time
        CHECK(live.size() == 3);
        CHECK(w.bus.retained().size() == retained); // live only
        CHECK(w.bus.last_seq() == seq);
        vm::action_options force;
        force.force = true;
        CHECK((co_await w.mgr->act("st", vm::action::stop, force)).ok());
        f = w.mgr->stats("st");
        CHECK_FALSE(f->running);
        CHECK(f->points.size() == 3);
        co_await w.mgr->sample_all();
        CHECK(w.mgr->stats("st")->points.size() == 3); // nothing sampled while stopped
        CHECK_FALSE(w.mgr->stats("nope").ok());
    });
}
