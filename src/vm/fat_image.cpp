// SPDX-License-Identifier: MIT
// CORE: FAT12 volume (Microsoft's FAT specification, "FAT: General Overview of On-Disk Format").
#include "vm/fat_image.hpp"

#include <algorithm>
#include <cctype>
#include <array>
#include <cstring>

namespace paddock::vm {

namespace {

constexpr std::size_t sector = 512;
constexpr std::size_t root_entries = 128; // 32-byte entries: 8 sectors
constexpr std::size_t max_clusters = 4084; // FAT12's limit

void put16(std::vector<std::uint8_t>& b, std::size_t at, std::uint32_t v)
{
    b[at] = static_cast<std::uint8_t>(v);
    b[at + 1] = static_cast<std::uint8_t>(v >> 8);
}
void put32(std::vector<std::uint8_t>& b, std::size_t at, std::uint32_t v)
{
    put16(b, at, v & 0xFFFF);
    put16(b, at + 2, v >> 16);
}

// FAT12 packs two 12-bit entries in three bytes.
void fat12_set(std::uint8_t* fat, std::size_t n, std::uint16_t v)
{
    std::size_t at = n + n / 2;
    if (n % 2 == 0) {
        fat[at] = static_cast<std::uint8_t>(v);
        fat[at + 1] = static_cast<std::uint8_t>((fat[at + 1] & 0xF0) | ((v >> 8) & 0x0F));
    }
    else {
        fat[at] = static_cast<std::uint8_t>((fat[at] & 0x0F) | ((v << 4) & 0xF0));
        fat[at + 1] = static_cast<std::uint8_t>(v >> 4);
    }
}

// The 8.3 alias "NAME~N" (padded to 11 bytes, no extension): unique by N.
std::string short_name(const std::string& name, std::size_t n)
{
    std::string base;
    for (char c : name) {
        if (base.size() == 6)
            break;
        if (std::isalnum(static_cast<unsigned char>(c)))
            base += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    if (base.empty())
        base = "FILE";
    std::string tail = "~" + std::to_string(n);
    std::string s = base.substr(0, 8 - tail.size()) + tail;
    s.resize(11, ' ');
    return s;
}

std::uint8_t lfn_checksum(const std::string& short11)
{
    std::uint8_t sum = 0;
    for (char c : short11)
        sum = static_cast<std::uint8_t>(((sum & 1) << 7) + (sum >> 1) + static_cast<std::uint8_t>(c));
    return sum;
}

// Long-name entries for `name` (13 UCS-2 characters each), in on-disk order (last part first).
std::vector<std::array<std::uint8_t, 32>> lfn_entries(const std::string& name, std::uint8_t checksum)
{
    const std::size_t parts = (name.size() + 12) / 13;
    std::vector<std::array<std::uint8_t, 32>> out;
    static constexpr int offsets[13] = {1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30};
    for (std::size_t p = parts; p-- > 0;) {
        std::array<std::uint8_t, 32> e{};
        e[0] = static_cast<std::uint8_t>((p + 1) | (p + 1 == parts ? 0x40 : 0));
        e[11] = 0x0F; // attributes: long name
        e[13] = checksum;
        for (std::size_t i = 0; i < 13; ++i) {
            std::size_t k = p * 13 + i;
            std::uint16_t ch = k < name.size() ? static_cast<std::uint8_t>(name[k]) : k == name.size() ? 0 : 0xFFFF;
            e[offsets[i]] = static_cast<std::uint8_t>(ch);
            e[offsets[i] + 1] = static_cast<std::uint8_t>(ch >> 8);
        }
        out.push_back(e);
    }
    return out;
}

} // namespace

result<std::vector<std::uint8_t>> fat_image(const std::string& label, const std::vector<fat_file>& files)
{
    if (label.empty() || label.size() > 11)
        return fail(errc::invalid_field, "a FAT volume label has 1 to 11 characters");
    if (files.size() > 32)
        return fail(errc::invalid_field, "at most 32 files on a seed disk");
    std::size_t bytes = 0;
    for (auto& f : files) {
        if (f.name.empty() || f.name.size() > 64 ||
            std::any_of(f.name.begin(), f.name.end(), [](char c) { return c < 0x20 || c > 0x7E || c == '/' || c == '\\'; }))
            return fail(errc::invalid_field, "\"" + f.name + "\" is not a file name for a seed disk");
        bytes += f.data.size();
    }
    if (bytes > (16u << 20))
        return fail(errc::invalid_field, "seed disk contents exceed 16 MiB");

    // Smallest cluster size that keeps FAT12's cluster count; at least 1 MiB in all.
    std::size_t spc = 1; // sectors per cluster
    auto clusters_for = [&](std::size_t s) {
        std::size_t n = 0;
        for (auto& f : files)
            n += (f.data.size() + s * sector - 1) / (s * sector);
        return n;
    };
    while (clusters_for(spc) + 16 > max_clusters)
        spc *= 2;
    const std::size_t min_clusters = (1u << 20) / (spc * sector);
    const std::size_t clusters = std::min(max_clusters, std::max(min_clusters, clusters_for(spc) + 16));
    const std::size_t fat_sectors = ((clusters + 2) * 3 / 2 + sector - 1) / sector;
    const std::size_t root_sectors = root_entries * 32 / sector;
    const std::size_t data_start = 1 + 2 * fat_sectors + root_sectors;
    const std::size_t total = data_start + clusters * spc;

    std::vector<std::uint8_t> img(total * sector, 0);
    // Boot sector and BIOS parameter block.
    img[0] = 0xEB, img[1] = 0x3C, img[2] = 0x90;
    std::memcpy(&img[3], "PADDOCK ", 8);
    put16(img, 11, sector);
    img[13] = static_cast<std::uint8_t>(spc);
    put16(img, 14, 1);              // reserved sectors
    img[16] = 2;                    // FATs
    put16(img, 17, root_entries);
    put16(img, 19, static_cast<std::uint32_t>(total)); // < 65,536 sectors
    img[21] = 0xF8;                 // media: fixed disk
    put16(img, 22, static_cast<std::uint32_t>(fat_sectors));
    put16(img, 24, 32);             // sectors per track
    put16(img, 26, 64);             // heads
    img[36] = 0x80;                 // drive number
    img[38] = 0x29;                 // extended boot signature
    put32(img, 39, 0x5EED0001);     // volume serial
    std::string lab = label;
    for (auto& c : lab)
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    lab.resize(11, ' ');
    std::memcpy(&img[43], lab.data(), 11);
    std::memcpy(&img[54], "FAT12   ", 8);
    img[510] = 0x55, img[511] = 0xAA;

    std::uint8_t* fat = &img[sector];
    fat12_set(fat, 0, 0xFF8);
    fat12_set(fat, 1, 0xFFF);
    std::uint8_t* root = &img[(1 + 2 * fat_sectors) * sector];
    std::size_t entry = 0;
    auto add_entry = [&](const std::uint8_t* e) { std::memcpy(root + 32 * entry++, e, 32); };
    {
        std::uint8_t e[32] = {};
        std::memcpy(e, lab.data(), 11);
        e[11] = 0x08; // volume label
        add_entry(e);
    }
    std::size_t next_cluster = 2;
    for (std::size_t i = 0; i < files.size(); ++i) {
        const auto& f = files[i];
        const std::string s11 = short_name(f.name, i + 1);
        auto lfn = lfn_entries(f.name, lfn_checksum(s11));
        if (entry + lfn.size() + 1 > root_entries)
            return fail(errc::invalid_field, "too many or too long file names for a seed disk");
        for (auto& l : lfn)
            add_entry(l.data());
        std::uint8_t e[32] = {};
        std::memcpy(e, s11.data(), 11);
        e[11] = 0x20; // archive
        // 2020-01-01 00:00 (a fixed time: the same data gives the same bytes).
        const std::uint16_t date = static_cast<std::uint16_t>(((2020 - 1980) << 9) | (1 << 5) | 1);
        e[16] = e[18] = e[24] = static_cast<std::uint8_t>(date);
        e[17] = e[19] = e[25] = static_cast<std::uint8_t>(date >> 8);
        const std::size_t n = (f.data.size() + spc * sector - 1) / (spc * sector);
        if (n) {
            e[26] = static_cast<std::uint8_t>(next_cluster);
            e[27] = static_cast<std::uint8_t>(next_cluster >> 8);
            for (std::size_t c = 0; c < n; ++c)
                fat12_set(fat, next_cluster + c, c + 1 == n ? 0xFFF : static_cast<std::uint16_t>(next_cluster + c + 1));
            std::memcpy(&img[(data_start + (next_cluster - 2) * spc) * sector], f.data.data(), f.data.size());
            next_cluster += n;
        }
        e[28] = static_cast<std::uint8_t>(f.data.size());
        e[29] = static_cast<std::uint8_t>(f.data.size() >> 8);
        e[30] = static_cast<std::uint8_t>(f.data.size() >> 16);
        e[31] = static_cast<std::uint8_t>(f.data.size() >> 24);
        add_entry(e);
    }
    std::memcpy(&img[(1 + fat_sectors) * sector], fat, fat_sectors * sector); // the second FAT
    return img;
}

} // namespace paddock::vm
