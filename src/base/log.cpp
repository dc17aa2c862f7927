// SPDX-License-Identifier: MIT
// Leveled stderr logger.
#include "base/log.hpp"

#include <cstdio>
#include <unistd.h>

namespace paddock::log {
namespace {
level g_level = level::info;

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

void write(level l, std::string_view module, std::string_view message)
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

} // namespace paddock::log
