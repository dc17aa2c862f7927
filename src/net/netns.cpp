// SPDX-License-Identifier: MIT
// Named network namespaces.
#include "net/netns.hpp"

#include <cerrno>
#include <cstring>
#include <thread>

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

namespace paddock::net {

namespace {
failure sys_fail(const std::string& what)
{
    return fail(errc::netns_failed, what + ": " + std::strerror(errno));
}

// /run/netns must be a shared mount so that namespace mounts made here propagate to other
// mount namespaces (what iproute2 does; lets `ip netns exec` elsewhere see our namespace).
status prepare_netns_dir()
{
    if (::mkdir(netns_dir, 0755) != 0 && errno != EEXIST)
        return sys_fail(std::string("mkdir ") + netns_dir);
    if (::mount("", netns_dir, "none", MS_SHARED | MS_REC, nullptr) == 0)
        return ok();
    if (errno != EINVAL)
        return sys_fail(std::string("make ") + netns_dir + " shared");
    if (::mount(netns_dir, netns_dir, "none", MS_BIND | MS_REC, nullptr) != 0)
        return sys_fail(std::string("bind ") + netns_dir);
    if (::mount("", netns_dir, "none", MS_SHARED | MS_REC, nullptr) != 0)
        return sys_fail(std::string("make ") + netns_dir + " shared");
    return ok();
}
} // namespace

std::string netns_path(const std::string& name) { return std::string(netns_dir) + "/" + name; }

netns_id netns_identity(const std::string& name)
{
    struct stat st{};
    if (::stat(netns_path(name).c_str(), &st) != 0)
        return {};
    return {st.st_dev, st.st_ino};
}

netns_id fd_identity(int fd)
{
    struct stat st{};
    if (fd < 0 || ::fstat(fd, &st) != 0)
        return {};
    return {st.st_dev, st.st_ino};
}

bool holds_netns(const std::string& name, int fd)
{
    if (fd < 0)
        return false;
    auto on_disk = netns_identity(name);
    return on_disk.valid() && on_disk == fd_identity(fd);
}

status create_netns(const std::string& name)
{
    if (auto st = prepare_netns_dir(); !st)
        return st;
    const std::string path = netns_path(name);
    int fd = ::open(path.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
    if (fd < 0)
        return sys_fail("create " + path);
    ::close(fd);
    status result = ok();
    // unshare(CLONE_NEWNET) moves only the calling thread; do it on a throwaway thread.
    std::thread t([&] {
        if (::unshare(CLONE_NEWNET) != 0) {
            result = sys_fail("unshare(CLONE_NEWNET)");
            return;
        }
        if (::mount("/proc/thread-self/ns/net", path.c_str(), "none", MS_BIND, nullptr) != 0)
            result = sys_fail("bind mount " + path);
    });
    t.join();
    if (!result)
        ::unlink(path.c_str());
    return result;
}

status delete_netns(const std::string& name)
{
    const std::string path = netns_path(name);
    if (::umount2(path.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT)
        return sys_fail("unmount " + path);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT)
        return sys_fail("remove " + path);
    return ok();
}

int open_netns(const std::string& name) { return ::open(netns_path(name).c_str(), O_RDONLY | O_CLOEXEC); }

} // namespace paddock::net
