#!/bin/bash
# Integration: SIGTERM while creates and lifecycle operations are in flight (real QEMU). The daemon
# exits 0 within a bounded time, a console viewer hears 1001, and after a restart every change
# that got a 2xx is on disk and nothing leaked (TAP, reservation, folder, overlay). See shutdown.py.
source "$(dirname "$0")/lib.sh"

setup_vm_world
command -v qemu-img >/dev/null || skip "missing tool: qemu-img"
qemu-img create -q -f qcow2 "$STATE/images/blank" 64M || fail "qemu-img create"
start_daemon
run_py() { inh env WORK="$WORK" STATE="$STATE" PD_NS="$PD_NS" DAEMON_PID="$DAEMON_PID" /usr/bin/python3 "$SRC/tests/integration/shutdown.py" "$@"; }
run_py load || fail "shutdown.py load"
rc=0
wait "$DAEMON_PID" || rc=$?
DAEMON_PID=
[ "$rc" = 0 ] || fail "the daemon exited with status $rc after SIGTERM"
grep -q "INFO daemon: stopped" "$WORK/daemon.log" || fail "no orderly stop in the log"
pass "the daemon exited 0 after SIGTERM with requests in flight"
start_daemon
run_py check || fail "shutdown.py check"
