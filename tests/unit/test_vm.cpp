// SPDX-License-Identifier: MIT
// Unit: the VM state machine (every state × every event), API gating, spec validation, names,
// and the QEMU command line against golden files.
#include <doctest/doctest.h>

#include <cstdlib>

#include <csignal>
#include <fstream>
#include <algorithm>
#include <map>
#include <sstream>

#include "vm/image_rules.hpp"
#include "vm/lifecycle.hpp"
#include "vm/nocloud.hpp"
#include "vm/qemu_argv.hpp"
#include "vm/forwards.hpp"
#include "vm/spec.hpp"
#include "base/mac.hpp"

using namespace paddock;
using namespace paddock::vm;

TEST_CASE("the transition table, every state x every event")
{
    using S = state;
    using E = event;
    // Expected next state; rows are states, columns follow all_events' order:
    // spawned, ready_running, ready_paused, start_failed, stop_sent, kill_sent, qmp_stop, qmp_resume,
    // qmp_shutdown, exited_expected, exited
    std::map<S, std::array<S, 11>> table{
        {S::stopped, {S::starting, S::stopped, S::stopped, S::stopped, S::stopped, S::stopped, S::stopped, S::stopped,
                      S::stopped, S::stopped, S::stopped}},
        {S::starting, {S::starting, S::running, S::paused, S::failed, S::stopping, S::stopping, S::starting, S::starting,
                       S::stopping, S::stopped, S::failed}},
        {S::running, {S::running, S::running, S::paused, S::failed, S::stopping, S::stopping, S::paused, S::running,
                      S::stopping, S::stopped, S::failed}},
        {S::paused, {S::paused, S::running, S::paused, S::failed, S::stopping, S::stopping, S::paused, S::running,
                     S::stopping, S::stopped, S::failed}},
        {S::stopping, {S::stopping, S::stopping, S::stopping, S::failed, S::stopping, S::stopping, S::stopping,
                       S::stopping, S::stopping, S::stopped, S::stopped}},
        {S::failed, {S::starting, S::failed, S::failed, S::failed, S::failed, S::failed, S::failed, S::failed, S::failed,
                     S::failed, S::failed}},
    };
    REQUIRE(table.size() == all_states.size());
    for (auto s : all_states)
        for (std::size_t i = 0; i < all_events.size(); ++i) {
            E e = all_events[i];
            CHECK_MESSAGE(next(s, e) == table.at(s)[i], to_string(s), " + ", to_string(e));
        }
}

TEST_CASE("API operations are gated by state and a refusal names the state")
{
    struct row { op o; std::vector<state> ok_in; };
    std::vector<row> rows{
        {op::start, {state::stopped, state::failed}},
        {op::stop, {state::starting, state::running, state::paused}},
        {op::force_stop, {state::starting, state::running, state::paused, state::stopping}},
        {op::restart, {state::running, state::paused}},
        {op::pause, {state::running}},
        {op::resume, {state::paused}},
        {op::remove, {all_states.begin(), all_states.end()}},
    };
    for (auto& r : rows)
        for (auto s : all_states) {
            bool want = std::find(r.ok_in.begin(), r.ok_in.end(), s) != r.ok_in.end();
            auto st = allowed(r.o, s);
            CHECK_MESSAGE(st.ok() == want, to_string(r.o), " in ", to_string(s));
            if (!st.ok()) {
                CHECK(st.error().code == errc::invalid_state);
                CHECK(st.error().message.find(std::string("is ") + to_string(s)) != std::string::npos);
            }
        }
}

TEST_CASE("states round-trip through their names")
{
    for (auto s : all_states) {
        state back;
        REQUIRE(parse_state(to_string(s), back));
        CHECK(back == s);
    }
    state x;
    CHECK_FALSE(parse_state("exploded", x));
}

TEST_CASE("a full spec is read; defaults fill the rest")
{
    auto s = parse_spec(R"({"name":"web-1","cpus":2,"memory_mib":1024,"image":"debian.qcow2","disk_gib":20,
                           "mac":"52:54:00:AA:BB:CC","ip":"192.168.26.40","start":true})");
    REQUIRE(s.ok());
    CHECK(s->name == "web-1");
    CHECK(s->cpus == 2);
    CHECK(s->memory_mib == 1024);
    CHECK(s->disk_gib == 20);
    CHECK(s->mac == "52:54:00:aa:bb:cc");
    CHECK(s->start);
    auto k = parse_spec(R"({"name":"k","kernel":"vmlinuz","initrd":"initrd","cmdline":"quiet"})");
    REQUIRE(k.ok());
    CHECK(k->cpus == 1);
    CHECK(k->memory_mib == 512);
    auto back = parse_spec(spec_to_json(*s));
    REQUIRE(back.ok());
    CHECK(spec_to_json(*back) == spec_to_json(*s));
}

TEST_CASE("bad specs are rejected naming the field")
{
    struct row { const char* body; const char* prefix; };
    row rows[] = {
        {R"({"kernel":"k"})", "name:"},
        {R"({"name":"Web","kernel":"k"})", "name:"},
        {R"({"name":"1web","kernel":"k"})", "name:"},
        {R"({"name":"a-name-that-is-far-too-long-for-paddock","kernel":"k"})", "name:"},
        {R"({"name":"../x","kernel":"k"})", "name:"},
        {R"({"name":"a","kernel":"k","cpus":0})", "cpus:"},
        {R"({"name":"a","kernel":"k","cpus":65})", "cpus:"},
        {R"({"name":"a","kernel":"k","cpus":"2"})", "cpus:"},
        {R"({"name":"a","kernel":"k","memory_mib":32})", "memory_mib:"},
        {R"({"name":"a","kernel":"k","memory_mib":262145})", "memory_mib:"},
        {R"({"name":"a","kernel":"../../etc/shadow"})", "kernel:"},
        {R"({"name":"a","kernel":"/abs"})", "kernel:"},
        {R"({"name":"a","image":".hidden"})", "image:"},
        {R"({"name":"a","image":"i","kernel":"k"})", "image:"},
        {R"({"name":"a"})", "image:"},
        {R"({"name":"a","image":"i","initrd":"r"})", "initrd:"},
        {R"({"name":"a","kernel":"k","disk_gib":10})", "disk_gib:"},
        {R"({"name":"a","kernel":"k","mac":"01:00:5e:00:00:01"})", "mac:"},
        {R"({"name":"a","kernel":"k","mac":"zz"})", "mac:"},
        {R"({"name":"a","kernel":"k","start":"yes"})", "start:"},
        {R"({"name":"a","kernel":"k","colour":"red"})", "colour:"},
        {R"({"name":"a","kernel":"k","cloud_init":[]})", "cloud_init:"},
        {R"({"name":"a","kernel":"k","cloud_init":{"user_data":5}})", "cloud_init.user_data:"},
        {R"({"name":"a","kernel":"k","cloud_init":{"ssh_authorized_keys":["a\nb"]}})", "cloud_init.ssh_authorized_keys:"},
        {R"({"name":"a","kernel":"k","cloud_init":{"vendor":1}})", "cloud_init.vendor:"},
    };
    for (auto& r : rows) {
        auto s = parse_spec(r.body);
        REQUIRE_MESSAGE(!s.ok(), r.body);
        CHECK_MESSAGE(s.error().message.rfind(r.prefix, 0) == 0, r.body, " -> ", s.error().message);
    }
    CHECK(parse_spec("{").error().code == errc::invalid_json);
    CHECK(parse_spec("[]").error().code == errc::invalid_json);
}

TEST_CASE("TAP names fit in 15 bytes and stay distinct for long names with a common prefix")
{
    CHECK(tap_name("web1") == "tap-web1");
    CHECK(tap_name("abcdefghijk") == "tap-abcdefghijk");
    auto a = tap_name("database-primary-1");
    auto b = tap_name("database-primary-2");
    CHECK(a.size() <= 15);
    CHECK(b.size() <= 15);
    CHECK(a != b);
    CHECK(make_mac(0x123456) == "52:54:00:12:34:56");
    CHECK(valid_unicast_mac("52:54:00:12:34:56"));
    CHECK_FALSE(valid_unicast_mac("00:00:00:00:00:00"));
}

namespace {
std::string golden(const char* name)
{
    std::ifstream f(std::string(PADDOCK_SOURCE_ROOT "/tests/fixtures/") + name);
    REQUIRE(f);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}
// PADDOCK_UPDATE_GOLDEN=1 rewrites the golden file from the actual value (then review the diff).
void check_golden(const std::string& actual, const char* name)
{
    if (std::getenv("PADDOCK_UPDATE_GOLDEN")) {
        std::ofstream(std::string(PADDOCK_SOURCE_ROOT "/tests/fixtures/") + name) << actual;
        return;
    }
    CHECK(actual == golden(name));
}
std::string lines(const std::vector<std::string>& argv)
{
    std::string out;
    for (auto& a : argv)
        out += a + "\n";
    return out;
}
} // namespace

TEST_CASE("QEMU argv for direct kernel boot matches the golden file")
{
    auto s = *parse_spec(R"({"name":"vm1","kernel":"k","initrd":"i","cmdline":"quiet panic=-1","memory_mib":256})");
    launch_params p;
    p.vm_dir = "/var/lib/paddock/vms/vm1";
    p.mac = "52:54:00:12:34:56";
    p.kernel_path = "/var/lib/paddock/images/k";
    p.initrd_path = "/var/lib/paddock/images/i";
    p.runas = "nobody";
    check_golden(lines(qemu_argv(s, p)), "qemu_argv_kernel.txt");
}

TEST_CASE("QEMU argv for disk boot with KVM matches the golden file; commas in paths are escaped")
{
    auto s = *parse_spec(R"({"name":"db","image":"debian.qcow2","cpus":4,"memory_mib":4096,"disk_gib":40})");
    launch_params p;
    p.accel = "kvm";
    p.vm_dir = "/srv/pd,1/vms/db";
    p.mac = "52:54:00:00:00:01";
    p.disk_path = "/srv/pd,1/vms/db/disk.qcow2";
    check_golden(lines(qemu_argv(s, p)), "qemu_argv_disk_kvm.txt");
}

TEST_CASE("QEMU argv for an install from an ISO under UEFI, with a seed disk, matches the golden file")
{
    auto s = *parse_spec(R"({"name":"inst","cdrom":"debian-12-netinst.iso","disk_gib":20,"firmware":"uefi",
                            "boot_order":["cdrom","disk","network"]})");
    launch_params p;
    p.vm_dir = "/var/lib/paddock/vms/inst";
    p.mac = "52:54:00:00:00:02";
    p.disk_path = "/var/lib/paddock/vms/inst/disk.qcow2";
    p.cdrom_path = "/var/lib/paddock/images/debian-12-netinst.iso";
    p.seed_disk_path = "/var/lib/paddock/vms/inst/seed.img";
    p.uefi_code = ovmf_code;
    p.uefi_vars = "/var/lib/paddock/vms/inst/uefi-vars.fd";
    check_golden(lines(qemu_argv(s, p)), "qemu_argv_install_uefi.txt");
}

TEST_CASE("the CPU: the accelerator's newest unless the VM names one; names are checked")
{
    launch_params p;
    auto cpu_of = [&](const spec& s) {
        auto a = qemu_argv(s, p);
        auto at = std::find(a.begin(), a.end(), "-cpu");
        REQUIRE(at != a.end());
        CHECK(std::count(a.begin(), a.end(), "-cpu") == 1);
        return *(at + 1);
    };
    auto plain = *parse_spec(R"({"name":"vm1","kernel":"k"})");
    CHECK(cpu_of(plain) == "max"); // TCG: x86-64-v2 and later images boot
    p.accel = "kvm";
    CHECK(cpu_of(plain) == "host");
    auto named = parse_spec(R"({"name":"vm1","kernel":"k","cpu_model":"Skylake-Server-v4"})");
    REQUIRE(named.ok());
    CHECK(cpu_of(*named) == "Skylake-Server-v4");
    CHECK(spec_to_json(*named).find("\"cpu_model\":\"Skylake-Server-v4\"") != std::string::npos);
    CHECK(parse_spec(spec_to_json(*named))->cpu_model == "Skylake-Server-v4"); // stored and read back
    for (const char* bad : {R"({"name":"vm1","kernel":"k","cpu_model":"max,+vmx"})", R"({"name":"vm1","kernel":"k","cpu_model":""})",
                            R"({"name":"vm1","kernel":"k","cpu_model":7})"}) {
        auto r = parse_spec(bad);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().message.rfind("cpu_model", 0) == 0);
    }
}

TEST_CASE("lifecycle: how an exit is reported depends on what the run saw")
{
    SUBCASE("nobody asked: failed, with the wait status and a panic noted")
    {
        lifecycle lc(state::running);
        CHECK_FALSE(lc.on_qmp(qmp_signal::panicked, false, "").has_value());
        auto t = lc.on_exit("killed by signal 9 (Killed)");
        REQUIRE(t);
        CHECK(t->from == state::running);
        CHECK(t->to == state::failed);
        CHECK(t->reason == "QEMU exited unexpectedly: killed by signal 9 (Killed) after a guest panic");
    }
    SUBCASE("the guest powered off: stopped, saying so")
    {
        lifecycle lc(state::running);
        auto t = lc.on_qmp(qmp_signal::shutdown, true, "guest-shutdown");
        REQUIRE(t);
        CHECK(t->to == state::stopping);
        t = lc.on_exit("exit code 0");
        REQUIRE(t);
        CHECK(t->to == state::stopped);
        CHECK(t->reason == "guest powered off (guest-shutdown)");
    }
    SUBCASE("a stop was asked for: stopped")
    {
        lifecycle lc(state::running);
        lc.stop(false, true, 30);
        auto t = lc.on_exit("exit code 0");
        REQUIRE(t);
        CHECK(t->to == state::stopped);
        CHECK(t->reason == "stopped");
    }
    SUBCASE("a new run forgets the previous run's flags")
    {
        lifecycle lc(state::running);
        lc.stop(true, true, 30);
        lc.on_exit("killed by signal 9 (Killed)");
        CHECK(lc.current() == state::stopped);
        lc.spawned("starting");
        lc.on(event::ready_running, "started");
        auto t = lc.on_exit("exit code 1");
        REQUIRE(t);
        CHECK(t->to == state::failed);
    }
    SUBCASE("QEMU gone at re-attach: failed, unless it was stopping")
    {
        lifecycle a(state::running), b(state::stopping);
        CHECK(a.on_gone()->to == state::failed);
        CHECK(b.on_gone()->to == state::stopped);
    }
    SUBCASE("a guest reboot keeps the state and is reported")
    {
        lifecycle lc(state::running);
        auto t = lc.on_qmp(qmp_signal::reset, false, "");
        REQUIRE(t);
        CHECK(t->from == state::running);
        CHECK(t->to == state::running);
        CHECK(t->reason == "guest rebooted");
    }
}

TEST_CASE("lifecycle: stop decides the effects, and the deadline escalates quit, SIGTERM, SIGKILL")
{
    using K = effect::kind;
    SUBCASE("forced: SIGKILL at once")
    {
        lifecycle lc(state::running);
        auto s = lc.stop(true, true, 30);
        REQUIRE(s.t);
        CHECK(s.t->to == state::stopping);
        REQUIRE(s.effects.size() == 1);
        CHECK(s.effects[0].what == K::signal);
        CHECK(s.effects[0].sig == SIGKILL);
    }
    SUBCASE("no QMP: a graceful stop cannot press the button, so it is forced")
    {
        lifecycle lc(state::running);
        auto s = lc.stop(false, false, 30);
        REQUIRE(s.effects.size() == 1);
        CHECK(s.effects[0].sig == SIGKILL);
    }
    SUBCASE("graceful from paused: resume, power button (SIGTERM if refused), deadline")
    {
        lifecycle lc(state::paused);
        auto s = lc.stop(false, true, 12);
        REQUIRE(s.effects.size() == 3);
        CHECK(s.effects[0].what == K::qmp);
        CHECK(s.effects[0].command == "cont");
        CHECK(s.effects[1].command == "system_powerdown");
        CHECK(s.effects[1].sig == SIGTERM);
        CHECK(s.effects[2].what == K::deadline);
        CHECK(s.effects[2].after == std::chrono::seconds(12));
        CHECK(s.effects[2].stage == 1);
        CHECK(s.t->reason == "stop requested: ACPI power button, forced after 12 s");
    }
    SUBCASE("the deadline escalates while QEMU lives, and does nothing once it is gone")
    {
        lifecycle lc(state::running);
        lc.stop(false, true, 5);
        auto d1 = lc.on_deadline(1);
        REQUIRE(d1.effects.size() == 2);
        CHECK(d1.effects[0].command == "quit");
        CHECK(d1.effects[1].stage == 2);
        auto d2 = lc.on_deadline(2);
        CHECK(d2.effects[0].sig == SIGTERM);
        CHECK(d2.effects[1].stage == 3);
        auto d3 = lc.on_deadline(3);
        REQUIRE(d3.effects.size() == 1);
        CHECK(d3.effects[0].sig == SIGKILL);
        lc.on_exit("killed by signal 9 (Killed)");
        CHECK(lc.on_deadline(1).effects.empty());
    }
}

TEST_CASE("lifecycle: what query-status and an unreachable QMP mean")
{
    SUBCASE("a fresh QEMU: running, paused at start, or already shutting down")
    {
        lifecycle a(state::starting), b(state::starting), c(state::starting);
        auto t = a.on_qmp_ready("running", true);
        REQUIRE(t);
        CHECK(t->to == state::running);
        CHECK(t->reason == "started");
        CHECK(b.on_qmp_ready("prelaunch", true)->reason == "started paused");
        CHECK(b.current() == state::paused);
        CHECK(c.on_qmp_ready("shutdown", true)->to == state::stopping);
    }
    SUBCASE("a re-attach to a QEMU in the state on record changes nothing; a failed query changes nothing")
    {
        lifecycle lc(state::running, "started");
        CHECK_FALSE(lc.on_qmp_ready("running", false).has_value());
        CHECK_FALSE(lc.on_qmp_ready("", true).has_value());
        CHECK(lc.on_qmp_ready("paused", false)->to == state::paused); // paused while the daemon was away
    }
    SUBCASE("QMP never answered: a fresh QEMU is killed and the start failed; an adopted one is left alone")
    {
        lifecycle fresh(state::starting), adopted(state::running);
        auto s = fresh.on_qmp_unreachable(true, "no greeting within 20000 ms");
        REQUIRE(s.effects.size() == 1);
        CHECK(s.effects[0].what == effect::kind::signal);
        CHECK(s.effects[0].sig == SIGKILL);
        REQUIRE(s.t);
        CHECK(s.t->to == state::failed);
        CHECK(s.t->reason == "QEMU's QMP did not answer: no greeting within 20000 ms");
        auto none = adopted.on_qmp_unreachable(false, "refused");
        CHECK(none.effects.empty());
        CHECK_FALSE(none.t.has_value());
        CHECK(adopted.current() == state::running);
    }
}

TEST_CASE("cloud_init round-trips through the stored spec, and the NoCloud URL reaches QEMU's SMBIOS serial")
{
    auto s = parse_spec(R"({"name":"web1","image":"deb","cloud_init":{"user_data":"#cloud-config\nruncmd: [true]\n","ssh_authorized_keys":["ssh-ed25519 AAAA k1"]}})");
    REQUIRE(s.ok());
    CHECK(s->ci.given);
    auto again = parse_spec(spec_to_json(*s));
    REQUIRE(again.ok());
    CHECK(again->ci.user_data == "#cloud-config\nruncmd: [true]\n");
    REQUIRE(again->ci.ssh_authorized_keys.size() == 1);
    CHECK(again->ci.ssh_authorized_keys[0] == "ssh-ed25519 AAAA k1");
    launch_params p;
    p.vm_dir = "/v/web1";
    p.disk_path = "/v/web1/disk.qcow2";
    p.nocloud_url = "http://192.168.26.2/vm/web1/";
    auto a = qemu_argv(*s, p);
    auto at = std::find(a.begin(), a.end(), "-smbios");
    REQUIRE(at != a.end());
    CHECK(*(at + 1) == "type=1,serial=ds=nocloud-net;s=http://192.168.26.2/vm/web1/");
}

TEST_CASE("the NoCloud seed answers only its own VM, by address and MAC")
{
    nocloud_vm vm1{"vm1", "192.168.26.10", "52:54:00:00:00:01", "vm1-1764400000", {}};
    vm1.ci.given = true;
    vm1.ci.user_data = "#cloud-config\n# PADDOCK_MARK_x\n";
    vm1.ci.ssh_authorized_keys = {"ssh-ed25519 AAAA \"quoted\" key"};
    auto find = [&](const std::string& n) -> std::optional<nocloud_vm> {
        if (n == "vm1")
            return vm1;
        return std::nullopt;
    };
    auto r = nocloud_answer("GET", "/vm/vm1/meta-data", "192.168.26.10", "52:54:00:00:00:01", find);
    CHECK(r.status == 200);
    CHECK(r.body == "instance-id: \"vm1-1764400000\"\nlocal-hostname: \"vm1\"\npublic-keys:\n  - \"ssh-ed25519 AAAA \\\"quoted\\\" key\"\n");
    CHECK(nocloud_answer("GET", "/vm/vm1/user-data", "192.168.26.10", "", find).body == vm1.ci.user_data);
    CHECK(nocloud_answer("GET", "/vm/vm1/vendor-data", "192.168.26.10", "", find).status == 200);
    CHECK(nocloud_answer("GET", "/vm/vm1/meta-data", "192.168.26.11", "", find).status == 403);                  // another address
    CHECK(nocloud_answer("GET", "/vm/vm1/meta-data", "192.168.26.10", "52:54:00:00:00:02", find).status == 403); // another MAC
    CHECK(nocloud_answer("GET", "/vm/vm2/meta-data", "192.168.26.10", "", find).status == 404);
    CHECK(nocloud_answer("GET", "/vm/vm1/../etc/passwd", "192.168.26.10", "", find).status == 404);
    CHECK(nocloud_answer("POST", "/vm/vm1/meta-data", "192.168.26.10", "", find).status == 405);
    vm1.ci = {};
    CHECK(nocloud_answer("GET", "/vm/vm1/user-data", "192.168.26.10", "", find).body == "#cloud-config\n");
    CHECK(nocloud_answer("GET", "/vm/vm1/meta-data", "192.168.26.10", "", find).body.find("public-keys") == std::string::npos);
}

TEST_CASE("the image store takes qcow2 and raw disks, kernels and initramfs, and nothing that points elsewhere")
{
    const std::string plain = R"({"virtual-size": 16777216, "filename": "/proc/self/fd/3", "format": "qcow2",
        "format-specific": {"type": "qcow2", "data": {"compat": "1.1", "refcount-bits": 16, "corrupt": false}}})";
    auto ok = vm::judge_image(plain, 200704, "QFI\xfb");
    REQUIRE(ok.ok());
    CHECK(ok->kind == "disk");
    CHECK(ok->virtual_size == 16777216);
    // Recorded from `qemu-img create -f qcow2 -o data_file=/tmp/df.raw` (QEMU 7.2).
    const std::string data_file = R"({"virtual-size": 16777216, "filename": "df.qcow2", "cluster-size": 65536,
        "format": "qcow2", "actual-size": 200704, "format-specific": {"type": "qcow2", "data": {"compat": "1.1",
        "compression-type": "zlib", "lazy-refcounts": false, "refcount-bits": 16, "data-file": "/tmp/df.raw",
        "data-file-raw": false, "corrupt": false, "extended-l2": false}}, "dirty-flag": false})";
    auto df = vm::judge_image(data_file, 200704, "QFI\xfb");
    REQUIRE_FALSE(df.ok());
    CHECK(df.error().code == errc::invalid_image);
    CHECK(df.error().message.find("external data file") != std::string::npos);
    const std::string backing = R"({"virtual-size": 16777216, "format": "qcow2", "backing-filename": "/etc/shadow"})";
    CHECK_FALSE(vm::judge_image(backing, 200704, "QFI\xfb").ok());
    CHECK_FALSE(vm::judge_image(R"({"format": "vmdk"})", 4096, "").ok());
    CHECK(vm::judge_image(R"({"format": "raw", "virtual-size": 1048576})", 1048576, std::string(1024, '\0'))->kind == "disk");
    CHECK_FALSE(vm::judge_image(R"({"format": "raw"})", 1000, "hello").ok());
}

TEST_CASE("firmware, cdrom and boot_order: read, checked against what the VM has, stored")
{
    auto s = parse_spec(R"({"name":"inst","cdrom":"netinst.iso","disk_gib":8,"firmware":"uefi","boot_order":["cdrom","disk"]})");
    REQUIRE(s.ok());
    CHECK(s->firmware == "uefi");
    CHECK(s->cdrom == "netinst.iso");
    CHECK(effective_boot_order(*s) == std::vector<std::string>{"cdrom", "disk"});
    auto again = parse_spec(spec_to_json(*s));
    REQUIRE(again.ok());
    CHECK(spec_to_json(*again) == spec_to_json(*s));
    // Defaults: BIOS; disk then CD-ROM, of those the VM has.
    auto d = parse_spec(R"({"name":"d","image":"deb","cdrom":"x.iso"})");
    REQUIRE(d.ok());
    CHECK(d->firmware == "bios");
    CHECK(effective_boot_order(*d) == std::vector<std::string>{"disk", "cdrom"});
    CHECK(spec_to_json(*d).find("firmware") == std::string::npos);
    CHECK(effective_boot_order(*parse_spec(R"({"name":"live","cdrom":"x.iso"})")) == std::vector<std::string>{"cdrom"});
    for (auto [body, field] : std::vector<std::pair<const char*, const char*>>{
             {R"({"name":"a","image":"i","firmware":"efi"})", "firmware"},
             {R"({"name":"a","image":"i","boot_order":["floppy"]})", "boot_order"},
             {R"({"name":"a","image":"i","boot_order":["disk","disk"]})", "boot_order"},
             {R"({"name":"a","image":"i","boot_order":[]})", "boot_order"},
             {R"({"name":"a","image":"i","boot_order":["cdrom"]})", "boot_order"},      // no CD-ROM
             {R"({"name":"a","cdrom":"x.iso","boot_order":["disk"]})", "boot_order"},   // no disk
             {R"({"name":"a","kernel":"k","boot_order":["network"]})", "boot_order"},
             {R"({"name":"a","cdrom":"../x.iso"})", "cdrom"},
             {R"({"name":"a","kernel":"k","disk_gib":4})", "disk_gib"},
             {R"({"name":"a"})", "image"}}) {
        auto r = parse_spec(body);
        CAPTURE(body);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().message.rfind(field, 0) == 0);
    }
}

TEST_CASE("the seed files: network-config matches the VM's MAC; the same files go on the seed disk")
{
    nocloud_vm vm1{"vm1", "192.168.26.10", "52:54:00:00:00:01", "vm1-1-00:00:01", {}};
    auto nc = nocloud_file(vm1, "network-config");
    REQUIRE(nc);
    CHECK(*nc == "version: 2\nethernets:\n  nic0:\n    match:\n      macaddress: \"52:54:00:00:00:01\"\n    dhcp4: true\n");
    auto find = [&](const std::string&) -> std::optional<nocloud_vm> { return vm1; };
    CHECK(nocloud_answer("GET", "/vm/vm1/network-config", "192.168.26.10", "", find).body == *nc);
    auto files = nocloud_files(vm1);
    REQUIRE(files.size() == 4);
    CHECK(files[0].name == "meta-data");
    CHECK(files[0].data == *nocloud_file(vm1, "meta-data"));
    CHECK_FALSE(nocloud_file(vm1, "../../etc/passwd"));
}

TEST_CASE("the FAT seed volume: boot sector, label, long names, contents in place; bad input refused")
{
    auto img = fat_image("cidata", {{"meta-data", "instance-id: x\n"}, {"user-data", std::string(3000, 'u')}, {"empty", ""}});
    REQUIRE(img.ok());
    auto& b = *img;
    REQUIRE(b.size() >= (1u << 20));
    CHECK(b.size() % 512 == 0);
    CHECK(b[510] == 0x55);
    CHECK(b[511] == 0xAA);
    CHECK(std::string(b.begin() + 43, b.begin() + 54) == "CIDATA     ");
    CHECK(std::string(b.begin() + 54, b.begin() + 62) == "FAT12   ");
    const std::string all(b.begin(), b.end());
    CHECK(all.find("instance-id: x\n") != std::string::npos);
    CHECK(all.find(std::string(3000, 'u')) != std::string::npos);
    // "meta-data" as UCS-2 in a long-name entry: m\0e\0t\0a\0-\0 in the first five characters.
    CHECK(all.find(std::string("m\0e\0t\0a\0-\0", 10)) != std::string::npos);
    // The same input gives the same bytes.
    CHECK(*fat_image("cidata", {{"meta-data", "instance-id: x\n"}, {"user-data", std::string(3000, 'u')}, {"empty", ""}}) == b);
    CHECK_FALSE(fat_image("", {}).ok());
    CHECK_FALSE(fat_image("much-too-long-label", {}).ok());
    CHECK_FALSE(fat_image("x", {{"a/b", ""}}).ok());
    CHECK_FALSE(fat_image("x", {{std::string(65, 'n'), ""}}).ok());
    CHECK(fat_image("x", {{"big", std::string(10u << 20, 'b')}}).ok()); // bigger clusters, still FAT12
    CHECK_FALSE(fat_image("x", {{"big", std::string(17u << 20, 'b')}}).ok());
}

TEST_CASE("an ISO 9660 image is kind iso")
{
    std::string head(0x8006, '\0');
    head.replace(0x8001, 5, "CD001");
    auto r = vm::judge_image(R"({"format": "raw", "virtual-size": 4194304})", 4194304, head);
    REQUIRE(r.ok());
    CHECK(r->kind == "iso");
}

#include "vm/stats.hpp"
#include <boost/json/parse.hpp>

TEST_CASE("VM figures: rates from two readings, counters that go back, the ring keeps the newest hour")
{
    vm_stats st(3);
    vm_counters a;
    a.cpu_s = 10;
    a.rss_bytes = 100u << 20;
    a.disk = disk_counters{1000, 2000, 10, 20};
    a.net = net_counters{5000, 6000, 50, 60};
    const auto& p0 = st.add(a, 1'000'000, 2, 990);
    CHECK(p0.cpu_pct == 0); // no reading before: no rates
    CHECK(p0.rss_mib == doctest::Approx(100));
    CHECK(p0.uptime_s == 10);
    CHECK(p0.guest_used_mib == -1);

    vm_counters b = a;
    b.cpu_s = 11;                                 // one CPU-second over 2 s on 2 vCPUs: 25 %
    b.disk = disk_counters{3000, 2000, 14, 20};
    b.net = net_counters{5000 + 2'000'000, 6000, 50 + 2000, 60};
    b.guest = guest_memory{1024u << 20, 768u << 20};
    auto p1 = st.add(b, 1'002'000, 2, 990);
    CHECK(p1.cpu_pct == doctest::Approx(25));
    CHECK(p1.disk_rd_bps == doctest::Approx(1000));
    CHECK(p1.disk_rd_iops == doctest::Approx(2));
    CHECK(p1.disk_wr_bps == 0);
    CHECK(p1.net_rx_bps == doctest::Approx(1'000'000));
    CHECK(p1.net_rx_pps == doctest::Approx(1000));
    CHECK(p1.guest_total_mib == doctest::Approx(1024));
    CHECK(p1.guest_used_mib == doctest::Approx(256));

    vm_counters c; // a new QEMU: counters start again, no negative or huge rate
    c.cpu_s = 0.5;
    c.disk = disk_counters{10, 0, 1, 0};
    auto p2 = st.add(c, 1'004'000, 2, 1003);
    CHECK(p2.cpu_pct == 0);
    CHECK(p2.disk_rd_bps == 0);
    CHECK(p2.net_rx_bps == 0);

    st.add(c, 1'006'000, 2, 1003);
    CHECK(st.size() == 3);
    std::vector<std::int64_t> ts;
    st.each([&](const stats_point& p) { ts.push_back(p.t_ms); });
    CHECK(ts == std::vector<std::int64_t>{1'002'000, 1'004'000, 1'006'000});
    CHECK(st.newest()->t_ms == 1'006'000);

    // A reading at the same time as the last (a clock step) is no rate either.
    st.pause();
    auto p3 = st.add(b, 1'006'000, 2, 990);
    CHECK(p3.cpu_pct == 0);
}

TEST_CASE("VM figures: /proc stat, query-blockstats and the balloon's report are read, bad forms refused")
{
    // comm with spaces and a ')' inside; utime 150, stime 50 ticks; rss 2560 pages.
    std::string stat = "4242 (qemu (vm) 1) S 1 4242 4242 0 -1 4194560 1 0 0 0 150 50 0 0 20 0 5 0 100 1000000 2560 18446744073709551615";
    auto r = parse_proc_stat(stat, 100, 4096);
    REQUIRE(r.ok());
    CHECK(r->cpu_s == doctest::Approx(2.0));
    CHECK(r->rss_bytes == 2560u * 4096u);
    CHECK_FALSE(parse_proc_stat("4242 qemu S 1", 100, 4096).ok());
    CHECK_FALSE(parse_proc_stat("4242 (qemu) S 1 2 3", 100, 4096).ok());
    CHECK_FALSE(parse_proc_stat("4242 (q) S 1 4242 4242 0 -1 4194560 1 0 0 0 x 50 0 0 20 0 5 0 100 1 2", 100, 4096).ok());
    CHECK_FALSE(parse_proc_stat("", 100, 4096).ok());

    auto bs = boost::json::parse(R"([{"device":"","qdev":"disk0","stats":{"rd_bytes":100,"wr_bytes":200,"rd_operations":3,"wr_operations":4}},
                                     {"device":"","qdev":"seed0","stats":{"rd_bytes":1,"wr_bytes":0,"rd_operations":1,"wr_operations":0}}])");
    auto d = parse_blockstats(bs);
    REQUIRE(d.ok());
    CHECK(d->rd_bytes == 101);
    CHECK(d->wr_ops == 4);
    CHECK(parse_blockstats(boost::json::parse("[]"))->rd_bytes == 0);
    CHECK_FALSE(parse_blockstats(boost::json::parse("{}")).ok());
    CHECK_FALSE(parse_blockstats(boost::json::parse(R"([{"stats":{"rd_bytes":-1}}])")).ok());

    auto g = parse_balloon_stats(boost::json::parse(
        R"({"stats":{"stat-total-memory":1073741824,"stat-available-memory":805306368,"stat-free-memory":536870912},"last-update":1})"));
    REQUIRE(g);
    CHECK(g->available == 805306368);
    // Not reported yet: -1 everywhere (QEMU's form before the guest's first report).
    CHECK_FALSE(parse_balloon_stats(boost::json::parse(R"({"stats":{"stat-total-memory":-1,"stat-free-memory":-1},"last-update":0})")));
    CHECK_FALSE(parse_balloon_stats(boost::json::parse(
        R"({"stats":{"stat-total-memory":18446744073709551615,"stat-available-memory":18446744073709551615}})")));
    // An older kernel: free only.
    auto old = parse_balloon_stats(boost::json::parse(R"({"stats":{"stat-total-memory":1000,"stat-free-memory":400,"stat-available-memory":-1}})"));
    REQUIRE(old);
    CHECK(old->available == 400);
    CHECK_FALSE(parse_balloon_stats(boost::json::parse("null")));
}

#include "vm/agent_info.hpp"

TEST_CASE("the guest agent's answers: what they say, bounded; missing or odd fields leave blanks")
{
    guest_agent_view v;
    read_osinfo(boost::json::parse(R"J({"id":"debian","name":"Debian GNU/Linux","pretty-name":"Debian GNU/Linux 12 (bookworm)",
        "version":"12 (bookworm)","version-id":"12","kernel-release":"6.1.0-28-amd64","machine":"x86_64"})J"), v);
    CHECK(v.os_name == "Debian GNU/Linux 12 (bookworm)");
    CHECK(v.os_version == "12 (bookworm)");
    CHECK(v.kernel == "6.1.0-28-amd64");
    read_host_name(boost::json::parse(R"({"host-name":"web1"})"), v);
    CHECK(v.hostname == "web1");
    read_interfaces(boost::json::parse(R"([
        {"name":"lo","hardware-address":"00:00:00:00:00:00","ip-addresses":[{"ip-address-type":"ipv4","ip-address":"127.0.0.1","prefix":8}]},
        {"name":"ens3","hardware-address":"52:54:00:12:34:56","ip-addresses":[
            {"ip-address-type":"ipv4","ip-address":"192.168.26.10","prefix":24},
            {"ip-address-type":"ipv6","ip-address":"fe80::5054:ff:fe12:3456","prefix":64}]},
        {"name":"dummy0"}, 42])"), v);
    REQUIRE(v.interfaces.size() == 1);
    CHECK(v.interfaces[0].mac == "52:54:00:12:34:56");
    CHECK(v.interfaces[0].addresses == std::vector<std::string>{"192.168.26.10/24", "fe80::5054:ff:fe12:3456/64"});
    read_fsinfo(boost::json::parse(R"([
        {"name":"vda1","mountpoint":"/","type":"ext4","used-bytes":1000,"total-bytes":4000,"disk":[]},
        {"name":"vda15","mountpoint":"/boot/efi","type":"vfat","disk":[]},
        {"name":"vda1","mountpoint":"/","type":"ext4","used-bytes":1000,"total-bytes":4000,"disk":[]},
        {"name":"x","type":"tmpfs"}])"), v);
    REQUIRE(v.filesystems.size() == 2);
    CHECK(v.filesystems[0].mountpoint == "/");
    CHECK(v.filesystems[0].total_bytes == 4000);
    CHECK(v.filesystems[1].total_bytes == 0);
    // A guest cannot make the daemon keep lists or strings without end.
    std::string many = "[";
    for (int i = 0; i < 500; ++i)
        many += std::string(i ? "," : "") + R"({"name":"e)" + std::to_string(i) + R"(","ip-addresses":[{"ip-address":"10.0.0.1","prefix":8}]})";
    read_interfaces(boost::json::parse(many + "]"), v);
    CHECK(v.interfaces.size() == 64);
    read_host_name(boost::json::parse(R"({"host-name":")" + std::string(10000, 'a') + R"("})"), v);
    CHECK(v.hostname.size() == 256);
    guest_agent_view blank;
    for (const char* odd : {"null", "[]", "{}", "\"x\"", "{\"name\":5}"}) {
        read_osinfo(boost::json::parse(odd), blank);
        read_interfaces(boost::json::parse(odd), blank);
        read_fsinfo(boost::json::parse(odd), blank);
    }
    CHECK(blank.os_name.empty());
    CHECK(blank.interfaces.empty());
}

TEST_CASE("autostart in the spec, and PATCH bodies: what may change, refusals naming the field")
{
    auto s = parse_spec(R"({"name":"a","kernel":"k","autostart":"restore"})");
    REQUIRE(s.ok());
    CHECK(s->autostart == "restore");
    CHECK(parse_spec(spec_to_json(*s))->autostart == "restore");
    CHECK(parse_spec(R"({"name":"a","kernel":"k"})")->autostart == "never");
    auto bad = parse_spec(R"({"name":"a","kernel":"k","autostart":"sometimes"})");
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().message.rfind("autostart:", 0) == 0);

    auto p = parse_patch(R"({"cpus":2,"memory_mib":1024,"autostart":"always"})");
    REQUIRE(p.ok());
    CHECK(*p->cpus == 2);
    CHECK(*p->memory_mib == 1024);
    CHECK(*p->autostart == "always");
    auto only = parse_patch(R"({"autostart":"never"})");
    REQUIRE(only.ok());
    CHECK_FALSE(only->cpus.has_value());
    for (auto [body, field] : std::vector<std::pair<const char*, const char*>>{
             {R"({"cpus":0})", "cpus:"}, {R"({"memory_mib":32})", "memory_mib:"}, {R"({"name":"b"})", "name:"},
             {R"({"autostart":1})", "autostart:"}, {R"({"image":"x"})", "image:"}}) {
        CAPTURE(body);
        auto r = parse_patch(body);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().message.rfind(field, 0) == 0);
    }
    for (const char* body : {"{}", "[]", "nope", ""}) {
        CAPTURE(body);
        CHECK_FALSE(parse_patch(body).ok());
    }
}

TEST_CASE("port forwards in the spec: defaults, refusals naming the element, kept in the stored JSON")
{
    auto s = parse_spec(R"({"name":"w","kernel":"k","forwards":[{"proto":"tcp","host_port":8080,"guest_port":80},
                                                                  {"proto":"udp","host_port":53,"listen":"203.0.113.1"}]})");
    REQUIRE(s);
    REQUIRE(s->forwards.size() == 2);
    CHECK(s->forwards[0] == port_map{"tcp", 8080, 80, "0.0.0.0"});
    CHECK(s->forwards[1] == port_map{"udp", 53, 53, "203.0.113.1"});
    auto again = parse_spec(spec_to_json(*s));
    REQUIRE(again);
    CHECK(again->forwards == s->forwards);
    CHECK(spec_to_json(*parse_spec(R"({"name":"w","kernel":"k"})")).find("forwards") == std::string::npos);

    auto refused = [](const char* body) {
        auto r = parse_spec(body);
        REQUIRE_FALSE(r);
        return r.error().message;
    };
    CHECK(refused(R"({"name":"w","kernel":"k","forwards":{}})").starts_with("forwards: expected an array"));
    CHECK(refused(R"({"name":"w","kernel":"k","forwards":[{"host_port":1}]})") == "forwards[0].proto: required (\"tcp\" or \"udp\")");
    CHECK(refused(R"({"name":"w","kernel":"k","forwards":[{"proto":"tcp"}]})").starts_with("forwards[0].host_port: required"));
    CHECK(refused(R"({"name":"w","kernel":"k","forwards":[{"proto":"sctp","host_port":1}]})").starts_with("forwards[0].proto:"));
    CHECK(refused(R"({"name":"w","kernel":"k","forwards":[{"proto":"tcp","host_port":1,"colour":1}]})").starts_with("forwards[0].colour: unknown field"));
    CHECK(refused(R"({"name":"w","kernel":"k","forwards":[{"proto":"tcp","host_port":1,"listen":"::1"}]})").starts_with("forwards[0].listen:"));
    CHECK(refused(R"({"name":"w","kernel":"k","forwards":[{"proto":"tcp","host_port":1},{"proto":"tcp","host_port":1,"listen":"10.0.0.1"}]})")
              .starts_with("forwards[1]: tcp/1 on 10.0.0.1 overlaps tcp/1 on 0.0.0.0"));
    CHECK(refused(R"({"name":"w","kernel":"k","forwards":[{"proto":"tcp","host_port":1,"listen":"10.0.0.2"},{"proto":"tcp","host_port":1,"listen":"10.0.0.1"}]})")
              .starts_with("forwards[1]:"));
    CHECK(parse_spec(R"({"name":"w","kernel":"k","forwards":[{"proto":"tcp","host_port":1},{"proto":"udp","host_port":1}]})"));

    // Overlap: same protocol and port, and the same address or either on every address.
    CHECK(overlaps({"tcp", 80, 80, "0.0.0.0"}, {"tcp", 80, 81, "10.0.0.1"}));
    CHECK(overlaps({"tcp", 80, 80, "10.0.0.1"}, {"tcp", 80, 81, "10.0.0.1"}));
    CHECK_FALSE(overlaps({"tcp", 80, 80, "10.0.0.2"}, {"tcp", 80, 80, "10.0.0.1"}));
    CHECK_FALSE(overlaps({"tcp", 80, 80, "0.0.0.0"}, {"udp", 80, 80, "0.0.0.0"}));
    CHECK_FALSE(overlaps({"tcp", 80, 80, "0.0.0.0"}, {"tcp", 81, 80, "0.0.0.0"}));
    CHECK(forward_name({"udp", 53, 5353, "10.0.0.1"}) == "udp/53 on 10.0.0.1");
}
