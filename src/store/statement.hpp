// SPDX-License-Identifier: MIT
// RAII for a prepared SQLite statement (finalized on scope exit), shared by every store user.
#pragma once

#include <sqlite3.h>

namespace paddock::store {

struct statement {
    sqlite3_stmt* s = nullptr;
    statement() = default;
    statement(const statement&) = delete;
    statement& operator=(const statement&) = delete;
    ~statement() { sqlite3_finalize(s); }
};

} // namespace paddock::store
