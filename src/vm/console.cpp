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

// Whole-file write: a temporary file renamed over `path`, so a reader never sees half of it.
asio::awaitable<std::string> write_task(std::string path, std::shared_ptr<const std::vector<std::uint8_t>> bytes)
{
    const std::string tmp = path + ".tmp";
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(bytes->data()), static_cast<std::streamsize>(bytes->size()));
    f.close();
    if (!f) {
        ::unlink(tmp.c_str());
        co_return "write " + tmp + " failed";
    }
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    co_return ec ? "rename to " + path + ": " + ec.message() : std::string();
}

asio::awaitable<std::string> copy_task(std::string from, std::string to)
{
    std::error_code ec;
    if (std::filesystem::exists(to, ec))
        co_return std::string();
    std::filesystem::copy_file(from, to + ".tmp", std::filesystem::copy_options::overwrite_existing, ec);
    if (!ec)
        std::filesystem::rename(to + ".tmp", to, ec);
    co_return ec ? "copy " + from + " to " + to + ": " + ec.message() : std::string();
}

} // namespace

asio::awaitable<status> file_thread::write(std::string path, std::shared_ptr<const std::vector<std::uint8_t>> bytes)
{
    auto err = co_await asio::co_spawn(pool_, write_task(std::move(path), std::move(bytes)), asio::use_awaitable);
    if (!err.empty())
        co_return fail(errc::store_failed, err);
    co_return ok();
}

asio::awaitable<status> file_thread::copy_once(std::string from, std::string to)
{
    auto err = co_await asio::co_spawn(pool_, copy_task(std::move(from), std::move(to)), asio::use_awaitable);
    if (!err.empty())
        co_return fail(errc::store_failed, err);
    co_return ok();
}

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
