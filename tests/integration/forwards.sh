#!/bin/bash
# Integration: port forwards. A busybox httpd in a real guest answers at the host's uplink address
# from the fake internet and from the host itself; nothing else of the VM is reachable from
# outside; UDP; a guest reaching another guest's forward through the host (hairpin); conflicts
# with another VM's forward and with a host process are 409 naming the holder; bad requests are
# precise 4xx; racing PUTs give one winner and no 5xx; forwards survive a daemon restart and a
# deleted table (repair), and go with their VM.
source "$(dirname "$0")/lib.sh"
command -v socat >/dev/null || skip "missing tool: socat"
setup_vm_world
start_daemon

# web: a real guest serving HTTP on port 80, forwarded from host port 8081 in its create spec.
code=$(api_status /api/v1/vms -X POST -d '{"name":"web","kernel":"test-kernel","initrd":"test-initrd","memory_mib":256,
  "start":true,"cmdline":"quiet panic=-1 paddock.httpd=80","forwards":[{"proto":"tcp","host_port":8081,"guest_port":80}]}')
[ "$code" = 201 ] || fail "create web with a forward: $code"
WEB_IP=$(api /api/v1/vms/web | jget ip)
[ "$(api /api/v1/vms/web | jget forwards)" = '[{"proto": "tcp", "host_port": 8081, "guest_port": 80, "listen": "0.0.0.0"}]' ] \
  || fail "web's forwards: $(api /api/v1/vms/web | jget forwards)"
serving() { api /api/v1/vms/web/console/log | matches "PADDOCK: HTTPD 80"; }
wait_for 60 serving >/dev/null || fail "web's httpd did not start: $(api /api/v1/vms/web/console/log | grep PADDOCK)"
pass "web ($WEB_IP) boots with its httpd and a forward tcp/8081 -> 80 from its create spec"

got=$(ip netns exec "$UPLINK_NS" curl -sS --max-time 5 http://203.0.113.1:8081/) || fail "uplink -> 203.0.113.1:8081 failed"
[ "$got" = "hello from web" ] || fail "uplink got '$got'"
got=$(inh curl -sS --max-time 5 http://203.0.113.1:8081/) || fail "host -> its own 203.0.113.1:8081 failed"
[ "$got" = "hello from web" ] || fail "host got '$got'"
pass "the httpd answers at 203.0.113.1:8081 from the uplink and from the host itself"

# Nothing else of the VM: not its other ports through the host, not its address routed directly.
ip -n "$UPLINK_NS" route add 192.168.26.0/24 via 203.0.113.1
if ip netns exec "$UPLINK_NS" curl -s --max-time 3 "http://$WEB_IP/" >/dev/null; then
  fail "the uplink reached web's port 80 directly"
fi
if ip netns exec "$UPLINK_NS" curl -s --max-time 3 http://203.0.113.1:80/ >/dev/null; then
  fail "the uplink reached port 80 of the host (not forwarded)"
fi
pass "from the uplink, web's address and unforwarded ports stay unreachable"

# PUT: a second forward on one address only; replacing is 200; GET lists them.
code=$(api_status /api/v1/vms/web/forwards/tcp/8082 -X PUT -d '{"guest_port":80,"listen":"203.0.113.1"}')
[ "$code" = 201 ] || fail "PUT tcp/8082: $code"
got=$(ip netns exec "$UPLINK_NS" curl -sS --max-time 5 http://203.0.113.1:8082/) || fail "tcp/8082 right after its PUT"
[ "$got" = "hello from web" ] || fail "tcp/8082 got '$got'"
[ "$(api_status /api/v1/vms/web/forwards/tcp/8082 -X PUT -d '{"guest_port":80,"listen":"203.0.113.1"}')" = 200 ] || fail "PUT again is not 200"
list=$(api /api/v1/vms/web/forwards)
[ "$(echo "$list" | jget forwards.1.listen)" = 203.0.113.1 ] || fail "GET forwards: $list"
pass "PUT tcp/8082 on 203.0.113.1 answers at once (201, then 200 when repeated); GET lists both"

# db plays a second VM: a namespace on db's bridge port with db's MAC and address.
[ "$(api_status /api/v1/vms -X POST -d '{"name":"db","kernel":"test-kernel"}')" = 201 ] || fail "create db"
DB_IP=$(api /api/v1/vms/db | jget ip)
DB_MAC=$(api /api/v1/vms/db | jget mac)
plug "${ID}db" "$(api /api/v1/vms/db | jget tap)" "$DB_MAC" "$DB_IP/24"
# (the reply's child reads the datagram first: socat writing it to a child already gone is EPIPE)
ip netns exec "${ID}db" socat UDP4-RECVFROM:53,fork SYSTEM:'read -r line; echo pong' &
EXTRA_PIDS+=($!)

# Conflicts name the holder.
body=$(api /api/v1/vms/db/forwards/tcp/8081 -X PUT -d '{"guest_port":80}')
echo "$body" | matches '"code":"conflict"' || fail "taken port: $body"
echo "$body" | matches "VM web forwards tcp/8081 on 0.0.0.0" || fail "holder not named: $body"
[ "$(api_status /api/v1/vms/db/forwards/tcp/8082 -X PUT -d '{"listen":"203.0.113.1"}')" = 409 ] || fail "taken tcp/8082 on one address"
inh socat TCP-LISTEN:9000,reuseaddr,fork SYSTEM:'echo host' &
EXTRA_PIDS+=($!)
wait_for 5 inh sh -c 'ss -ltn | grep -q ":9000 "' >/dev/null || fail "socat on 9000 did not listen"
body=$(api /api/v1/vms/db/forwards/tcp/9000 -X PUT)
echo "$body" | matches "socat (pid [0-9]*) on 0.0.0.0:9000 listens there" || fail "host listener not named: $body"
pass "409 naming the holder: another VM's forward, a host process ($(echo "$body" | jget error.message))"

for req in "tcp/9001|{\"listen\":\"10.9.9.9\"}|400|not an address of this host" \
           "sctp/9001||400|is not one of" "tcp/0||400|not a port number" "tcp/70000||400|not a port number" \
           "tcp/9001|{\"guest_port\":0}|400|guest_port" "tcp/9001|{\"listen\":\"127.0.0.1\"}|400|loopback" \
           "tcp/9001|{nope|400|not valid JSON" "tcp/9001|{\"gust_port\":1}|400|unknown field"; do
  IFS='|' read -r path data want text <<<"$req"
  out=$(api "/api/v1/vms/db/forwards/$path" -X PUT -d "$data" -w ' %{http_code}')
  [ "${out##* }" = "$want" ] && grep -q "$text" <<<"$out" || fail "PUT $path '$data': $out (want $want, $text)"
done
[ "$(api_status /api/v1/vms/nope/forwards/tcp/9001 -X PUT)" = 404 ] || fail "PUT on a missing VM"
[ "$(api_status /api/v1/vms/nope/forwards)" = 404 ] || fail "GET forwards of a missing VM"
[ "$(api_status /api/v1/vms/db/forwards/tcp/9001 -X POST)" = 405 ] || fail "POST is not 405"
pass "bad forwards are precise 4xx (listen not local, protocol, ports, JSON, unknown field, missing VM, method)"

# UDP, to db.
[ "$(api_status /api/v1/vms/db/forwards/udp/5353 -X PUT -d '{"guest_port":53}')" = 201 ] || fail "PUT udp/5353"
got=$(ip netns exec "$UPLINK_NS" sh -c 'echo ping | socat -T 3 - UDP4:203.0.113.1:5353') || fail "udp/5353 from the uplink"
[ "$got" = pong ] || fail "udp/5353 got '$got'"
pass "udp/5353 reaches db's port 53 from the uplink"

# Hairpin: db reaches web's forward at the host's address.
got=$(ip netns exec "${ID}db" curl -sS --max-time 5 http://203.0.113.1:8081/) || fail "db -> 203.0.113.1:8081"
[ "$got" = "hello from web" ] || fail "db got '$got'"
pass "a guest reaches another guest's forward at the host's address"

# Racing PUTs of one port from two VMs: one VM wins, the rest get 409 (or 200 for the winner's repeats).
racers=()
for i in 1 2 3 4 5; do
  for v in web db; do
    api_status "/api/v1/vms/$v/forwards/tcp/9100" -X PUT -d '{"guest_port":80}' > "$WORK/race.$v.$i" &
    racers+=($!)
  done
done
wait "${racers[@]}"
all=$(for f in "$WORK"/race.*; do cat "$f"; echo; done)
codes=$(sort <<<"$all" | uniq -c | tr -s ' \n' ' ')
grep -q '^5' <<<"$all" && fail "a 5xx in the race: $codes"
[ "$(grep -c 201 <<<"$all")" = 1 ] || fail "not exactly one 201: $codes"
holders=$( (api /api/v1/vms/web/forwards; api /api/v1/vms/db/forwards) | grep -o '"host_port":9100' | wc -l)
[ "$holders" = 1 ] || fail "tcp/9100 held $holders times"
pass "10 racing PUTs of tcp/9100 from two VMs: $codes; one holder"

# Restart: kept; the table after start-up already carries them.
stop_daemon
lines=$(wc -l < "$WORK/daemon.log")
start_daemon
[ "$(api /api/v1/vms/web/forwards | jget forwards.0.host_port)" = 8081 ] || fail "forwards after a restart"
got=$(ip netns exec "$UPLINK_NS" curl -sS --max-time 5 http://203.0.113.1:8081/) || fail "tcp/8081 after a restart"
tail -n +"$lines" "$WORK/daemon.log" | grep "restored nftables\|created nftables" && fail "the table was rewritten at a restart"
pass "forwards kept across a daemon restart (the table adopted as it was)"

# Repair: the table deleted out of band comes back with the forwards.
inh nft delete table inet paddock
back() { ip netns exec "$UPLINK_NS" curl -s --max-time 1 http://203.0.113.1:8081/ | matches "hello from web"; }
ms=$(wait_for 10 back) || fail "tcp/8081 not repaired"
pass "the deleted table is repaired with its forwards (answering again after ${ms} ms)"

# DELETE.
[ "$(api_status /api/v1/vms/web/forwards/tcp/8082 -X DELETE)" = 204 ] || fail "DELETE tcp/8082"
[ "$(api_status /api/v1/vms/web/forwards/tcp/8082 -X DELETE)" = 404 ] || fail "DELETE again is not 404"
if ip netns exec "$UPLINK_NS" curl -s --max-time 3 http://203.0.113.1:8082/ >/dev/null; then fail "tcp/8082 answers after its DELETE"; fi
pass "DELETE removes a forward (204, then 404)"

# Removing a VM removes its forwards.
api_status /api/v1/vms/web/stop -X POST -d '{"force":true}' >/dev/null
[ "$(api_status /api/v1/vms/web -X DELETE)" = 204 ] || fail "remove web"
inh nft list table inet paddock > "$WORK/table.nft"
grep -q "$WEB_IP" "$WORK/table.nft" && fail "web's forwards outlived it: $(grep dnat "$WORK/table.nft")"
grep -q "udp . 5353 : $DB_IP" "$WORK/table.nft" || fail "db's forward went too: $(cat "$WORK/table.nft")"
[ "$(api_status /api/v1/vms/db/forwards/tcp/8081 -X PUT -d '{"guest_port":80}')" = 201 ] || fail "tcp/8081 not free after web's removal"
pass "removing web removed its forwards (tcp/8081 free again); db's stay"
