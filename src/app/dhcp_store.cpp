// SPDX-License-Identifier: MIT
// dhcp::persistence over the store.
#include "app/dhcp_store.hpp"

#include <memory>

#include "store/rows.hpp"

namespace paddock::app {

namespace {

dhcp::lease_state lease_state_of(const std::string& s)
{
    if (s == "bound") return dhcp::lease_state::bound;
    if (s == "declined") return dhcp::lease_state::declined;
    return dhcp::lease_state::offered;
}

store::lease_row row_of(const dhcp::lease& l)
{
    return {l.ip.value, l.mac, l.client_id, l.hostname, l.vm, to_string(l.state), l.expires_at};
}

status apply_op(store::db& h, const dhcp::store_op& op)
{
    if (auto* c = std::get_if<dhcp::change>(&op)) {
        if (c->what == dhcp::change::kind::bound || c->what == dhcp::change::kind::declined)
            return store::put_lease(h, row_of(c->l));
        // Only the row this change is about: the address may be bound to another client later
        // in the same batch.
        return store::erase_lease(h, c->l.ip.value, c->l.mac);
    }
    if (auto* p = std::get_if<dhcp::put_reservation>(&op))
        return store::put_reservation(h, {p->r.mac, p->r.ip.value, p->r.hostname, p->r.vm});
    return store::erase_reservation(h, std::get<dhcp::delete_reservation>(op).mac);
}

} // namespace

result<dhcp::snapshot> load_dhcp_snapshot(store::db& h)
{
    auto leases = store::load_leases(h);
    if (!leases)
        return leases.error();
    auto resv = store::load_reservations(h);
    if (!resv)
        return resv.error();
    dhcp::snapshot s;
    for (auto& r : *leases)
        s.leases.push_back({ipv4{r.ip}, r.mac, r.client_id, r.hostname, r.vm, lease_state_of(r.state), r.expires_at});
    for (auto& r : *resv)
        s.reservations.push_back({r.mac, ipv4{r.ip}, r.hostname, r.vm});
    return s;
}

void dhcp_store::commit(std::vector<dhcp::store_op> ops, std::function<void(status)> done)
{
    // Leases need to survive the daemon (a crash, kill -9), which writing to the OS gives; after a
    // power loss every VM boots and asks again, and gets its reserved address anyway. Reservations
    // are the user's own changes: those are fsynced.
    bool user_change = false;
    for (auto& op : ops)
        user_change = user_change || !std::holds_alternative<dhcp::change>(op);
    auto batch = std::make_shared<std::vector<dhcp::store_op>>(std::move(ops));
    writer_.submit(
        [batch](store::db& h) -> status {
            for (auto& op : *batch)
                if (auto st = apply_op(h, op); !st)
                    return st;
            return ok();
        },
        std::move(done), user_change ? store::writer::durability::disk : store::writer::durability::os);
}

void dhcp_store::reload(std::function<void(result<dhcp::snapshot>)> done)
{
    auto out = std::make_shared<result<dhcp::snapshot>>();
    writer_.submit(
        [out](store::db& h) -> status {
            *out = load_dhcp_snapshot(h);
            return out->ok() ? ok() : status(out->error());
        },
        [out, done = std::move(done)](status) { done(std::move(*out)); });
}

} // namespace paddock::app
