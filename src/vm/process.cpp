// SPDX-License-Identifier: MIT
// Spawning and recognising processes.
#include "vm/process.hpp"

#include <csignal>
#include <cstring>
#include <fstream>
#include <iterator>

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace paddock::vm {

result<int> spawn_detached(const std::vector<std::string>& argv, int keep_fd, const std::string& log, bool stdout_to_log)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (stdout_to_log)
        posix_spawn_file_actions_adddup2(&fa, 2, 1);
    else
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    if (keep_fd >= 0)
        posix_spawn_file_actions_adddup2(&fa, keep_fd, 3);
    posix_spawn_file_actions_addclosefrom_np(&fa, keep_fd >= 0 ? 4 : 3);
    sigset_t none, defaults;
    sigemptyset(&none);
    sigemptyset(&defaults);
    for (int s : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGCHLD})
        sigaddset(&defaults, s);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &defaults);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    std::vector<char*> args;
    for (auto& a : argv)
        args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = 0;
    int rc = posix_spawnp(&pid, args[0], &fa, &at, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (rc != 0)
        return fail(errc::spawn_failed, "cannot run " + argv[0] + ": " + std::strerror(rc));
    return static_cast<int>(pid);
}

bool process_matches(int pid, const std::string& name)
{
    if (pid <= 0)
        return false;
    std::ifstream f("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
    std::string cmd((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    for (auto& c : cmd)
        if (c == '\0')
            c = ' ';
    return cmd.find("guest=" + name + ",process=paddock-" + name + " ") != std::string::npos;
}

int pidfd_open(int pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

bool pidfd_exited(int pidfd)
{
    pollfd p{pidfd, POLLIN, 0};
    return ::poll(&p, 1, 0) == 1 && (p.revents & (POLLIN | POLLHUP | POLLERR));
}

std::string describe_wait_status(int st, bool have)
{
    if (!have)
        return "exit status unknown (not our child)";
    if (WIFEXITED(st))
        return "exit code " + std::to_string(WEXITSTATUS(st));
    if (WIFSIGNALED(st))
        return std::string("killed by signal ") + std::to_string(WTERMSIG(st)) + " (" + strsignal(WTERMSIG(st)) + ")";
    return "status " + std::to_string(st);
}

} // namespace paddock::vm
