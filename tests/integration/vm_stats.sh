#!/bin/bash
# Integration: a running VM's figures with real QEMU and its real TAP. Sampling every second here
# (qemu.stats_interval_s 1): GET /stats fills with CPU, QEMU's memory, the guest's own memory
# report (virtio-balloon), its seed disk's reads and its port's traffic (a UDP burst from a client
# on the bridge, whose bytes the counters must hold); vm.stats only on a stream that names it,
# narrowed to one VM and spaced by stats_every, never on the default stream; per-VM counters in
# /metrics; when the VM stops its figures stop and its history stays.
source "$(dirname "$0")/lib.sh"

setup_vm_world
write_config "" '"qemu": {"stats_interval_s": 1}'
start_daemon
TOKEN=$(cat "$STATE/api-token")
echo "# accel: $(api /api/v1/health | jget accel)"

inh /usr/bin/python3 "$SRC/tests/integration/stats_watch.py" "$TOKEN" "/api/v1/events" 600 > "$WORK/default.log" 2>&1 &
EXTRA_PIDS+=($!)
wait_for 5 grep -q connected "$WORK/default.log" >/dev/null || fail "default stream: $(cat "$WORK/default.log")"

code=$(api_status /api/v1/vms -X POST -d '{"name":"vm1","kernel":"test-kernel","initrd":"test-initrd","cmdline":"quiet panic=-1","memory_mib":256,"start":true}')
[ "$code" = 201 ] || fail "create vm1: $code"
code=$(api_status /api/v1/vms -X POST -d '{"name":"vm2","kernel":"test-kernel","initrd":"test-initrd","cmdline":"quiet panic=-1","memory_mib":256,"start":true}')
[ "$code" = 201 ] || fail "create vm2: $code"
ip1=$(api /api/v1/vms/vm1 | jget ip)
console_has() { api "/api/v1/vms/$1/console/log" | matches "$2"; }
wait_for 90 console_has vm1 "PADDOCK: LEASE ip=$ip1" >/dev/null || fail "vm1 got no lease: $(api /api/v1/vms/vm1/console/log | tail -5)"

# A burst from a client on the bridge: 300 UDP datagrams of 1000 bytes (1042 on the wire each).
add_client "${ID}c" "" 192.168.26.240/24
metric() { api /metrics | awk -v k="$1{vm=\"$2\"}" '$1 == k { print $2 }'; }
rx0=$(metric paddock_vm_network_receive_bytes_total vm1); rx0=${rx0:-0}
ip netns exec "${ID}c" /usr/bin/python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(300):
    s.sendto(bytes(1000), (sys.argv[1], 9))
    time.sleep(0.005)' "$ip1" || fail "UDP burst to vm1"
sleep 2.5
rx1=$(metric paddock_vm_network_receive_bytes_total vm1)
tx1=$(metric paddock_vm_network_transmit_bytes_total vm1)
/usr/bin/python3 -c "import sys; rx0, rx1, tx1 = map(float, sys.argv[1:]); sys.exit(0 if rx1 - rx0 >= 300 * 1042 and tx1 > 0 else 1)" \
  "$rx0" "${rx1:-0}" "${tx1:-0}" || fail "network counters: rx $rx0 -> $rx1, tx $tx1 after 300 x 1042 bytes"
pass "port counters in /metrics: the guest received $(( (${rx1%.*} - ${rx0%.*}) / 1024 )) KiB during a 300 x 1042-byte UDP burst, sent ${tx1%.*} bytes"

# The guest's own memory report comes once its balloon driver has loaded and reported.
guest_reports() { api /api/v1/vms/vm1/stats | jget current.guest_total_mib | matches -v null; }
wait_for 30 guest_reports >/dev/null || fail "no guest memory report: $(api /api/v1/vms/vm1/stats | jget current)"
api /api/v1/vms/vm1/stats > "$WORK/stats.json"
out=$(/usr/bin/python3 - "$WORK/stats.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
h, cur = s["history"], s["current"]
assert s["running"] and s["interval_s"] == 1, s
n = len(h["t"])
assert n >= 8, f"only {n} points"
for k, col in h.items():
    assert len(col) == n, f"{k}: {len(col)} values for {n} times"
steps = [b - a for a, b in zip(h["t"], h["t"][1:])]
assert all(700 <= d <= 2500 for d in steps), f"sampling steps {steps}"
assert max(h["cpu_pct"]) > 0.5 and max(h["cpu_pct"]) < 150, h["cpu_pct"]
assert min(h["rss_mib"]) > 10, h["rss_mib"]
assert 150 <= cur["guest_total_mib"] <= 256 and 0 < cur["guest_used_mib"] < cur["guest_total_mib"], cur
# The burst's bytes, integrated from the rates, match what was sent (headers included).
got = sum(r * d / 1000 for r, d in zip(h["net_rx_bps"][1:], steps))
assert got >= 300 * 1042 * 0.9, f"rx rates integrate to {got:.0f} bytes"
assert max(h["net_rx_pps"]) >= 50, h["net_rx_pps"]
print(f"{n} points 1 s apart; cpu max {max(h['cpu_pct'])} %, QEMU rss {cur['rss_mib']} MiB, guest {cur['guest_used_mib']}/{cur['guest_total_mib']} MiB, "
      f"rx rates integrate to {got / 1024:.0f} KiB, peak {max(h['net_rx_pps'])} packets/s")
PY
) || fail "stats: $out"
pass "GET /api/v1/vms/vm1/stats: $out"
out=$(api /metrics | /usr/bin/python3 "$SRC/tests/integration/metrics_check.py" 'paddock_vm_cpu_seconds_total{vm=vm1}>=0.1' \
  'paddock_vm_memory_resident_bytes{vm=vm1}>=10000000' 'paddock_vm_guest_memory_total_bytes{vm=vm1}>=100000000' \
  'paddock_vm_disk_read_bytes_total{vm=vm1}>=512' 'paddock_vm_disk_reads_total{vm=vm1}>=1' 'paddock_vm_uptime_seconds{vm=vm1}>=1' \
  'paddock_vm_cpu_seconds_total{vm=vm2}>=0.1') || fail "metrics: $out"
grep -q '^# TYPE paddock_vm_cpu_seconds_total counter' <<<"$(api /metrics)" || fail "cpu seconds is not a counter"
pass "per-VM counters in /metrics: $out"

# vm.stats on the stream: only for vm1, at most one per 2 s; the default stream carries none.
inh timeout 20 /usr/bin/python3 "$SRC/tests/integration/stats_watch.py" "$TOKEN" "/api/v1/events?types=vm.stats&vm=vm1&stats_every=2" 7 \
  > "$WORK/stats_events.log" 2>&1 || fail "stats stream: $(cat "$WORK/stats_events.log")"
out=$(/usr/bin/python3 - "$WORK/stats_events.log" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1]) if l[0].isdigit()]
assert len(rows) >= 2, rows
assert all(r[1] == "vm.stats" and r[2] == "vm1" for r in rows), rows
t = [int(r[3]) for r in rows]
gaps = [b - a for a, b in zip(t, t[1:])]
assert all(g >= 1800 for g in gaps), gaps
print(f"{len(rows)} vm.stats of vm1 in 7 s, {min(gaps)}-{max(gaps)} ms apart")
PY
) || fail "stats stream: $out"
pass "events ?types=vm.stats&vm=vm1&stats_every=2: $out"

r=$(api /api/v1/vms/vm1/stop -X POST -d '{"force":true}'); [ "$(echo "$r" | jget state)" = stopped ] || fail "stop: $r"
sleep 2
s=$(api /api/v1/vms/vm1/stats)
[ "$(echo "$s" | jget running)" = false ] && [ "$(echo "$s" | jget current)" = null ] || fail "stopped VM still has current figures: $s"
n=$(echo "$s" | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)["history"]["t"]))')
[ "$n" -ge 8 ] || fail "history lost at stop: $n points"
m=$(api /metrics)
grep -q 'paddock_vm_cpu_seconds_total{vm="vm1"}' <<<"$m" && fail "a stopped VM still in /metrics"
grep -q 'paddock_vm_cpu_seconds_total{vm="vm2"}' <<<"$m" || fail "vm2 gone from /metrics"
[ "$(api_status /api/v1/vms/nope/stats)" = 404 ] || fail "stats of an unknown VM not 404"
pass "vm1 stopped: no current figures, its $n points kept, gone from /metrics (vm2 still there); unknown VM 404"

grep -q 'vm.stats' "$WORK/default.log" && fail "the default stream carried vm.stats"
grep -v connected "$WORK/default.log" | awk 'NR > 1 && $1 != last + 1 { bad = 1 } { last = $1 } END { exit bad }' \
  || fail "default stream: seq not contiguous beside vm.stats: $(cat "$WORK/default.log")"
pass "the default event stream carried no vm.stats and its seq stayed contiguous"
