#!/bin/bash
# Integration: VM subnets routed between two Paddock hosts. Two daemons in two fake host
# namespaces (their own namespaces, VM subnets 192.168.26.0/24 and 192.168.27.0/24, domains a.test
# and b.test) joined by the fake uplink (a switch in UPLINK_NS), each naming the other in
# network.peers. A real guest on host A pings and resolves (by name, through A's DNS asking B's) a
# VM on host B, and B's VM sees A's guest's own address (no NAT between VM subnets); a subnet not
# listed cannot get in; the uplink still sees NAT for everything else; the teardown of B leaves A
# and its guest working.
source "$(dirname "$0")/lib.sh"
command -v socat >/dev/null || skip "missing tool: socat"
setup_vm_world

# The uplink becomes a switch: A's link and B's on one bridge, the uplink's own address on it.
ip -n "$UPLINK_NS" link add sw0 type bridge
ip -n "$UPLINK_NS" addr del 203.0.113.2/24 dev wan0
ip -n "$UPLINK_NS" addr del 2001:db8:1::2/64 dev wan0
ip -n "$UPLINK_NS" link set wan0 master sw0
ip -n "$UPLINK_NS" addr add 203.0.113.2/24 dev sw0
ip -n "$UPLINK_NS" link set sw0 up
HOST_B=${ID}hb
PD_B=${ID}pb
CLIENTS+=("$HOST_B" "$PD_B")   # removed on exit with the rest
ip netns add "$HOST_B"
ip -n "$HOST_B" link set lo up
ip link add up0 netns "$HOST_B" type veth peer name wan1 netns "$UPLINK_NS"
ip -n "$UPLINK_NS" link set wan1 master sw0
ip -n "$UPLINK_NS" link set wan1 up
ip -n "$HOST_B" addr add 203.0.113.3/24 dev up0
ip -n "$HOST_B" link set up0 up
ip -n "$HOST_B" route add default via 203.0.113.2
ip netns exec "$HOST_B" sh -c 'echo 0 > /proc/sys/net/ipv4/ip_forward'

write_config '"domain": "a.test", "peers": [{"subnet": "192.168.27.0/24", "gateway": "203.0.113.3", "domain": "b.test"}]'
start_daemon
B=$WORK/b
mkdir -p "$B/state/images"
: > "$B/resolv.conf"
cat > "$B/config.json" <<JSON
{
  "listen": "127.0.0.1:8080",
  "state_dir": "$B/state",
  "dns_service": {"resolv_conf": "$B/resolv.conf"},
  "network": {"namespace": "$PD_B", "subnet": "192.168.27.0/24", "gateway": "192.168.27.1",
              "bridge_address": "192.168.27.2", "dhcp_pool": {"start": "192.168.27.10", "end": "192.168.27.250"},
              "domain": "b.test", "peers": [{"subnet": "192.168.26.0/24", "gateway": "203.0.113.1", "domain": "a.test"}]}
}
JSON
: > "$B/state/images/nothing"
nsenter --net="/run/netns/$HOST_B" "$PADDOCKD" --config "$B/config.json" > "$B/daemon.log" 2>&1 &
DAEMON_B=$!
EXTRA_PIDS+=($DAEMON_B)
apib() { nsenter --net="/run/netns/$HOST_B" curl -sS --max-time 5 -H "Authorization: Bearer $(cat "$B/state/api-token" 2>/dev/null)" "$@"; }
bup() { apib http://127.0.0.1:8080/api/v1/health | matches '"ok"'; }
wait_for 10 bup >/dev/null || fail "daemon B did not start: $(cat "$B/daemon.log")"
routes=$(inh ip route show)
grep -q "192.168.27.0/24 via 203.0.113.3 dev up0 proto 199" <<<"$routes" || fail "A's route: $routes"
routes=$(ip -n "$HOST_B" route show)
grep -q "192.168.26.0/24 via 203.0.113.1 dev up0 proto 199" <<<"$routes" || fail "B's route: $routes"
[ "$(api /api/v1/network | jget peers.0.dns)" = 192.168.27.2 ] || fail "A's peers: $(api /api/v1/network | jget peers)"
pass "two hosts on one uplink; each routes the other's VM subnet (proto 199 routes) and names it as a peer"

# B's VM: a port in its role answering ping and telling who connected.
apib http://127.0.0.1:8080/api/v1/vms -X POST -d '{"name":"db","kernel":"nothing"}' > "$B/db.json"
DB_IP=$(jget ip < "$B/db.json")
[[ $DB_IP == 192.168.27.* ]] || fail "B's VM: $(cat "$B/db.json")"
ip netns add "${ID}db"
CLIENTS+=("${ID}db")
ip -n "${ID}db" link set lo up
ip link add eth0 netns "${ID}db" type veth peer name "$(jget tap < "$B/db.json")" netns "$PD_B"
ip -n "${ID}db" link set eth0 address "$(jget mac < "$B/db.json")"
ip -n "$PD_B" link set "$(jget tap < "$B/db.json")" master br0
ip -n "$PD_B" link set "$(jget tap < "$B/db.json")" up
ip -n "${ID}db" link set eth0 up
ip -n "${ID}db" addr add "$DB_IP/24" dev eth0
ip -n "${ID}db" route add default via 192.168.27.1
ip netns exec "${ID}db" socat TCP-LISTEN:7100,reuseaddr,fork SYSTEM:'echo "$SOCAT_PEERADDR"' &
EXTRA_PIDS+=($!)
guarded() { ip netns exec "$PD_B" nft list table bridge paddock_guard | matches "goto vm_db"; }
wait_for 5 guarded >/dev/null || fail "db's port not guarded on B"

# A's real guest pings db and resolves db.b.test through A's DNS (which asks B's).
code=$(api_status /api/v1/vms -X POST -d "{\"name\":\"web\",\"kernel\":\"test-kernel\",\"initrd\":\"test-initrd\",\"memory_mib\":256,
  \"start\":true,\"cmdline\":\"quiet panic=-1 paddock.ping=$DB_IP paddock.resolve=db.b.test,db\"}")
[ "$code" = 201 ] || fail "create web on A: $code"
WEB_IP=$(api /api/v1/vms/web | jget ip)
checked() { api /api/v1/vms/web/console/log | matches "PADDOCK: PING_.* $DB_IP"; }
wait_for 90 checked >/dev/null || fail "web: $(api /api/v1/vms/web/console/log | grep PADDOCK)"
log=$(api /api/v1/vms/web/console/log)
grep -q "PADDOCK: RESOLVE db.b.test=$DB_IP" <<<"$log" || fail "web resolving db.b.test: $(grep RESOLVE <<<"$log")"
grep -q "PADDOCK: PING_OK $DB_IP" <<<"$log" || fail "web pinging $DB_IP: $(grep PING <<<"$log")"
grep -q "PADDOCK: RESOLVE_FAIL db" <<<"$log" || fail "a bare name resolved across hosts: $(grep RESOLVE <<<"$log")"
pass "A's guest $WEB_IP resolves db.b.test=$DB_IP (A's DNS asked B's) and pings it"

# No NAT between VM subnets: db sees A's VM address; a connection from A's host namespace (not a
# VM subnet) is not let in by B; B answers A's DNS for its names only.
plug "${ID}a2" "$(api /api/v1/vms -X POST -d '{"name":"a2","kernel":"test-kernel"}' | jget tap)" \
  "$(api /api/v1/vms/a2 | jget mac)" "$(api /api/v1/vms/a2 | jget ip)/24"
A2_IP=$(api /api/v1/vms/a2 | jget ip)
wait_for 5 sh -c "ip netns exec '$PD_NS' nft list table bridge paddock_guard | grep -q 'goto vm_a2'" >/dev/null || fail "a2 not guarded"
seen=$(ip netns exec "${ID}a2" socat -T 5 - "TCP:$DB_IP:7100,connect-timeout=5" </dev/null) || fail "a2 -> db:7100"
[ "$seen" = "$A2_IP" ] || fail "db saw '$seen', want a2's own $A2_IP (no NAT between VM subnets)"
if inh socat -T 2 - "TCP:$DB_IP:7100,connect-timeout=2" </dev/null >/dev/null 2>&1; then
  fail "A's host (203.0.113.1, not a VM subnet) opened a connection to B's VM"
fi
if ip netns exec "$UPLINK_NS" sh -c "ip route add 192.168.27.0/24 via 203.0.113.3; socat -T 2 - TCP:$DB_IP:7100,connect-timeout=2 </dev/null" >/dev/null 2>&1; then
  fail "the uplink (not a listed subnet) opened a connection to B's VM"
fi
out=$(inh dig +short +time=2 +tries=1 @192.168.27.2 db.b.test) ; [ "$out" = "$DB_IP" ] || fail "B's DNS to A's host: '$out'"
out=$(inh dig +time=2 +tries=1 @192.168.27.2 example.org) ; grep -q "status: REFUSED" <<<"$out" || fail "B recursed for A: $out"
pass "no NAT between the VM subnets (db saw $A2_IP); A's host and the uplink are kept out of B's VMs; B's DNS answers A its own names only"

# NAT stays for everything else.
ip netns exec "$UPLINK_NS" socat TCP-LISTEN:7000,bind=203.0.113.2,reuseaddr,fork SYSTEM:'echo "$SOCAT_PEERADDR"' &
EXTRA_PIDS+=($!)
wait_for 5 ip netns exec "$UPLINK_NS" sh -c 'ss -ltn | grep -q 203.0.113.2:7000' >/dev/null || fail "uplink socat"
seen=$(ip netns exec "${ID}a2" socat -T 5 - TCP:203.0.113.2:7000,connect-timeout=5 </dev/null)
[ "$seen" = 203.0.113.1 ] || fail "the uplink saw '$seen', want A's 203.0.113.1"
pass "traffic to the uplink is still masqueraded (seen as 203.0.113.1)"

# B's teardown leaves A intact.
kill -TERM "$DAEMON_B"; wait "$DAEMON_B" || true
nsenter --net="/run/netns/$HOST_B" "$PADDOCKD" teardown --config "$B/config.json" > "$B/teardown.log" 2>&1 || fail "teardown B: $(cat "$B/teardown.log")"
nslist=$(ip netns list)
grep -qw "$PD_B" <<<"$nslist" && fail "B's namespace left"
routes=$(ip -n "$HOST_B" route show)
grep -q "proto 199" <<<"$routes" && fail "B's route left: $routes"
grep -q "deleted route 192.168.26.0/24 via 203.0.113.1" "$B/teardown.log" || fail "teardown B said: $(cat "$B/teardown.log")"
grep -qw "$PD_NS" <<<"$nslist" || fail "A's namespace went with B's"
inh nft list table inet paddock >/dev/null || fail "A's table went with B's"
[ "$(api /api/v1/vms/web | jget state)" = running ] || fail "A's guest: $(api /api/v1/vms/web | jget state)"
seen=$(ip netns exec "${ID}a2" socat -T 5 - TCP:203.0.113.2:7000,connect-timeout=5 </dev/null)
[ "$seen" = 203.0.113.1 ] || fail "A's VM lost the uplink after B's teardown: '$seen'"
pass "B's teardown removed its route, table and namespace; A's namespace, table, guest and uplink are intact"
