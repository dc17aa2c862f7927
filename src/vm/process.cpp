// SPDX-License-Identifier: MIT
// Recognising a VM's QEMU process.
#include "vm/process.hpp"

#include <fstream>
#include <iterator>

#include <sys/syscall.h>
#include <unistd.h>

namespace paddock::vm {

bool process_matches(int pid, const std::string& name)
{
    if (pid <= 0)
        return false;
    std::ifstream f("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
    std::string cmd((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    for (auto& c : cmd)
        if (c == '\0')
            c = ' ';
    return cmd.find("guest=" + name + ",process=paddock-" + name + " ") != std::string::npos;
}

int pidfd_open(int pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

} // namespace paddock::vm
