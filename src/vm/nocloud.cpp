// SPDX-License-Identifier: MIT
// CORE: the NoCloud seed.
#include "vm/nocloud.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>

namespace paddock::vm {

namespace {
// A YAML scalar that says exactly this string: JSON's double-quoted form is valid YAML.
std::string quoted(const std::string& s) { return boost::json::serialize(boost::json::string(s)); }
} // namespace

nocloud_reply nocloud_answer(std::string_view method, std::string_view target, const std::string& peer_ip,
                             const std::string& peer_mac,
                             const std::function<std::optional<nocloud_vm>(const std::string&)>& find)
{
    if (method != "GET" && method != "HEAD")
        return {405, "GET only\n"};
    target = target.substr(0, target.find('?'));
    constexpr std::string_view prefix = "/vm/";
    if (!target.starts_with(prefix))
        return {404, "no such seed\n"};
    target.remove_prefix(prefix.size());
    auto slash = target.find('/');
    if (slash == std::string_view::npos)
        return {404, "no such seed\n"};
    const std::string name(target.substr(0, slash));
    const std::string_view file = target.substr(slash + 1);
    auto vm = find(name);
    if (!vm)
        return {404, "no such VM\n"};
    if (peer_ip != vm->ip || (!peer_mac.empty() && peer_mac != vm->mac))
        return {403, "this seed belongs to another VM\n"};
    if (file == "meta-data") {
        std::string out = "instance-id: " + quoted(vm->instance_id) + "\nlocal-hostname: " + quoted(vm->name) + "\n";
        if (!vm->ci.ssh_authorized_keys.empty()) {
            out += "public-keys:\n";
            for (auto& k : vm->ci.ssh_authorized_keys)
                out += "  - " + quoted(k) + "\n";
        }
        return {200, out};
    }
    if (file == "user-data")
        return {200, vm->ci.user_data.empty() ? std::string("#cloud-config\n") : vm->ci.user_data};
    if (file == "vendor-data")
        return {200, ""};
    return {404, "no such file in the seed (meta-data, user-data, vendor-data)\n"};
}

} // namespace paddock::vm
