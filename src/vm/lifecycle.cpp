// SPDX-License-Identifier: MIT
// CORE: the VM state machine.
#include "vm/lifecycle.hpp"

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

bool has_process(state s) { return s == state::starting || s == state::running || s == state::paused || s == state::stopping; }

} // namespace paddock::vm
