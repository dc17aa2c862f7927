// SPDX-License-Identifier: MIT
// CORE: a small FAT12 volume holding a few files in its root directory, built in memory: the
// cloud-init `cidata` seed disk (cloud-init finds it by its volume label). Long file names (VFAT)
// carry names like "meta-data" that 8.3 cannot hold. Pure: bytes out, the driver writes them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/error.hpp"

namespace paddock::vm {

struct fat_file {
    std::string name; // at most 64 ASCII characters, no '/', '\\' or control characters
    std::string data;
};

// At most 32 files and 16 MiB in all; the label is at most 11 characters (upper-cased).
result<std::vector<std::uint8_t>> fat_image(const std::string& label, const std::vector<fat_file>& files);

} // namespace paddock::vm
