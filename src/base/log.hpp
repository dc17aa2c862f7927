// SPDX-License-Identifier: MIT
// Leveled logger: one line per event, "LEVEL module: message" on stderr; or, when stderr is the
// journal, one entry per event through the journal's native protocol with structured fields
// (PRIORITY, PADDOCK_MODULE, PADDOCK_VM for lines about one VM), so `journalctl PADDOCK_VM=web1`
// finds a VM's lines.
#pragma once

#include <sstream>
#include <string>
#include <string_view>

namespace paddock::log {

enum class level { debug, info, warn, error };

void set_level(level l);
level current_level();
// Parses "debug" | "info" | "warn" | "error"; returns false on anything else.
bool parse_level(std::string_view s, level& out);
void write(level l, std::string_view module, std::string_view message);
// Switches to the journal when $JOURNAL_STREAM names this process's stderr (systemd sets it for a
// service whose output goes to the journal). The socket is /run/systemd/journal/socket, or
// $PADDOCK_JOURNAL_SOCKET (tests). Returns whether it did.
bool use_journal_if_connected();

// Concatenates its arguments with operator<< (g++ 12 has no <format>).
template <class... Args>
std::string cat(Args&&... args)
{
    std::ostringstream os;
    (os << ... << args);
    return std::move(os).str();
}

template <class... Args>
void emit(level l, std::string_view module, Args&&... args)
{
    if (l >= current_level())
        write(l, module, cat(std::forward<Args>(args)...));
}
template <class... Args> void debug(std::string_view m, Args&&... a) { emit(level::debug, m, std::forward<Args>(a)...); }
template <class... Args> void info(std::string_view m, Args&&... a) { emit(level::info, m, std::forward<Args>(a)...); }
template <class... Args> void warn(std::string_view m, Args&&... a) { emit(level::warn, m, std::forward<Args>(a)...); }
template <class... Args> void error(std::string_view m, Args&&... a) { emit(level::error, m, std::forward<Args>(a)...); }

} // namespace paddock::log
