// SPDX-License-Identifier: MIT
// Stop every VM for `paddockd teardown`.
#include "vm/teardown.hpp"

#include <csignal>
#include <memory>

#include <sys/syscall.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "base/log.hpp"
#include "qmp/client.hpp"
#include "vm/exit_wait.hpp"
#include "vm/process.hpp"
#include "vm/qemu_argv.hpp"

namespace paddock::vm {
namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

// Powers one VM off: the power button over QMP, then waits for its exit up to `grace`, then
// SIGKILL. Sets `line` to what happened.
asio::awaitable<void> power_off(std::string name, std::string qmp_path, int pidfd, std::chrono::seconds grace,
                                std::shared_ptr<std::string> line)
{
    auto ex = co_await asio::this_coro::executor;
    asio::posix::stream_descriptor exit_fd(ex, pidfd);
    auto qmp = std::make_shared<qmp::client>(ex);
    if (auto st = co_await qmp->connect(qmp_path, 2s); st) {
        asio::co_spawn(ex, qmp->run(), asio::detached);
        if (auto r = co_await qmp->execute("system_powerdown", {}, 2s); !r)
            log::warn("teardown", name, ": system_powerdown: ", r.error().message);
    }
    else
        log::warn("teardown", name, ": cannot reach QMP: ", st.error().message);
    const bool exited = co_await wait_exit(exit_fd, grace);
    qmp->close();
    if (exited) {
        *line = "stopped VM " + name + " (powered off)";
        co_return;
    }
    ::syscall(SYS_pidfd_send_signal, exit_fd.native_handle(), SIGKILL, nullptr, 0);
    co_await wait_exit(exit_fd, 5s);
    *line = "stopped VM " + name + " (killed after " + std::to_string(grace.count()) + " s)";
}

} // namespace

std::vector<std::string> stop_all(std::vector<store::vm_row>& rows, const std::string& state_dir, std::chrono::seconds grace)
{
    asio::io_context ioc{1};
    std::vector<std::shared_ptr<std::string>> lines;
    for (auto& r : rows) {
        if (r.pid <= 0)
            continue;
        if (process_matches(r.pid, r.name)) {
            int pfd = pidfd_open(r.pid);
            if (pfd >= 0) {
                lines.push_back(std::make_shared<std::string>());
                asio::co_spawn(ioc, power_off(r.name, state_dir + "/vms/" + r.name + "/" + qmp_socket, pfd, grace, lines.back()),
                               asio::detached);
            }
        }
        r.state = "stopped";
        r.reason = "stopped by teardown";
        r.pid = 0;
    }
    ioc.run();
    std::vector<std::string> done;
    for (auto& l : lines)
        if (!l->empty())
            done.push_back(*l);
    return done;
}

} // namespace paddock::vm
