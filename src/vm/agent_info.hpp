// SPDX-License-Identifier: MIT
// CORE: what the guest agent's answers (qemu-guest-agent, QGA) say, read into plain data.
// guest-get-osinfo, guest-get-host-name, guest-info, guest-network-get-interfaces and
// guest-get-fsinfo. Fields an older agent lacks stay empty; nothing here throws.
#pragma once

#include <boost/json/value.hpp>

#include "base/event_bus.hpp" // guest_agent_view

namespace paddock::vm {

void read_osinfo(const boost::json::value& v, guest_agent_view& out);
void read_host_name(const boost::json::value& v, guest_agent_view& out);
void read_agent_info(const boost::json::value& v, guest_agent_view& out);
// Loopback and addressless interfaces are left out.
void read_interfaces(const boost::json::value& v, guest_agent_view& out);
// Real file systems only (no duplicate mount of one device twice under one mount point).
void read_fsinfo(const boost::json::value& v, guest_agent_view& out);

} // namespace paddock::vm
