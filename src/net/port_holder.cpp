// SPDX-License-Identifier: MIT
// DRIVER: the host's listeners read from /proc/net, their processes from /proc/*/fd, the
// namespace's addresses from getifaddrs.
#include "net/listeners.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

namespace paddock::net {

namespace {
std::string read_all(const std::string& path)
{
    std::ifstream in(path);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// "sshd (pid 412)" for the process holding socket `inode`, or "a process" when none is found
// (a socket passed on, or one in a process this daemon cannot read).
std::string process_of(std::uint64_t inode)
{
    const std::string want = "socket:[" + std::to_string(inode) + "]";
    DIR* proc = ::opendir("/proc");
    if (!proc)
        return "a process";
    std::string found;
    while (dirent* e = ::readdir(proc)) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        const std::string fds = std::string("/proc/") + e->d_name + "/fd";
        DIR* d = ::opendir(fds.c_str());
        if (!d)
            continue;
        while (dirent* f = ::readdir(d)) {
            char target[64];
            const std::string link = fds + "/" + f->d_name;
            ssize_t n = ::readlink(link.c_str(), target, sizeof target - 1);
            if (n <= 0)
                continue;
            if (std::string_view(target, static_cast<std::size_t>(n)) == want) {
                std::string comm = read_all(std::string("/proc/") + e->d_name + "/comm");
                while (!comm.empty() && comm.back() == '\n')
                    comm.pop_back();
                found = (comm.empty() ? "a process" : comm) + " (pid " + e->d_name + ")";
                break;
            }
        }
        ::closedir(d);
        if (!found.empty())
            break;
    }
    ::closedir(proc);
    return found.empty() ? "a process" : found;
}
} // namespace

std::string port_holder(std::string_view proto, std::string_view listen, std::uint16_t port)
{
    const bool tcp = proto == "tcp";
    for (bool v6 : {false, true}) {
        const std::string path = std::string("/proc/net/") + (tcp ? "tcp" : "udp") + (v6 ? "6" : "");
        for (const auto& l : parse_proc_net(read_all(path), tcp, v6))
            if (l.port == port && shadows(l, listen))
                return process_of(l.inode) + " on " + (v6 ? "[" + l.address + "]" : l.address) + ":" + std::to_string(port);
    }
    return {};
}

bool local_ipv4(std::string_view address)
{
    in_addr want{};
    if (::inet_pton(AF_INET, std::string(address).c_str(), &want) != 1)
        return false;
    ifaddrs* list = nullptr;
    if (::getifaddrs(&list) != 0)
        return false;
    bool found = false;
    for (ifaddrs* i = list; i && !found; i = i->ifa_next)
        if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET)
            found = reinterpret_cast<const sockaddr_in*>(i->ifa_addr)->sin_addr.s_addr == want.s_addr;
    ::freeifaddrs(list);
    return found;
}

} // namespace paddock::net
