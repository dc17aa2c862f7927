// SPDX-License-Identifier: MIT
// Leveled logger: stderr lines, or journal entries.
#include "base/log.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace paddock::log {
namespace {
level g_level = level::info;
int g_journal = -1; // the journal's native socket, connected, once stderr is the journal

const char* name(level l)
{
    switch (l) {
    case level::debug: return "DEBUG";
    case level::info: return "INFO";
    case level::warn: return "WARN";
    case level::error: return "ERROR";
    }
    return "?";
}

// The VM a line is about: "vm" lines start with "<name>: ".
std::string_view vm_of(std::string_view module, std::string_view message)
{
    if (module != "vm")
        return {};
    auto colon = message.find(": ");
    if (colon == std::string_view::npos || colon == 0 || colon > 32)
        return {};
    auto name = message.substr(0, colon);
    if (name[0] < 'a' || name[0] > 'z')
        return {};
    for (char c : name)
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return {};
    return name;
}

int priority(level l)
{
    switch (l) {
    case level::debug: return 7;
    case level::info: return 6;
    case level::warn: return 4;
    case level::error: return 3;
    }
    return 6;
}

void write_line(level l, std::string_view module, std::string_view message)
{
    // One write(2) per line so concurrent writers (QEMU children later) never interleave inside it.
    std::string line;
    line.reserve(message.size() + module.size() + 12);
    line += name(l);
    line += ' ';
    line += module;
    line += ": ";
    line += message;
    line += '\n';
    ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
    (void)ignored;
}

// The journal entry of one event: the native protocol's fields (binary-safe form for MESSAGE).
std::string journal_entry(level l, std::string_view module, std::string_view message)
{
    std::string e;
    e.reserve(message.size() + module.size() + 96);
    e += "PRIORITY=";
    e += std::to_string(priority(l));
    e += "\nSYSLOG_IDENTIFIER=paddockd\nPADDOCK_MODULE=";
    e += module;
    e += '\n';
    if (auto vm = vm_of(module, message); !vm.empty()) {
        e += "PADDOCK_VM=";
        e += vm;
        e += '\n';
    }
    // MESSAGE in the binary-safe form: name, newline, 64-bit little-endian length, data, newline.
    std::string text = std::string(module) + ": " + std::string(message);
    e += "MESSAGE\n";
    std::uint64_t n = text.size();
    for (int i = 0; i < 8; ++i)
        e += static_cast<char>((n >> (8 * i)) & 0xff);
    e += text;
    e += '\n';
    return e;
}
} // namespace

void set_level(level l) { g_level = l; }
level current_level() { return g_level; }

bool parse_level(std::string_view s, level& out)
{
    if (s == "debug") out = level::debug;
    else if (s == "info") out = level::info;
    else if (s == "warn") out = level::warn;
    else if (s == "error") out = level::error;
    else return false;
    return true;
}

bool use_journal_if_connected()
{
    // Taken out of the environment either way: the QEMUs the daemon starts write elsewhere.
    const std::string stream = std::getenv("JOURNAL_STREAM") ? std::getenv("JOURNAL_STREAM") : "";
    const char* path = std::getenv("PADDOCK_JOURNAL_SOCKET");
    std::string where = path && *path ? path : "/run/systemd/journal/socket";
    ::unsetenv("JOURNAL_STREAM");
    ::unsetenv("PADDOCK_JOURNAL_SOCKET");
    struct stat st {};
    if (stream.empty() || ::fstat(STDERR_FILENO, &st) != 0)
        return false;
    unsigned long long dev = 0, ino = 0;
    if (std::sscanf(stream.c_str(), "%llu:%llu", &dev, &ino) != 2 || dev != st.st_dev || ino != st.st_ino)
        return false;
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    if (where.size() >= sizeof a.sun_path)
        return false;
    std::memcpy(a.sun_path, where.data(), where.size());
    int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        if (fd >= 0)
            ::close(fd);
        return false;
    }
    // Room for long entries (the journal takes datagrams up to its socket's buffer).
    int size = 8 << 20;
    ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    g_journal = fd;
    return true;
}

void write(level l, std::string_view module, std::string_view message)
{
    if (g_journal >= 0) {
        auto e = journal_entry(l, module, message);
        if (::send(g_journal, e.data(), e.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(e.size()))
            return;
        // Refused (too big, journald gone): the plain line still reaches stderr, the journal's stream.
    }
    write_line(l, module, message);
}

} // namespace paddock::log
