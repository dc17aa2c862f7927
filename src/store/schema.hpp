// SPDX-License-Identifier: MIT
// The store's schema, as numbered migrations recorded in PRAGMA user_version. Migration N takes a
// database at version N-1 to N in one transaction. Version 1 is the schema release 0.1.0 made (it
// kept no user_version, so 0 means "0.1.0 or empty": every step of 1 is IF NOT EXISTS). A database
// newer than this daemon is refused, never written.
#pragma once

#include "base/error.hpp"
#include "store/db.hpp"

namespace paddock::store {

// The version this daemon writes.
int schema_version();
// Brings the database to schema_version(); fails on a newer database or a failed step (rolled back).
status migrate(db& d);

} // namespace paddock::store
