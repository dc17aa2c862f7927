// SPDX-License-Identifier: MIT
// DRIVER: qcow2 overlays through qemu-img.
#include "vm/disk.hpp"

#include <csignal>
#include <fstream>
#include <iterator>

#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "vm/exit_wait.hpp"
#include "vm/process.hpp"

namespace paddock::vm {
namespace asio = boost::asio;

namespace {

// (Vectors built outside coroutines: g++ 12 rejects braced lists of literals in their bodies.)
std::vector<std::string> create_argv(const std::string& fmt, const std::string& base, const std::string& overlay, int gib)
{
    std::vector<std::string> a{"qemu-img", "create", "-q", "-f", "qcow2"};
    if (!base.empty())
        a.insert(a.end(), {"-F", fmt, "-b", base});
    a.push_back(overlay);
    if (gib)
        a.push_back(std::to_string(gib) + "G");
    return a;
}

std::string read_file(const std::string& path)
{
    std::ifstream f(path);
    return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

} // namespace

asio::awaitable<result<std::string>> run_tool(asio::any_io_executor ex, std::vector<std::string> argv, std::string log,
                                              std::chrono::seconds limit, int pass_fd)
{
    auto pid = spawn_detached(argv, pass_fd, log, true);
    if (!pid)
        co_return pid.error();
    int pfd = pidfd_open(*pid);
    if (pfd < 0) {
        ::kill(*pid, SIGKILL);
        ::waitpid(*pid, nullptr, 0);
        co_return fail(errc::tool_failed, "pidfd_open for " + argv[0] + " failed");
    }
    asio::posix::stream_descriptor exit_fd(ex, pfd);
    const bool exited = co_await wait_exit(exit_fd, limit);
    if (!exited)
        ::kill(*pid, SIGKILL); // then reaped below
    int status = 0;
    ::waitpid(*pid, &status, 0); // exited (or killed): returns at once
    if (!exited)
        co_return fail(errc::tool_failed, argv[0] + " did not finish within " + std::to_string(limit.count()) + " s");
    std::string out = read_file(log);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        co_return fail(errc::tool_failed, argv[0] + " failed: " + out.substr(0, 500));
    co_return out;
}


asio::awaitable<status> make_overlay(asio::any_io_executor ex, std::string base, std::string overlay, int gib, std::string log)
{
    // The backing format, from the image's header: qcow2 starts with "QFI\xfb", anything else is
    // taken as raw. (Release 0.1.0 asked `qemu-img info`, whose JSON went to /dev/null, and so
    // declared every backing file raw, qcow2 images included.)
    std::string fmt = "raw";
    {
        std::ifstream f(base, std::ios::binary);
        char magic[4] = {};
        if (f.read(magic, 4) && magic[0] == 'Q' && magic[1] == 'F' && magic[2] == 'I' && magic[3] == '\xfb')
            fmt = "qcow2";
    }
    auto argv = create_argv(fmt, base, overlay, gib);
    auto made = co_await run_tool(ex, std::move(argv), std::move(log), std::chrono::seconds(60));
    if (!made)
        co_return made.error();
    co_return ok();
}

asio::awaitable<status> make_blank(asio::any_io_executor ex, std::string path, int gib, std::string log)
{
    auto made = co_await run_tool(ex, create_argv("", "", path, gib), std::move(log), std::chrono::seconds(60));
    if (!made)
        co_return made.error();
    co_return ok();
}

} // namespace paddock::vm
