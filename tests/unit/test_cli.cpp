// SPDX-License-Identifier: MIT
// Unit: the `paddock` command line, URLs, and the output formats.
#include <doctest/doctest.h>

#include <boost/json.hpp>

#include "cli/commands.hpp"

using namespace paddock;
using namespace paddock::cli;

namespace {
result<invocation> p(std::vector<std::string> a) { return parse(a); }
} // namespace

TEST_CASE("the command is the longest path the words spell; options anywhere, values after a space or =")
{
    auto r = p({"--url", "https://h:1", "vm", "create", "web1", "--cpus=2", "--memory", "256", "--ssh-key", "a.pub",
                "--ssh-key", "b.pub", "--start"});
    REQUIRE(r.ok());
    CHECK(r->cmd->path == "vm create");
    CHECK(r->args == std::vector<std::string>{"web1"});
    CHECK(r->get("cpus") == "2");
    CHECK(r->get("memory") == "256");
    CHECK(r->get("url") == "https://h:1");
    CHECK(r->opts.at("ssh-key") == std::vector<std::string>{"a.pub", "b.pub"});
    CHECK(r->has("start"));
    auto ls = p({"vm", "ls", "-q", "--json"});
    REQUIRE(ls.ok());
    CHECK(ls->cmd->path == "vm ls");
    CHECK(ls->has("quiet"));
    auto stop = p({"vm", "stop", "a", "b", "--force"});
    REQUIRE(stop.ok());
    CHECK(stop->args.size() == 2);
    auto dash = p({"images", "push", "--", "--odd-file-name"});
    REQUIRE(dash.ok());
    CHECK(dash->args == std::vector<std::string>{"--odd-file-name"});
}

TEST_CASE("bad command lines are refused with the reason")
{
    auto msg = [](std::vector<std::string> a) {
        auto r = parse(a);
        REQUIRE_FALSE(r.ok());
        return r.error().message;
    };
    CHECK(msg({"vm", "ls", "extra"}).find("takes no arguments") != std::string::npos);
    CHECK(msg({"vm", "info"}).find("needs NAME") != std::string::npos);
    CHECK(msg({"vm", "frob"}).find("unknown command `vm frob`") != std::string::npos);
    CHECK(msg({"vm", "ls", "--bogus"}).find("unknown option --bogus") != std::string::npos);
    CHECK(msg({"vm", "ls", "--force"}).find("has no option --force") != std::string::npos);
    CHECK(msg({"vm", "create", "x", "--cpus"}).find("--cpus needs a value") != std::string::npos);
    CHECK(msg({"vm", "ls", "--json=yes"}).find("takes no value") != std::string::npos);
    CHECK(msg({"vm", "create", "x", "--cpus", "1", "--cpus", "2"}).find("given twice") != std::string::npos);
    auto help = parse({"--help"});
    REQUIRE(help.ok());
    CHECK(help->cmd == nullptr);
    auto ch = parse({"vm", "create", "--help"});
    REQUIRE(ch.ok());
    CHECK(ch->help);
    CHECK(command_help(*ch->cmd).find("--user-data FILE") != std::string::npos);
    for (auto& c : commands())
        CHECK(general_help().find(std::string(c.path)) != std::string::npos);
}

TEST_CASE("URLs: scheme, host (name, IPv4, [IPv6]), port")
{
    auto u = parse_url("https://[::1]:8443/");
    REQUIRE(u.ok());
    CHECK(u->tls);
    CHECK(u->host == "::1");
    CHECK(u->port == "8443");
    auto d = parse_url("http://paddock.example");
    REQUIRE(d.ok());
    CHECK(d->port == "80");
    CHECK(parse_url("https://h")->port == "443");
    for (const char* bad : {"ftp://h", "h:80", "http://", "http://h:0", "http://h:70000", "http://h:8a", "http://h/api", "http://[::1"})
        CHECK_FALSE(parse_url(bad).ok());
}

TEST_CASE("output: tables, sizes, durations, progress, API messages")
{
    CHECK(human_bytes(512) == "512 B");
    CHECK(human_bytes(1536) == "1.5 KiB");
    CHECK(human_bytes(48.0 * 1024 * 1024) == "48 MiB");
    CHECK(human_duration(65) == "1m05s");
    CHECK(human_duration(3725) == "1h02m");
    auto vms = boost::json::parse(R"({"vms":[{"name":"web1","state":"running","cpus":2,"memory_mib":512,"ip":"192.168.26.10",
        "autostart":"never","image":"debian"},{"name":"k","state":"stopped","cpus":1,"memory_mib":128,"ip":null,
        "autostart":"restore","kernel":"vmlinuz"}]})");
    const std::string t = vm_table(vms);
    CHECK(t.starts_with("NAME  STATE    CPUS  MEMORY   IP             AUTOSTART  BOOT\n"));
    CHECK(t.find("web1  running  2     512 MiB  192.168.26.10  never      debian\n") != std::string::npos);
    CHECK(t.find("k     stopped  1     128 MiB  -              restore    kernel vmlinuz\n") != std::string::npos);
    const std::string kv = key_values(boost::json::parse(R"({"name":"a","agent":{"version":"7.2"},"boot_order":["disk","cdrom"]})"));
    CHECK(kv.find("agent.version:  7.2") != std::string::npos);
    CHECK(kv.find("boot_order:     disk, cdrom") != std::string::npos);
    const std::string half = progress_line(50 << 20, 100 << 20, 2.0, 100);
    CHECK(half.find(" 50%  50 MiB / 100 MiB  25 MiB/s  ETA 2s") != std::string::npos);
    CHECK(half.starts_with("[####"));
    CHECK(progress_line(100, 100, 1, 80).find("done in 1s") != std::string::npos);
    CHECK(api_message(R"({"error":{"code":"not_found","message":"no VM named \"x\""}})") == "no VM named \"x\"");
    CHECK(api_message("plain text\n") == "plain text");
    CHECK(exit_for_status(404) == exit_not_found);
    CHECK(exit_for_status(409) == exit_conflict);
    CHECK(exit_for_status(400) == exit_api);
    CHECK(exit_for_status(201) == exit_ok);
}

TEST_CASE("vm create's body from its options")
{
    auto inv = parse({"vm", "create", "db", "--image", "debian", "--cpus", "2", "--memory", "1024", "--disk", "20",
                      "--autostart", "always", "--firmware", "uefi"});
    REQUIRE(inv.ok());
    auto b = create_body(*inv);
    REQUIRE(b.ok());
    CHECK(boost::json::serialize(*b) ==
          R"({"name":"db","image":"debian","firmware":"uefi","autostart":"always","cpus":2,"memory_mib":1024,"disk_gib":20})");
    auto bad = parse({"vm", "create", "db", "--cpus", "two"});
    REQUIRE(bad.ok());
    auto e = create_body(*bad);
    REQUIRE_FALSE(e.ok());
    CHECK(e.error().message == "--cpus: \"two\" is not a whole number");
    auto missing = parse({"vm", "create", "db", "--user-data", "/nonexistent/ud"});
    REQUIRE(missing.ok());
    CHECK_FALSE(create_body(*missing).ok());
}

TEST_CASE("forwards on the command line: PROTO/PORT[:GUEST][@ADDR], in vm create and forward add; numbers checked")
{
    auto f = parse_forward_arg("tcp/8080:80");
    REQUIRE(f.ok());
    CHECK(f->proto == "tcp");
    CHECK(f->host_port == "8080");
    CHECK(boost::json::serialize(f->body) == R"({"guest_port":80})");
    f = parse_forward_arg("udp/53@203.0.113.1");
    REQUIRE(f.ok());
    CHECK(boost::json::serialize(f->body) == R"({"listen":"203.0.113.1"})");
    for (const char* bad : {"tcp", "tcp/", "icmp/1", "tcp/0", "tcp/65536", "tcp/80:", "tcp/80:x", "tcp/80@", "tcp/+80", "8080:80"})
        CHECK_MESSAGE(!parse_forward_arg(bad).ok(), bad);

    auto inv = parse({"vm", "create", "web", "--kernel", "k", "--forward", "tcp/8080:80", "--forward", "udp/53@10.0.0.1"});
    REQUIRE(inv.ok());
    auto b = create_body(*inv);
    REQUIRE(b.ok());
    CHECK(boost::json::serialize(b->at("forwards")) ==
          R"([{"guest_port":80,"proto":"tcp","host_port":8080},{"listen":"10.0.0.1","proto":"udp","host_port":53}])");
    auto bad = parse({"vm", "create", "web", "--kernel", "k", "--forward", "tcp:80"});
    REQUIRE(bad.ok());
    CHECK(create_body(*bad).error().message.starts_with("--forward: \"tcp:80\" is not a forward"));
    CHECK(parse({"forward", "add", "web", "tcp/1", "udp/2"}).ok());
    CHECK_FALSE(parse({"forward", "add", "web"}).ok());
    CHECK(forward_table(boost::json::parse(R"({"forwards":[{"proto":"tcp","host_port":8080,"guest_port":80,"listen":"0.0.0.0"}]})"))
              .find("tcp/8080") != std::string::npos);
    CHECK(forward_table(boost::json::parse(R"({"forwards":[]})")) == "no forwards\n");

    CHECK(whole_number("count", "12").value() == 12);
    for (const char* bad_n : {"", "abc", "-1", "1x", " 1", "+1"})
        CHECK_MESSAGE(!whole_number("count", bad_n).ok(), bad_n);
}
