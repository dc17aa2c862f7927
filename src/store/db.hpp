// SPDX-License-Identifier: MIT
// The embedded store: state_dir/paddock.db (SQLite, WAL). One connection for
// the whole daemon: start-up reads it on the main thread before the io_context runs, then it is
// handed to store::writer, whose one thread does every later read and write. open() brings the
// schema up to date (store/schema).
#pragma once

#include <string>
#include <unordered_map>

#include "base/error.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace paddock::store {

class db {
public:
    // Opens (creating if needed) the database file and migrates it to the current schema.
    static result<db> open(const std::string& path);

    db(db&& o) noexcept : h_(o.h_), cache_(std::move(o.cache_)) { o.h_ = nullptr; }
    db& operator=(db&& o) noexcept;
    ~db();

    // Runs SQL with no result rows.
    status exec(const std::string& sql);
    // The failure for the connection's last error, prefixed with `what`.
    failure last_error(const std::string& what) const;
    // A prepared statement for `sql` (a string literal: its address is the key), made once and
    // kept for the connection's life; reset it after use. nullptr when it does not prepare.
    sqlite3_stmt* prepared(const char* sql);
    // When commits fsync: true = synchronous=FULL (a commit survives a power loss), false =
    // NORMAL (in WAL mode a commit is written to the OS and survives a crash or kill -9 of the
    // daemon, not a power loss). Set between transactions; no-op when unchanged.
    status set_fsync(bool on);

    sqlite3* handle() const { return h_; }

private:
    explicit db(sqlite3* h) : h_(h) {}
    void close();
    sqlite3* h_ = nullptr;
    std::unordered_map<const char*, sqlite3_stmt*> cache_;
    int fsync_ = -1; // unknown until set_fsync()
};

} // namespace paddock::store
