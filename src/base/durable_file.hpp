// SPDX-License-Identifier: MIT
// DRIVER: a small file replaced whole and durably (the API token, the TLS key and certificate).
#pragma once

#include <string>
#include <string_view>

#include <sys/types.h>

#include "base/error.hpp"

namespace paddock {

// Writes `text` to `path` through `path`.tmp (created with `mode`), synced, then renamed over it:
// readers see the old file or the whole new one, never a part. Failures carry `code` and say
// which file and why ("create X.tmp: ...", "write X: ...").
status write_file_durably(const std::string& path, std::string_view text, mode_t mode, errc code);

} // namespace paddock
