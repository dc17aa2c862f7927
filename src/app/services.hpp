// SPDX-License-Identifier: MIT
// The daemon's long-running coroutines (servers, watchers, probes), each started with its own
// cancellation signal and stopped together at shutdown; and the services that live in the
// fabric's namespace, opened together at start and moved together when the namespace is made anew.
// Adding a namespace service is one add() in the daemon.
#pragma once

#include <list>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_signal.hpp>

#include "base/error.hpp"
#include "base/ns_service.hpp"

namespace paddock::app {

class tasks {
public:
    explicit tasks(boost::asio::any_io_executor ex) : ex_(ex) {}
    // Runs `a` until it ends or stop_all(); an exception is logged with `name`.
    void spawn(std::string name, boost::asio::awaitable<void> a);
    // Terminal cancellation to every task.
    void stop_all();

private:
    boost::asio::any_io_executor ex_;
    std::list<boost::asio::cancellation_signal> signals_;
};

class namespace_services {
public:
    void add(ns_service& s) { list_.push_back(&s); }
    // Opens every service in the namespace `ns_fd`; the first failure, after trying them all.
    status open_all(int ns_fd);
    // Runs every service's run() as a task.
    void start(tasks& t);

private:
    std::vector<ns_service*> list_;
};

} // namespace paddock::app
