// SPDX-License-Identifier: MIT
// Component: the cidata seed disk read by the real FAT tools (dosfstools' fsck.fat, mtools), as a
// guest's kernel would read it: a clean file system, the label cloud-init looks for, each file by
// its long name with its exact contents.
#include <doctest/doctest.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <unistd.h>

#include "vm/fat_image.hpp"
#include "vm/nocloud.hpp"

using namespace paddock;

namespace {
std::string run(const std::string& cmd)
{
    std::string out;
    FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
    REQUIRE(p);
    std::array<char, 4096> buf;
    std::size_t n;
    while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0)
        out.append(buf.data(), n);
    int rc = ::pclose(p);
    INFO(cmd << " said: " << out);
    REQUIRE(rc == 0);
    return out;
}
bool have(const char* tool) { return std::system((std::string("command -v ") + tool + " >/dev/null 2>&1").c_str()) == 0; }
} // namespace

TEST_CASE("the seed disk passes fsck.fat and mtools reads every file back by its long name")
{
    if (!have("fsck.fat") || !have("mtype") || !have("mlabel")) {
        // CI installs dosfstools and mtools (scripts/install-deps): there this cannot skip.
        MESSAGE("skipped: fsck.fat or mtools missing");
        REQUIRE(std::getenv("CI") == nullptr);
        return;
    }
    vm::nocloud_vm v{"web1", "192.168.26.10", "52:54:00:ab:cd:ef", "web1-1-ab:cd:ef", {}};
    v.ci.given = true;
    v.ci.user_data = "#cloud-config\nruncmd:\n  - [touch, /tmp/PADDOCK_MARK_disk]\n" + std::string(20000, '#') + "\n";
    v.ci.ssh_authorized_keys = {"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFake key@test"};
    auto files = vm::nocloud_files(v);
    auto img = vm::fat_image(vm::seed_label, files);
    REQUIRE(img.ok());
    auto dir = std::filesystem::temp_directory_path() / ("paddock-seed-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const std::string path = (dir / "seed.img").string();
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(img->data()), static_cast<std::streamsize>(img->size()));

    run("fsck.fat -n '" + path + "'");
    CHECK(run("MTOOLS_SKIP_CHECK=1 mlabel -s -i '" + path + "' ::").find("CIDATA") != std::string::npos);
    const std::string listing = run("MTOOLS_SKIP_CHECK=1 mdir -i '" + path + "' ::");
    for (auto& f : files) {
        CAPTURE(f.name);
        CHECK(listing.find(f.name) != std::string::npos);
        CHECK(run("MTOOLS_SKIP_CHECK=1 mtype -i '" + path + "' ::" + f.name) == f.data);
    }
    std::filesystem::remove_all(dir);
}
