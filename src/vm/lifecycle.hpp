// SPDX-License-Identifier: MIT
// CORE: the VM state machine (SPEC section 3). States: stopped → starting → running ⇄ paused;
// running/paused → stopping → stopped; any → failed (QEMU could not start or died unexpectedly).
// next() is total over state × event (a unit test walks every pair); allowed() gates the API's
// operations and names the current state when it refuses (HTTP 409).
#pragma once

#include <array>

#include "base/error.hpp"

namespace paddock::vm {

enum class state { stopped, starting, running, paused, stopping, failed };
inline constexpr std::array all_states{state::stopped, state::starting, state::running,
                                       state::paused,  state::stopping, state::failed};
const char* to_string(state s);
bool parse_state(const std::string& s, state& out);

// What happened, as seen by the supervisor.
enum class event {
    spawned,         // a QEMU process was started for the VM
    ready_running,   // QMP negotiated and query-status says running
    ready_paused,    // QMP negotiated and query-status says paused/prelaunch
    start_failed,    // QEMU could not be started or its QMP never answered
    stop_sent,       // graceful stop begun (ACPI powerdown sent)
    kill_sent,       // forced stop begun (signal sent)
    qmp_stop,        // QMP STOP event: the guest's CPUs stopped
    qmp_resume,      // QMP RESUME event
    qmp_shutdown,    // QMP SHUTDOWN event (guest or host initiated); QEMU is about to exit
    exited_expected, // the process ended after a stop or a shutdown
    exited,          // the process ended and nobody asked for it
};
inline constexpr std::array all_events{event::spawned,   event::ready_running, event::ready_paused, event::start_failed,
                                       event::stop_sent, event::kill_sent,     event::qmp_stop,     event::qmp_resume,
                                       event::qmp_shutdown, event::exited_expected, event::exited};
const char* to_string(event e);

state next(state s, event e);

// API operations and the states they are valid in.
enum class op { start, stop, force_stop, restart, pause, resume, remove };
const char* to_string(op o);
// ok, or failure "invalid_state" with a message naming the current state.
status allowed(op o, state s);

// True while a QEMU process is believed to exist for the VM.
bool has_process(state s);

} // namespace paddock::vm
