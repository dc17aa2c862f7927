// SPDX-License-Identifier: MIT
// Ethernet MAC addresses as text "aa:bb:cc:dd:ee:ff": parsing, the canonical lower-case form, and
// the unicast check and generator VMs use. Pure.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace paddock {

using mac_bytes = std::array<std::uint8_t, 6>;

// Six hex pairs separated by ':' (either case); nothing else.
std::optional<mac_bytes> parse_mac(std::string_view s);
// Lower-case "aa:bb:cc:dd:ee:ff".
std::string to_string(const mac_bytes& m);
// The canonical form of a MAC given as text, if it is one.
std::optional<std::string> canonical_mac(std::string_view s);
// A unicast address (multicast bit clear) that is not all zero.
bool valid_unicast_mac(std::string_view s);
// 52:54:00 (QEMU's prefix) + three bytes from `random`.
std::string make_mac(std::uint32_t random);

} // namespace paddock
