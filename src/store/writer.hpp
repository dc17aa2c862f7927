// SPDX-License-Identifier: MIT
// DRIVER: the store's one writer. Owns the daemon's SQLite connection once start-up is done and
// runs every job on its own thread, so the io_context never waits on SQLite or fsync.
//
// Jobs queued while a transaction is in flight are group-committed together in the next one.
// Each job says how durable it must be: `disk` (fsync: survives a power loss) or `os` (written to
// the OS before its commit completes: survives a crash or kill -9 of the daemon, not a power
// loss); a group is fsynced when any of its jobs asks for it. A group that fails is rolled back and each of its jobs is retried in a
// transaction of its own, so a job fails only for its own reason (or a full disk). `done` runs on
// the io_context with the job's status; a failed job left nothing on disk.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>

#include "base/error.hpp"
#include "store/db.hpp"

namespace paddock::store {

class writer {
public:
    // Runs on the writer thread inside a transaction; must not touch io_context state.
    using job = std::function<status(db&)>;
    using done_fn = std::function<void(status)>;
    enum class durability { disk, os };

    writer(boost::asio::any_io_executor ex, db conn);
    ~writer();
    writer(const writer&) = delete;
    writer& operator=(const writer&) = delete;

    void submit(job j, done_fn done, durability d = durability::disk);
    // submit() as a coroutine: completes once the job's transaction committed or failed.
    boost::asio::awaitable<status> write(job j, durability d = durability::disk);

    // Completes once every job submitted before it has committed or failed (shutdown: nothing
    // queued is lost when the loop stops).
    boost::asio::awaitable<void> drain();

    struct counters {
        std::uint64_t transactions = 0, fsynced = 0, jobs = 0, failed_jobs = 0, rollbacks = 0;
    };
    const counters& stats() const { return stats_; }

private:
    struct entry {
        job j;
        done_fn done;
        durability d;
    };
    void flush();
    // On the writer thread: one transaction for the group, else one per job.
    std::vector<status> run_group(const std::vector<entry>& group, bool fsync, bool& rolled_back);

    boost::asio::any_io_executor ex_;
    db db_;
    std::vector<entry> pending_;
    bool busy_ = false;
    counters stats_;
    boost::asio::thread_pool thread_{1};
};

} // namespace paddock::store
