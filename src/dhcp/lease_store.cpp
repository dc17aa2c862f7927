// SPDX-License-Identifier: MIT
// Durable leases and reservations.
#include "dhcp/lease_store.hpp"
#include "store/statement.hpp"

#include <sqlite3.h>

namespace paddock::dhcp {

namespace {

failure sql_fail(sqlite3* h, const std::string& what) { return fail(errc::store_failed, what + ": " + sqlite3_errmsg(h)); }

status exec(sqlite3* h, const char* sql)
{
    char* err = nullptr;
    if (sqlite3_exec(h, sql, nullptr, nullptr, &err) != SQLITE_OK) {
        std::string m = err ? err : "?";
        sqlite3_free(err);
        return fail(errc::store_failed, m);
    }
    return ok();
}

lease_state state_of(const std::string& s)
{
    if (s == "bound") return lease_state::bound;
    if (s == "declined") return lease_state::declined;
    return lease_state::offered;
}

std::string text(sqlite3_stmt* s, int col)
{
    auto* t = reinterpret_cast<const char*>(sqlite3_column_text(s, col));
    return t ? t : "";
}
} // namespace

result<lease_store> lease_store::open(const std::string& path)
{
    sqlite3* h = nullptr;
    if (sqlite3_open_v2(path.c_str(), &h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr) !=
        SQLITE_OK) {
        auto f = fail(errc::store_failed, "open " + path + ": " + (h ? sqlite3_errmsg(h) : "out of memory"));
        sqlite3_close(h);
        return f;
    }
    lease_store s(h);
    sqlite3_busy_timeout(h, 5000);
    for (const char* sql :
         {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL",
          "CREATE TABLE IF NOT EXISTS leases (ip INTEGER PRIMARY KEY, mac TEXT NOT NULL, client_id TEXT NOT NULL, "
          "hostname TEXT NOT NULL, vm TEXT NOT NULL, state TEXT NOT NULL, expires_at INTEGER NOT NULL)",
          "CREATE TABLE IF NOT EXISTS reservations (mac TEXT PRIMARY KEY, ip INTEGER NOT NULL UNIQUE, "
          "hostname TEXT NOT NULL, vm TEXT NOT NULL)"})
        if (auto st = exec(h, sql); !st)
            return st.error();
    return s;
}

lease_store::~lease_store()
{
    if (h_)
        sqlite3_close(h_);
}

result<std::vector<lease>> lease_store::load_leases()
{
    store::statement s;
    if (sqlite3_prepare_v2(h_, "SELECT ip, mac, client_id, hostname, vm, state, expires_at FROM leases", -1, &s.s,
                           nullptr) != SQLITE_OK)
        return sql_fail(h_, "load leases");
    std::vector<lease> out;
    while (sqlite3_step(s.s) == SQLITE_ROW) {
        lease l;
        l.ip.value = static_cast<std::uint32_t>(sqlite3_column_int64(s.s, 0));
        l.mac = text(s.s, 1);
        l.client_id = text(s.s, 2);
        l.hostname = text(s.s, 3);
        l.vm = text(s.s, 4);
        l.state = state_of(text(s.s, 5));
        l.expires_at = sqlite3_column_int64(s.s, 6);
        out.push_back(std::move(l));
    }
    return out;
}

result<std::vector<reservation>> lease_store::load_reservations()
{
    store::statement s;
    if (sqlite3_prepare_v2(h_, "SELECT mac, ip, hostname, vm FROM reservations", -1, &s.s, nullptr) != SQLITE_OK)
        return sql_fail(h_, "load reservations");
    std::vector<reservation> out;
    while (sqlite3_step(s.s) == SQLITE_ROW) {
        reservation r;
        r.mac = text(s.s, 0);
        r.ip.value = static_cast<std::uint32_t>(sqlite3_column_int64(s.s, 1));
        r.hostname = text(s.s, 2);
        r.vm = text(s.s, 3);
        out.push_back(std::move(r));
    }
    return out;
}

status lease_store::commit(const std::vector<store_op>& ops)
{
    if (ops.empty())
        return ok();
    if (auto st = exec(h_, "BEGIN IMMEDIATE"); !st)
        return st;
    store::statement put_lease, del_lease, put_resv, del_resv;
    bool good = sqlite3_prepare_v2(h_,
                                   "INSERT OR REPLACE INTO leases(ip, mac, client_id, hostname, vm, state, expires_at) "
                                   "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                                   -1, &put_lease.s, nullptr) == SQLITE_OK &&
                sqlite3_prepare_v2(h_, "DELETE FROM leases WHERE ip = ?1 AND mac = ?2", -1, &del_lease.s, nullptr) ==
                    SQLITE_OK &&
                sqlite3_prepare_v2(h_, "INSERT OR REPLACE INTO reservations(mac, ip, hostname, vm) VALUES(?1, ?2, ?3, ?4)",
                                   -1, &put_resv.s, nullptr) == SQLITE_OK &&
                sqlite3_prepare_v2(h_, "DELETE FROM reservations WHERE mac = ?1", -1, &del_resv.s, nullptr) == SQLITE_OK;
    auto run = [&](sqlite3_stmt* s) {
        bool done = sqlite3_step(s) == SQLITE_DONE;
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
        return done;
    };
    for (auto& op : ops) {
        if (!good)
            break;
        if (auto* c = std::get_if<change>(&op)) {
            const lease& l = c->l;
            if (c->what == change::kind::bound || c->what == change::kind::declined) {
                sqlite3_bind_int64(put_lease.s, 1, l.ip.value);
                sqlite3_bind_text(put_lease.s, 2, l.mac.c_str(), -1, SQLITE_TRANSIENT);
                sqlite3_bind_text(put_lease.s, 3, l.client_id.c_str(), -1, SQLITE_TRANSIENT);
                sqlite3_bind_text(put_lease.s, 4, l.hostname.c_str(), -1, SQLITE_TRANSIENT);
                sqlite3_bind_text(put_lease.s, 5, l.vm.c_str(), -1, SQLITE_TRANSIENT);
                sqlite3_bind_text(put_lease.s, 6, to_string(l.state), -1, SQLITE_STATIC);
                sqlite3_bind_int64(put_lease.s, 7, l.expires_at);
                good = run(put_lease.s);
            }
            else {
                // Delete only the row this change is about (the address may already be re-bound
                // to another client later in the same batch).
                sqlite3_bind_int64(del_lease.s, 1, l.ip.value);
                sqlite3_bind_text(del_lease.s, 2, l.mac.c_str(), -1, SQLITE_TRANSIENT);
                good = run(del_lease.s);
            }
        }
        else if (auto* p = std::get_if<put_reservation>(&op)) {
            sqlite3_bind_text(put_resv.s, 1, p->r.mac.c_str(), -1, SQLITE_TRANSIENT);
            sqlite3_bind_int64(put_resv.s, 2, p->r.ip.value);
            sqlite3_bind_text(put_resv.s, 3, p->r.hostname.c_str(), -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(put_resv.s, 4, p->r.vm.c_str(), -1, SQLITE_TRANSIENT);
            good = run(put_resv.s);
        }
        else if (auto* d = std::get_if<delete_reservation>(&op)) {
            sqlite3_bind_text(del_resv.s, 1, d->mac.c_str(), -1, SQLITE_TRANSIENT);
            good = run(del_resv.s);
        }
    }
    if (!good) {
        auto f = sql_fail(h_, "commit leases");
        exec(h_, "ROLLBACK");
        return f;
    }
    return exec(h_, "COMMIT");
}

} // namespace paddock::dhcp
