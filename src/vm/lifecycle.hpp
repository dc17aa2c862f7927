// SPDX-License-Identifier: MIT
// CORE: the VM state machine (SPEC section 3). States: stopped → starting → running ⇄ paused;
// running/paused → stopping → stopped; any → failed (QEMU could not start or died unexpectedly).
// next() is total over state × event (a unit test walks every pair); allowed() gates the API's
// operations and names the current state when it refuses (HTTP 409).
#pragma once

#include <array>
#include <chrono>
#include <vector>
#include <optional>
#include <string>

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

// What QEMU said over QMP that matters to the lifecycle.
enum class qmp_signal { stop, resume, shutdown, reset, panicked, powerdown, other };
qmp_signal parse_qmp_signal(const std::string& event_name);

// A state change to persist and publish (SPEC section 5, vm.state).
struct transition {
    state from, to;
    std::string reason;
};

// What the supervisor must do next, as the lifecycle decides it (the driver performs effects in order).
struct effect {
    enum class kind {
        qmp,      // send `command` over QMP; when it fails and `sig` is set, send that signal instead
        signal,   // send `sig` to QEMU
        deadline, // after `after`, feed on_deadline(stage) back in (unless QEMU is gone by then)
    };
    kind what = kind::qmp;
    std::string command;
    int sig = 0;
    std::chrono::seconds after{0};
    int stage = 0;
};

// The result of a decision: the state change to persist and publish (if any), then the effects.
struct step {
    std::optional<transition> t;
    std::vector<effect> effects;
};

// One VM's lifecycle: its state, its reason, and what the current run has seen (a stop asked for,
// a SHUTDOWN, a guest panic), which decides how the coming exit is reported. Pure: the supervisor
// feeds it what happened and persists/publishes each transition it returns.
class lifecycle {
public:
    explicit lifecycle(state s = state::stopped, std::string reason = "") : st_(s), reason_(std::move(reason)) {}

    state current() const { return st_; }
    const std::string& reason() const { return reason_; }

    // Applies `e`; a transition when the state or the reason changed.
    std::optional<transition> on(event e, const std::string& reason);
    // A new QEMU was spawned: the flags of the previous run are forgotten.
    std::optional<transition> spawned(const std::string& reason);
    // A stop (graceful, forced, remove, teardown) was asked for: the coming exit is expected.
    void request_stop() { stop_requested_ = true; }
    // Stop, already allowed by allowed(): forced (or without QMP), SIGKILL now; graceful, the ACPI
    // power button (a paused guest is resumed first: it cannot see the button), and a deadline.
    step stop(bool force, bool qmp_connected, int timeout_s);
    // QMP answered query-status with QEMU's run state ("running", "paused", "prelaunch",
    // "shutdown", ...; empty when the query failed). `fresh`: a QEMU this run started (the reason
    // says "started"); otherwise a re-attach, which changes nothing when the state is right.
    std::optional<transition> on_qmp_ready(const std::string& run_state, bool fresh);
    // QMP never answered. A fresh QEMU is killed and the start has failed; an adopted one is left
    // alone (its exit, if it comes, is reported by the exit watch).
    step on_qmp_unreachable(bool fresh, const std::string& why);
    // The graceful stop's deadline passed with QEMU still there: stage 1 asks QEMU to quit,
    // stage 2 sends SIGTERM, stage 3 SIGKILL, each after a short wait for the previous one.
    step on_deadline(int stage);
    // A QMP event. `guest`/`why` come with SHUTDOWN. RESET keeps the state and reports a reboot.
    std::optional<transition> on_qmp(qmp_signal sig, bool guest, const std::string& why);
    // QEMU ended; `how` says how (describe_wait_status).
    std::optional<transition> on_exit(const std::string& how);
    // At re-attach: the recorded QEMU is gone (it ended while the daemon was away).
    std::optional<transition> on_gone();

private:
    std::optional<transition> move_to(state to, const std::string& reason);

    state st_;
    std::string reason_;
    bool stop_requested_ = false, shutdown_seen_ = false, panicked_ = false;
    std::string shutdown_reason_;
};

} // namespace paddock::vm
