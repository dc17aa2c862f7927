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

std::optional<std::string> nocloud_file(const nocloud_vm& vm, std::string_view file)
{
    if (file == "meta-data") {
        std::string out = "instance-id: " + quoted(vm.instance_id) + "\nlocal-hostname: " + quoted(vm.name) + "\n";
        if (!vm.ci.ssh_authorized_keys.empty()) {
            out += "public-keys:\n";
            for (auto& k : vm.ci.ssh_authorized_keys)
                out += "  - " + quoted(k) + "\n";
        }
        return out;
    }
    if (file == "user-data")
        return vm.ci.user_data.empty() ? std::string("#cloud-config\n") : vm.ci.user_data;
    if (file == "vendor-data")
        return std::string();
    if (file == "network-config") {
        // Netplan-style v2: DHCP on the NIC with the VM's MAC, whatever the guest names it.
        return "version: 2\nethernets:\n  nic0:\n    match:\n      macaddress: " + quoted(vm.mac) +
               "\n    dhcp4: true\n";
    }
    return std::nullopt;
}

std::vector<fat_file> nocloud_files(const nocloud_vm& vm)
{
    std::vector<fat_file> out;
    for (const char* f : {"meta-data", "user-data", "vendor-data", "network-config"})
        out.push_back({f, *nocloud_file(vm, f)});
    return out;
}

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
    if (auto body = nocloud_file(*vm, file))
        return {200, *body};
    return {404, "no such file in the seed (meta-data, user-data, vendor-data, network-config)\n"};
}

} // namespace paddock::vm
