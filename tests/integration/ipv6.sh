#!/bin/bash
# Integration: IPv6 for VMs. The daemon makes a unique local /64 ("auto", kept in the store across
# restarts), puts the gateway on the host end (::1 and fe80::1) and the DNS server on the bridge
# (::2), and sends Router Advertisements itself. A real busybox guest gets its address by SLAAC
# (the one the API announced at creation), pings the gateway and a host in the uplink namespace
# over IPv6 (NAT66), and resolves another VM's AAAA. A port in a VM's role checks the RA (prefix,
# RDNSS, DNSSL, router fe80::1), ISC dhclient's stateless DHCPv6 exchange, PTR in ip6.arpa; a
# guest sending an RA or a foreign source is dropped and counted and the other guests keep their
# router. network.ipv6 false turns it off; a given prefix is used; teardown restores the sysctl.
source "$(dirname "$0")/lib.sh"
command -v socat >/dev/null || skip "missing tool: socat"
command -v dhclient >/dev/null || skip "missing tool: dhclient"
setup_vm_world
inh sh -c 'echo 0 > /proc/sys/net/ipv6/conf/all/forwarding'
start_daemon
PROBE="$SRC/tests/integration/ipv6_probe.py"

net=$(api /api/v1/network)
PREFIX=$(echo "$net" | jget ipv6.prefix)
GW6=$(echo "$net" | jget ipv6.gateway)
B6=$(echo "$net" | jget ipv6.bridge_address)
[[ $PREFIX == fd*::/64 ]] || fail "no ULA /64: $(echo "$net" | jget ipv6)"
[ "$GW6" = "${PREFIX%/64}1" ] && [ "$B6" = "${PREFIX%/64}2" ] || fail "gateway $GW6, bridge $B6 on $PREFIX"
addrs=$(inh ip -6 addr show dev paddock0)
grep -q "inet6 $GW6/64" <<<"$addrs" || fail "gateway address not on paddock0: $addrs"
grep -q "inet6 fe80::1/64" <<<"$addrs" || fail "fe80::1 not on paddock0: $addrs"
[ "$(inh cat /proc/sys/net/ipv6/conf/all/forwarding)" = 1 ] || fail "IPv6 forwarding is off"
stop_daemon
start_daemon
[ "$(api /api/v1/network | jget ipv6.prefix)" = "$PREFIX" ] || fail "prefix changed at a restart"
pass "ULA prefix $PREFIX (kept across a restart), gateway $GW6 + fe80::1 on the host end, DNS $B6, forwarding on"

# db plays a VM whose port is a namespace: the kernel there does SLAAC from our RAs.
[ "$(api_status /api/v1/vms -X POST -d '{"name":"db","kernel":"test-kernel"}')" = 201 ] || fail "create db"
db=$(api /api/v1/vms/db)
DB6=$(echo "$db" | jget ipv6)
plug "${ID}db" "$(echo "$db" | jget tap)" "$(echo "$db" | jget mac)" "$(echo "$db" | jget ip)/24"
slaac() { ip -n "${ID}db" -6 addr show dev eth0 scope global | grep -v tentative | matches "inet6 $DB6/64"; }
ms=$(wait_for 10 slaac) || fail "db's SLAAC address is not $DB6: $(ip -n "${ID}db" -6 addr show dev eth0)"
routes=$(ip -n "${ID}db" -6 route show default)
grep -q "via fe80::1 dev eth0 proto ra" <<<"$routes" || fail "default route: $routes"
pass "a port's kernel takes the address the API announced ($DB6) by SLAAC in ${ms} ms; default router fe80::1"

ra=$(ip netns exec "${ID}db" /usr/bin/python3 "$PROBE" ra eth0) || fail "no RA: $ra"
for want in '"source": "fe80::1"' '"hop_limit": 255' '"managed": false' '"other": true' '"router_lifetime": 1800' \
            "\"prefix\": \"$PREFIX\", \"onlink\": true, \"autonomous\": true" "\"rdnss\": \[\"$B6\"\]" '"dnssl": \["paddock.internal"\]'; do
  grep -q "$want" <<<"$ra" || fail "RA lacks $want: $ra"
done
pass "solicited RA: router fe80::1, prefix $PREFIX (L, A), RDNSS $B6, DNSSL paddock.internal, O flag"

# ISC dhclient, stateless (-S: INFORMATION-REQUEST), as a guest's network manager runs it.
cat > "$WORK/dh6.sh" <<SH
#!/bin/sh
echo "\$reason dns=\$new_dhcp6_name_servers search=\$new_dhcp6_domain_search" >> "$WORK/dh6.out"
SH
chmod +x "$WORK/dh6.sh"
ip netns exec "${ID}db" timeout 20 dhclient -6 -S -1 -v -sf "$WORK/dh6.sh" \
  -lf "$WORK/dh6.leases" -pf "$WORK/dh6.pid" eth0 > "$WORK/dh6.log" 2>&1 || fail "dhclient -6 -S: $(cat "$WORK/dh6.log")"
kill "$(cat "$WORK/dh6.pid" 2>/dev/null)" 2>/dev/null || true
grep -Eq "^(INFORM6|RENEW6) dns=$B6 search=paddock.internal" "$WORK/dh6.out" || fail "dhclient got: $(cat "$WORK/dh6.out" "$WORK/dh6.log")"
pass "ISC dhclient -6 -S (stateless DHCPv6): DNS $B6, search paddock.internal"

# A real guest: SLAAC, ping the gateway and the uplink over IPv6, resolve db's AAAA.
code=$(api_status /api/v1/vms -X POST -d "{\"name\":\"web\",\"kernel\":\"test-kernel\",\"initrd\":\"test-initrd\",\"memory_mib\":256,
  \"start\":true,\"cmdline\":\"quiet panic=-1 paddock.ipv6=1 paddock.ping6=$GW6,2001:db8:1::2 paddock.dns6=$B6 paddock.resolve6=db.paddock.internal\"}")
[ "$code" = 201 ] || fail "create web: $code"
WEB6=$(api /api/v1/vms/web | jget ipv6)
done6() { api /api/v1/vms/web/console/log | matches "PADDOCK: RESOLVE6"; }
wait_for 90 done6 >/dev/null || fail "web: $(api /api/v1/vms/web/console/log | grep PADDOCK)"
log=$(api /api/v1/vms/web/console/log)
grep -q "PADDOCK: IPV6 addr=$WEB6 router=fe80::1" <<<"$log" || fail "web's address: $(grep IPV6 <<<"$log")"
grep -q "PADDOCK: PING6_OK $GW6" <<<"$log" || fail "web -> gateway: $(grep PING6 <<<"$log")"
grep -q "PADDOCK: PING6_OK 2001:db8:1::2" <<<"$log" || fail "web -> uplink: $(grep PING6 <<<"$log")"
grep -q "PADDOCK: RESOLVE6 db.paddock.internal=$DB6" <<<"$log" || fail "web resolving db: $(grep RESOLVE6 <<<"$log")"
pass "the busybox guest: SLAAC $WEB6 via fe80::1, pings $GW6 and 2001:db8:1::2, resolves db's AAAA"

# NAT66: the uplink sees the host's address; nothing from outside gets in.
ip netns exec "$UPLINK_NS" socat TCP6-LISTEN:7006,bind=[2001:db8:1::2],reuseaddr,fork SYSTEM:'echo "$SOCAT_PEERADDR"' &
EXTRA_PIDS+=($!)
wait_for 5 ip netns exec "$UPLINK_NS" sh -c 'ss -ltn | grep -q 7006' >/dev/null || fail "socat6 did not listen"
seen=$(ip netns exec "${ID}db" socat -T 5 - "TCP6:[2001:db8:1::2]:7006,connect-timeout=5" </dev/null)
seen=$(/usr/bin/python3 -c 'import ipaddress,sys; print(ipaddress.IPv6Address(sys.argv[1].strip("[]")))' "$seen")
[ "$seen" = "2001:db8:1::1" ] || fail "uplink saw '$seen', want the host's 2001:db8:1::1"
ip netns exec "${ID}db" socat TCP6-LISTEN:7007,reuseaddr,fork SYSTEM:'echo in' &
EXTRA_PIDS+=($!)
ip -n "$UPLINK_NS" -6 route add "$PREFIX" via 2001:db8:1::1
if ip netns exec "$UPLINK_NS" socat -T 2 - "TCP6:[$DB6]:7007,connect-timeout=2" </dev/null 2>/dev/null | matches in; then
  fail "the uplink opened a connection into the VM /64"
fi
pass "NAT66: the uplink sees [2001:db8:1::1]; a connection from the uplink into the VM /64 is dropped"

# DNS over IPv6: AAAA, PTR in ip6.arpa, unknown names.
got=$(ip netns exec "${ID}db" /usr/bin/python3 "$PROBE" aaaa "$B6" web.paddock.internal) || fail "AAAA web: $got"
[ "$got" = "$WEB6" ] || fail "AAAA web: $got"
got=$(ip netns exec "${ID}db" /usr/bin/python3 "$PROBE" ptr "$B6" "$WEB6") || fail "PTR: $got"
[ "$got" = web.paddock.internal ] || fail "PTR of $WEB6: $got"
got=$(ip netns exec "${ID}db" /usr/bin/python3 "$PROBE" aaaa "$B6" nope.paddock.internal) && fail "AAAA of a missing VM: $got"
grep -q "rcode 3" <<<"$got" || fail "missing VM: $got"
# And over TCP (what a client does after a truncated answer), with ISC dig.
got=$(ip netns exec "${ID}db" dig +tcp +short +time=2 +tries=1 @"$B6" AAAA web.paddock.internal) || fail "AAAA over TCP: $got"
[ "$got" = "$WEB6" ] || fail "AAAA web over TCP: $got"
got=$(ip netns exec "${ID}db" dig +tcp +short +time=2 +tries=1 @"$B6" -x "$WEB6") || fail "PTR over TCP: $got"
[ "$got" = web.paddock.internal. ] || fail "PTR of $WEB6 over TCP: $got"
pass "DNS on [$B6]:53, UDP and TCP: AAAA of web, PTR web.paddock.internal, NXDOMAIN for no such VM"

# Hostile: db sends router advertisements, neighbour advertisements for web's address and a
# foreign source; each is dropped and counted, and
# web (a real guest) keeps its one router.
ip netns exec "${ID}db" /usr/bin/python3 "$PROBE" rogue-ra eth0 5 || fail "rogue RA not sent"
wait_for 5 counted db ra 5 >/dev/null || fail "rogue RAs not counted: $(api /metrics | grep guard_dropped)"
ip netns exec "${ID}db" /usr/bin/python3 "$PROBE" rogue-na eth0 "$WEB6" 4 || fail "rogue NA not sent"
wait_for 5 counted db nd 4 >/dev/null || fail "NAs for web's address not counted: $(api /metrics | grep guard_dropped)"
ip -n "${ID}db" addr add "${PREFIX%/64}bad/64" dev eth0 nodad
ip netns exec "${ID}db" busybox ping6 -c 2 -W 1 -I "${PREFIX%/64}bad" "$GW6" >/dev/null 2>&1 && fail "a foreign source reached the gateway"
wait_for 5 counted db ip6 2 >/dev/null || fail "foreign source not counted: $(api /metrics | grep guard_dropped)"
out=$(inh /usr/bin/python3 "$SRC/tests/integration/console_ws.py" "$(cat "$STATE/api-token")" web run 'ip -6 route; ip -6 addr') \
  || fail "web's console: $out"
grep -q "default via fe80::1" <<<"$out" || fail "web's routes: $out"
grep -q "2001:db8:bad" <<<"$out" && fail "web took the rogue prefix: $out"
[ "$(grep -c "^default" <<<"$out")" = 1 ] || fail "web has another default router: $out"
pass "a guest's RAs ($(dropped db ra)), NAs for another's address ($(dropped db nd)) and foreign source ($(dropped db ip6)) are dropped and counted; web keeps fe80::1"

# Off, and a given prefix.
stop_daemon
write_config '"ipv6": false'
start_daemon
[ "$(api /api/v1/network | jget ipv6)" = false ] || fail "ipv6 false: $(api /api/v1/network | jget ipv6)"
[ "$(api /api/v1/vms/db | jget ipv6)" = null ] || fail "db still has an IPv6 address: $(api /api/v1/vms/db | jget ipv6)"
addrs=$(inh ip -6 addr show dev paddock0)
if grep -q "inet6 $GW6\|fe80::1/" <<<"$addrs"; then fail "IPv6 off, the gateway addresses stay: $addrs"; fi
stop_daemon
write_config '"ipv6": "fd00:aaaa:bbbb:1::/64"'
start_daemon
[ "$(api /api/v1/network | jget ipv6.prefix)" = "fd00:aaaa:bbbb:1::/64" ] || fail "given prefix: $(api /api/v1/network | jget ipv6)"
[[ $(api /api/v1/vms/db | jget ipv6) == fd00:aaaa:bbbb:1:* ]] || fail "db on the given prefix: $(api /api/v1/vms/db | jget ipv6)"
addrs=$(inh ip -6 addr show dev paddock0)
grep -q "inet6 $GW6/" <<<"$addrs" && fail "the old prefix's gateway address stays: $addrs"
pass "network.ipv6 false turns it off (the gateway's addresses removed); a given /64 is used"

api_status /api/v1/vms/web/stop -X POST -d '{"force":true}' >/dev/null
stop_daemon
inh "$PADDOCKD" teardown --config "$WORK/config.json" > "$WORK/teardown.log" 2>&1 || fail "teardown: $(cat "$WORK/teardown.log")"
[ "$(inh cat /proc/sys/net/ipv6/conf/all/forwarding)" = 0 ] || fail "IPv6 forwarding not restored"
grep -q "restored net.ipv6.conf.all.forwarding=0" "$WORK/teardown.log" || fail "teardown said: $(cat "$WORK/teardown.log")"
pass "teardown restores net.ipv6.conf.all.forwarding=0"
