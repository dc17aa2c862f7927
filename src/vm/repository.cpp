// SPDX-License-Identifier: MIT
// VM records in the store.
#include "vm/repository.hpp"

#include <memory>

#include "base/log.hpp"

namespace paddock::vm {
namespace asio = boost::asio;

store::vm_row to_row(const record& r)
{
    return {r.s.name, spec_to_json(r.s), r.mac, r.ip, r.tap, to_string(r.st), r.reason, r.accel, r.created_at, r.started_at, r.pid,
            r.resume};
}

result<record> from_row(const store::vm_row& row)
{
    auto sp = parse_spec(row.spec_json);
    if (!sp)
        return sp.error();
    record r;
    r.s = *sp;
    r.mac = row.mac;
    r.ip = row.ip;
    r.tap = row.tap;
    if (!parse_state(row.state, r.st))
        r.st = state::stopped;
    r.reason = row.reason;
    r.accel = row.accel;
    r.created_at = row.created_at;
    r.resume = row.resume;
    r.started_at = row.started_at;
    r.pid = row.pid;
    return r;
}

repository::repository(asio::any_io_executor ex, store::writer& w, latest_fn latest)
    : ex_(ex), writer_(w), latest_(std::move(latest)), retry_(ex)
{
}

asio::awaitable<status> repository::insert(record r)
{
    auto row = std::make_shared<store::vm_row>(to_row(r));
    // The job is named first: g++ 12 destroys a lambda temporary inside a co_await expression twice.
    store::writer::job job = [row](store::db& h) { return store::put_vm(h, *row); };
    co_return co_await writer_.write(std::move(job));
}

void repository::save(const record& r)
{
    const std::uint64_t seq = ++seq_[r.s.name];
    auto row = std::make_shared<store::vm_row>(to_row(r));
    writer_.submit([row](store::db& h) { return store::put_vm(h, *row); },
                   [this, name = r.s.name, seq](status st) {
                       if (st) {
                           if (seq_.count(name) && seq_[name] == seq)
                               failed_.erase(name);
                           return;
                       }
                       log::error("vm", name, ": cannot record its state (", st.error().message, "); retrying");
                       failed_[name] = true;
                       retry_later();
                   });
}

void repository::retry_later()
{
    if (retry_armed_)
        return;
    retry_armed_ = true;
    retry_.expires_after(std::chrono::seconds(1));
    retry_.async_wait([this](boost::system::error_code ec) {
        retry_armed_ = false;
        if (ec)
            return;
        auto names = std::move(failed_);
        failed_.clear();
        for (auto& [name, _] : names) {
            record r;
            if (latest_(name, r))
                save(r);
        }
    });
}

asio::awaitable<status> repository::erase(std::string name)
{
    seq_.erase(name);
    failed_.erase(name);
    auto n = std::make_shared<std::string>(name);
    store::writer::job job = [n](store::db& h) { return store::erase_vm(h, *n); };
    co_return co_await writer_.write(std::move(job));
}

} // namespace paddock::vm
