#!/bin/bash
# Integration: VMs after a host reboot. A reboot is simulated the hard way: every QEMU and the
# daemon killed (-9), the namespace and the nftables table deleted, the daemon started again. VMs
# with autostart "always" and "restore" (running before) come back running with their reserved
# addresses, "never" and a stopped "restore" VM stay stopped. `paddockd shutdown-vms` then stops
# every running VM gracefully, all at once, marking them for restore, and after the next "reboot"
# the "restore" VM it stopped is running again. PATCH: cpus/memory refused (409) while running,
# taken when stopped, autostart any time, all kept across restarts; bad PATCH bodies are 400.
source "$(dirname "$0")/lib.sh"

setup_vm_world
start_daemon
mk() { # name autostart start
  local code
  code=$(api_status /api/v1/vms -X POST -d "{\"name\":\"$1\",\"kernel\":\"test-kernel\",\"initrd\":\"test-initrd\",\"cmdline\":\"quiet panic=-1\",\"memory_mib\":128,\"autostart\":\"$2\",\"start\":$3}")
  [ "$code" = 201 ] || fail "create $1: $code"
}
mk alw always true
mk rst restore true
mk rss restore false
mk nev never true
st() { api "/api/v1/vms/$1" | jget state; }
for v in alw rst nev; do [ "$(st $v)" = running ] || fail "$v not running"; done
declare -A IP
for v in alw rst rss nev; do IP[$v]=$(api "/api/v1/vms/$v" | jget ip); done
[ "$(api /api/v1/vms/alw | jget autostart)" = always ] || fail "autostart not shown"

# PATCH.
[ "$(api_status /api/v1/vms/alw -X PATCH -d '{"cpus":2}')" = 409 ] || fail "cpus changed on a running VM"
r=$(api /api/v1/vms/alw -X PATCH -d '{"memory_mib":512}'); echo "$r" | jget error.message | matches 'stop it to change' || fail "409 message: $r"
r=$(api /api/v1/vms/rss -X PATCH -d '{"cpus":2,"memory_mib":192}')
[ "$(echo "$r" | jget cpus)" = 2 ] && [ "$(echo "$r" | jget memory_mib)" = 192 ] || fail "PATCH of a stopped VM: $r"
[ "$(api /api/v1/vms/nev -X PATCH -d '{"autostart":"restore"}' | jget autostart)" = restore ] || fail "autostart of a running VM"
[ "$(api /api/v1/vms/nev -X PATCH -d '{"autostart":"never"}' | jget autostart)" = never ] || fail "autostart back to never"
for bad in '{}' '{"name":"x"}' '{"autostart":"sometimes"}' '{"cpus":0}' '[1]' 'nope'; do
  [ "$(api_status /api/v1/vms/rss -X PATCH -d "$bad")" = 400 ] || fail "PATCH $bad not 400"
done
[ "$(api_status /api/v1/vms/nope -X PATCH -d '{"cpus":1}')" = 404 ] || fail "PATCH of an unknown VM"
pass "PATCH: 409 naming the state for cpus/memory of a running VM, taken on a stopped one; autostart any time; 400 for bad bodies, 404 for unknown VMs"

reboot() {
  kill -9 "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null || true; DAEMON_PID=
  pkill -9 -f -- "$STATE/vms/" || true
  sleep 0.5
  ip netns del "$PD_NS"
  inh nft delete table inet paddock 2>/dev/null || true
  ip netns list | matches -w "$PD_NS" && fail "namespace still there"
  start_daemon
}
# Console lines accumulate across boots: a wait is for one more than counted before.
seen() { api "/api/v1/vms/$1/console/log" | grep -c "$2" || true; }
more_than() { [ "$(seen "$1" "$2")" -gt "$3" ]; }
leases_before=$(seen alw "PADDOCK: LEASE")
declare -A READY
for v in alw rst nev; do READY[$v]=$(seen $v "PADDOCK: ready"); done
t0=$(date +%s%N)
reboot
up() { [ "$(st alw)" = running ] && [ "$(st rst)" = running ]; }
ms=$(wait_for 60 up) || fail "after the reboot: alw $(st alw), rst $(st rst): $(grep -E 'autostart|alw|rst' "$WORK/daemon.log" | tail -8)"
for v in alw rst; do [ "$(api "/api/v1/vms/$v" | jget ip)" = "${IP[$v]}" ] || fail "$v changed its address"; done
[ "$(st nev)" != running ] && [ "$(st rss)" != running ] || fail "never/stopped-restore VMs started: nev $(st nev), rss $(st rss)"
[ "$(api /api/v1/vms/rss | jget cpus)" = 2 ] || fail "PATCH not kept across the restart"
ip1=${IP[alw]}
wait_for 90 more_than alw "PADDOCK: LEASE ip=$ip1" "$leases_before" >/dev/null || fail "alw did not lease its address after the reboot"
pass "reboot (QEMUs and daemon killed, namespace and table deleted): always and restore VMs running again in ${ms} ms with their addresses (alw leased $ip1 again); never ($(st nev)) and the stopped restore VM ($(st rss)) left alone"

# shutdown-vms: every running VM stopped gracefully and at once, marked for restore.
[ "$(api /api/v1/vms/nev/start -X POST | jget state)" = running ] || fail "start nev"
for v in alw rst nev; do # booted far enough to take the power button
  wait_for 90 more_than $v "PADDOCK: ready" "${READY[$v]}" >/dev/null || fail "$v did not boot: $(api /api/v1/vms/$v/console/log | tail -3)"
done
t0=$(date +%s%N)
out=$(inh "$PADDOCKD" shutdown-vms --config "$WORK/config.json" --timeout 20 2>&1) || fail "shutdown-vms: $out"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
for v in alw rst nev; do [ "$(st $v)" = stopped ] || fail "$v is $(st $v) after shutdown-vms: $out"; done
grep -qE '(alw|rst|nev).*(forced stop|SIGKILL|no power-off within)' "$WORK/daemon.log" && fail "a VM was forced: $(grep -E 'forced|no power-off' "$WORK/daemon.log" | tail -3)"
pass "paddockd shutdown-vms stopped 3 VMs gracefully (ACPI) in $ms ms: $(echo "$out" | tr '\n' ' ' | cut -c1-200)"
out=$(inh "$PADDOCKD" shutdown-vms --config "$WORK/config.json" 2>&1) || fail "shutdown-vms with nothing running: $out"
echo "$out" | matches 'no VM is running' || fail "shutdown-vms with nothing running: $out"

reboot
ms=$(wait_for 60 up) || fail "after the second reboot: alw $(st alw), rst $(st rst)"
[ "$(st nev)" = stopped ] || fail "nev (never) started after shutdown-vms: $(st nev)"
[ "$(st rss)" = stopped ] || fail "rss started: $(st rss)"
pass "after shutdown-vms and a reboot: alw (always) and rst (restore, stopped by shutdown-vms) running again, nev (never) and rss stay stopped"

# A plain daemon restart touches no VM: the running ones are re-attached, nothing started twice.
pid=$(api /api/v1/vms/alw | jget pid)
stop_daemon; start_daemon
[ "$(api /api/v1/vms/alw | jget pid)" = "$pid" ] && [ "$(st alw)" = running ] || fail "a daemon restart changed alw: $(api /api/v1/vms/alw)"
pass "a daemon restart (not a reboot) re-attached alw (pid $pid), started nothing"

# Without a daemon, shutdown-vms says so and fails.
stop_daemon
out=$(inh "$PADDOCKD" shutdown-vms --config "$WORK/config.json" 2>&1) && fail "shutdown-vms without a daemon succeeded: $out"
echo "$out" | matches 'did not answer' || fail "shutdown-vms without a daemon: $out"
pass "shutdown-vms without a daemon: exit 1, \"$(echo "$out" | head -1 | cut -c1-120)\""
