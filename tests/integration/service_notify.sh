#!/bin/bash
# Integration: paddockd under a service manager, played by tests/integration/notify_listen.py on
# two unix datagram sockets. sd_notify: READY=1 only once the API answers, STATUS= with the VM
# count as it changes, WATCHDOG=1 at a third of WATCHDOG_USEC, fed by the event loop itself (none
# while the loop's thread is stuck writing to a journal that stopped reading, then again),
# STOPPING=1 on SIGTERM, and
# NOTIFY_SOCKET not handed down to QEMU. The journal: with JOURNAL_STREAM naming its stderr, every
# line goes through the journal's native protocol with PRIORITY, PADDOCK_MODULE and, on a VM's
# lines, PADDOCK_VM (what `journalctl PADDOCK_VM=vm1` selects), and nothing to stderr.
source "$(dirname "$0")/lib.sh"

setup_vm_world
/usr/bin/python3 "$SRC/tests/integration/notify_listen.py" notify "$WORK/notify.sock" > "$WORK/notify.log" 2>&1 &
EXTRA_PIDS+=($!)
/usr/bin/python3 "$SRC/tests/integration/notify_listen.py" journal "$WORK/journal.sock" > "$WORK/journal.log" 2>&1 &
JOURNALD=$!
EXTRA_PIDS+=($JOURNALD)
wait_for 5 grep -q listening "$WORK/notify.log" >/dev/null || fail "listener: $(cat "$WORK/notify.log")"
wait_for 5 grep -q listening "$WORK/journal.log" >/dev/null || fail "listener: $(cat "$WORK/journal.log")"

: > "$WORK/daemon.log"
export NOTIFY_SOCKET="$WORK/notify.sock" WATCHDOG_USEC=1500000 PADDOCK_JOURNAL_SOCKET="$WORK/journal.sock"
JOURNAL_STREAM=$(stat -c '%d:%i' "$WORK/daemon.log")
export JOURNAL_STREAM
start_daemon
unset NOTIFY_SOCKET WATCHDOG_USEC JOURNAL_STREAM PADDOCK_JOURNAL_SOCKET
notes() { grep '^notify ' "$WORK/notify.log"; }

wait_for 5 grep -q 'READY=1' "$WORK/notify.log" >/dev/null || fail "no READY=1: $(notes)"
notes | grep 'READY=1' | matches 'STATUS=0 of 0 VMs running; API on 127.0.0.1:8080' || fail "READY without its STATUS: $(notes)"
pass "READY=1 with STATUS ($(notes | grep READY | cut -d' ' -f3-))"

sleep 3
n=$(awk -v t="$(date +%s.%N)" '$1 == "notify" && $2 > t - 3 && /WATCHDOG=1/' "$WORK/notify.log" | wc -l)
[ "$n" -ge 5 ] && [ "$n" -le 8 ] || fail "expected a WATCHDOG=1 every 500 ms (WATCHDOG_USEC 1.5 s): $n in 3 s"
pass "WATCHDOG=1 $n times in 3 s (every third of WATCHDOG_USEC=1.5 s)"

[ "$(api_status /api/v1/vms -X POST -d '{"name":"vm1","kernel":"test-kernel","initrd":"test-initrd","memory_mib":128,"start":true}')" = 201 ] \
  || fail "create vm1"
wait_for 5 grep -q 'STATUS=1 of 1 VMs running' "$WORK/notify.log" >/dev/null || fail "STATUS did not follow the VM: $(notes | tail -3)"
qpid=$(api /api/v1/vms/vm1 | jget pid)
tr '\0' '\n' < "/proc/$qpid/environ" | grep -E '^(NOTIFY_SOCKET|WATCHDOG_|JOURNAL_STREAM)' && fail "QEMU inherited the service manager's variables"
pass "STATUS=1 of 1 VMs running once vm1 started; its QEMU (pid $qpid) has no NOTIFY_SOCKET or WATCHDOG_*"

# The journal stops reading (stopped, as a stuck journald would be): once its socket's queue is full
# the loop's thread blocks in send() on its next line, while the daemon's other threads run on. The
# pings stop (a manager would restart the daemon); when the journal reads again they resume.
kill -STOP "$JOURNALD"
t0=$(date +%s.%N)
for i in $(seq 1 40); do inh curl -s -o /dev/null --max-time 15 -H "Authorization: Bearer $(cat "$STATE/api-token")" http://127.0.0.1:8080/api/v1/health & done
sleep 4
kill -CONT "$JOURNALD"
t1=$(date +%s.%N)
wait_for 15 api /api/v1/health >/dev/null || fail "the API did not come back after the stall"
sleep 3
# The longest silence between two pings, the later one after the journal stopped and at most 1 s
# after it read again; and the pings after that.
read -r gap after < <(awk -v a="$t0" -v b="$t1" '$1 == "notify" && /WATCHDOG=1/ {
    if ($2 > a && $2 < b + 1 && last && $2 - last > g) g = $2 - last
    if ($2 > b + 1) n++
    last = $2 }
  END { printf "%.1f %d\n", g, n }' "$WORK/notify.log")
awk -v g="$gap" 'BEGIN { exit !(g >= 2.5) }' || fail "the pings went on while the loop was stuck (longest gap ${gap} s): $(notes | tail -20)"
[ "$after" -ge 2 ] || fail "the pings did not resume after the stall: $(notes | tail -5)"
pass "loop stuck on a journal that stopped reading: no WATCHDOG=1 for ${gap} s (the manager restarts a daemon after 1.5 s), $after since it reads again"

# The journal: structured entries, none of the lines on stderr.
journal() { grep '^journal ' "$WORK/journal.log"; }
journal | grep 'PADDOCK_MODULE=daemon' | matches 'PRIORITY=6' || fail "no daemon entries in the journal: $(journal | head -3)"
journal | grep 'PADDOCK_VM=vm1' | matches 'MESSAGE=vm: vm1: stopped -> starting' || fail "no PADDOCK_VM=vm1 entry: $(journal | grep vm1 | head -3)"
journal | grep 'PADDOCK_VM=' | grep -v 'PADDOCK_VM=vm1' && fail "an entry tagged with another VM"
journal | matches 'SYSLOG_IDENTIFIER=paddockd' || fail "no SYSLOG_IDENTIFIER"
grep -q 'vm1: stopped -> starting' "$WORK/daemon.log" && fail "lines went to stderr beside the journal"
pass "journal: $(journal | wc -l) entries, $(journal | grep -c 'PADDOCK_VM=vm1') with PADDOCK_VM=vm1, e.g. $(journal | grep 'PADDOCK_VM=vm1' | head -1 | cut -d' ' -f3- | cut -c1-160)"

r=$(api /api/v1/vms/vm1/stop -X POST -d '{"force":true}'); [ "$(echo "$r" | jget state)" = stopped ] || fail "stop: $r"
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null || true
DAEMON_PID=
wait_for 5 grep -q 'STOPPING=1' "$WORK/notify.log" >/dev/null || fail "no STOPPING=1: $(notes | tail -3)"
pass "SIGTERM: STOPPING=1 told before the daemon went"
