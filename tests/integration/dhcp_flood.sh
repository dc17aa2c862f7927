#!/bin/bash
# Integration: the DHCP server flooded far beyond what it can answer (perfdhcp offering 50,000
# DORA/s in relay mode, both its threads, from a namespace on the bridge) still serves a real
# client: busybox udhcpc gets a lease within its normal retransmissions (3 DISCOVERs, 3 s apart),
# and no address is ever held by two clients.
source "$(dirname "$0")/lib.sh"
command -v perfdhcp >/dev/null || skip "missing tool: perfdhcp (kea-admin)"

setup_world
# perfdhcp's 150 clients share one port and send far beyond any client's rate: with the per-port
# cap and the per-client and per-port rates off, every packet reaches the engine and admission sheds the excess
# (hostile.sh tests the cap and the rate).
write_config '"dhcp_max_leases_per_port": 0, "dhcp_client_rate": 0, "dhcp_port_rate": 0'
start_daemon

add_client "${ID}f" 52:54:00:0f:00:01 192.168.26.3/24
ip netns exec "${ID}f" timeout 40 perfdhcp -4 -l eth0 -r 50000 -R 150 -p 20 -g multi 192.168.26.2 > "$WORK/perfdhcp.log" 2>&1 &
EXTRA_PIDS+=($!)
sleep 3 # the flood is on

cat > "$WORK/udhcpc.sh" <<'SH'
#!/bin/sh
case "$1" in bound|renew) echo "ip=$ip" > "$OUT" ;; esac
exit 0
SH
chmod +x "$WORK/udhcpc.sh"
add_client "${ID}r" 52:54:00:0f:00:02
t0=$(date +%s%N)
OUT=$WORK/udhcpc.lease ip netns exec "${ID}r" busybox udhcpc -i eth0 -q -f -n -t 3 -T 3 -s "$WORK/udhcpc.sh" \
  > "$WORK/udhcpc.log" 2>&1 || fail "udhcpc got no lease during the flood: $(cat "$WORK/udhcpc.log")"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
ip=$(sed -n 's/^ip=//p' "$WORK/udhcpc.lease")
pass "udhcpc got $ip in ${ms} ms while perfdhcp flooded the server"

# No address held by two clients, during the flood and after it.
check_unique() {
  api /api/v1/leases | /usr/bin/python3 -c '
import json, sys
held = {}
for l in json.load(sys.stdin)["leases"]:
    if l["state"] in ("bound", "offered"):
        ip, mac = l["ip"], l["mac"]
        if ip in held and held[ip] != mac:
            sys.exit(ip + " held by " + held[ip] + " and " + mac)
        held[ip] = mac
print(len(held))'
}
n=$(check_unique 2>&1) || fail "during the flood: $n"
wait "${EXTRA_PIDS[-1]}" 2>/dev/null || true
sent=$(grep -m1 "sent packets:" "$WORK/perfdhcp.log" | awk '{print $3}')
n=$(check_unique 2>&1) || fail "after the flood: $n"
api /api/v1/leases | matches "\"mac\":\"52:54:00:0f:00:02\",\"ip\":\"$ip\"" || fail "udhcpc's lease of $ip is not listed"
stop_daemon
shed=$(sed -n 's/.*since start: \([0-9]*\) received, \([0-9]*\) replies, \([0-9]*\) shed.*/\1 received, \2 replies, \3 shed/p' "$WORK/daemon.log")
pass "no address held by two clients ($n leases); perfdhcp sent ${sent:-?} DISCOVERs in 20 s; server: $shed"
