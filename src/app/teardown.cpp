// SPDX-License-Identifier: MIT
// `paddockd teardown`: stops the VMs and removes the fabric, leaving the host as it was.
#include "app/daemon.hpp"
#include "app/state.hpp"
#include "base/log.hpp"
#include "net/fabric.hpp"
#include "store/rows.hpp"
#include "vm/teardown.hpp"

namespace paddock::app {

int run_teardown(const conf::config& cfg)
{
    auto state = open_state(cfg, true);
    if (!state) {
        log::error("teardown", state.error().message);
        return 1;
    }
    auto& db = state->db;
    auto rows = store::load_vms(db);
    auto forward = forward_before(db);
    if (!rows || !forward) {
        log::error("store", rows ? forward.error().message : rows.error().message);
        return 1;
    }
    for (auto& line : vm::stop_all(*rows, cfg.state_dir, std::chrono::seconds(30)))
        log::info("teardown", line);
    for (auto& row : *rows)
        if (auto st = store::put_vm(db, row); !st)
            log::warn("teardown", st.error().message);
    auto r = net::fabric::teardown(cfg.network, *forward);
    if (!r) {
        log::error("teardown", r.error().message);
        return 1;
    }
    for (const char* key : {forward_key, forward6_key})
        if (auto st = store::erase_setting(db, key); !st)
            log::warn("teardown", st.error().message);
    for (auto& a : *r)
        log::info("teardown", a);
    log::info("teardown", r->empty() ? "nothing to remove" : "done");
    return 0;
}

} // namespace paddock::app
