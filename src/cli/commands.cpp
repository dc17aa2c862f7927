// SPDX-License-Identifier: MIT
// PURE: the `paddock` command line and its output formats.
#include "cli/commands.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <sstream>

#include <boost/json.hpp>

namespace paddock::cli {
namespace json = boost::json;

int exit_for_status(int s)
{
    if (s >= 200 && s < 300)
        return exit_ok;
    if (s == 404)
        return exit_not_found;
    if (s == 409)
        return exit_conflict;
    return exit_api;
}

const std::vector<option_def>& global_options()
{
    static const std::vector<option_def> g{
        {"url", "URL", "the daemon's API (default: PADDOCK_URL, else the listen address in the config)"},
        {"fingerprint", "SHA256", "accept the server's certificate only if its SHA-256 fingerprint is this one "
                                  "(self-signed daemons: paddockd logs it at start)"},
        {"cacert", "FILE", "verify the server's certificate against this CA (PEM) instead of the system's"},
        {"config", "FILE", "the daemon's config, for the default URL and token (default /etc/paddock/paddockd.json)"},
        {"json", "", "print the API's JSON instead of tables"},
        {"timeout", "SECONDS", "give up on the daemon after this long (default 30)"},
        {"help", "", "this help"},
    };
    return g;
}

const std::vector<command_def>& commands()
{
    static const std::vector<command_def> c{
        {"vm ls", "", "list the VMs", {{"quiet", "", "names only, one per line"}}, 0, 0},
        {"vm info", "NAME", "show one VM", {}, 1, 1},
        {"vm create", "NAME", "define a VM (boot an image's disk, or a kernel and initrd)",
         {{"image", "IMAGE", "boot from a copy-on-write disk over this image"},
          {"kernel", "IMAGE", "direct kernel boot from this image"},
          {"initrd", "IMAGE", "its initrd"},
          {"cmdline", "TEXT", "its kernel command line"},
          {"cpus", "N", "virtual CPUs (default 1)"},
          {"memory", "MIB", "memory in MiB (default 512)"},
          {"disk", "GIB", "grow the disk to this size"},
          {"cdrom", "IMAGE", "an ISO image on a CD-ROM drive"},
          {"firmware", "bios|uefi", "the firmware (default bios)"},
          {"mac", "MAC", "a fixed MAC address"},
          {"ip", "ADDR", "a fixed address in the VMs' subnet"},
          {"autostart", "never|always|restore", "what the daemon does with it after a reboot"},
          {"user-data", "FILE", "cloud-init user data for the guest"},
          {"ssh-key", "FILE", "an SSH public key for the guest's default user", true},
          {"forward", "PROTO/PORT[:GUEST][@ADDR]", "forward a host port to it, like tcp/8080:80", true},
          {"start", "", "start it at once"}},
         1, 1},
        {"vm start", "NAME...", "start VMs", {}, 1, 64},
        {"vm stop", "NAME...", "stop VMs: ACPI power button (or the guest agent), forced after the timeout",
         {{"force", "", "power off at once"}, {"stop-timeout", "SECONDS", "how long the guest gets (default 30)"}}, 1, 64},
        {"vm restart", "NAME...", "stop and start VMs", {{"stop-timeout", "SECONDS", "how long the guest gets to stop"}}, 1, 64},
        {"vm pause", "NAME...", "pause VMs", {}, 1, 64},
        {"vm resume", "NAME...", "resume paused VMs", {}, 1, 64},
        {"vm set", "NAME", "change a stopped VM's CPUs or memory, or any VM's autostart",
         {{"cpus", "N", "virtual CPUs"}, {"memory", "MIB", "memory in MiB"},
          {"autostart", "never|always|restore", "what the daemon does with it after a reboot"}},
         1, 1},
        {"vm rm", "NAME...", "remove stopped VMs and their disks", {}, 1, 64},
        {"forward ls", "NAME", "a VM's port forwards", {}, 1, 1},
        {"forward add", "NAME PROTO/PORT[:GUEST][@ADDR]...", "forward host ports to a VM (tcp/8080:80; the guest port "
                                                            "defaults to the host port, the address to every one)", {}, 2, 64},
        {"forward rm", "NAME PROTO/PORT...", "remove a VM's port forwards", {}, 2, 64},
        {"console", "NAME", "the VM's serial console in this terminal (Ctrl-] leaves)", {}, 1, 1},
        {"events", "", "follow the event stream (Ctrl-C ends)",
         {{"since", "SEQ", "replay events after this sequence number first"},
          {"type", "TYPE", "only these types (vm.state, lease.bound, ...; repeat or comma-separate)", true},
          {"vm", "NAME", "only this VM's events"},
          {"count", "N", "exit after N events"}},
         0, 0},
        {"images ls", "", "list the images", {{"quiet", "", "names only, one per line"}}, 0, 0},
        {"images push", "FILE [NAME]", "upload an image (disk, ISO, kernel or initrd); NAME defaults to the file's name",
         {{"progress", "", "show the progress bar even when stdout is not a terminal"}}, 1, 2},
        {"images rm", "NAME...", "remove images no VM uses", {}, 1, 64},
        {"leases", "", "the DHCP leases", {}, 0, 0},
        {"net", "", "the network: subnet, gateway, pool, DNS", {}, 0, 0},
        {"health", "", "the daemon's version, uptime and loop health", {}, 0, 0},
    };
    return c;
}

namespace {

const option_def* find_option(const command_def* c, std::string_view name)
{
    for (auto& o : global_options())
        if (o.name == name)
            return &o;
    if (c)
        for (auto& o : c->options)
            if (o.name == name)
                return &o;
    return nullptr;
}

std::string options_help(const std::vector<option_def>& opts)
{
    std::string out;
    for (auto& o : opts) {
        std::string head = "  --" + std::string(o.name) + (o.value.empty() ? "" : " " + std::string(o.value));
        if (head.size() < 26)
            head.resize(26, ' ');
        else
            head += "\n" + std::string(26, ' ');
        out += head + std::string(o.help) + "\n";
    }
    return out;
}

} // namespace

std::string general_help()
{
    std::string out = "usage: paddock COMMAND [ARGS] [OPTIONS]\n\nCommands:\n";
    for (auto& c : commands()) {
        std::string head = "  " + std::string(c.path) + (c.args.empty() ? "" : " " + std::string(c.args));
        if (head.size() < 30)
            head.resize(30, ' ');
        else
            head += "\n" + std::string(30, ' ');
        out += head + std::string(c.help) + "\n";
    }
    out += "\nOptions for every command:\n" + options_help(global_options());
    out += "\nThe token: PADDOCK_TOKEN, else state_dir/api-token from the config.\n"
           "Exit codes: 0 done, 1 the API refused, 2 bad command line, 3 daemon unreachable,\n"
           "4 not found, 5 conflict (state or name).\n"
           "`paddock COMMAND --help` describes one command.\n";
    return out;
}

std::string command_help(const command_def& c)
{
    std::string out = "usage: paddock " + std::string(c.path) + (c.args.empty() ? "" : " " + std::string(c.args)) +
                      " [OPTIONS]\n\n" + std::string(c.help) + "\n";
    if (!c.options.empty())
        out += "\nOptions:\n" + options_help(c.options);
    out += "\nOptions for every command:\n" + options_help(global_options());
    return out;
}

namespace {

// Option `name` from any command's table (a name means the same in all: a value or a flag).
const option_def* any_option(std::string_view name)
{
    if (auto* o = find_option(nullptr, name))
        return o;
    for (auto& c : commands())
        for (auto& o : c.options)
            if (o.name == name)
                return &o;
    return nullptr;
}

} // namespace

result<invocation> parse(const std::vector<std::string>& argv)
{
    invocation inv;
    std::vector<std::string> words;
    std::vector<std::pair<const option_def*, std::string>> given;
    // Options may come anywhere; a value is the next word or after '='. "--" ends options.
    bool only_words = false;
    for (std::size_t i = 0; i < argv.size(); ++i) {
        const std::string& a = argv[i];
        if (only_words || a.size() < 2 || a[0] != '-') {
            words.push_back(a);
            continue;
        }
        if (a == "--") {
            only_words = true;
            continue;
        }
        std::string name = a == "-h" ? "help" : a == "-q" ? "quiet" : a.starts_with("--") ? a.substr(2) : "";
        if (name.empty())
            return fail(errc::invalid_field, "unknown option " + a);
        std::optional<std::string> value;
        if (auto eq = name.find('='); eq != std::string::npos) {
            value = name.substr(eq + 1);
            name.resize(eq);
        }
        const option_def* o = any_option(name);
        if (!o)
            return fail(errc::invalid_field, "unknown option --" + name + " (paddock --help lists them)");
        if (o->value.empty() && value)
            return fail(errc::invalid_field, "--" + name + " takes no value");
        if (!o->value.empty() && !value) {
            if (i + 1 >= argv.size())
                return fail(errc::invalid_field, "--" + name + " needs a value (" + std::string(o->value) + ")");
            value = argv[++i];
        }
        given.push_back({o, value.value_or("1")});
    }
    // The command: the longest path that the leading words spell.
    const command_def* cmd = nullptr;
    std::size_t path_words = 0;
    for (auto& c : commands()) {
        std::istringstream ps{std::string(c.path)};
        std::vector<std::string> parts;
        for (std::string p; ps >> p;)
            parts.push_back(p);
        if (parts.size() <= words.size() && std::equal(parts.begin(), parts.end(), words.begin()) &&
            parts.size() > path_words) {
            cmd = &c;
            path_words = parts.size();
        }
    }
    for (auto& [o, value] : given) {
        const std::string name(o->name);
        if (cmd && !find_option(cmd, name))
            return fail(errc::invalid_field, "`paddock " + std::string(cmd->path) + "` has no option --" + name);
        if (!o->repeat && inv.opts.contains(name))
            return fail(errc::invalid_field, "--" + name + " given twice");
        inv.opts[name].push_back(value);
    }
    inv.help = inv.has("help");
    if (!cmd) {
        if (words.empty() || inv.help)
            return inv; // the general help
        return fail(errc::invalid_field, "unknown command `" + words.front() + (words.size() > 1 ? " " + words[1] : "") +
                                             "` (paddock --help lists them)");
    }
    inv.cmd = cmd;
    inv.args.assign(words.begin() + static_cast<std::ptrdiff_t>(path_words), words.end());
    if (inv.help)
        return inv;
    if (inv.args.size() < cmd->min_args)
        return fail(errc::invalid_field, "`paddock " + std::string(cmd->path) + "` needs " + std::string(cmd->args));
    if (inv.args.size() > cmd->max_args)
        return fail(errc::invalid_field, "`paddock " + std::string(cmd->path) + "` takes " +
                                             (cmd->max_args == 0 ? std::string("no arguments") : std::string(cmd->args)) +
                                             ", not \"" + inv.args[cmd->max_args] + "\"");
    return inv;
}

result<api_url> parse_url(std::string_view url)
{
    api_url u;
    std::string_view rest;
    if (url.starts_with("https://")) {
        u.tls = true;
        rest = url.substr(8);
    }
    else if (url.starts_with("http://"))
        rest = url.substr(7);
    else
        return fail(errc::invalid_field, "--url " + std::string(url) + ": must start with http:// or https://");
    while (rest.ends_with('/'))
        rest.remove_suffix(1);
    if (rest.find('/') != std::string_view::npos)
        return fail(errc::invalid_field, "--url " + std::string(url) + ": no path, only the scheme, host and port");
    std::string_view port;
    if (rest.starts_with('[')) {
        auto close = rest.find(']');
        if (close == std::string_view::npos)
            return fail(errc::invalid_field, "--url " + std::string(url) + ": unclosed [");
        u.host = std::string(rest.substr(1, close - 1));
        rest = rest.substr(close + 1);
        if (!rest.empty() && !rest.starts_with(':'))
            return fail(errc::invalid_field, "--url " + std::string(url) + ": expected :PORT after ]");
        port = rest.empty() ? "" : rest.substr(1);
    }
    else if (auto colon = rest.rfind(':'); colon != std::string_view::npos) {
        u.host = std::string(rest.substr(0, colon));
        port = rest.substr(colon + 1);
    }
    else
        u.host = std::string(rest);
    if (u.host.empty())
        return fail(errc::invalid_field, "--url " + std::string(url) + ": no host");
    if (port.empty())
        u.port = u.tls ? "443" : "80";
    else {
        unsigned long n = 0;
        for (char c : port) {
            if (c < '0' || c > '9' || n > 65535)
                return fail(errc::invalid_field, "--url " + std::string(url) + ": bad port");
            n = n * 10 + static_cast<unsigned long>(c - '0');
        }
        if (n == 0 || n > 65535)
            return fail(errc::invalid_field, "--url " + std::string(url) + ": bad port");
        u.port = std::string(port);
    }
    return u;
}

std::string human_bytes(double b)
{
    static const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (b >= 1024 && u < 4) {
        b /= 1024;
        ++u;
    }
    char buf[32];
    if (u == 0)
        std::snprintf(buf, sizeof buf, "%.0f B", b);
    else
        std::snprintf(buf, sizeof buf, b < 10 ? "%.1f %s" : "%.0f %s", b, units[u]);
    return buf;
}

std::string human_duration(double s)
{
    if (!std::isfinite(s) || s < 0)
        return "?";
    auto t = static_cast<long long>(std::llround(s));
    char buf[32];
    if (t < 60)
        std::snprintf(buf, sizeof buf, "%llds", t);
    else if (t < 3600)
        std::snprintf(buf, sizeof buf, "%lldm%02llds", t / 60, t % 60);
    else
        std::snprintf(buf, sizeof buf, "%lldh%02lldm", t / 3600, (t % 3600) / 60);
    return buf;
}

namespace {

std::string text_of(const json::value* v)
{
    if (!v || v->is_null())
        return "-";
    if (v->is_string())
        return v->get_string().empty() ? "-" : std::string(v->get_string());
    if (v->is_bool())
        return v->get_bool() ? "yes" : "no";
    return json::serialize(*v);
}

const json::value* field(const json::value& o, std::string_view k)
{
    return o.is_object() ? o.get_object().if_contains(k) : nullptr;
}

// Columns padded to their widest cell; the last one is not padded.
std::string table(const std::vector<std::vector<std::string>>& rows)
{
    std::vector<std::size_t> w;
    for (auto& r : rows)
        for (std::size_t i = 0; i < r.size(); ++i) {
            if (w.size() <= i)
                w.push_back(0);
            w[i] = std::max(w[i], r[i].size());
        }
    std::string out;
    for (auto& r : rows) {
        std::string line;
        for (std::size_t i = 0; i < r.size(); ++i) {
            line += r[i];
            if (i + 1 < r.size())
                line += std::string(w[i] - r[i].size() + 2, ' ');
        }
        out += line + "\n";
    }
    return out;
}

const json::array* list_in(const json::value& v, std::string_view key)
{
    if (v.is_array())
        return &v.get_array();
    if (auto* a = field(v, key); a && a->is_array())
        return &a->get_array();
    return nullptr;
}

std::string local_time(const json::value* v)
{
    // RFC 3339 strings pass through, shortened to the minute's second.
    std::string s = text_of(v);
    if (s.size() >= 19 && s[10] == 'T')
        return s.substr(0, 10) + " " + s.substr(11, 8);
    return s;
}

} // namespace

std::string vm_table(const json::value& v)
{
    std::vector<std::vector<std::string>> rows{{"NAME", "STATE", "CPUS", "MEMORY", "IP", "AUTOSTART", "BOOT"}};
    if (auto* a = list_in(v, "vms"))
        for (auto& vm : *a) {
            std::string boot = text_of(field(vm, "image"));
            if (boot == "-" && field(vm, "kernel"))
                boot = "kernel " + text_of(field(vm, "kernel"));
            std::string mem = "-";
            if (auto* m = field(vm, "memory_mib"); m && m->is_number())
                mem = human_bytes(m->to_number<double>() * 1024 * 1024);
            rows.push_back({text_of(field(vm, "name")), text_of(field(vm, "state")), text_of(field(vm, "cpus")), mem,
                            text_of(field(vm, "ip")), text_of(field(vm, "autostart")), boot});
        }
    return table(rows);
}

std::string image_table(const json::value& v)
{
    std::vector<std::vector<std::string>> rows{{"NAME", "KIND", "FORMAT", "SIZE", "VIRTUAL", "ADDED"}};
    if (auto* a = list_in(v, "images"))
        for (auto& im : *a) {
            auto size = [&](std::string_view k) {
                auto* s = field(im, k);
                return s && s->is_number() ? human_bytes(s->to_number<double>()) : std::string("-");
            };
            rows.push_back({text_of(field(im, "name")), text_of(field(im, "kind")), text_of(field(im, "format")),
                            size("size"), size("virtual_size"), local_time(field(im, "added_at"))});
        }
    return table(rows);
}

std::string lease_table(const json::value& v)
{
    std::vector<std::vector<std::string>> rows{{"IP", "MAC", "VM", "HOSTNAME", "STATE", "EXPIRES"}};
    if (auto* a = list_in(v, "leases"))
        for (auto& l : *a)
            rows.push_back({text_of(field(l, "ip")), text_of(field(l, "mac")), text_of(field(l, "vm")),
                            text_of(field(l, "hostname")), text_of(field(l, "state")), local_time(field(l, "expires_at"))});
    return table(rows);
}

namespace {

void flatten(const json::value& v, const std::string& prefix, std::vector<std::vector<std::string>>& rows)
{
    if (v.is_object() && !v.get_object().empty()) {
        for (auto& [k, x] : v.get_object())
            flatten(x, prefix.empty() ? std::string(k) : prefix + "." + std::string(k), rows);
        return;
    }
    if (v.is_array()) {
        bool scalars = std::all_of(v.get_array().begin(), v.get_array().end(),
                                   [](const json::value& x) { return !x.is_object() && !x.is_array(); });
        if (scalars) {
            std::string joined;
            for (auto& x : v.get_array())
                joined += (joined.empty() ? "" : ", ") + text_of(&x);
            rows.push_back({prefix + ":", joined.empty() ? "-" : joined});
            return;
        }
        for (std::size_t i = 0; i < v.get_array().size(); ++i)
            flatten(v.get_array()[i], prefix + "." + std::to_string(i), rows);
        return;
    }
    rows.push_back({prefix + ":", text_of(&v)});
}

} // namespace

std::string key_values(const json::value& v)
{
    std::vector<std::vector<std::string>> rows;
    flatten(v, "", rows);
    return table(rows);
}

std::string event_line(const json::value& e)
{
    std::string data = "";
    if (auto* d = field(e, "data"); d && !(d->is_object() && d->get_object().empty()))
        data = " " + json::serialize(*d);
    std::string vm = text_of(field(e, "vm"));
    return text_of(field(e, "seq")) + " " + local_time(field(e, "time")) + " " + text_of(field(e, "type")) +
           (vm == "-" ? "" : " " + vm) + data;
}

std::string progress_line(std::uint64_t done, std::uint64_t total, double seconds, std::size_t width)
{
    const double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0;
    const double frac = total ? std::min(1.0, static_cast<double>(done) / static_cast<double>(total)) : 1.0;
    char pct[8];
    std::snprintf(pct, sizeof pct, "%3.0f%%", frac * 100);
    std::string tail = std::string(" ") + pct + "  " + human_bytes(static_cast<double>(done)) + " / " +
                       human_bytes(static_cast<double>(total)) + "  " + human_bytes(rate) + "/s  ";
    tail += done >= total ? "done in " + human_duration(seconds)
                          : "ETA " + (rate > 0 ? human_duration(static_cast<double>(total - done) / rate) : std::string("?"));
    std::size_t bar = width > tail.size() + 12 ? std::min<std::size_t>(width - tail.size() - 2, 40) : 10;
    const auto filled = static_cast<std::size_t>(frac * static_cast<double>(bar));
    return "[" + std::string(filled, '#') + std::string(bar - filled, '.') + "]" + tail;
}

std::string api_message(std::string_view body)
{
    boost::system::error_code ec;
    auto v = json::parse(body, ec);
    if (!ec)
        if (auto* e = field(v, "error"))
            if (auto* m = field(*e, "message"); m && m->is_string())
                return std::string(m->get_string());
    std::string s(body.substr(0, 300));
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r'))
        s.pop_back();
    return s;
}

namespace {

result<std::string> read_file(const std::string& opt, const std::string& path)
{
    std::ifstream f(path, std::ios::binary);
    if (!f)
        return fail(errc::invalid_field, "--" + opt + " " + path + ": cannot read it");
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}


} // namespace

result<long> whole_number(const std::string& opt, const std::string& v)
{
    char* end = nullptr;
    errno = 0;
    long n = std::strtol(v.c_str(), &end, 10);
    if (v.empty() || *end || errno || n < 0 || !std::isdigit(static_cast<unsigned char>(v[0])))
        return fail(errc::invalid_field, "--" + opt + ": \"" + v + "\" is not a whole number");
    return n;
}

result<forward_arg> parse_forward_arg(std::string_view text)
{
    auto bad = [&text]() {
        return fail(errc::invalid_field, "\"" + std::string(text) +
                                             "\" is not a forward like tcp/8080:80 (PROTO/HOST_PORT[:GUEST_PORT][@LISTEN_ADDRESS])");
    };
    auto port = [](std::string_view p) -> std::optional<long> {
        if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string_view::npos)
            return std::nullopt;
        long n = std::stol(std::string(p));
        return n >= 1 && n <= 65535 ? std::optional<long>(n) : std::nullopt;
    };
    forward_arg f;
    auto slash = text.find('/');
    if (slash == std::string_view::npos)
        return bad();
    f.proto = std::string(text.substr(0, slash));
    if (f.proto != "tcp" && f.proto != "udp")
        return bad();
    std::string_view rest = text.substr(slash + 1);
    if (auto at = rest.find('@'); at != std::string_view::npos) {
        if (at + 1 == rest.size())
            return bad();
        f.body["listen"] = std::string(rest.substr(at + 1));
        rest = rest.substr(0, at);
    }
    auto colon = rest.find(':');
    auto host = port(rest.substr(0, colon));
    if (!host)
        return bad();
    f.host_port = std::to_string(*host);
    if (colon != std::string_view::npos) {
        auto guest = port(rest.substr(colon + 1));
        if (!guest)
            return bad();
        f.body["guest_port"] = *guest;
    }
    return f;
}

std::string forward_table(const json::value& v)
{
    std::vector<std::vector<std::string>> rows{{"HOST PORT", "GUEST PORT", "LISTEN"}};
    if (auto* a = list_in(v, "forwards"))
        for (auto& f : *a)
            rows.push_back({text_of(field(f, "proto")) + "/" + text_of(field(f, "host_port")), text_of(field(f, "guest_port")),
                            text_of(field(f, "listen"))});
    return rows.size() == 1 ? std::string("no forwards\n") : table(rows);
}

result<json::object> create_body(const invocation& inv)
{
    json::object b;
    b["name"] = inv.args.at(0);
    for (const char* k : {"image", "kernel", "initrd", "cmdline", "cdrom", "firmware", "mac", "ip", "autostart"})
        if (inv.has(k))
            b[k] = inv.get(k);
    for (auto [opt, key] : {std::pair<const char*, const char*>{"cpus", "cpus"}, {"memory", "memory_mib"}, {"disk", "disk_gib"}})
        if (inv.has(opt)) {
            auto n = whole_number(opt, inv.get(opt));
            if (!n)
                return n.error();
            b[key] = *n;
        }
    if (inv.has("user-data") || inv.has("ssh-key")) {
        json::object ci;
        if (inv.has("user-data")) {
            auto t = read_file("user-data", inv.get("user-data"));
            if (!t)
                return t.error();
            ci["user_data"] = *t;
        }
        json::array keys;
        if (auto it = inv.opts.find("ssh-key"); it != inv.opts.end())
            for (auto& path : it->second) {
                auto t = read_file("ssh-key", path);
                if (!t)
                    return t.error();
                std::string k = *t;
                while (!k.empty() && (k.back() == '\n' || k.back() == '\r'))
                    k.pop_back();
                keys.push_back(json::string(k));
            }
        if (!keys.empty())
            ci["ssh_authorized_keys"] = keys;
        b["cloud_init"] = ci;
    }
    if (auto it = inv.opts.find("forward"); it != inv.opts.end()) {
        json::array fs;
        for (auto& text : it->second) {
            auto f = parse_forward_arg(text);
            if (!f)
                return fail(errc::invalid_field, "--forward: " + f.error().message);
            json::object o = f->body;
            o["proto"] = f->proto;
            o["host_port"] = std::stol(f->host_port);
            fs.push_back(std::move(o));
        }
        b["forwards"] = std::move(fs);
    }
    if (inv.has("start"))
        b["start"] = true;
    return b;
}

} // namespace paddock::cli
