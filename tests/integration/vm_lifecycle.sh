#!/bin/bash
# Integration: real QEMU (TCG unless KVM is really usable) driven through the REST API inside a
# throwaway host namespace: create + start, the reserved address leased by Paddock's DHCP, the
# guest pings its gateway, two VMs ping each other over the bridge, pause/resume, graceful and
# forced stop, kill -9 of the daemon (the VM keeps running and is re-attached, nothing doubled),
# kill -9 of QEMU (failed within a second), removal (TAP, disk, lease gone), and API errors; the
# serial console WebSocket (two viewers, across a daemon restart, told when the VM stops), /metrics.
source "$(dirname "$0")/lib.sh"

setup_vm_world
start_daemon
accel=$(api /api/v1/health | jget accel)
echo "# accel: $accel"

# The event stream, watched over a real WebSocket for the whole test.
inh /usr/bin/python3 "$SRC/tests/integration/events_watch.py" "$(cat "$STATE/api-token")" > "$WORK/events.log" 2>&1 &
EXTRA_PIDS+=($!)
wait_for 5 grep -q connected "$WORK/events.log" >/dev/null || fail "event stream: $(cat "$WORK/events.log")"

vm() { api "/api/v1/vms/$1"; }
vm_field() { vm "$1" | jget "$2"; }
console_has() { api "/api/v1/vms/$1/console/log" | matches "$2"; }
state_is() { [ "$(vm_field "$1" state)" = "$2" ]; }

KEY="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPaddockTestKeyOnlyForTests test@paddock"
code=$(api_status /api/v1/vms -X POST -d '{"name":"vm1","kernel":"test-kernel","initrd":"test-initrd","cmdline":"quiet panic=-1","memory_mib":256,"start":true,
  "cloud_init":{"user_data":"#cloud-config\n# PADDOCK_MARK_7f3a\nruncmd: [true]\n","ssh_authorized_keys":["'"$KEY"'"]}}')
[ "$code" = 201 ] || fail "create vm1: $code $(api /api/v1/vms)"
ip1=$(vm_field vm1 ip)
mac1=$(vm_field vm1 mac)
case "$ip1" in 192.168.26.*) ;; *) fail "vm1 has no reserved ip: $(vm vm1)" ;; esac
state_is vm1 running || fail "vm1 not running after create+start: $(vm vm1)"
api /api/v1/leases | matches "\"$ip1\"" || fail "reservation of $ip1 not listed"
pass "vm1 created and running ($(vm_field vm1 accel), pid $(vm_field vm1 pid)); address $ip1 reserved before boot"

ms=$(wait_for 90 console_has vm1 "PADDOCK: LEASE ip=$ip1/24 router=192.168.26.1") \
  || fail "vm1 got no lease for $ip1: $(api /api/v1/vms/vm1/console/log | tail -5)"
[ "$(vm_field vm1 ip_leased)" = true ] || fail "ip_leased not set"
grep -q "event: vm.ip" "$WORK/daemon.log" || fail "no vm.ip event"
console_has vm1 "hostname=vm1" || fail "vm1 did not get its host name"
wait_for 20 console_has vm1 "PADDOCK: PING_OK 192.168.26.1" >/dev/null || fail "vm1 cannot ping its gateway"
pass "vm1 leased its reserved $ip1 from Paddock's DHCP (host name vm1) in ${ms} ms and pinged the gateway; vm.ip published"
wait_for 20 console_has vm1 "PADDOCK: NOCLOUD hostname=vm1 mark=PADDOCK_MARK_7f3a key=$KEY" >/dev/null \
  || fail "cloud-init seed: $(api /api/v1/vms/vm1/console/log | grep NOCLOUD); daemon: $(grep metadata "$WORK/daemon.log")"
add_client "${ID}s" "" 192.168.26.240/24
code=$(ip netns exec "${ID}s" curl -s -o /dev/null -w '%{http_code}' --max-time 5 http://192.168.26.2/vm/vm1/meta-data || true)
[ "$code" = 403 ] || fail "another client read vm1's seed: $code"
pass "cloud-init NoCloud seed over HTTP from the SMBIOS serial URL: host name, user-data marker and SSH key in the guest; 403 for anyone else"

# Its boot showed on the stream, in order, with seq growing by one.
at() { grep -n -- "$1" "$WORK/events.log" | head -1 | cut -d: -f1; }
order=("vm.created vm1 " 'vm.state vm1 {"state":"starting"' 'vm.state vm1 {"state":"running"' "lease.bound vm1 " "vm.ip vm1 ")
prev=0
for want in "${order[@]}"; do
  n=$(at "$want"); [ -n "$n" ] || fail "event stream: no '$want' in: $(cat "$WORK/events.log")"
  [ "$n" -gt "$prev" ] || fail "event stream: '$want' out of order: $(cat "$WORK/events.log")"
  prev=$n
done
grep -v connected "$WORK/events.log" | awk 'NR > 1 && $1 != last + 1 { bad = 1 } { last = $1 } END { exit bad }' \
  || fail "event stream: seq not contiguous: $(cat "$WORK/events.log")"
pass "vm1's boot on the WebSocket event stream, in order: vm.created, vm.state starting, running, lease.bound, vm.ip"

code=$(api_status /api/v1/vms -X POST -d "{\"name\":\"vm2\",\"kernel\":\"test-kernel\",\"initrd\":\"test-initrd\",\"cmdline\":\"quiet panic=-1 paddock.ping=$ip1\",\"memory_mib\":256,\"start\":true}")
[ "$code" = 201 ] || fail "create vm2: $code"
ip2=$(vm_field vm2 ip)
[ "$ip2" != "$ip1" ] || fail "two VMs got the same address"
wait_for 90 console_has vm2 "PADDOCK: PING_OK $ip1" >/dev/null || fail "vm2 cannot ping vm1: $(api /api/v1/vms/vm2/console/log | grep PADDOCK)"
pass "vm2 ($ip2) pinged vm1 ($ip1) over the bridge"

# The serial console over WebSocket: two viewers, a command typed on each runs in the guest.
TOKEN=$(cat "$STATE/api-token")
wait_for 30 console_has vm1 "PADDOCK: ready" >/dev/null || fail "vm1 has no shell yet"
out=$(inh timeout 90 /usr/bin/python3 "$SRC/tests/integration/console_ws.py" "$TOKEN" vm1 two 2>&1) || fail "console: $out"
pass "console WebSocket: $out"
console_has vm1 "PADDOCK_CON_B_5_" || fail "console.log capture stopped beside the viewers"
code=$(inh curl -s -o /dev/null -w '%{http_code}' -H 'Upgrade: websocket' -H 'Connection: Upgrade' -H 'Sec-WebSocket-Version: 13' \
  -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' "http://127.0.0.1:8080/api/v1/vms/vm1/console?token=wrong")
[ "$code" = 401 ] || fail "console with a wrong token: $code"

# /metrics, read by the Prometheus client library's parser; the token is required there too.
[ "$(inh curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:8080/metrics)" = 401 ] || fail "/metrics without the token"
out=$(api /metrics | /usr/bin/python3 "$SRC/tests/integration/metrics_check.py" 'paddock_vms{state=running}==2' \
  'paddock_dhcp_packets_total{type=DISCOVER,outcome=offer}>=2' 'paddock_dhcp_active_leases>=2' \
  'paddock_websocket_clients{route=events}==1' 'paddock_events_published_total>=10' \
  'paddock_http_requests_total{route=/api/v1/vms/{name},method=GET,status=200}>=1') || fail "metrics: $out"
pass "/metrics: $out"
[ "$(api /api/v1/openapi.json | jget openapi)" = 3.0.3 ] || fail "openapi.json"

# The bridge deleted under running VMs: rebuilt, and both TAPs plugged back in.
ip -n "$PD_NS" link del br0
taps_back() { ip -n "$PD_NS" link show tap-vm1 | matches "master br0" && ip -n "$PD_NS" link show tap-vm2 | matches "master br0"; }
ms=$(wait_for 1 taps_back) || fail "VM TAPs not re-attached to the rebuilt bridge"
pass "bridge deleted under running VMs: rebuilt with both TAPs re-attached in ${ms} ms"

# API errors.
[ "$(api_status /api/v1/vms -X POST -d '{"name":"vm1","kernel":"test-kernel"}')" = 409 ] || fail "duplicate name not 409"
r=$(api /api/v1/vms -X POST -d '{"name":"Bad_Name","kernel":"test-kernel"}'); echo "$r" | jget error.message | matches "^name:" || fail "bad name: $r"
r=$(api /api/v1/vms -X POST -d '{"name":"x1","kernel":"test-kernel","cpus":0}'); echo "$r" | jget error.message | matches "^cpus:" || fail "bad cpus: $r"
r=$(api /api/v1/vms -X POST -d '{"name":"x1","kernel":"../etc/passwd"}'); echo "$r" | jget error.message | matches "^kernel:" || fail "path escape: $r"
r=$(api /api/v1/vms -X POST -d '{"name":"x1","kernel":"nope"}'); echo "$r" | jget error.message | matches "^kernel:" || fail "missing image: $r"
r=$(api /api/v1/vms -X POST -d '{"name":"x1","kernel":"test-kernel","ip":"10.0.0.5"}'); echo "$r" | jget error.message | matches "^ip:" || fail "foreign ip: $r"
r=$(api /api/v1/vms -X POST -d '{"name":"x1","kernel":"test-kernel","colour":1}'); echo "$r" | jget error.message | matches "^colour:" || fail "unknown field: $r"
r=$(api /api/v1/vms/vm1/start -X POST); echo "$r" | jget error.code | matches -x invalid_state || fail "start while running: $r"
echo "$r" | jget error.message | matches "running" || fail "409 does not name the state: $r"
[ "$(api_status /api/v1/vms/vm1/start -X POST)" = 409 ] || fail "start while running not 409"
[ "$(api_status /api/v1/vms/nope)" = 404 ] || fail "unknown VM not 404"
[ "$(api_status /api/v1/vms/vm1/fly -X POST)" = 404 ] || fail "unknown action not 404"
[ "$(api_status /api/v1/vms/vm1/stop)" = 405 ] || fail "GET on an action not 405"
[ "$(api /api/v1/vms | jget vms.1.name)" = vm2 ] || fail "list"
pass "API errors: 400 naming the field, 404, 405, 409 naming the current state"

r=$(api /api/v1/vms/vm1/pause -X POST); [ "$(echo "$r" | jget state)" = paused ] || fail "pause: $r"
r=$(api /api/v1/vms/vm1/resume -X POST); [ "$(echo "$r" | jget state)" = running ] || fail "resume: $r"
pass "pause and resume"

old=$(vm_field vm1 pid)
inh /usr/bin/python3 "$SRC/tests/integration/console_ws.py" "$TOKEN" vm1 until-close > "$WORK/viewer.log" 2>&1 &
EXTRA_PIDS+=($!)
wait_for 5 grep -q connected "$WORK/viewer.log" >/dev/null || fail "viewer: $(cat "$WORK/viewer.log")"
r=$(api /api/v1/vms/vm1/restart -X POST -d '{"timeout_s":20}' --max-time 60)
[ "$(echo "$r" | jget state)" = running ] || fail "restart: $r"
[ "$(echo "$r" | jget pid)" != "$old" ] || fail "restart kept the old QEMU"
[ "$(echo "$r" | jget ip)" = "$ip1" ] || fail "restart changed the address"
pass "restart: graceful stop, new QEMU (pid $old -> $(echo "$r" | jget pid)), same address $ip1"
wait_for 5 grep -q "closed 1000 the VM stopped" "$WORK/viewer.log" >/dev/null || fail "console viewer not told: $(cat "$WORK/viewer.log")"
pass "console viewer told when the VM stopped: $(grep closed "$WORK/viewer.log")"

t0=$(date +%s%N)
r=$(api /api/v1/vms/vm2/stop -X POST -d '{"timeout_s":30}' --max-time 60); [ "$(echo "$r" | jget state)" = stopped ] || fail "graceful stop: $r"
console_has vm2 "power button -> poweroff" || fail "vm2 did not see the ACPI power button"
pass "graceful stop: ACPI power button, guest powered off, stopped in $(( ($(date +%s%N) - t0) / 1000000 )) ms"

r=$(api /api/v1/vms/vm1/stop -X POST -d '{"force":true}'); [ "$(echo "$r" | jget state)" = stopped ] || fail "force stop: $r"
pass "force stop"

# kill -9 the daemon with a VM running: the VM keeps running and is re-attached, not doubled.
r=$(api /api/v1/vms/vm1/start -X POST); [ "$(echo "$r" | jget state)" = running ] || fail "restart vm1: $r"
pid1=$(vm_field vm1 pid)
kill -9 "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null || true; DAEMON_PID=
kill -0 "$pid1" || fail "QEMU died with the daemon"
start_daemon
wait_for 10 state_is vm1 running >/dev/null || fail "vm1 not running after daemon restart: $(vm vm1)"
[ "$(vm_field vm1 pid)" = "$pid1" ] || fail "vm1 pid changed: a second QEMU?"
n=$(pgrep -fc "process=paddock-vm1 " || true)
[ "$n" = 1 ] || fail "$n QEMU processes for vm1"
grep -q "vm1: re-attached" "$WORK/daemon.log" || fail "no re-attach log line"
r=$(api /api/v1/vms/vm1/pause -X POST); [ "$(echo "$r" | jget state)" = paused ] || fail "QMP not usable after re-attach: $r"
api /api/v1/vms/vm1/resume -X POST >/dev/null
pass "kill -9 of the daemon: vm1 (pid $pid1) kept running, re-attached over QMP, one QEMU"
wait_for 60 console_has vm1 "PADDOCK: ready" >/dev/null || fail "vm1 has no shell after its restart"
out=$(inh timeout 90 /usr/bin/python3 "$SRC/tests/integration/console_ws.py" "$TOKEN" vm1 two 2>&1) || fail "console after daemon restart: $out"
pass "console after the daemon's restart (re-attached to the chardev): $out"

# kill -9 QEMU: failed within a second, with the reason.
kill -9 "$pid1"
ms=$(wait_for 1 state_is vm1 failed) || fail "vm1 not failed within 1 s: $(vm vm1)"
vm_field vm1 state_reason | matches "unexpectedly" || fail "reason: $(vm_field vm1 state_reason)"
pass "kill -9 of QEMU: vm1 failed in ${ms} ms ($(vm_field vm1 state_reason))"

# A failed VM starts again.
r=$(api /api/v1/vms/vm1/start -X POST); [ "$(echo "$r" | jget state)" = running ] || fail "start after failure: $r"

# Removal cleans up: a running VM is force-stopped; TAP, folder, lease and reservation go.
[ "$(api_status /api/v1/vms/vm1 -X DELETE)" = 204 ] || fail "delete vm1"
[ "$(api_status /api/v1/vms/vm2 -X DELETE)" = 204 ] || fail "delete vm2"
ip -n "$PD_NS" link show tap-vm1 >/dev/null 2>&1 && fail "tap-vm1 still exists"
[ -e "$STATE/vms/vm1" ] && fail "vm1 folder still exists"
api /api/v1/leases | matches "$mac1" && fail "vm1's lease or reservation still listed"
pgrep -f "process=paddock-vm" >/dev/null && fail "a QEMU is still running"
[ "$(api /api/v1/vms | jget vms)" = "[]" ] || fail "VMs still listed"
grep -q "event: vm.removed" "$WORK/daemon.log" || fail "no vm.removed event"
pass "remove: QEMU, TAP, folder, lease and reservation gone; vm.removed published"

# Disk boot: a qcow2 overlay on the image (never a copy), grown to disk_gib.
qemu-img create -q -f qcow2 "$STATE/images/blank.qcow2" 1G
r=$(api /api/v1/vms -X POST -d '{"name":"disk1","image":"blank.qcow2","disk_gib":2,"memory_mib":128}')
[ "$(echo "$r" | jget state)" = stopped ] || fail "create disk1: $r"
info=$(qemu-img info --output=json "$STATE/vms/disk1/disk.qcow2")
echo "$info" | matches "\"backing-filename\": \"$STATE/images/blank.qcow2\"" || fail "overlay has no backing file: $info"
echo "$info" | matches '"virtual-size": 2147483648' || fail "overlay not grown to 2 GiB: $info"
echo "$info" | matches '"backing-filename-format": "qcow2"' || fail "a qcow2 image must back the overlay as qcow2: $info"
[ "$(stat -c %s "$STATE/vms/disk1/disk.qcow2")" -lt 1048576 ] || fail "overlay is not thin"
r=$(api /api/v1/vms/disk1/start -X POST); [ "$(echo "$r" | jget state)" = running ] || fail "disk boot start: $r"
[ "$(api_status /api/v1/vms/disk1 -X DELETE)" = 204 ] || fail "delete disk1"
[ -e "$STATE/images/blank.qcow2" ] || fail "removing the VM removed its image"
pass "disk boot: a thin qcow2 overlay on the image, grown to 2 GiB; QEMU runs it; removal keeps the image"

# teardown with a VM running: the guest gets the power button, then everything is gone. Alongside,
# a guest that powers itself off is reported as stopped by the guest.
code=$(api_status /api/v1/vms -X POST -d '{"name":"vm3","kernel":"test-kernel","initrd":"test-initrd","memory_mib":256,"start":true}')
[ "$code" = 201 ] || fail "create vm3: $code"
code=$(api_status /api/v1/vms -X POST -d '{"name":"vm4","kernel":"test-kernel","initrd":"test-initrd","cmdline":"paddock.mode=oneshot","memory_mib":256,"start":true}')
[ "$code" = 201 ] || fail "create vm4: $code"
wait_for 90 state_is vm4 stopped >/dev/null || fail "vm4 did not power itself off: $(vm vm4)"
vm_field vm4 state_reason | matches "guest powered off" || fail "guest poweroff reason: $(vm_field vm4 state_reason)"
pass "a guest that powers itself off: stopped, reason '$(vm_field vm4 state_reason)'"
wait_for 90 console_has vm3 "PADDOCK: ready" >/dev/null || fail "vm3 did not come up"
pid3=$(vm_field vm3 pid)
inh "$PADDOCKD" teardown --config "$WORK/config.json" > "$WORK/teardown.log" 2>&1 || fail "teardown: $(cat "$WORK/teardown.log")"
wait "$DAEMON_PID" 2>/dev/null || true; DAEMON_PID=
grep -q "stopped VM vm3 (powered off)" "$WORK/teardown.log" || fail "teardown did not power vm3 off: $(cat "$WORK/teardown.log")"
kill -0 "$pid3" 2>/dev/null && [ "$(awk '/^State:/{print $2}' /proc/$pid3/status 2>/dev/null)" != Z ] && fail "vm3's QEMU survived teardown"
ip netns list | matches -w "$PD_NS" && fail "namespace survived teardown"
pass "teardown powers running VMs off (ACPI), then removes the fabric"
