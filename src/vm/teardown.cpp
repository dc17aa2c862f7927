// SPDX-License-Identifier: MIT
// Stop every VM for `paddockd teardown`.
#include "vm/teardown.hpp"

#include <csignal>
#include <cstring>
#include <fstream>

#include <poll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store/db.hpp"
#include "store/statement.hpp"
#include "vm/process.hpp"
#include "vm/qemu_argv.hpp"

namespace paddock::vm {

namespace {
// Best effort, blocking, bounded by socket timeouts: greeting, negotiation, power button.
void press_power_button(const std::string& sock_path)
{
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    timeval tv{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, sock_path.c_str(), sizeof a.sun_path - 1);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
        char buf[4096];
        const char* cmds = "{\"execute\":\"qmp_capabilities\"}\n{\"execute\":\"system_powerdown\"}\n";
        // Wait for both replies: QEMU drops queued commands of a client that hangs up.
        if (::read(fd, buf, sizeof buf) > 0 && ::write(fd, cmds, std::strlen(cmds)) > 0) {
            std::string got;
            for (int i = 0; i < 10; ++i) {
                ssize_t n = ::read(fd, buf, sizeof buf);
                if (n <= 0)
                    break;
                got.append(buf, static_cast<std::size_t>(n));
                std::size_t returns = 0;
                for (auto p = got.find("\"return\""); p != std::string::npos; p = got.find("\"return\"", p + 1))
                    ++returns;
                if (returns >= 2)
                    break;
            }
        }
    }
    ::close(fd);
}

struct live_vm {
    std::string name;
    int pidfd;
};

// Every recorded VM whose QEMU is still running, each pressed on its power button.
std::vector<live_vm> power_off_running(store::db& db, const std::string& state_dir)
{
    std::vector<live_vm> live;
    store::statement q;
    if (sqlite3_prepare_v2(db.handle(), "SELECT name, pid FROM vms WHERE pid > 0", -1, &q.s, nullptr) != SQLITE_OK)
        return live; // no VMs table yet: nothing ever ran
    while (sqlite3_step(q.s) == SQLITE_ROW) {
        std::string name = reinterpret_cast<const char*>(sqlite3_column_text(q.s, 0));
        int pid = sqlite3_column_int(q.s, 1);
        if (!process_matches(pid, name))
            continue;
        int pfd = pidfd_open(pid);
        if (pfd < 0)
            continue;
        press_power_button(state_dir + "/vms/" + name + "/" + qmp_socket);
        live.push_back({name, pfd});
    }
    return live;
}
} // namespace

std::vector<std::string> stop_all(store::db& db, const std::string& state_dir, std::chrono::seconds grace)
{
    std::vector<std::string> done;
    auto live = power_off_running(db, state_dir);
    auto deadline = std::chrono::steady_clock::now() + grace;
    for (auto& r : live) {
        pollfd p{r.pidfd, POLLIN, 0};
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        bool exited = ::poll(&p, 1, static_cast<int>(std::max<long long>(0, left.count()))) > 0;
        if (!exited) {
            ::syscall(SYS_pidfd_send_signal, r.pidfd, SIGKILL, nullptr, 0);
            pollfd again{r.pidfd, POLLIN, 0};
            ::poll(&again, 1, 5000);
        }
        ::close(r.pidfd);
        done.push_back("stopped VM " + r.name + (exited ? " (powered off)" : " (killed after " + std::to_string(grace.count()) + " s)"));
    }
    db.exec("UPDATE vms SET state = 'stopped', reason = 'stopped by teardown', pid = 0 WHERE pid > 0");
    return done;
}

} // namespace paddock::vm
