#!/bin/bash
# Integration: a client on the bridge reaches a server in the fake internet through the host veth,
# masqueraded to the host's uplink address, and the reply comes back.
source "$(dirname "$0")/lib.sh"
command -v socat >/dev/null || skip "missing tool: socat"

setup_world
write_config "" '"allow_insecure_listen": true'   # 0.0.0.0: the VMs must still not reach the API
start_daemon --listen 0.0.0.0:8080
grep -q "not loopback, in plain HTTP" "$WORK/daemon.log" || fail "no warning for a non-loopback listener"
pass "daemon healthy"

net=$(api /api/v1/network)
[ "$(echo "$net" | jget bridge.present)" = true ] || fail "bridge not present: $net"
[ "$(echo "$net" | jget bridge.up)" = true ] || fail "bridge not up"
[ "$(echo "$net" | jget host_veth.addresses.0)" = 192.168.26.1/24 ] || fail "gateway address: $net"
[ "$(echo "$net" | jget bridge.addresses.0)" = 192.168.26.2/24 ] || fail "bridge address: $net"
[ "$(echo "$net" | jget nftables.present)" = true ] || fail "nft table not reported"
[ "$(echo "$net" | jget ip_forward)" = 1 ] || fail "ip_forward not 1"
[ "$(echo "$net" | jget namespace.name)" = "$PD_NS" ] || fail "namespace name"
pass "GET /api/v1/network reports the topology"

ip netns list | matches -w "$PD_NS" || fail "namespace not visible to ip netns"
ip -n "$PD_NS" -d link show br0 | matches bridge || fail "br0 is not a bridge"
ip -n "$PD_NS" link show gw0 | matches "master br0" || fail "gw0 not enslaved"
pass "topology visible with ip netns / ip link"

add_client "$CLIENT_NS" "" 192.168.26.50/24
# The fake internet's server answers with the address it saw the connection come from.
ip netns exec "$UPLINK_NS" socat TCP-LISTEN:7000,bind=203.0.113.2,reuseaddr,fork SYSTEM:'echo "$SOCAT_PEERADDR"' &
EXTRA_PIDS+=($!)
wait_for 5 ip netns exec "$UPLINK_NS" sh -c 'ss -ltn | grep -q 203.0.113.2:7000' >/dev/null || fail "socat server did not listen"
seen=$(ip netns exec "$CLIENT_NS" socat -T 5 - TCP:203.0.113.2:7000,connect-timeout=5 </dev/null)
[ "$seen" = 203.0.113.1 ] || fail "server saw source '$seen', want the host's uplink address 203.0.113.1"
pass "TCP from the bridge is masqueraded to 203.0.113.1 and the reply comes back"

ip netns exec "$CLIENT_NS" busybox ping -c 1 -W 2 203.0.113.2 >/dev/null || fail "ping through NAT failed"
ip netns exec "$CLIENT_NS" busybox ping -c 1 -W 2 192.168.26.1 >/dev/null || fail "ping of the gateway failed"
ip netns exec "$CLIENT_NS" busybox ping -c 1 -W 2 192.168.26.2 >/dev/null || fail "ping of the bridge failed"
pass "ICMP to the internet, the gateway and the bridge address"

pkts=$(inh nft -j list chain inet paddock postrouting | /usr/bin/python3 -c 'import json,sys
d=json.load(sys.stdin)["nftables"]
print(sum(e["counter"]["packets"] for i in d if "rule" in i for e in i["rule"]["expr"] if isinstance(e,dict) and "counter" in e))')
[ "$pkts" -ge 1 ] || fail "masquerade counter did not move"
pass "masquerade rule counted $pkts packet(s)"

# The API port is closed to the VM side even if the daemon listens on every address.
if ip netns exec "$CLIENT_NS" socat -T 2 - TCP:192.168.26.1:8080,connect-timeout=2 </dev/null 2>/dev/null; then
  fail "client reached port 8080 on the gateway"
fi
pass "VM side cannot reach the API port on the gateway"

# A Docker-style host firewall (forward policy drop in another table) is detected and reported,
# and it really does drop the VMs' forwarded traffic (so the warning is not a false alarm).
inh nft -f - <<'NFT'
table ip filter {
  chain FORWARD { type filter hook forward priority filter; policy drop; }
  chain DOCKER-USER { return; }
}
NFT
# GET /api/v1/network serves the fabric worker's last description, made again on every netlink
# or nftables event: the warning appears within a moment.
has_warning() { api /api/v1/network | jget warnings.0 | matches FORWARD; }
wait_for 3 has_warning >/dev/null || fail "no warning for the drop policy: $(api /api/v1/network)"
warn=$(api /api/v1/network | jget warnings.0)
if ip netns exec "$CLIENT_NS" socat -T 2 - TCP:203.0.113.2:7000,connect-timeout=2 </dev/null >/dev/null 2>&1; then
  fail "traffic passed a forward drop policy; the warning would be wrong"
fi
pass "forward drop policy in 'ip filter' reported: $warn"
