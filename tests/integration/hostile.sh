#!/bin/bash
# Integration: a hostile guest. A namespace plugged into the bridge by a port named like VM a1's
# TAP plays a1 (the attacker); another plays b1 (the victim), as anti_spoof.sh does. Every attack
# below once worked on this tree; each must now fail, and the daemon must stay responsive:
#   DHCP: a forged ACK from any source port, leases under made-up MACs, a DECLINE in the victim's
#   name, a renewal loop; an unknown tap-* port; a connection flood on the cloud-init seed server;
#   inbound connections from the uplink; guests reaching host services and 169.254.169.254; then
#   the operator opens some up (guest_host_access, egress_deny). Also: an image whose qcow2 points
#   at an external data file, and cross-origin requests with "auth": "none".
# Every packet stays in the test's own namespaces.
source "$(dirname "$0")/lib.sh"
for tool in python3 socat qemu-img; do command -v $tool >/dev/null || skip "missing tool: $tool"; done

setup_guest_world a1 b1
field() { api "/api/v1/vms/$1" | jget "$2"; }
A_MAC=$(field a1 mac); A_IP=$(field a1 ip); A_TAP=$(field a1 tap)
B_MAC=$(field b1 mac); B_IP=$(field b1 ip); B_TAP=$(field b1 tap)
G=${ID}g; V=${ID}v
plug "$G" "$A_TAP" "$A_MAC" "$A_IP/24"
plug "$V" "$B_TAP" "$B_MAC" "$B_IP/24"
ping_from() { ip netns exec "$1" busybox ping -c 1 -W 1 "$2" >/dev/null 2>&1; }
wait_for 5 ping_from "$G" 192.168.26.1 >/dev/null || fail "a1's stand-in cannot reach the gateway"

# DHCP packets from the attacker: python with a BOOTP builder.
cat > "$WORK/dhcp.py" <<'PY'
import os, random, socket, struct, sys
def bootp(op, mtype, chaddr, ciaddr="0.0.0.0", yiaddr="0.0.0.0", xid=None, extra=b""):
    m = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", op, 1, 6, 0, xid or random.getrandbits(32), 0, 0x8000,
                    socket.inet_aton(ciaddr), socket.inet_aton(yiaddr), b"\0" * 4, b"\0" * 4,
                    bytes.fromhex(chaddr.replace(":", "")) + b"\0" * 10, b"\0" * 64, b"\0" * 128)
    return m + b"\x63\x82\x53\x63" + bytes([53, 1, mtype]) + extra + b"\xff"
def msg_type(reply):            # option 53 of a reply
    i = 240
    while i + 1 < len(reply) and reply[i] != 255:
        if reply[i] == 0:
            i += 1; continue
        if reply[i] == 53:
            return reply[i + 2]
        i += 2 + reply[i + 1]
    return None
def sock(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"eth0") # also without an address
    s.bind(("", port))
    return s
what = sys.argv[1]
if what == "forged-ack":      # a server's ACK from port 1234, naming the attacker as router and DNS
    s = sock(1234)
    me = sys.argv[2]
    opts = bytes([54, 4]) + socket.inet_aton(me) + bytes([3, 4]) + socket.inet_aton(me) + bytes([6, 4]) + socket.inet_aton(me)
    for _ in range(5):
        s.sendto(bootp(2, 5, sys.argv[3], yiaddr=sys.argv[4], extra=opts), ("255.255.255.255", 68))
elif what == "listen-68":     # the victim's client port: count what arrives in 3 s
    s = sock(68); s.settimeout(3); n = 0
    try:
        while True:
            s.recvfrom(2048); n += 1
    except socket.timeout:
        pass
    print(n)
elif what == "made-up":       # INIT-REBOOT REQUESTs under random MACs, each asking for a pool address
    s = sock(68)
    for i in range(int(sys.argv[2])):
        mac = "52:54:%02x:%02x:%02x:%02x" % tuple(random.getrandbits(8) for _ in range(4))
        want = socket.inet_aton("192.168.26.%d" % (100 + i % 140))
        s.sendto(bootp(1, 3, mac, extra=bytes([50, 4]) + want), ("255.255.255.255", 67))
elif what == "decline":       # a DECLINE in the victim's name
    s = sock(68)
    for _ in range(3):
        s.sendto(bootp(1, 4, sys.argv[2], extra=bytes([50, 4]) + socket.inet_aton(sys.argv[3]) +
                       bytes([54, 4]) + socket.inet_aton("192.168.26.2")), ("255.255.255.255", 67))
elif what == "made-up-discover": # DISCOVER + REQUEST for each offer, under random MACs: count the ACKs
    s = sock(68); s.settimeout(0.3); acked = 0
    for i in range(int(sys.argv[2])):
        mac = "52:54:%02x:%02x:%02x:%02x" % tuple(random.getrandbits(8) for _ in range(4))
        s.sendto(bootp(1, 1, mac), ("255.255.255.255", 67))
        try:
            r = s.recv(2048)
        except socket.timeout:
            continue
        offer = socket.inet_ntoa(r[16:20])
        s.sendto(bootp(1, 3, mac, extra=bytes([50, 4]) + socket.inet_aton(offer) + bytes([54, 4]) +
                       socket.inet_aton("192.168.26.2")), ("255.255.255.255", 67))
        try:
            acked += msg_type(s.recv(2048)) == 5
        except socket.timeout:
            pass
    print(acked)
elif what == "renew-loop":    # RENEWING requests for its own lease, as fast as it can (as the client udhcpc was:
    s = sock(68)              # client id 01 + MAC)
    cid = bytes([61, 7, 1]) + bytes.fromhex(sys.argv[2].replace(":", ""))
    for _ in range(int(sys.argv[4])):
        s.sendto(bootp(1, 3, sys.argv[2], ciaddr=sys.argv[3], extra=cid), ("192.168.26.2", 67))
PY
dhcp() { ip netns exec "$1" /usr/bin/python3 "$WORK/dhcp.py" "${@:2}"; }

# 1. A forged DHCPACK from a source port other than 67 never reaches the victim's port 68.
dhcp "$V" listen-68 > "$WORK/heard" &
LISTENER=$!
sleep 0.5
dhcp "$G" forged-ack "$A_IP" "$B_MAC" "$B_IP"
wait $LISTENER
[ "$(cat "$WORK/heard")" = 0 ] || fail "the victim's port 68 heard $(cat "$WORK/heard") forged ACK(s)"
wait_for 5 counted a1 dhcp_server 5 >/dev/null || fail "forged ACKs not counted: $(api /metrics | grep guard_dropped)"
pass "1. forged DHCPACK from port 1234 to 255.255.255.255:68: victim heard 0 of 5, dropped $(dropped a1 dhcp_server) (dhcp_server)"

# 2. Leases under made-up MACs: none taken, the pool untouched.
used() { api /api/v1/network | jget dhcp_pool.used; }
before=$(used)
dhcp "$G" made-up 250
sleep 1
after=$(used)
[ "$after" = "$before" ] || fail "250 made-up clients took $((after - before)) address(es)"
wait_for 5 counted a1 dhcp_chaddr 250 >/dev/null || fail "made-up chaddrs not counted: $(dropped a1 dhcp_chaddr)"
[ "$(api_status /api/v1/vms -X POST -d '{"name":"c1","kernel":"nothing"}')" = 201 ] || fail "a create after the attempt failed"
pass "2. 250 INIT-REBOOT REQUESTs under made-up MACs: 0 leases taken (pool use $before -> $after), dropped $(dropped a1 dhcp_chaddr) (dhcp_chaddr); creates still work"

# 3. A DECLINE in the victim's name changes nothing.
dhcp "$G" decline "$B_MAC" "$B_IP"
sleep 0.5
api /api/v1/leases | matches declined && fail "the victim's address was quarantined: $(api /api/v1/leases)"
ip netns exec "$V" busybox udhcpc -n -q -t 3 -T 1 -i eth0 -s /bin/true > "$WORK/udhcpc-v.log" 2>&1 || fail "the victim got no lease after the forged DECLINE: $(cat "$WORK/udhcpc-v.log")"
grep -q "$B_IP" "$WORK/udhcpc-v.log" || fail "the victim did not get its reserved address: $(cat "$WORK/udhcpc-v.log")"
pass "3. DECLINE with the victim's MAC from a1's port: dropped; the victim gets its reserved $B_IP"

# 4. The attacker's own DHCP still works: its own MAC, its own reserved address.
ip netns exec "$G" busybox udhcpc -n -q -t 3 -T 1 -i eth0 -s /bin/true > "$WORK/udhcpc-a.log" 2>&1 || fail "a1 got no lease: $(cat "$WORK/udhcpc-a.log")"
grep -q "$A_IP" "$WORK/udhcpc-a.log" || fail "a1 did not get its reserved address: $(cat "$WORK/udhcpc-a.log")"
pass "4. a1's own DHCP (its MAC) still gets its reserved $A_IP"

# 5. A renewal loop: answered, but no store write and no event per renewal.
acks() { api /metrics | awk '$1 == "paddock_dhcp_packets_total{type=\"REQUEST\",outcome=\"ack\"}" { print int($2) }'; }
e0=$(grep -c "lease.bound" "$WORK/events.log" || true)
k0=$(acks)
t0=$(date +%s%N)
dhcp "$G" renew-loop "$A_MAC" "$A_IP" 3000
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
sleep 1
e1=$(grep -c "lease.bound" "$WORK/events.log" || true)
k1=$(acks)
[ $((e1 - e0)) -le 1 ] || fail "3,000 renewals published $((e1 - e0)) lease.bound events"
# The guard passes 50 DHCP packets a second per guest (burst 100), the server answers one client
# 10 a second (burst 20); what is answered is ACKed with the binding unchanged (no store write).
[ $((k1 - k0)) -ge 10 ] && [ $((k1 - k0)) -le 150 ] || fail "$((k1 - k0)) of 3,000 renewals were answered (want the client rate's 20-odd)"
wait_for 5 counted a1 dhcp_flood 2500 >/dev/null || fail "the renewal loop was not rate-limited at a1's port: $(dropped a1 dhcp_flood)"
api /api/v1/health >/dev/null || fail "the API stopped answering after the renewal loop"
pass "5. 3,000 renewals in $ms ms: $((k1 - k0)) passed the port's and the client's rate limits and were ACKed with the binding unchanged (no store write), $(dropped a1 dhcp_flood) dropped (dhcp_flood), $((e1 - e0)) lease.bound event(s)"

# 5b. Made-up clients on a plain bridge port (no VM's, so the guard's chaddr rule does not apply):
# the server ties each request to its port and grants at most network.dhcp_max_leases_per_port (16).
limited() { api /metrics | awk '$1 ~ /^paddock_dhcp_packets_total/ && $1 ~ /outcome="limited"/ { n += $2 } END { print int(n) }'; }
P=${ID}pa
br_mac() { ip -n "$PD_NS" -br link show br0 | awk '{print $3}'; }
mac0=$(br_mac)
plug "$P" plain0
# A port with the lowest MAC there is: a bridge without a MAC of its own would take it, and every
# guest's ARP entry for the daemon's address would go stale (their connections to it time out).
ip -n "$PD_NS" link set plain0 address 00:00:00:00:00:01
[ "$(br_mac)" = "$mac0" ] || fail "the bridge's MAC followed a new port's: $mac0 -> $(br_mac)"
before=$(used); l0=$(limited)
n=$(dhcp "$P" made-up-discover 40)
after=$(used)
[ "$n" = 16 ] || fail "40 made-up clients on a plain port got $n lease(s), want 16 (network.dhcp_max_leases_per_port)"
[ $((after - before)) = 16 ] || fail "pool use went $before -> $after, want +16"
[ $(( $(limited) - l0 )) -ge 24 ] || fail "refusals not counted as limited: $(( $(limited) - l0 ))"
grep -q "already holds 16 leases (network.dhcp_max_leases_per_port)" "$WORK/daemon.log" || fail "the refusal was not logged with its reason"
P2=${ID}pb
plug "$P2" plain1
n2=$(dhcp "$P2" made-up-discover 1)
[ "$n2" = 1 ] || fail "a client on another plain port got no lease while plain0 was full"
pass "5b. 40 made-up clients on a plain port: $n leases (pool use $before -> $after), $(( $(limited) - l0 )) refused as limited; a client on another port still gets one; the bridge kept its MAC $mac0 when a port with a lower one joined"

# 6. A tap-* port that is no VM's is dropped (fail closed).
X=${ID}x
plug "$X" tap-ghost 52:54:00:12:34:56 192.168.26.240/24
ping_from "$X" 192.168.26.1 && fail "an unknown tap-* port reached the gateway"
wait_for 5 counted "" unknown_port 1 >/dev/null || fail "unknown-port drops not counted: $(api /metrics | grep guard_dropped)"
pass "6. a tap-* port with no VM behind it: dropped (unknown_port $(dropped "" unknown_port))"

# 7. A connection flood on the seed server: the attacker holds at most 8; others still get theirs.
ip netns exec "$G" /usr/bin/python3 - > "$WORK/flood.log" <<'PY' &
import socket, time
held = []
for i in range(300):
    s = socket.socket(); s.settimeout(2)
    try:
        s.connect(("192.168.26.2", 80)); held.append(s)
    except OSError:
        pass
time.sleep(0.5)
alive = 0
for s in held:
    s.setblocking(False)
    try:
        alive += 1 if s.recv(1) is None else 0
    except BlockingIOError:
        alive += 1       # still open: nothing to read yet
    except OSError:
        pass
print(alive)
time.sleep(4)
PY
FLOOD=$!
sleep 1.5
seed_ok() { ip netns exec "$V" curl -s -o /dev/null -w '%{http_code}' --max-time 3 "http://192.168.26.2/vm/b1/meta-data" | matches 200; }
if ! wait_for 10 seed_ok >/dev/null; then
  fail "the victim could not fetch its seed during the flood: $(ip netns exec "$V" curl -sv --max-time 3 http://192.168.26.2/vm/b1/meta-data 2>&1 | tail -3)
listener: $(ip netns exec "$PD_NS" ss -ltn 'sport = :80' | tail -1)
b1's chain: $(ip netns exec "$PD_NS" nft list chain bridge paddock_guard vm_b1 | grep -v 'packets 0 ' | tr -s ' ' | head -8)"
fi
t0=$(date +%s%N); api /api/v1/health >/dev/null || fail "health during the flood"; hms=$(( ($(date +%s%N) - t0) / 1000000 ))
wait $FLOOD
alive=$(head -1 "$WORK/flood.log")
[ -n "$alive" ] && [ "$alive" -le 8 ] || fail "the attacker kept $alive connections to the seed server"
pass "7. 300 connections to the seed server from one guest: $alive kept open, $(dropped a1 syn_flood) SYNs over 50/s dropped at its port; the victim's seed 200; /health in $hms ms"

# 8. Nothing outside connects into a VM: the uplink routes the VM subnet via the host.
ip -n "$UPLINK_NS" route add 192.168.26.0/24 via 203.0.113.1
ip netns exec "$G" socat TCP-LISTEN:8000,bind="$A_IP",reuseaddr,fork EXEC:'echo in-vm' > /dev/null 2>&1 &
EXTRA_PIDS+=($!)
sleep 0.3
ip netns exec "$UPLINK_NS" socat -T 2 - "TCP:$A_IP:8000,connect-timeout=2" </dev/null 2>/dev/null | matches in-vm \
  && fail "the uplink connected to a service in a VM"
inh socat -T 2 - "TCP:$A_IP:8000,connect-timeout=2" </dev/null 2>/dev/null | matches in-vm || fail "the host itself cannot reach the VM"
pass "8. a connection from the uplink into a VM: dropped; the host itself still reaches it"

# 9. Guests reach on the host only ping (and replies): not a host service, not on any address.
# nsenter execs socat, so $! is the listener itself (through the inh function it would be a subshell,
# and socat would outlive the test).
nsenter --net="/run/netns/$HOST_NS" socat TCP-LISTEN:2222,reuseaddr,fork EXEC:'echo host-ssh' > /dev/null 2>&1 &
EXTRA_PIDS+=($!)
ip -n "$UPLINK_NS" addr add 169.254.169.254/32 dev lo
inh ip route add 169.254.169.254/32 via 203.0.113.2
ip netns exec "$UPLINK_NS" socat TCP-LISTEN:80,reuseaddr,fork EXEC:'echo metadata' > /dev/null 2>&1 &
EXTRA_PIDS+=($!)
ip netns exec "$UPLINK_NS" socat TCP-LISTEN:81,bind=203.0.113.2,reuseaddr,fork EXEC:'echo internet' > /dev/null 2>&1 &
EXTRA_PIDS+=($!)
sleep 0.3
reach() { ip netns exec "$1" socat -T 2 - "TCP:$2,connect-timeout=2" </dev/null 2>/dev/null | matches "$3"; }
for to in 192.168.26.1:2222 203.0.113.1:2222; do
  reach "$G" "$to" host-ssh && fail "a guest reached the host service at $to"
done
reach "$G" 169.254.169.254:80 metadata && fail "a guest reached 169.254.169.254"
inh socat -T 2 - TCP:169.254.169.254:80,connect-timeout=2 </dev/null | matches metadata || fail "the host cannot reach the fake metadata service"
reach "$G" 203.0.113.2:81 internet || fail "a guest cannot reach the internet any more"
ping_from "$G" 192.168.26.1 || fail "a guest can no longer ping its gateway"
pass "9. host service on 192.168.26.1 and 203.0.113.1, and 169.254.169.254: unreachable from a guest; ping and the internet work"

# 10. The operator opens some up: guest_host_access and egress_deny, after a restart.
stop_daemon
write_config '"guest_host_access": ["tcp/2222"], "egress_deny": []'
start_daemon
wait_for 5 guest_ports_guarded a1 b1 >/dev/null || fail "VM ports not in the guard table after the restart"
wait_for 5 reach "$G" 192.168.26.1:2222 host-ssh >/dev/null || fail "guest_host_access tcp/2222 did not open the host service"
reach "$G" 169.254.169.254:80 metadata || fail "egress_deny [] did not open 169.254.169.254"
pass "10. guest_host_access [\"tcp/2222\"] and egress_deny [] open exactly that"

# 11. A qcow2 whose data lives in an external file (any file or device of the host) is refused.
qemu-img create -q -f qcow2 -o data_file="$WORK/data.raw" "$WORK/evil.qcow2" 16M
body=$(api /api/v1/images/evil -X PUT -T "$WORK/evil.qcow2")
echo "$body" | matches '"invalid_image"' || fail "a qcow2 with an external data file was not refused: $body"
echo "$body" | matches "data file" || fail "the refusal does not say why: $body"
[ "$(api_status /api/v1/images/evil)" = 404 ] || fail "the refused image is listed"
pass "11. a qcow2 with an external data file: 400 invalid_image ($(echo "$body" | jget error.message | cut -c1-60)...)"

# 12. With "auth": "none", another origin can neither change state nor open a WebSocket.
stop_daemon
write_config "" '"auth": "none"'
start_daemon
evil() { inh curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "Origin: http://evil.example" "$@"; }
[ "$(evil -X POST -d '{"name":"x1","kernel":"nothing"}' http://127.0.0.1:8080/api/v1/vms)" = 403 ] || fail "a cross-origin POST was not refused"
[ "$(evil -H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' http://127.0.0.1:8080/api/v1/events)" = 403 ] \
  || fail "a cross-origin WebSocket was not refused"
[ "$(evil http://127.0.0.1:8080/api/v1/vms)" = 200 ] || fail "a cross-origin GET was refused"
[ "$(inh curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Origin: http://127.0.0.1:8080' -d '{"name":"x2","kernel":"nothing"}' http://127.0.0.1:8080/api/v1/vms)" = 201 ] \
  || fail "a same-origin POST was refused"
[ "$(inh curl -s -o /dev/null -w '%{http_code}' -X POST -d '{"name":"x3","kernel":"nothing"}' http://127.0.0.1:8080/api/v1/vms)" = 201 ] \
  || fail "a POST without Origin (curl) was refused"
pass "12. auth none: cross-origin POST and WebSocket 403; same origin and no Origin work"
