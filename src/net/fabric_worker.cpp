// SPDX-License-Identifier: MIT
// DRIVER: the network fabric on its own thread.
#include "net/fabric_worker.hpp"

#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "net/fabric.hpp"
#include "net/netns.hpp"

namespace paddock::net {
namespace asio = boost::asio;

// A check's result as the loop receives it.
struct fabric_worker::outcome {
    result<std::vector<std::string>> changes;
    boost::json::object description;
    unsigned generation = 0;
    int ns_fd = -1; // a duplicate for the loop when the namespace changed, else -1
};

fabric_worker::fabric_worker(asio::any_io_executor loop, fabric& f, checked_fn checked)
    : loop_(loop), fabric_(f), checked_(std::move(checked)), ns_name_(f.config().namespace_name)
{
    // Start-up, before the loop runs: the first description and the namespace are taken here.
    ns_fd_ = f.ns_fd() >= 0 ? ::dup(f.ns_fd()) : -1;
    generation_ = f.generation();
    snapshot_ = f.describe();
}

fabric_worker::~fabric_worker()
{
    stop();
    if (ns_fd_ >= 0)
        ::close(ns_fd_);
}

void fabric_worker::stop()
{
    stopped_ = true;
    worker_.stop(); // a job under way finishes; queued ones are dropped, no result is delivered
    worker_.join();
}

bool fabric_worker::intact() const { return holds_netns(ns_name_, ns_fd_); }

void fabric_worker::check(bool full)
{
    if (stopped_ || (!full && intact()))
        return;
    if (busy_) {
        again_ = true; // one more check once this one ends: it sees whatever changed meanwhile
        return;
    }
    busy_ = true;
    run_check();
}

void fabric_worker::run_check()
{
    const unsigned seen = generation_;
    asio::post(worker_, [this, seen] {
        outcome o;
        o.changes = fabric_.ensure();
        o.description = fabric_.describe();
        o.generation = fabric_.generation();
        if (o.generation != seen && fabric_.ns_fd() >= 0)
            o.ns_fd = ::dup(fabric_.ns_fd());
        asio::post(loop_, [this, o = std::move(o)]() mutable { apply(std::move(o)); });
    });
}

namespace {
// Runs on the worker. (A coroutine function, not a capturing lambda: g++ 12 frees a lambda
// coroutine's captures twice.)
asio::awaitable<result<int>> open_tap_on_worker(fabric& f, std::string name) { co_return f.open_tap(name); }
asio::awaitable<std::vector<std::pair<std::string, link_info>>> taps_on_worker(fabric& f) { co_return f.taps(); }
asio::awaitable<status> forwards_on_worker(fabric& f, std::vector<port_forward> v) { co_return f.set_forwards(std::move(v)); }

// The fabric's links (host veth, namespace veth, bridge) whose presence or state differs.
std::vector<link_state> changed_links(const boost::json::object& before, const boost::json::object& after)
{
    std::vector<link_state> out;
    auto flag = [](const boost::json::object& o, const char* link, const char* key) {
        auto* l = o.if_contains(link);
        auto* v = l && l->is_object() ? l->as_object().if_contains(key) : nullptr;
        return v && v->is_bool() && v->as_bool();
    };
    for (const char* link : {"host_veth", "namespace_veth", "bridge"}) {
        bool present = flag(after, link, "present"), up = flag(after, link, "up");
        if (present == flag(before, link, "present") && up == flag(before, link, "up"))
            continue;
        auto* l = after.if_contains(link);
        auto* n = l && l->is_object() ? l->as_object().if_contains("name") : nullptr;
        out.push_back({n && n->is_string() ? std::string(n->as_string()) : link, present, up});
    }
    return out;
}
} // namespace

void fabric_worker::apply(outcome o)
{
    const bool changed = o.ns_fd >= 0;
    if (changed) {
        if (ns_fd_ >= 0)
            ::close(ns_fd_);
        ns_fd_ = o.ns_fd;
        generation_ = o.generation;
    }
    auto links = changed_links(snapshot_, o.description);
    snapshot_ = std::move(o.description);
    busy_ = false;
    if (o.changes && !o.changes->empty())
        ++repairs_;
    if (checked_)
        checked_(o.changes, changed, links);
    if (again_ && !stopped_) {
        again_ = false;
        busy_ = true;
        run_check();
    }
}

void fabric_worker::report(metric_list& out) const
{
    out.family("paddock_fabric_repairs_total", "counter", "Repairs of the network fabric that changed something.")
        .add(static_cast<double>(repairs_));
}

asio::awaitable<result<int>> fabric_worker::open_tap(std::string name)
{
    if (stopped_)
        co_return fail(errc::shutting_down, "the daemon is shutting down");
    co_return co_await asio::co_spawn(worker_, open_tap_on_worker(fabric_, std::move(name)), asio::use_awaitable);
}

asio::awaitable<std::vector<std::pair<std::string, link_info>>> fabric_worker::taps()
{
    if (stopped_)
        co_return std::vector<std::pair<std::string, link_info>>{};
    co_return co_await asio::co_spawn(worker_, taps_on_worker(fabric_), asio::use_awaitable);
}

asio::awaitable<status> fabric_worker::set_forwards(std::vector<port_forward> f)
{
    if (stopped_)
        co_return fail(errc::shutting_down, "the daemon is shutting down");
    co_return co_await asio::co_spawn(worker_, forwards_on_worker(fabric_, std::move(f)), asio::use_awaitable);
}

void fabric_worker::delete_tap(std::string name)
{
    if (!stopped_)
        asio::post(worker_, [this, name] { fabric_.delete_tap(name); });
}

} // namespace paddock::net
