// SPDX-License-Identifier: MIT
// CORE: the image store's rules.
#include "vm/image_rules.hpp"

#include <boost/json.hpp>

namespace paddock::vm {
namespace json = boost::json;

result<inspection> judge_image(std::string_view text, std::uint64_t file_size, std::string_view head)
{
    boost::system::error_code ec;
    auto v = json::parse(text, ec);
    if (ec || !v.is_object() || !v.as_object().contains("format") || !v.at("format").is_string())
        return fail(errc::invalid_image, "qemu-img could not read it as a disk image");
    const auto& o = v.as_object();
    inspection out;
    out.format = std::string(o.at("format").as_string());
    if (o.contains("virtual-size") && o.at("virtual-size").is_number())
        out.virtual_size = o.at("virtual-size").to_number<std::uint64_t>();
    if (out.format != "qcow2" && out.format != "raw")
        return fail(errc::invalid_image, "format " + out.format + " is not accepted (qcow2 or raw)");
    if (out.format == "qcow2" && (o.contains("backing-filename") || o.contains("full-backing-filename")))
        return fail(errc::invalid_image, "a qcow2 image with a backing file is refused: it could read any file on the host");
    if (auto* fs = o.if_contains("format-specific"); fs && fs->is_object())
        if (auto* d = fs->as_object().if_contains("data"); d && d->is_object() && d->as_object().contains("data-file"))
            return fail(errc::invalid_image, "a qcow2 image with an external data file is refused: its disk would be "
                                             "any file or device on the host");
    if (out.format == "qcow2") {
        out.kind = "disk";
        return out;
    }
    auto at = [&](std::size_t off, std::string_view magic) { return head.size() >= off + magic.size() && head.substr(off, magic.size()) == magic; };
    if (at(0x202, "HdrS"))
        out.kind = "kernel";
    else if (at(0, "\x1f\x8b") || at(0, std::string_view("\xfd" "7zXZ\0", 6)) || at(0, "\x28\xb5\x2f\xfd") ||
             at(0, "\x02\x21\x4c\x18") || at(0, "070701") || at(0, "070702"))
        out.kind = "initrd";
    else if (at(0x8001, "CD001")) // ISO 9660's primary volume descriptor (hybrid ISOs too)
        out.kind = "iso";
    else if (file_size > 0 && file_size % 512 == 0)
        out.kind = "disk";
    else
        return fail(errc::invalid_image, "not a disk image, ISO, kernel or initrd: qemu-img sees raw bytes, " +
                                             std::to_string(file_size) + " of them, not a whole number of 512-byte "
                                             "sectors, with no kernel or initramfs signature");
    return out;
}

} // namespace paddock::vm
