// SPDX-License-Identifier: MIT
// DRIVER: the store's writer thread and group commit.
#include "store/writer.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace paddock::store {
namespace asio = boost::asio;

writer::writer(asio::any_io_executor ex, db conn) : ex_(ex), db_(std::move(conn)) {}

writer::~writer()
{
    thread_.join(); // the connection must outlive the last job
}

void writer::submit(job j, done_fn done, durability d)
{
    pending_.push_back({std::move(j), std::move(done), d});
    flush();
}

asio::awaitable<status> writer::write(job j, durability d)
{
    // A timer that never expires, cancelled by the completion: a condition variable.
    auto cv = std::make_shared<asio::steady_timer>(ex_, asio::steady_timer::time_point::max());
    auto out = std::make_shared<status>(ok());
    submit(
        std::move(j),
        [cv, out](status st) {
            *out = std::move(st);
            cv->cancel();
        },
        d);
    co_await cv->async_wait(asio::as_tuple(asio::use_awaitable));
    co_return *out;
}

asio::awaitable<void> writer::drain()
{
    // Jobs run in order and a group completes together: a no-op queued last completes after all.
    co_await write([](db&) { return ok(); }, durability::os);
}

void writer::flush()
{
    if (busy_ || pending_.empty())
        return;
    busy_ = true;
    auto group = std::make_shared<std::vector<entry>>(std::move(pending_));
    pending_.clear();
    bool fsync = false;
    for (auto& e : *group)
        fsync = fsync || e.d == durability::disk;
    asio::post(thread_, [this, group, fsync] {
        bool rolled_back = false;
        auto results = std::make_shared<std::vector<status>>(run_group(*group, fsync, rolled_back));
        asio::post(ex_, [this, group, results, rolled_back, fsync] {
            busy_ = false;
            ++stats_.transactions;
            stats_.fsynced += fsync ? 1 : 0;
            stats_.jobs += group->size();
            stats_.rollbacks += rolled_back ? 1 : 0;
            for (std::size_t i = 0; i < group->size(); ++i) {
                stats_.failed_jobs += (*results)[i] ? 0 : 1;
                if ((*group)[i].done)
                    (*group)[i].done((*results)[i]);
            }
            flush();
        });
    });
}

std::vector<status> writer::run_group(const std::vector<entry>& group, bool fsync, bool& rolled_back)
{
    // One transaction: every job, then COMMIT (with its fsync when asked). Any failure undoes the lot.
    auto attempt = [this, fsync](auto first, auto last, std::vector<status>& out) {
        status st = db_.set_fsync(fsync);
        if (st)
            st = db_.exec("BEGIN IMMEDIATE");
        for (auto it = first; st && it != last; ++it)
            if (auto r = it->j(db_); !r)
                st = r;
        if (st)
            st = db_.exec("COMMIT");
        if (!st)
            db_.exec("ROLLBACK"); // harmless when SQLite already rolled back by itself
        out.assign(static_cast<std::size_t>(last - first), st);
        return static_cast<bool>(st);
    };
    std::vector<status> results;
    if (attempt(group.begin(), group.end(), results) || group.size() == 1) {
        rolled_back = !results.front();
        return results;
    }
    rolled_back = true;
    // Retry each job alone: one job's failure must not fail the others.
    results.clear();
    for (auto it = group.begin(); it != group.end(); ++it) {
        std::vector<status> one;
        attempt(it, it + 1, one);
        results.push_back(one.front());
    }
    return results;
}

} // namespace paddock::store
