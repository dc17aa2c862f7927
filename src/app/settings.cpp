// SPDX-License-Identifier: MIT
#include "app/settings.hpp"

#include <fstream>
#include <sstream>

#include <pwd.h>
#include <unistd.h>

namespace paddock::app {

dhcp::engine_config dhcp_settings(const conf::config& cfg)
{
    const auto& n = cfg.network;
    dhcp::engine_config d;
    d.subnet = n.subnet;
    d.server_id = n.bridge_address;
    d.router = n.gateway;
    d.dns = conf::effective_dns(cfg);
    d.domain = n.domain;
    d.pool_start = n.pool_start;
    d.pool_end = n.pool_end;
    d.lease_time_s = n.lease_time_s;
    d.max_leases_per_port = n.dhcp_max_leases_per_port;
    return d;
}

dns::zone_config dns_zone(const conf::config& cfg)
{
    dns::zone_config z;
    z.domain = cfg.network.domain;
    z.subnet = cfg.network.subnet;
    z.subnet6 = cfg.network.prefix6;
    for (auto& p : cfg.network.peers) {
        z.peer_clients.push_back(p.subnet);
        z.peer_clients.push_back(cidr{p.gateway, 32});
    }
    z.cache_entries = cfg.dns_service.cache_entries;
    return z;
}

dns::server_options dns_settings(const conf::config& cfg)
{
    dns::server_options o;
    o.address = cfg.network.bridge_address;
    if (cfg.network.prefix6)
        o.address6 = cfg.network.bridge_address6();
    o.upstreams = cfg.dns_service.upstreams;
    o.resolv_conf = cfg.dns_service.resolv_conf;
    o.own_address = to_string(cfg.network.bridge_address);
    for (auto& p : cfg.network.peers)
        o.peer_zones.emplace_back(p.domain, to_string(p.dns));
    return o;
}

vm::manager_config vm_settings(const conf::config& cfg, const std::string& accel)
{
    vm::manager_config m;
    m.state_dir = cfg.state_dir;
    m.qemu_binary = cfg.qemu.binary;
    m.accel = accel;
    m.prefix6 = cfg.network.prefix6;
    m.bridge = cfg.network.bridge;
    // cloud_init.seed: the seed server's URL in the SMBIOS serial, a `cidata` disk, or both.
    if (cfg.cloud_init.seed != "disk")
        m.metadata_base = "http://" + to_string(cfg.network.bridge_address) + "/vm/";
    m.seed_disk = cfg.cloud_init.seed != "http";
    m.stats_interval_s = static_cast<int>(cfg.qemu.stats_interval_s);
    // QEMU drops to "nobody" once its devices are open (it needs no privilege after that).
    m.runas = ::getpwnam("nobody") ? "nobody" : "";
    return m;
}

std::string detect_accel(const std::string& configured)
{
    if (configured == "kvm" || configured == "tcg")
        return configured;
    if (::access("/dev/kvm", R_OK | W_OK) != 0)
        return "tcg";
    std::ifstream cpu("/proc/cpuinfo");
    std::string line;
    while (std::getline(cpu, line)) {
        if (line.rfind("flags", 0) != 0)
            continue;
        std::istringstream ss(line);
        std::string w;
        while (ss >> w)
            if (w == "vmx" || w == "svm")
                return "kvm";
        break;
    }
    return "tcg";
}

} // namespace paddock::app
