#!/bin/bash
# Integration: the DNS service on the bridge address. The fake uplink runs dnsmasq as the internet's
# DNS (one fixed record), the fake host runs a dnsmasq stub on 127.0.0.53 (as systemd-resolved
# would) that forwards to it, and the daemon's resolv.conf names only the stub -- so a forwarded
# name proves the forwarding socket lives in the host's namespace.
#  - a real guest learns the server (DHCP option 6) and domain (option 15) and, with busybox
#    nslookup, resolves another VM's name and the uplink's record;
#  - dig from a port on the bridge: VM names (any case), reverse lookups, NXDOMAIN, UDP and TCP,
#    forwarded names cached (the upstream sees one query), an upstream that never answers gives
#    SERVFAIL in bounded time and a changed resolv.conf is picked up, malformed queries are dropped
#    and counted, a removed VM stops resolving; /metrics counts it all.
source "$(dirname "$0")/lib.sh"
for tool in dig dnsmasq python3; do command -v "$tool" >/dev/null || skip "missing tool: $tool"; done

setup_vm_world
# The internet's DNS, and the host's stub resolver on 127.0.0.53.
ip netns exec "$UPLINK_NS" dnsmasq --keep-in-foreground --no-resolv --no-hosts --port=53 \
  --listen-address=203.0.113.2 --bind-interfaces --user=root --pid-file= --log-queries \
  --log-facility="$WORK/uplink.log" --local-ttl=300 --local=/uplink.test/ --host-record=www.uplink.test,203.0.113.80 \
  --host-record=big.uplink.test,203.0.113.81 &
EXTRA_PIDS+=($!)
nsenter --net="/run/netns/$HOST_NS" dnsmasq --keep-in-foreground --no-resolv --no-hosts --port=53 --listen-address=127.0.0.53 \
  --bind-interfaces --user=root --pid-file= --cache-size=0 --server=203.0.113.2 \
  --log-facility="$WORK/stub.log" &
EXTRA_PIDS+=($!)
echo "nameserver 127.0.0.53" > "$WORK/resolv.conf"
upstream_ok() { inh dig +short +time=1 +tries=1 @127.0.0.53 www.uplink.test | matches -x 203.0.113.80; }
wait_for 10 upstream_ok >/dev/null || fail "the test's own stub and uplink DNS do not answer: $(cat "$WORK/uplink.log" "$WORK/stub.log" 2>&1 | tail -5)"

start_daemon
grep -q "dns.*serving paddock.internal on 192.168.26.2:53" "$WORK/daemon.log" || fail "no DNS service at start"

# Two VMs: db is only defined (its reserved address is what DNS gives), web boots and looks names up.
[ "$(api_status /api/v1/vms -X POST -d '{"name":"db","kernel":"test-kernel","initrd":"test-initrd"}')" = 201 ] || fail "create db"
DB_IP=$(api /api/v1/vms/db | jget ip)
code=$(api_status /api/v1/vms -X POST -d '{"name":"web","kernel":"test-kernel","initrd":"test-initrd","memory_mib":256,"start":true,
  "cmdline":"quiet panic=-1 paddock.resolve=db.paddock.internal,www.uplink.test"}')
[ "$code" = 201 ] || fail "create web: $code"
WEB_IP=$(api /api/v1/vms/web | jget ip)

# A port on the bridge with an address of the subnet, for dig.
add_client "${ID}q" "" 192.168.26.240/24
Q="ip netns exec ${ID}q"
ask() { $Q dig +time=2 +tries=1 @192.168.26.2 "$@"; }
short() { ask +short "$@"; }

[ "$(short db.paddock.internal)" = "$DB_IP" ] || fail "db.paddock.internal: $(ask db.paddock.internal)"
[ "$(short DB.Paddock.Internal)" = "$DB_IP" ] || fail "names are not case-insensitive"
ask db.paddock.internal > "$WORK/dig.txt"
grep -q "flags: qr aa rd ra" "$WORK/dig.txt" || fail "VM answer not authoritative: $(cat "$WORK/dig.txt")"
[ "$(short +tcp db.paddock.internal)" = "$DB_IP" ] || fail "db.paddock.internal over TCP"
[ "$(short -x "$WEB_IP")" = "web.paddock.internal." ] || fail "reverse of $WEB_IP: $(ask -x "$WEB_IP")"
ask nope.paddock.internal | grep "status: NXDOMAIN" >/dev/null || fail "unknown VM name is not NXDOMAIN"
ask -x 192.168.26.199 | grep "status: NXDOMAIN" >/dev/null || fail "unused address in the subnet is not NXDOMAIN"
DB6=$(api /api/v1/vms/db | jget ipv6)
[ "$(short AAAA db.paddock.internal)" = "$DB6" ] || fail "AAAA for db is not its IPv6 address $DB6: $(ask AAAA db.paddock.internal)"
[ -z "$(short MX db.paddock.internal)" ] && ask MX db.paddock.internal | grep "status: NOERROR" >/dev/null || fail "MX for a VM is not empty NOERROR"
pass "VM names (any case, UDP and TCP), reverse lookups and NXDOMAIN answered by the daemon"

seen() { grep -c "query\[A\] www.uplink.test" "$WORK/uplink.log"; }
n0=$(seen)
[ "$(short www.uplink.test)" = 203.0.113.80 ] || fail "forwarded name: $(ask www.uplink.test); daemon: $(grep dns "$WORK/daemon.log" | tail -3)"
for _ in 1 2 3 4 5; do [ "$(short www.uplink.test)" = 203.0.113.80 ] || fail "cached answer"; done
[ "$(short +tcp www.uplink.test)" = 203.0.113.80 ] || fail "forwarded name over TCP"
n=$(( $(seen) - n0 ))
[ "$n" = 1 ] || fail "the upstream saw $n queries for www.uplink.test (the cache should answer after the first)"
ask missing.uplink.test | grep "status: NXDOMAIN" >/dev/null || fail "a name the upstream does not know is not NXDOMAIN"
net=$(api /api/v1/network)
[ "$(echo "$net" | jget dns.address)" = 192.168.26.2 ] && [ "$(echo "$net" | jget dns.domain)" = paddock.internal ] \
  && [ "$(echo "$net" | jget dns.upstreams.0)" = 127.0.0.53 ] && [ "$(echo "$net" | jget dns.cache_entries)" -ge 1 ] \
  || fail "GET /api/v1/network does not describe the DNS service: $(echo "$net" | jget dns)"
pass "names forwarded through the host's loopback stub, cached (upstream saw 1 query for 7 asks), over UDP and TCP"

# The guest: option 6 and 15 from DHCP, its own nslookup.
looked_up() { api /api/v1/vms/web/console/log | grep "PADDOCK: RESOLVE" >/dev/null; }
wait_for 90 looked_up >/dev/null \
  || fail "web looked up nothing: $(api /api/v1/vms/web/console/log | grep PADDOCK)"
log=$(api /api/v1/vms/web/console/log)
grep -q "PADDOCK: LEASE ip=$WEB_IP/24 router=192.168.26.1 dns=192.168.26.2 domain=paddock.internal" <<<"$log" \
  || fail "lease without our DNS server and domain: $(grep LEASE <<<"$log")"
grep -q "PADDOCK: RESOLVE db.paddock.internal=$DB_IP" <<<"$(api /api/v1/vms/web/console/log)" \
  || fail "guest nslookup db: $(api /api/v1/vms/web/console/log | grep RESOLVE)"
resolved_uplink() { api /api/v1/vms/web/console/log | grep "PADDOCK: RESOLVE www.uplink.test=203.0.113.80" >/dev/null; }
wait_for 20 resolved_uplink >/dev/null || fail "guest nslookup www.uplink.test: $(api /api/v1/vms/web/console/log | grep RESOLVE)"
pass "a guest gets DNS server 192.168.26.2 and domain paddock.internal by DHCP and resolves db.paddock.internal and www.uplink.test"

# Malformed queries: dropped (no reply), counted; the service keeps answering.
metric() { api /metrics | awk -v want="paddock_dns_queries_total{outcome=\"$1\"}" '$1 == want { print $2 }'; }
before=$(metric malformed)
$Q /usr/bin/python3 - <<'PY' || fail "a malformed query got a reply"
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(1.0)
for junk in (b"\x01\x02\x03", b"\x12\x34\x81\x00" + b"\x00" * 8, b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xc0\x0c\x00\x01\x00\x01",
             b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x3f" + b"a" * 10):
    s.sendto(junk, ("192.168.26.2", 53))
try:
    s.recvfrom(2048); raise SystemExit(1)
except socket.timeout:
    pass
PY
after=$(metric malformed)
[ "$(/usr/bin/python3 -c "print(int(float('$after') - float('${before:-0}')))")" = 4 ] || fail "malformed counted $before -> $after, not +4"
[ "$(short db.paddock.internal)" = "$DB_IP" ] || fail "no answers after malformed queries"
pass "4 malformed queries dropped without a reply and counted; the service still answers"

# An upstream that never answers: SERVFAIL within the timeout; a fixed resolv.conf is read again.
echo "nameserver 203.0.113.9" > "$WORK/resolv.conf"
sleep 1.1
t0=$(date +%s%N)
ask +tries=1 +time=8 other.uplink.test | grep "status: SERVFAIL" >/dev/null || fail "a dead upstream does not give SERVFAIL"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$ms" -lt 7000 ] || fail "SERVFAIL took $ms ms"
grep -q "upstream servers (.*resolv.conf): 203.0.113.9" "$WORK/daemon.log" || fail "resolv.conf change not logged"
echo "nameserver 127.0.0.53" > "$WORK/resolv.conf"
sleep 1.1
[ "$(short big.uplink.test)" = 203.0.113.81 ] || fail "not forwarding again after resolv.conf was fixed"
pass "a dead upstream gives SERVFAIL in $ms ms; a changed resolv.conf is picked up"

# A removed VM stops resolving.
[ "$(api_status /api/v1/vms/db -X DELETE)" = 204 ] || fail "remove db"
ask db.paddock.internal | grep "status: NXDOMAIN" >/dev/null || fail "a removed VM still resolves"

for o in local cached forwarded failed malformed; do
  v=$(metric $o); [ -n "$v" ] && [ "${v%.*}" -gt 0 ] || fail "paddock_dns_queries_total{outcome=\"$o\"} is '$v'"
done
api /metrics | grep "^paddock_dns_upstream_timeouts_total [1-9]" >/dev/null || fail "upstream timeout not counted"
api /metrics | grep "^paddock_dns_cache_entries [1-9]" >/dev/null || fail "cache entries not reported: $(api /metrics | grep paddock_dns_cache)"
pass "a removed VM stops resolving; /metrics counts local, cached, forwarded, failed and malformed queries"

# Shutdown with a TCP client idle on :53 and a forwarded query waiting on a dead upstream: the
# daemon must exit cleanly (under ASan too) with those coroutines still suspended.
$Q sh -c 'sleep 30 | busybox nc 192.168.26.2 53' > /dev/null 2>&1 &
EXTRA_PIDS+=($!)
echo "nameserver 203.0.113.9" > "$WORK/resolv.conf"
sleep 1.1
$Q dig +time=5 +tries=1 @192.168.26.2 slow.uplink.test > /dev/null 2>&1 &
EXTRA_PIDS+=($!)
sleep 0.5
stop_daemon
pass "SIGTERM with a TCP client and a forwarded query in flight: clean exit"
