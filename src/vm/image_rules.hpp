// SPDX-License-Identifier: MIT
// CORE: which files the image store accepts, judged from what qemu-img says of them. Pure.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/error.hpp"

namespace paddock::vm {

// What qemu-img says of a file, checked against the store's rules.
struct inspection {
    std::string format, kind;
    std::uint64_t virtual_size = 0;
};
// Parses `qemu-img info --output=json` and applies the rules, given the file's size and first
// bytes: qcow2 without a backing file (a disk), or raw that is a Linux kernel (bzImage), an
// initramfs (gzip, xz, zstd, lz4 or cpio), an ISO 9660 image ("iso", for a CD-ROM; at least 32,774
// bytes of `head` needed to see it) or a disk (a whole number of 512-byte sectors).
// A qcow2 with a backing file or an external data file (either could be any file or device of
// the host) and anything else (another format, a text file, an empty body) is refused.
result<inspection> judge_image(std::string_view qemu_img_json, std::uint64_t file_size, std::string_view head);

} // namespace paddock::vm
