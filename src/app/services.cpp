// SPDX-License-Identifier: MIT
#include "app/services.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>

#include "base/log.hpp"

namespace paddock::app {
namespace asio = boost::asio;

void tasks::spawn(std::string name, asio::awaitable<void> a)
{
    auto& sig = signals_.emplace_back();
    asio::co_spawn(ex_, std::move(a), asio::bind_cancellation_slot(sig.slot(), [name](std::exception_ptr e) {
                       if (!e)
                           return;
                       try {
                           std::rethrow_exception(e);
                       }
                       catch (const std::exception& x) {
                           log::error("daemon", name, " failed: ", x.what());
                       }
                   }));
}

void tasks::stop_all()
{
    for (auto& s : signals_)
        s.emit(asio::cancellation_type::terminal);
}

status namespace_services::open_all(int ns_fd)
{
    status first = ok();
    for (auto* s : list_)
        if (auto st = s->open(ns_fd); !st) {
            log::error(s->name(), "cannot open in the namespace: ", st.error().message);
            if (first)
                first = fail(st.error().code, std::string(s->name()) + ": " + st.error().message);
        }
    return first;
}

void namespace_services::start(tasks& t)
{
    for (auto* s : list_)
        t.spawn(s->name(), s->run());
}

} // namespace paddock::app
