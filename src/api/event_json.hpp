// SPDX-License-Identifier: MIT
// CORE: the wire form of events (SPEC section 5) and of a VM: the only place they become JSON.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "base/event_bus.hpp"

namespace paddock::api {

// A VM as GET /api/v1/vms/{name} shows it.
boost::json::object to_json(const vm_info& v);
boost::json::object to_json(const port_map& f);
boost::json::array to_json(const std::vector<port_map>& fs);
// What the guest agent says (the VM's "agent" member; null when no agent answers).
boost::json::object to_json(const guest_agent_view& g);
// {"vms": [...]} serialized (GET /api/v1/vms).
std::string vms_text(const std::vector<vm_info>& vms);

// A VM's figures: one point as an object ({"t", "uptime_s", and each series}), the series' names
// in their order, and one point's values in that order (the history is columnar: {"t": [...],
// "cpu_pct": [...], ...}).
boost::json::object to_json(const stats_point& p);
const std::vector<std::string>& stats_series();
std::vector<boost::json::value> stats_values(const stats_point& p);

// An event's wire object, and its text (serialized once per event, then shared by every reader).
boost::json::object to_json(const event& e);
std::shared_ptr<const std::string> wire(const event& e);

} // namespace paddock::api
