// SPDX-License-Identifier: MIT
// DRIVER: QMP client.
#include "qmp/client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/json.hpp>

#include "base/log.hpp"

namespace paddock::qmp {
namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

struct client::pending {
    asio::steady_timer t;
    bool done = false;
    result<json::value> r = failure{errc::qmp_timeout, "no reply"};
    explicit pending(asio::any_io_executor ex) : t(ex) {}
};

client::client(asio::any_io_executor ex) : ex_(ex), sock_(ex), outq_(ex) {}

client::~client() { close(); }

void client::close()
{
    boost::system::error_code ec;
    if (sock_.is_open()) {
        sock_.shutdown(asio::socket_base::shutdown_both, ec);
        sock_.close(ec);
    }
    connected_ = false;
    outq_.abort();
    fail_all("disconnected");
}

void client::fail_all(const std::string& why)
{
    auto p = std::move(pending_);
    pending_.clear();
    for (auto& [id, pe] : p) {
        pe->done = true;
        pe->r = failure{errc::qmp_disconnected, "QMP " + why + " before the reply to command " + id};
        pe->t.cancel();
    }
}

asio::awaitable<status> client::read_line(std::string& out, std::chrono::milliseconds timeout)
{
    asio::steady_timer t(ex_, timeout);
    char buf[4096];
    for (;;) {
        if (auto l = lines_.next()) {
            out = std::move(*l);
            co_return ok();
        }
        if (lines_.overflow())
            co_return fail(errc::qmp_protocol, "line longer than the limit");
        auto r = co_await (sock_.async_read_some(asio::buffer(buf), use_tuple) || t.async_wait(use_tuple));
        if (r.index() == 1)
            co_return fail(errc::qmp_timeout, "no data from QEMU within " + std::to_string(timeout.count()) + " ms");
        auto [ec, n] = std::get<0>(r);
        if (ec)
            co_return fail(errc::qmp_disconnected, "QMP socket: " + ec.message());
        lines_.feed(std::string_view(buf, n));
    }
}

asio::awaitable<status> client::connect(std::string path, std::chrono::milliseconds timeout)
{
    auto deadline = std::chrono::steady_clock::now() + timeout;
    boost::system::error_code last;
    // The socket can appear well after QEMU starts on a busy machine: retry until the deadline.
    for (;;) {
        boost::system::error_code ec;
        if (sock_.is_open())
            sock_.close(ec);
        auto [cec] = co_await sock_.async_connect(asio::local::stream_protocol::endpoint(path), use_tuple);
        if (!cec)
            break;
        last = cec;
        if (std::chrono::steady_clock::now() >= deadline)
            co_return fail(errc::qmp_timeout, "cannot connect to " + path + ": " + last.message());
        asio::steady_timer t(ex_, 20ms);
        co_await t.async_wait(use_tuple);
    }
    auto left = [&] {
        auto d = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        return std::max(d, std::chrono::milliseconds(200));
    };
    std::string line;
    if (auto st = co_await read_line(line, left()); !st)
        co_return st;
    if (classify(line).k != kind::greeting)
        co_return fail(errc::qmp_protocol, "expected the QMP greeting, got: " + line.substr(0, 200));
    // Negotiate before the reader and writer run: execute() is not usable yet.
    std::string cmd = command_line("qmp_capabilities", {}, "");
    auto [wec, wn] = co_await asio::async_write(sock_, asio::buffer(cmd), use_tuple);
    if (wec)
        co_return fail(errc::qmp_disconnected, "write qmp_capabilities: " + wec.message());
    for (;;) {
        if (auto st = co_await read_line(line, left()); !st)
            co_return st;
        auto m = classify(line);
        if (m.k == kind::event)
            continue;
        if (m.k == kind::reply)
            break;
        co_return fail(errc::qmp_protocol, "qmp_capabilities failed: " + line.substr(0, 200));
    }
    connected_ = true;
    co_return ok();
}

asio::awaitable<status> client::connect_agent(std::string path, std::chrono::milliseconds timeout)
{
    asio::steady_timer t(ex_, timeout);
    auto r = co_await (sock_.async_connect(asio::local::stream_protocol::endpoint(path), use_tuple) || t.async_wait(use_tuple));
    if (r.index() == 1)
        co_return fail(errc::qmp_timeout, "cannot connect to " + path + " in time");
    if (auto [ec] = std::get<0>(r); ec)
        co_return fail(errc::qmp_disconnected, "cannot connect to " + path + ": " + ec.message());
    agent_ = true;
    connected_ = true;
    outq_.push(std::string("\xff"), 1);
    co_return ok();
}

asio::awaitable<void> client::writer()
{
    auto self = shared_from_this();
    while (auto line = co_await outq_.next()) {
        auto [ec, n] = co_await asio::async_write(sock_, asio::buffer(*line), use_tuple);
        if (ec)
            break;
    }
}

asio::awaitable<void> client::run()
{
    auto self = shared_from_this();
    if (!connected_)
        co_return;
    // The writer ends with the session (close() wakes it); it only ever logs.
    asio::co_spawn(ex_, writer(), [](std::exception_ptr e) {
        if (e)
            log::error("qmp", "writer ended with an exception");
    });
    char buf[8192];
    while (connected_) {
        while (auto l = lines_.next()) {
            if (agent_) { // guest-sync-delimited's sentinel, and nothing else, may precede a reply
                auto from = l->find_first_not_of('\xff');
                if (from == std::string::npos)
                    continue;
                l->erase(0, from);
            }
            auto m = classify(*l);
            switch (m.k) {
            case kind::event:
                if (on_event_)
                    on_event_(m.event, m.data);
                break;
            case kind::reply:
            case kind::error: {
                auto it = pending_.find(m.id);
                if (it == pending_.end()) {
                    if (m.k == kind::error && m.id.empty() && !agent_) {
                        // qmp-spec: an error without an id means QEMU could not parse our input.
                        log::error("qmp", "QEMU could not parse a command: ", m.error_desc, "; closing the session");
                        close();
                        co_return;
                    }
                    log::debug("qmp", "reply for unknown id '", m.id, "' dropped (qmp-spec 2.4)");
                    break;
                }
                auto p = it->second;
                pending_.erase(it);
                p->done = true;
                if (m.k == kind::reply)
                    p->r = m.ret;
                else
                    p->r = failure{errc::qmp_error, m.error_class + ": " + m.error_desc};
                p->t.cancel();
                break;
            }
            case kind::greeting:
                break;
            case kind::invalid:
                log::warn("qmp", "ignored a malformed QMP line: ", m.problem);
                break;
            }
        }
        if (lines_.overflow()) {
            log::error("qmp", "QMP line over the size limit; closing the session");
            break;
        }
        auto [ec, n] = co_await sock_.async_read_some(asio::buffer(buf), use_tuple);
        if (ec)
            break;
        lines_.feed(std::string_view(buf, n));
    }
    close();
}

asio::awaitable<result<json::value>> client::execute(std::string cmd, json::object args, std::chrono::milliseconds timeout)
{
    auto self = shared_from_this();
    if (!connected_)
        co_return failure{errc::qmp_disconnected, "QMP is not connected"};
    std::string id = "paddock-" + std::to_string(next_id_++);
    auto p = std::make_shared<pending>(ex_);
    pending_[id] = p;
    std::string line = command_line(cmd, args, id);
    const std::size_t n = line.size();
    outq_.push(std::move(line), n);
    // The timer is both the timeout and the wake-up: the reader cancels it when the reply comes.
    p->t.expires_after(timeout);
    co_await p->t.async_wait(use_tuple);
    if (!p->done) {
        pending_.erase(id);
        co_return failure{errc::qmp_timeout, cmd + ": no reply from QEMU within " + std::to_string(timeout.count()) + " ms"};
    }
    co_return p->r;
}

} // namespace paddock::qmp
