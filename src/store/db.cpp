// SPDX-License-Identifier: MIT
// The embedded SQLite store.
#include "store/db.hpp"
#include "store/statement.hpp"

#include <sqlite3.h>

namespace paddock::store {

namespace {
failure sql_fail(sqlite3* h, const std::string& what)
{
    return fail(errc::store_failed, what + ": " + (h ? sqlite3_errmsg(h) : "out of memory"));
}

constexpr int schema_version = 1;

} // namespace

result<db> db::open(const std::string& path)
{
    sqlite3* h = nullptr;
    if (sqlite3_open_v2(path.c_str(), &h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        nullptr) != SQLITE_OK) {
        auto f = sql_fail(h, "open " + path);
        sqlite3_close(h);
        return f;
    }
    db d(h);
    sqlite3_busy_timeout(h, 2000);
    for (const char* sql : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL",
                            "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"}) {
        if (auto st = d.exec(sql); !st)
            return st.error();
    }
    auto v = d.get("schema_version");
    if (v && std::stoi(*v) > schema_version)
        return fail(errc::store_failed, path + " has schema version " + *v + ", newer than this daemon's " +
                                        std::to_string(schema_version));
    if (!v)
        if (auto st = d.put("schema_version", std::to_string(schema_version)); !st)
            return st.error();
    return d;
}

db::~db()
{
    if (h_)
        sqlite3_close(h_);
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

std::optional<std::string> db::get(const std::string& key)
{
    statement s;
    if (sqlite3_prepare_v2(h_, "SELECT value FROM meta WHERE key = ?1", -1, &s.s, nullptr) != SQLITE_OK)
        return std::nullopt;
    sqlite3_bind_text(s.s, 1, key.c_str(), -1, SQLITE_TRANSIENT);
    if (sqlite3_step(s.s) != SQLITE_ROW)
        return std::nullopt;
    auto* t = reinterpret_cast<const char*>(sqlite3_column_text(s.s, 0));
    return std::string(t ? t : "");
}

status db::put(const std::string& key, const std::string& value)
{
    statement s;
    if (sqlite3_prepare_v2(h_, "INSERT INTO meta(key, value) VALUES(?1, ?2) "
                               "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                           -1, &s.s, nullptr) != SQLITE_OK)
        return sql_fail(h_, "prepare put");
    sqlite3_bind_text(s.s, 1, key.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s.s, 2, value.c_str(), -1, SQLITE_TRANSIENT);
    if (sqlite3_step(s.s) != SQLITE_DONE)
        return sql_fail(h_, "put " + key);
    return ok();
}

status db::erase(const std::string& key)
{
    statement s;
    if (sqlite3_prepare_v2(h_, "DELETE FROM meta WHERE key = ?1", -1, &s.s, nullptr) != SQLITE_OK)
        return sql_fail(h_, "prepare erase");
    sqlite3_bind_text(s.s, 1, key.c_str(), -1, SQLITE_TRANSIENT);
    if (sqlite3_step(s.s) != SQLITE_DONE)
        return sql_fail(h_, "erase " + key);
    return ok();
}

} // namespace paddock::store
