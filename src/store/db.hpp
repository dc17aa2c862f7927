// SPDX-License-Identifier: MIT
// The embedded store: state_dir/paddock.db (SQLite, WAL, synchronous=FULL). One connection for
// the whole daemon: start-up reads it on the main thread before the io_context runs, then it is
// handed to store::writer, whose one thread does every later read and write. open() brings the
// schema up to date (store/schema).
#pragma once

#include <string>

#include "base/error.hpp"

struct sqlite3;

namespace paddock::store {

class db {
public:
    // Opens (creating if needed) the database file and migrates it to the current schema.
    static result<db> open(const std::string& path);

    db(db&& o) noexcept : h_(o.h_) { o.h_ = nullptr; }
    db& operator=(db&& o) noexcept;
    ~db();

    // Runs SQL with no result rows.
    status exec(const std::string& sql);
    // The failure for the connection's last error, prefixed with `what`.
    failure last_error(const std::string& what) const;

    sqlite3* handle() const { return h_; }

private:
    explicit db(sqlite3* h) : h_(h) {}
    sqlite3* h_ = nullptr;
};

} // namespace paddock::store
