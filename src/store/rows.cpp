// SPDX-License-Identifier: MIT
// Typed repositories.
#include "store/rows.hpp"

#include <sqlite3.h>


namespace paddock::store {

namespace {

std::string text(sqlite3_stmt* s, int col)
{
    auto* t = reinterpret_cast<const char*>(sqlite3_column_text(s, col));
    return t ? t : "";
}

// One use of a connection's cached statement: parameters bind in order from the arguments; the
// statement is reset (not finalized) when the query goes out of scope.
class query {
public:
    query(db& d, const char* sql) : d_(d), st_(d.prepared(sql)) {}
    query(const query&) = delete;
    ~query()
    {
        if (st_) {
            sqlite3_reset(st_);
            sqlite3_clear_bindings(st_);
        }
    }
    query& bind(const std::string& v)
    {
        ok_ = ok_ && st_ && sqlite3_bind_text(st_, ++n_, v.c_str(), -1, SQLITE_TRANSIENT) == SQLITE_OK;
        return *this;
    }
    query& bind(std::int64_t v)
    {
        ok_ = ok_ && st_ && sqlite3_bind_int64(st_, ++n_, v) == SQLITE_OK;
        return *this;
    }
    // Runs a statement that returns no rows.
    status run(const std::string& what)
    {
        if (!prepared() || sqlite3_step(st_) != SQLITE_DONE)
            return d_.last_error(what);
        return ok();
    }
    bool prepared() const { return ok_ && st_; }
    bool next() { return sqlite3_step(st_) == SQLITE_ROW; }
    sqlite3_stmt* get() { return st_; }

private:
    db& d_;
    sqlite3_stmt* st_;
    bool ok_ = true;
    int n_ = 0;
};

} // namespace

result<std::optional<std::string>> get_setting(db& d, const std::string& key)
{
    query q(d, "SELECT value FROM settings WHERE key = ?1");
    q.bind(key);
    if (!q.prepared())
        return d.last_error("read setting " + key);
    if (!q.next())
        return std::optional<std::string>{};
    return std::optional<std::string>{text(q.get(), 0)};
}

status put_setting(db& d, const std::string& key, const std::string& value)
{
    return query(d, "INSERT INTO settings(key, value) VALUES(?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value")
        .bind(key)
        .bind(value)
        .run("write setting " + key);
}

status erase_setting(db& d, const std::string& key)
{
    return query(d, "DELETE FROM settings WHERE key = ?1").bind(key).run("erase setting " + key);
}

result<std::vector<lease_row>> load_leases(db& d)
{
    query q(d, "SELECT ip, mac, client_id, hostname, vm, state, expires_at FROM leases");
    if (!q.prepared())
        return d.last_error("load leases");
    std::vector<lease_row> out;
    while (q.next()) {
        auto* s = q.get();
        out.push_back({static_cast<std::uint32_t>(sqlite3_column_int64(s, 0)), text(s, 1), text(s, 2), text(s, 3),
                       text(s, 4), text(s, 5), sqlite3_column_int64(s, 6)});
    }
    return out;
}

status put_lease(db& d, const lease_row& l)
{
    return query(d, "INSERT OR REPLACE INTO leases(ip, mac, client_id, hostname, vm, state, expires_at) "
                    "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)")
        .bind(static_cast<std::int64_t>(l.ip))
        .bind(l.mac)
        .bind(l.client_id)
        .bind(l.hostname)
        .bind(l.vm)
        .bind(l.state)
        .bind(l.expires_at)
        .run("write lease");
}

status erase_lease(db& d, std::uint32_t ip, const std::string& mac)
{
    return query(d, "DELETE FROM leases WHERE ip = ?1 AND mac = ?2").bind(static_cast<std::int64_t>(ip)).bind(mac).run("erase lease");
}

result<std::vector<reservation_row>> load_reservations(db& d)
{
    query q(d, "SELECT mac, ip, hostname, vm FROM reservations");
    if (!q.prepared())
        return d.last_error("load reservations");
    std::vector<reservation_row> out;
    while (q.next()) {
        auto* s = q.get();
        out.push_back({text(s, 0), static_cast<std::uint32_t>(sqlite3_column_int64(s, 1)), text(s, 2), text(s, 3)});
    }
    return out;
}

status put_reservation(db& d, const reservation_row& r)
{
    return query(d, "INSERT OR REPLACE INTO reservations(mac, ip, hostname, vm) VALUES(?1, ?2, ?3, ?4)")
        .bind(r.mac)
        .bind(static_cast<std::int64_t>(r.ip))
        .bind(r.hostname)
        .bind(r.vm)
        .run("write reservation");
}

status erase_reservation(db& d, const std::string& mac)
{
    return query(d, "DELETE FROM reservations WHERE mac = ?1").bind(mac).run("erase reservation");
}

result<std::vector<vm_row>> load_vms(db& d)
{
    query q(d, "SELECT name, spec, mac, ip, tap, state, reason, accel, created_at, started_at, pid, resume FROM vms");
    if (!q.prepared())
        return d.last_error("load VMs");
    std::vector<vm_row> out;
    while (q.next()) {
        auto* s = q.get();
        out.push_back({text(s, 0), text(s, 1), text(s, 2), text(s, 3), text(s, 4), text(s, 5), text(s, 6), text(s, 7),
                       sqlite3_column_int64(s, 8), sqlite3_column_int64(s, 9), sqlite3_column_int(s, 10),
                       sqlite3_column_int(s, 11) != 0});
    }
    return out;
}

status put_vm(db& d, const vm_row& r)
{
    return query(d, "INSERT OR REPLACE INTO vms(name, spec, mac, ip, tap, state, reason, accel, created_at, started_at, pid, resume) "
                    "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)")
        .bind(r.name)
        .bind(r.spec_json)
        .bind(r.mac)
        .bind(r.ip)
        .bind(r.tap)
        .bind(r.state)
        .bind(r.reason)
        .bind(r.accel)
        .bind(r.created_at)
        .bind(r.started_at)
        .bind(static_cast<std::int64_t>(r.pid))
        .bind(static_cast<std::int64_t>(r.resume ? 1 : 0))
        .run("write VM " + r.name);
}

status erase_vm(db& d, const std::string& name)
{
    return query(d, "DELETE FROM vms WHERE name = ?1").bind(name).run("erase VM " + name);
}

result<std::vector<image_row>> load_images(db& d)
{
    query q(d, "SELECT name, format, kind, sha256, size, virtual_size, added_at FROM images ORDER BY name");
    if (!q.prepared())
        return d.last_error("load images");
    std::vector<image_row> out;
    while (q.next()) {
        auto* s = q.get();
        out.push_back({text(s, 0), text(s, 1), text(s, 2), text(s, 3), sqlite3_column_int64(s, 4),
                       sqlite3_column_int64(s, 5), sqlite3_column_int64(s, 6)});
    }
    return out;
}

status put_image(db& d, const image_row& r)
{
    return query(d, "INSERT OR REPLACE INTO images(name, format, kind, sha256, size, virtual_size, added_at) "
                    "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)")
        .bind(r.name)
        .bind(r.format)
        .bind(r.kind)
        .bind(r.sha256)
        .bind(r.size)
        .bind(r.virtual_size)
        .bind(r.added_at)
        .run("write image " + r.name);
}

status erase_image(db& d, const std::string& name)
{
    return query(d, "DELETE FROM images WHERE name = ?1").bind(name).run("erase image " + name);
}

} // namespace paddock::store
