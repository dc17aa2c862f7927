// SPDX-License-Identifier: MIT
// DRIVER: a VM's shared serial console.
#include "vm/console_hub.hpp"

#include <algorithm>
#include <chrono>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "base/log.hpp"
#include "vm/console.hpp"

namespace paddock::vm {
namespace asio = boost::asio;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

console_hub::console_hub(asio::any_io_executor ex, file_thread& files, std::string log_path, std::string vm)
    : ex_(ex), files_(files), log_path_(std::move(log_path)), vm_(std::move(vm)), sock_(ex), input_(ex)
{
}

asio::awaitable<void> console_hub::run(std::string socket_path)
{
    auto self = shared_from_this();
    // QEMU creates its socket while it starts: retry for up to 5 s.
    for (int i = 0; i < 50 && !ended_; ++i) {
        auto [ec] = co_await sock_.async_connect(asio::local::stream_protocol::endpoint(socket_path), use_tuple);
        if (!ec) {
            connected_ = true;
            break;
        }
        boost::system::error_code ignored;
        sock_.close(ignored);
        asio::steady_timer t(ex_, std::chrono::milliseconds(100));
        co_await t.async_wait(use_tuple);
    }
    if (!connected_) {
        if (!ended_)
            log::warn("vm", vm_, ": cannot connect to the console socket ", socket_path);
        end(console_end::unreachable);
        co_return;
    }
    asio::co_spawn(ex_, write_loop(), asio::detached);
    std::string buf(4096, '\0');
    for (;;) {
        auto [ec, n] = co_await sock_.async_read_some(asio::buffer(buf), use_tuple);
        if (ec)
            break; // EOF when QEMU exits, or closed by end()
        std::string chunk = buf.substr(0, n);
        files_.append(log_path_, chunk);
        tail_ += chunk;
        if (tail_.size() > tail_cap)
            tail_.erase(0, tail_.size() - tail_cap);
        fan_out(std::make_shared<const std::string>(std::move(chunk)));
    }
    end(console_end::vm_stopped);
}

asio::awaitable<void> console_hub::write_loop()
{
    auto self = shared_from_this();
    while (auto next = co_await input_.next()) {
        auto [ec, n] = co_await asio::async_write(sock_, asio::buffer(*next), use_tuple);
        if (ec)
            break;
    }
}

void console_hub::fan_out(std::shared_ptr<const std::string> chunk)
{
    // A viewer may leave (or the hub end) from inside output(): iterate over a copy.
    auto now = viewers_;
    for (auto& w : now)
        if (auto v = w.lock())
            v->output(chunk);
}

const char* describe(console_end why)
{
    switch (why) {
    case console_end::vm_stopped: return "the VM stopped";
    case console_end::vm_removed: return "the VM was removed";
    case console_end::unreachable: return "the console is not reachable";
    case console_end::daemon_stopping: return "the daemon is shutting down; reconnect when it is back";
    }
    return "the console ended";
}

void console_hub::end(console_end why)
{
    if (ended_)
        return;
    ended_ = true;
    boost::system::error_code ignored;
    sock_.close(ignored);
    input_.abort();
    auto now = std::move(viewers_);
    viewers_.clear();
    for (auto& w : now)
        if (auto v = w.lock())
            v->ended(why);
}

std::string console_hub::join(const std::shared_ptr<console_viewer>& v)
{
    std::erase_if(viewers_, [](const std::weak_ptr<console_viewer>& w) { return w.expired(); });
    viewers_.push_back(v);
    return tail_;
}

void console_hub::leave(const console_viewer* v)
{
    std::erase_if(viewers_, [v](const std::weak_ptr<console_viewer>& w) {
        auto p = w.lock();
        return !p || p.get() == v;
    });
}

bool console_hub::input(std::string bytes)
{
    if (ended_ || input_.bytes() + bytes.size() > input_cap)
        return false;
    const std::size_t n = bytes.size();
    input_.push(std::move(bytes), n);
    return true;
}

} // namespace paddock::vm
