// SPDX-License-Identifier: MIT
// The embedded store: state_dir/paddock.db (SQLite, WAL mode) with a schema version and a
// key/value table for daemon facts (e.g. the host's ip_forward before Paddock changed it).
// Later modules (leases, VMs) add their tables through migrate().
#pragma once

#include <optional>
#include <string>

#include "base/error.hpp"

struct sqlite3;

namespace paddock::store {

class db {
public:
    // Opens (creating if needed) the database file and brings its schema up to date.
    static result<db> open(const std::string& path);

    db(db&& o) noexcept : h_(o.h_) { o.h_ = nullptr; }
    db& operator=(db&&) = delete;
    ~db();

    std::optional<std::string> get(const std::string& key);
    status put(const std::string& key, const std::string& value);
    status erase(const std::string& key);
    // Runs SQL with no result rows (schema changes, BEGIN/COMMIT).
    status exec(const std::string& sql);

    sqlite3* handle() { return h_; }

private:
    explicit db(sqlite3* h) : h_(h) {}
    sqlite3* h_ = nullptr;
};

} // namespace paddock::store
