// SPDX-License-Identifier: MIT
#include "app/state.hpp"

#include <cstdio>
#include <cstdlib>
#include <random>

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>

#include "api/tls.hpp"

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <thread>

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/durable_file.hpp"
#include "base/hex.hpp"
#include "base/log.hpp"
#include "store/rows.hpp"

namespace paddock::app {

namespace {

// Creates `dir` (0700) and its parents as needed.
status make_state_dir(const std::string& dir)
{
    for (std::size_t i = 1; i <= dir.size(); ++i) {
        if (i < dir.size() && dir[i] != '/')
            continue;
        std::string part = dir.substr(0, i);
        if (::mkdir(part.c_str(), 0700) != 0 && errno != EEXIST)
            return fail(errc::state_dir, "create " + part + ": " + std::strerror(errno));
    }
    struct stat st{};
    if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
        return fail(errc::state_dir, dir + " is not a directory");
    return ok();
}

// Tries the lock once: the open descriptor holding it, or -1 and the holder's pid (0 if unknown).
int try_lock(const std::string& path, pid_t& holder)
{
    holder = 0;
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        char buf[32] = {};
        if (::pread(fd, buf, sizeof buf - 1, 0) > 0)
            holder = static_cast<pid_t>(std::atoi(buf));
        ::close(fd);
        return -1;
    }
    std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

} // namespace

state_lock::~state_lock()
{
    if (fd_ >= 0)
        ::close(fd_);
}

result<opened_state> open_state(const conf::config& cfg, bool stop_holder)
{
    if (auto st = make_state_dir(cfg.state_dir); !st)
        return st.error();
    const std::string path = cfg.state_dir + "/paddockd.lock";
    pid_t holder = 0;
    int fd = try_lock(path, holder);
    if (fd < 0 && !stop_holder)
        return fail(errc::state_dir, "another paddockd (pid " + std::to_string(holder) + ") is running with state_dir " +
                                         cfg.state_dir);
    if (fd < 0) {
        // A running daemon would repair what teardown removes: ask it to stop, then wait for its lock.
        if (holder > 0) {
            log::info("teardown", "stopping the running paddockd (pid ", holder, ")");
            ::kill(holder, SIGTERM);
        }
        for (int i = 0; i < 200 && fd < 0; ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            fd = try_lock(path, holder);
        }
        if (fd < 0)
            return fail(errc::state_dir, "paddockd (pid " + std::to_string(holder) + ") still holds " + path + " after 10 s");
    }
    state_lock lock;
    lock.fd_ = fd;
    auto db = store::db::open(cfg.state_dir + "/paddock.db");
    if (!db)
        return db.error();
    return opened_state{std::move(lock), std::move(*db)};
}

result<std::string> api_token(const std::string& dir)
{
    const std::string path = dir + "/api-token";
    std::ifstream in(path);
    std::string tok;
    if (in && std::getline(in, tok) && tok.size() >= 32)
        return tok;
    unsigned char raw[32];
    if (::getrandom(raw, sizeof raw, 0) != sizeof raw)
        return fail(errc::token, std::string("getrandom: ") + std::strerror(errno));
    tok = hex_of(raw, sizeof raw);
    if (auto st = write_file_durably(path, tok + "\n", 0600, errc::token); !st)
        return st.error();
    return tok;
}

namespace {

// What a self-signed certificate names: localhost, this host's name, loopback, and the listen
// address, or every address of this host when listening on all of them.
std::vector<std::string> host_names(const conf::config& cfg)
{
    std::vector<std::string> names;
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) == 0 && host[0])
        names.push_back(host);
    names.insert(names.end(), {"localhost", "127.0.0.1", "::1"});
    if (cfg.listen_host != "0.0.0.0" && cfg.listen_host != "::") {
        names.push_back(cfg.listen_host);
        return names;
    }
    ifaddrs* ifs = nullptr;
    if (::getifaddrs(&ifs) != 0)
        return names;
    for (ifaddrs* i = ifs; i; i = i->ifa_next) {
        if (!i->ifa_addr || (i->ifa_addr->sa_family != AF_INET && i->ifa_addr->sa_family != AF_INET6))
            continue;
        char buf[INET6_ADDRSTRLEN] = {};
        const void* a = i->ifa_addr->sa_family == AF_INET
                            ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr)
                            : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(i->ifa_addr)->sin6_addr);
        if (::inet_ntop(i->ifa_addr->sa_family, a, buf, sizeof buf) && !std::string_view(buf).starts_with("fe80"))
            names.push_back(buf);
    }
    ::freeifaddrs(ifs);
    return names;
}

} // namespace

result<tls_material> tls_files_for(const conf::config& cfg)
{
    api::tls_files f{cfg.tls.cert, cfg.tls.key};
    if (cfg.tls.mode == "self-signed") {
        auto made = api::ensure_self_signed(cfg.state_dir + "/tls", host_names(cfg));
        if (!made)
            return made.error();
        f = *made;
    }
    auto fp = api::cert_fingerprint(f.cert);
    if (!fp)
        return fp.error();
    return tls_material{f.cert, f.key, *fp};
}

result<net::host_sysctls> forward_before(store::db& db)
{
    net::host_sysctls out;
    for (auto [key, slot] : {std::pair{forward_key, &out.ip_forward}, std::pair{forward6_key, &out.ip6_forward}}) {
        auto v = store::get_setting(db, key);
        if (!v)
            return v.error();
        if (*v)
            *slot = **v == "1" ? 1 : 0;
    }
    return out;
}

const char* sysctl_key(const std::string& sysctl) { return sysctl == "net.ipv4.ip_forward" ? forward_key : forward6_key; }

result<std::optional<cidr6>> resolve_ipv6(store::db& db, const net::network_config& n)
{
    std::optional<cidr6> out;
    if (n.ipv6_mode == "off")
        return out;
    if (n.ipv6_mode == "prefix")
        return n.prefix6;
    auto v = store::get_setting(db, ula_id_key);
    if (!v)
        return v.error();
    std::uint64_t id = 0;
    if (*v) {
        id = std::strtoull((*v)->c_str(), nullptr, 16);
    }
    else {
        std::random_device rd;
        id = ((static_cast<std::uint64_t>(rd()) << 32) | rd()) & 0xFFFFFFFFFFull;
        char hex[16];
        std::snprintf(hex, sizeof hex, "%010llx", static_cast<unsigned long long>(id));
        if (auto st = store::put_setting(db, ula_id_key, hex); !st)
            return st.error();
    }
    out = ula_prefix(id);
    return out;
}

} // namespace paddock::app
