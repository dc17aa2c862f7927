// SPDX-License-Identifier: MIT
// Numbered schema migrations.
#include "store/schema.hpp"

#include <string>
#include <vector>

#include <sqlite3.h>

#include "store/statement.hpp"

namespace paddock::store {

namespace {

// Each entry is migration N = index + 1. Append only; never edit a released step.
const std::vector<std::vector<const char*>>& migrations()
{
    static const std::vector<std::vector<const char*>> steps{
        // 1: release 0.1.0's tables.
        {"CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
         "CREATE TABLE IF NOT EXISTS leases (ip INTEGER PRIMARY KEY, mac TEXT NOT NULL, client_id TEXT NOT NULL, "
         "hostname TEXT NOT NULL, vm TEXT NOT NULL, state TEXT NOT NULL, expires_at INTEGER NOT NULL)",
         "CREATE TABLE IF NOT EXISTS reservations (mac TEXT PRIMARY KEY, ip INTEGER NOT NULL UNIQUE, "
         "hostname TEXT NOT NULL, vm TEXT NOT NULL)",
         "CREATE TABLE IF NOT EXISTS vms (name TEXT PRIMARY KEY, spec TEXT NOT NULL, mac TEXT NOT NULL, "
         "ip TEXT NOT NULL, tap TEXT NOT NULL, state TEXT NOT NULL, reason TEXT NOT NULL, "
         "created_at INTEGER NOT NULL, started_at INTEGER NOT NULL, pid INTEGER NOT NULL, accel TEXT NOT NULL)"},
        // 2: typed settings replace the key/value `meta` (its schema_version row gives way to
        // user_version); leases are looked up by MAC when a VM is removed.
        {"CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
         "INSERT INTO settings(key, value) SELECT key, value FROM meta WHERE key <> 'schema_version'",
         "DROP TABLE meta",
         "CREATE INDEX leases_by_mac ON leases(mac)"},
        // 3: the image store's records (the files stay in state_dir/images).
        {"CREATE TABLE images (name TEXT PRIMARY KEY, format TEXT NOT NULL, kind TEXT NOT NULL, size INTEGER NOT NULL, "
         "virtual_size INTEGER NOT NULL, sha256 TEXT NOT NULL, added_at INTEGER NOT NULL)"},
        // 4: a VM stopped with "restore" (paddockd shutdown-vms) is started when the daemon next starts.
        {"ALTER TABLE vms ADD COLUMN resume INTEGER NOT NULL DEFAULT 0"},
    };
    return steps;
}

result<int> user_version(db& d)
{
    statement q;
    if (sqlite3_prepare_v2(d.handle(), "PRAGMA user_version", -1, &q.s, nullptr) != SQLITE_OK || sqlite3_step(q.s) != SQLITE_ROW)
        return d.last_error("read user_version");
    return sqlite3_column_int(q.s, 0);
}

} // namespace

int schema_version() { return static_cast<int>(migrations().size()); }

status migrate(db& d)
{
    auto v = user_version(d);
    if (!v)
        return v.error();
    if (*v > schema_version())
        return fail(errc::store_failed, "schema version " + std::to_string(*v) + " is newer than this daemon's " +
                                            std::to_string(schema_version()) + "; refusing to touch it");
    for (int n = *v + 1; n <= schema_version(); ++n) {
        if (auto st = d.exec("BEGIN IMMEDIATE"); !st)
            return st;
        status st = ok();
        for (const char* sql : migrations()[n - 1])
            if (st = d.exec(sql); !st)
                break;
        const std::string bump = "PRAGMA user_version = " + std::to_string(n);
        if (st)
            st = d.exec(bump);
        if (st)
            st = d.exec("COMMIT");
        if (!st) {
            d.exec("ROLLBACK");
            return fail(errc::store_failed, "migration " + std::to_string(n) + ": " + st.error().message);
        }
    }
    return ok();
}

} // namespace paddock::store
