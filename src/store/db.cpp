// SPDX-License-Identifier: MIT
// The embedded SQLite store.
#include "store/db.hpp"

#include <sqlite3.h>

#include "store/schema.hpp"

namespace paddock::store {

result<db> db::open(const std::string& path)
{
    sqlite3* h = nullptr;
    if (sqlite3_open_v2(path.c_str(), &h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        nullptr) != SQLITE_OK) {
        auto f = fail(errc::store_failed, "open " + path + ": " + (h ? sqlite3_errmsg(h) : "out of memory"));
        sqlite3_close(h);
        return f;
    }
    db d(h);
    // One connection in one process: a busy wait only covers another process (a `teardown` run
    // while the daemon stops).
    sqlite3_busy_timeout(h, 5000);
    // Until told otherwise (set_fsync), every commit is fsynced: start-up writes and teardown.
    if (auto st = d.exec("PRAGMA journal_mode=WAL"); !st)
        return st.error();
    if (auto st = d.set_fsync(true); !st)
        return st.error();
    if (auto st = migrate(d); !st)
        return fail(errc::store_failed, path + ": " + st.error().message);
    return d;
}

db& db::operator=(db&& o) noexcept
{
    if (this != &o) {
        close();
        h_ = o.h_;
        cache_ = std::move(o.cache_);
        fsync_ = o.fsync_;
        o.h_ = nullptr;
    }
    return *this;
}

db::~db() { close(); }

void db::close()
{
    for (auto& [sql, st] : cache_)
        sqlite3_finalize(st);
    cache_.clear();
    if (h_)
        sqlite3_close(h_);
    h_ = nullptr;
}

sqlite3_stmt* db::prepared(const char* sql)
{
    if (auto it = cache_.find(sql); it != cache_.end())
        return it->second;
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v3(h_, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, nullptr) != SQLITE_OK)
        return nullptr;
    cache_.emplace(sql, st);
    return st;
}

status db::set_fsync(bool on)
{
    if (fsync_ == static_cast<int>(on))
        return ok();
    if (auto st = exec(on ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL"); !st)
        return st;
    fsync_ = on;
    return ok();
}

status db::exec(const std::string& sql)
{
    char* err = nullptr;
    if (sqlite3_exec(h_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
        std::string m = err ? err : "unknown error";
        sqlite3_free(err);
        return fail(errc::store_failed, sql.substr(0, 40) + ": " + m);
    }
    return ok();
}

failure db::last_error(const std::string& what) const
{
    return fail(errc::store_failed, what + ": " + (h_ ? sqlite3_errmsg(h_) : "no database"));
}

} // namespace paddock::store
