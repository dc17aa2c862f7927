// SPDX-License-Identifier: MIT
// DRIVER: the file thread.
#include "vm/console.hpp"

#include <filesystem>
#include <fstream>
#include <iterator>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace paddock::vm {
namespace asio = boost::asio;

namespace {

std::string slurp(const std::string& path)
{
    std::ifstream f(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

void append_capped(const std::string& path, const std::string& bytes, std::size_t cap)
{
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    struct stat st{};
    if (::write(fd, bytes.data(), bytes.size()) >= 0 && ::fstat(fd, &st) == 0 && static_cast<std::size_t>(st.st_size) > cap) {
        std::string all = slurp(path);
        std::string keep = all.substr(all.size() - std::min(all.size(), cap / 2));
        if (::ftruncate(fd, 0) == 0)
            (void)!::write(fd, keep.data(), keep.size());
    }
    ::close(fd);
}

// Pool-side tasks: plain coroutine functions taking their inputs by value.
asio::awaitable<std::string> read_task(std::string path) { co_return slurp(path); }
asio::awaitable<void> remove_task(std::string dir)
{
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    co_return;
}

} // namespace

void file_thread::append(std::string path, std::string bytes)
{
    asio::post(pool_, [path = std::move(path), bytes = std::move(bytes), cap = cap_] { append_capped(path, bytes, cap); });
}

asio::awaitable<std::string> file_thread::read(std::string path)
{
    co_return co_await asio::co_spawn(pool_, read_task(std::move(path)), asio::use_awaitable);
}

asio::awaitable<void> file_thread::remove_all(std::string dir)
{
    co_await asio::co_spawn(pool_, remove_task(std::move(dir)), asio::use_awaitable);
}

} // namespace paddock::vm
