// SPDX-License-Identifier: MIT
// CORE: VM spec parsing and validation.
#include "vm/spec.hpp"

#include <algorithm>
#include <cstdio>

#include <boost/json.hpp>

#include "base/mac.hpp"
#include "vm/forwards.hpp"

namespace paddock::vm {
namespace json = boost::json;

namespace {
failure bad(std::string_view field, const std::string& what)
{
    return fail(errc::invalid_field, std::string(field) + ": " + what);
}

status read_int(const json::value& v, std::string_view field, int lo, int hi, int& out)
{
    if (!v.is_int64() && !v.is_uint64())
        return bad(field, "expected a whole number from " + std::to_string(lo) + " to " + std::to_string(hi) +
                              ", got " + json::serialize(v));
    long long n = v.is_int64() ? v.get_int64() : static_cast<long long>(std::min<std::uint64_t>(v.get_uint64(), 1ull << 40));
    if (n < lo || n > hi)
        return bad(field, "must be from " + std::to_string(lo) + " to " + std::to_string(hi) + ", got " + std::to_string(n));
    out = static_cast<int>(n);
    return ok();
}

status read_str(const json::value& v, std::string_view field, std::size_t max, std::string& out)
{
    if (!v.is_string())
        return bad(field, "expected a string, got " + json::serialize(v));
    if (v.get_string().size() > max)
        return bad(field, "longer than " + std::to_string(max) + " characters");
    out = std::string(v.get_string());
    return ok();
}
} // namespace

bool valid_vm_name(std::string_view s)
{
    if (s.empty() || s.size() > 32 || !(s[0] >= 'a' && s[0] <= 'z'))
        return false;
    for (char c : s)
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return false;
    return true;
}

bool valid_image_name(std::string_view s)
{
    if (s.empty() || s.size() > 64 || s == "." || s == ".." || s.find("..") != std::string_view::npos)
        return false;
    auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); };
    if (!alnum(s[0]))
        return false;
    for (char c : s)
        if (!(alnum(c) || c == '.' || c == '_' || c == '-'))
            return false;
    return true;
}

std::string tap_name(std::string_view n)
{
    if (n.size() <= 11)
        return "tap-" + std::string(n);
    // FNV-1a over the whole name keeps long names with a common prefix apart.
    std::uint32_t h = 2166136261u;
    for (char c : n)
        h = (h ^ static_cast<unsigned char>(c)) * 16777619u;
    char buf[8];
    std::snprintf(buf, sizeof buf, "%04x", h & 0xFFFF);
    return "tap-" + std::string(n.substr(0, 6)) + "-" + buf;
}

namespace {
// cloud_init: {"user_data"?: string (64 KiB at most), "ssh_authorized_keys"?: [string...] (64 at
// most, one line of 16 KiB at most each)}.
status read_cloud_init(const json::value& v, cloud_init& out)
{
    if (!v.is_object())
        return fail(errc::invalid_field, "cloud_init: expected an object {\"user_data\", \"ssh_authorized_keys\"}");
    out.given = true;
    for (auto& [k, val] : v.as_object()) {
        if (k == "user_data") {
            if (!val.is_string() || val.as_string().size() > 65536)
                return fail(errc::invalid_field, "cloud_init.user_data: expected a string of at most 64 KiB");
            out.user_data = std::string(val.as_string());
        }
        else if (k == "ssh_authorized_keys") {
            if (!val.is_array() || val.as_array().size() > 64)
                return fail(errc::invalid_field, "cloud_init.ssh_authorized_keys: expected an array of at most 64 keys");
            for (auto& key : val.as_array()) {
                if (!key.is_string() || key.as_string().empty() || key.as_string().size() > 16384 ||
                    std::string_view(key.as_string()).find_first_of("\r\n") != std::string_view::npos)
                    return fail(errc::invalid_field, "cloud_init.ssh_authorized_keys: each key is one line of text (16 KiB at most)");
                out.ssh_authorized_keys.emplace_back(key.as_string());
            }
        }
        else
            return fail(errc::invalid_field, "cloud_init." + std::string(k) + ": unknown field (user_data, ssh_authorized_keys)");
    }
    return ok();
}
status read_autostart(const json::value& v, std::string& out)
{
    auto st = read_str(v, "autostart", 8, out);
    if (st && out != "never" && out != "always" && out != "restore")
        st = bad("autostart", "\"" + out + "\" is not one of \"never\", \"always\", \"restore\"");
    return st;
}
} // namespace

result<vm_patch> parse_patch(std::string_view body)
{
    boost::system::error_code ec;
    json::value v = json::parse(body, ec);
    if (ec)
        return fail(errc::invalid_json, "request body is not valid JSON: " + ec.message());
    if (!v.is_object() || v.get_object().empty())
        return fail(errc::invalid_json, "request body must be a JSON object with cpus, memory_mib or autostart");
    vm_patch p;
    for (auto& [k, val] : v.get_object()) {
        status st = ok();
        int n = 0;
        std::string a;
        if (k == "cpus") {
            if (st = read_int(val, "cpus", 1, 64, n); st)
                p.cpus = n;
        }
        else if (k == "memory_mib") {
            if (st = read_int(val, "memory_mib", 64, 262144, n); st)
                p.memory_mib = n;
        }
        else if (k == "autostart") {
            if (st = read_autostart(val, a); st)
                p.autostart = a;
        }
        else
            st = bad(k, "cannot be changed (cpus, memory_mib, autostart can)");
        if (!st)
            return st.error();
    }
    return p;
}

result<spec> parse_spec(std::string_view body)
{
    boost::system::error_code ec;
    json::value v = json::parse(body, ec);
    if (ec)
        return fail(errc::invalid_json, "request body is not valid JSON: " + ec.message());
    if (!v.is_object())
        return fail(errc::invalid_json, "request body must be a JSON object (a VM spec)");
    spec s;
    bool has_name = false;
    for (auto& [k, val] : v.get_object()) {
        status st = ok();
        if (k == "name") {
            st = read_str(val, "name", 64, s.name);
            if (st && !valid_vm_name(s.name))
                st = bad("name", "\"" + s.name + "\" must match ^[a-z][a-z0-9-]{0,31}$");
            has_name = true;
        }
        else if (k == "cpus") st = read_int(val, "cpus", 1, 64, s.cpus);
        else if (k == "memory_mib") st = read_int(val, "memory_mib", 64, 262144, s.memory_mib);
        else if (k == "disk_gib") st = read_int(val, "disk_gib", 1, 65536, s.disk_gib);
        else if (k == "image" || k == "kernel" || k == "initrd" || k == "cdrom") {
            std::string& out = k == "image" ? s.image : k == "kernel" ? s.kernel : k == "initrd" ? s.initrd : s.cdrom;
            st = read_str(val, k, 64, out);
            if (st && !valid_image_name(out))
                st = bad(k, "\"" + out + "\" is not an image name (1 to 64 of A-Z a-z 0-9 . _ -, no \"..\")");
        }
        else if (k == "cmdline") st = read_str(val, "cmdline", 4096, s.cmdline);
        else if (k == "mac") {
            st = read_str(val, "mac", 17, s.mac);
            if (st && !valid_unicast_mac(s.mac))
                st = bad("mac", "\"" + s.mac + "\" is not a unicast MAC address like 52:54:00:12:34:56");
            for (auto& c : s.mac)
                c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        }
        else if (k == "ip") st = read_str(val, "ip", 15, s.ip);
        else if (k == "start") {
            if (!val.is_bool())
                st = bad("start", "expected true or false");
            else
                s.start = val.get_bool();
        }
        else if (k == "cloud_init")
            st = read_cloud_init(val, s.ci);
        else if (k == "cpu_model") {
            st = read_str(val, "cpu_model", 64, s.cpu_model);
            if (st && (s.cpu_model.empty() || s.cpu_model.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                                                           "0123456789._-") != std::string::npos))
                st = bad("cpu_model", "\"" + s.cpu_model + "\" is not a QEMU CPU model name like \"max\", \"host\" or "
                                      "\"Skylake-Server-v4\" (letters, digits, . _ -)");
        }
        else if (k == "firmware") {
            st = read_str(val, "firmware", 8, s.firmware);
            if (st && s.firmware != "bios" && s.firmware != "uefi")
                st = bad("firmware", "\"" + s.firmware + "\" is not one of \"bios\", \"uefi\"");
        }
        else if (k == "autostart")
            st = read_autostart(val, s.autostart);
        else if (k == "boot_order") {
            if (!val.is_array() || val.as_array().empty() || val.as_array().size() > 3)
                st = bad("boot_order", "expected 1 to 3 of \"disk\", \"cdrom\", \"network\", like [\"cdrom\", \"disk\"]");
            else
                for (auto& d : val.as_array()) {
                    if (!d.is_string() || (d.as_string() != "disk" && d.as_string() != "cdrom" && d.as_string() != "network")) {
                        st = bad("boot_order", json::serialize(d) + " is not one of \"disk\", \"cdrom\", \"network\"");
                        break;
                    }
                    if (std::find(s.boot_order.begin(), s.boot_order.end(), d.as_string()) != s.boot_order.end()) {
                        st = bad("boot_order", json::serialize(d) + " is named twice");
                        break;
                    }
                    s.boot_order.emplace_back(d.as_string());
                }
        }
        else if (k == "forwards") {
            if (!val.is_array() || val.as_array().size() > max_forwards)
                st = bad("forwards", "expected an array of at most " + std::to_string(max_forwards) +
                                         " {\"proto\", \"host_port\", \"guest_port\", \"listen\"}");
            else
                for (std::size_t i = 0; st && i < val.as_array().size(); ++i) {
                    auto f = read_forward(val.as_array()[i], "forwards[" + std::to_string(i) + "]");
                    if (!f) {
                        st = f.error();
                        break;
                    }
                    for (auto& other : s.forwards)
                        if (overlaps(other, *f) || (other.proto == f->proto && other.host_port == f->host_port)) {
                            st = bad("forwards[" + std::to_string(i) + "]", forward_name(*f) + " overlaps " + forward_name(other));
                            break;
                        }
                    s.forwards.push_back(std::move(*f));
                }
        }
        else
            st = bad(k, "unknown field");
        if (!st)
            return st.error();
    }
    if (!has_name)
        return bad("name", "required");
    if (!s.image.empty() && !s.kernel.empty())
        return bad("image", "give either \"image\" (disk boot) or \"kernel\" (direct kernel boot), not both");
    if (s.image.empty() && s.kernel.empty() && s.cdrom.empty())
        return bad("image", "a boot source is required: \"image\", \"kernel\" (+ \"initrd\", \"cmdline\") or \"cdrom\"");
    if (s.kernel.empty() && (!s.initrd.empty() || !s.cmdline.empty()))
        return bad(s.initrd.empty() ? "cmdline" : "initrd", "only valid with \"kernel\"");
    if (s.disk_gib != 0 && s.image.empty() && s.cdrom.empty())
        return bad("disk_gib", "only valid with \"image\" (grows its disk) or \"cdrom\" (an empty disk to install to)");
    for (auto& d : s.boot_order) {
        if (d == "disk" && s.image.empty() && s.disk_gib == 0)
            return bad("boot_order", "\"disk\": this VM has no disk (give \"image\", or \"disk_gib\" with \"cdrom\")");
        if (d == "cdrom" && s.cdrom.empty())
            return bad("boot_order", "\"cdrom\": this VM has no \"cdrom\"");
    }
    if (!s.boot_order.empty() && !s.kernel.empty())
        return bad("boot_order", "not with \"kernel\" (direct kernel boot starts the kernel, not a device)");
    return s;
}

std::string spec_to_json(const spec& s)
{
    json::object ci;
    if (s.ci.given) {
        json::array keys;
        for (auto& k : s.ci.ssh_authorized_keys)
            keys.push_back(json::string(k));
        ci = {{"user_data", s.ci.user_data}, {"ssh_authorized_keys", std::move(keys)}};
    }
    json::object o{{"name", s.name}, {"cpus", s.cpus}, {"memory_mib", s.memory_mib}};
    if (s.disk_gib) o["disk_gib"] = s.disk_gib;
    if (!s.image.empty()) o["image"] = s.image;
    if (!s.kernel.empty()) o["kernel"] = s.kernel;
    if (!s.initrd.empty()) o["initrd"] = s.initrd;
    if (!s.cmdline.empty()) o["cmdline"] = s.cmdline;
    if (!s.mac.empty()) o["mac"] = s.mac;
    if (!s.ip.empty()) o["ip"] = s.ip;
    if (s.ci.given) o["cloud_init"] = std::move(ci);
    if (!s.cpu_model.empty()) o["cpu_model"] = s.cpu_model;
    if (s.firmware != "bios") o["firmware"] = s.firmware;
    if (!s.cdrom.empty()) o["cdrom"] = s.cdrom;
    if (s.autostart != "never") o["autostart"] = s.autostart;
    if (!s.boot_order.empty()) {
        json::array b;
        for (auto& d : s.boot_order)
            b.push_back(json::string(d));
        o["boot_order"] = std::move(b);
    }
    if (!s.forwards.empty()) {
        json::array fs;
        for (auto& f : s.forwards)
            fs.push_back(json::object{{"proto", f.proto}, {"host_port", f.host_port}, {"guest_port", f.guest_port},
                                      {"listen", f.listen}});
        o["forwards"] = std::move(fs);
    }
    return json::serialize(o);
}

std::vector<std::string> effective_boot_order(const spec& s)
{
    if (!s.boot_order.empty())
        return s.boot_order;
    std::vector<std::string> out;
    if (!s.image.empty() || s.disk_gib > 0)
        out.push_back("disk");
    if (!s.cdrom.empty())
        out.push_back("cdrom");
    return out;
}

} // namespace paddock::vm
