// SPDX-License-Identifier: MIT
// CORE: the VM state machine.
#include "vm/lifecycle.hpp"
#include "vm/actions.hpp"

#include <csignal>
#include <string>

namespace paddock::vm {

const char* to_string(state s)
{
    switch (s) {
    case state::stopped: return "stopped";
    case state::starting: return "starting";
    case state::running: return "running";
    case state::paused: return "paused";
    case state::stopping: return "stopping";
    case state::failed: return "failed";
    }
    return "?";
}

bool parse_state(const std::string& s, state& out)
{
    for (auto st : all_states)
        if (s == to_string(st)) {
            out = st;
            return true;
        }
    return false;
}

const char* to_string(event e)
{
    switch (e) {
    case event::spawned: return "spawned";
    case event::ready_running: return "ready_running";
    case event::ready_paused: return "ready_paused";
    case event::start_failed: return "start_failed";
    case event::stop_sent: return "stop_sent";
    case event::kill_sent: return "kill_sent";
    case event::qmp_stop: return "qmp_stop";
    case event::qmp_resume: return "qmp_resume";
    case event::qmp_shutdown: return "qmp_shutdown";
    case event::exited_expected: return "exited_expected";
    case event::exited: return "exited";
    }
    return "?";
}

const char* to_string(action a)
{
    switch (a) {
    case action::start: return "start";
    case action::stop: return "stop";
    case action::restart: return "restart";
    case action::pause: return "pause";
    case action::resume: return "resume";
    }
    return "?";
}

const char* to_string(op o)
{
    switch (o) {
    case op::start: return "start";
    case op::stop: return "stop";
    case op::force_stop: return "stop";
    case op::restart: return "restart";
    case op::pause: return "pause";
    case op::resume: return "resume";
    case op::remove: return "remove";
    }
    return "?";
}

state next(state s, event e)
{
    switch (s) {
    case state::stopped:
        switch (e) {
        case event::spawned: return state::starting;
        default: return state::stopped; // stale signals from a previous run change nothing
        }
    case state::starting:
        switch (e) {
        case event::spawned: return state::starting;
        case event::ready_running: return state::running;
        case event::ready_paused: return state::paused;
        case event::start_failed: return state::failed;
        case event::stop_sent:
        case event::kill_sent:
        case event::qmp_shutdown: return state::stopping;
        case event::qmp_stop:
        case event::qmp_resume: return state::starting;
        case event::exited_expected: return state::stopped;
        case event::exited: return state::failed;
        }
        break;
    case state::running:
    case state::paused:
        switch (e) {
        case event::spawned: return s;
        case event::ready_running: return state::running;
        case event::ready_paused: return state::paused;
        case event::start_failed: return state::failed;
        case event::stop_sent:
        case event::kill_sent:
        case event::qmp_shutdown: return state::stopping;
        case event::qmp_stop: return state::paused;
        case event::qmp_resume: return state::running;
        case event::exited_expected: return state::stopped;
        case event::exited: return state::failed;
        }
        break;
    case state::stopping:
        switch (e) {
        case event::exited_expected:
        case event::exited: return state::stopped; // we asked for it: any exit is the stop
        case event::start_failed: return state::failed;
        default: return state::stopping;
        }
    case state::failed:
        switch (e) {
        case event::spawned: return state::starting;
        default: return state::failed;
        }
    }
    return s;
}

status allowed(op o, state s)
{
    bool okay = false;
    switch (o) {
    case op::start: okay = s == state::stopped || s == state::failed; break;
    case op::stop: okay = s == state::running || s == state::paused || s == state::starting; break;
    case op::force_stop: okay = s == state::running || s == state::paused || s == state::starting || s == state::stopping; break;
    case op::restart: okay = s == state::running || s == state::paused; break;
    case op::pause: okay = s == state::running; break;
    case op::resume: okay = s == state::paused; break;
    case op::remove: okay = true; break;
    }
    if (okay)
        return ok();
    return fail(errc::invalid_state, std::string("cannot ") + to_string(o) + ": the VM is " + to_string(s));
}

qmp_signal parse_qmp_signal(const std::string& e)
{
    if (e == "STOP") return qmp_signal::stop;
    if (e == "RESUME") return qmp_signal::resume;
    if (e == "SHUTDOWN") return qmp_signal::shutdown;
    if (e == "RESET") return qmp_signal::reset;
    if (e == "GUEST_PANICKED") return qmp_signal::panicked;
    if (e == "POWERDOWN") return qmp_signal::powerdown;
    return qmp_signal::other;
}

std::optional<transition> lifecycle::move_to(state to, const std::string& reason)
{
    state from = st_;
    if (to == from && (reason.empty() || reason == reason_))
        return std::nullopt;
    st_ = to;
    if (!reason.empty())
        reason_ = reason;
    return transition{from, to, reason_};
}

std::optional<transition> lifecycle::on(event e, const std::string& reason)
{
    if (e == event::stop_sent || e == event::kill_sent)
        stop_requested_ = true;
    return move_to(next(st_, e), reason);
}

std::optional<transition> lifecycle::spawned(const std::string& reason)
{
    stop_requested_ = shutdown_seen_ = panicked_ = false;
    shutdown_reason_.clear();
    return on(event::spawned, reason);
}

std::optional<transition> lifecycle::on_qmp(qmp_signal sig, bool guest, const std::string& why)
{
    switch (sig) {
    case qmp_signal::stop: return on(event::qmp_stop, st_ == state::running ? "paused" : "");
    case qmp_signal::resume: return on(event::qmp_resume, st_ == state::paused ? "resumed" : "");
    case qmp_signal::shutdown:
        shutdown_seen_ = true;
        shutdown_reason_ = guest ? "guest powered off (" + why + ")" : "shut down by the host (" + why + ")";
        return on(event::qmp_shutdown, stop_requested_ ? "" : shutdown_reason_);
    case qmp_signal::reset:
        // A guest-initiated reboot: the VM stays up; say so on the stream.
        return transition{st_, st_, "guest rebooted"};
    case qmp_signal::panicked: panicked_ = true; return std::nullopt;
    case qmp_signal::powerdown:
    case qmp_signal::other: return std::nullopt;
    }
    return std::nullopt;
}

std::optional<transition> lifecycle::on_exit(const std::string& how)
{
    const bool expected = stop_requested_ || shutdown_seen_;
    std::string why;
    if (stop_requested_)
        why = "stopped";
    else if (shutdown_seen_)
        why = shutdown_reason_;
    else
        why = "QEMU exited unexpectedly: " + how + (panicked_ ? " after a guest panic" : "");
    return on(expected ? event::exited_expected : event::exited, why);
}

step lifecycle::stop(bool force, bool qmp_connected, int timeout_s)
{
    step out;
    stop_requested_ = true;
    if (force || !qmp_connected) {
        out.t = on(event::kill_sent, "forced stop");
        out.effects.push_back({effect::kind::signal, "", SIGKILL});
        return out;
    }
    if (st_ == state::paused)
        out.effects.push_back({effect::kind::qmp, "cont"});
    // If QEMU does not take the power button, a SIGTERM makes it shut down cleanly instead.
    out.effects.push_back({effect::kind::qmp, "system_powerdown", SIGTERM});
    out.effects.push_back({effect::kind::deadline, "", 0, std::chrono::seconds(timeout_s), 1});
    out.t = on(event::stop_sent, "stop requested: ACPI power button, forced after " + std::to_string(timeout_s) + " s");
    return out;
}

std::optional<transition> lifecycle::on_qmp_ready(const std::string& run_state, bool fresh)
{
    if (run_state.empty())
        return std::nullopt;
    if (run_state == "running")
        return on(event::ready_running, fresh ? "started" : "");
    if (run_state == "shutdown")
        return on(event::qmp_shutdown, "");
    return on(event::ready_paused, fresh ? "started paused" : "");
}

step lifecycle::on_qmp_unreachable(bool fresh, const std::string& why)
{
    step out;
    if (!fresh)
        return out;
    out.effects.push_back({effect::kind::signal, "", SIGKILL});
    out.t = on(event::start_failed, "QEMU's QMP did not answer: " + why);
    return out;
}

step lifecycle::on_deadline(int stage)
{
    step out;
    if (!has_process(st_))
        return out;
    switch (stage) {
    case 1:
        out.effects.push_back({effect::kind::qmp, "quit"});
        out.effects.push_back({effect::kind::deadline, "", 0, std::chrono::seconds(2), 2});
        break;
    case 2:
        out.effects.push_back({effect::kind::signal, "", SIGTERM});
        out.effects.push_back({effect::kind::deadline, "", 0, std::chrono::seconds(3), 3});
        break;
    default: out.effects.push_back({effect::kind::signal, "", SIGKILL}); break;
    }
    return out;
}

std::optional<transition> lifecycle::on_gone()
{
    const bool expected = stop_requested_ || st_ == state::stopping;
    return on(expected ? event::exited_expected : event::exited,
              expected ? "stopped" : "QEMU exited while paddockd was not running");
}

bool has_process(state s) { return s == state::starting || s == state::running || s == state::paused || s == state::stopping; }

} // namespace paddock::vm
