#!/bin/bash
# Integration: the anti-spoofing table in the namespace. Two VMs are defined (not started); a test
# namespace plugged into the bridge by a port named like vm "a1"'s TAP plays that VM. With a1's
# own MAC and address it reaches the gateway; sending from b1's address, from b1's MAC, ARP
# claiming b1's address, or a DHCP server reply is dropped, counted per VM and reason in /metrics
# and announced as vm.blocked; a plain port (not a VM's) is unaffected.
source "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || skip "missing tool: python3"

# The table is rebuilt off the daemon's loop, a moment after each VM is created: the set-up waits.
setup_guest_world a1 b1
field() { api "/api/v1/vms/$1" | jget "$2"; }
A_MAC=$(field a1 mac); A_IP=$(field a1 ip); A_TAP=$(field a1 tap)
B_MAC=$(field b1 mac); B_IP=$(field b1 ip)

# The stand-in for a1: its bridge port carries a1's TAP name.
G=${ID}g
plug "$G" "$A_TAP" "$A_MAC" "$A_IP/24"
ping_gw() { ip netns exec "$G" busybox ping -c 1 -W 1 192.168.26.1 >/dev/null 2>&1; }
wait_for 5 ping_gw >/dev/null || fail "a1's own MAC and address cannot reach the gateway"
pass "a1's port with its own MAC and address reaches the gateway"


# Another VM's address.
ip -n "$G" addr flush dev eth0
ip -n "$G" addr add "$B_IP/24" dev eth0
ping_gw && fail "a1's port reached the gateway from b1's address"
wait_for 5 counted a1 arp 1 >/dev/null || fail "no ARP drops counted: $(api /metrics | grep guard)"
pass "a1's port using b1's address: dropped (arp $(dropped a1 arp))"

# A foreign IPv4 source with the right MAC and ARP already resolved.
ip -n "$G" addr flush dev eth0
ip -n "$G" addr add "$A_IP/24" dev eth0
wait_for 5 ping_gw >/dev/null || fail "a1 back to its own address cannot reach the gateway"
ip netns exec "$G" python3 - "$B_IP" <<'PY' || true
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
src, dst = socket.inet_aton(sys.argv[1]), socket.inet_aton("192.168.26.1")
import struct
hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 28, 1, 0, 64, 17, 0, src, dst) + struct.pack("!HHHH", 40000, 9, 8, 0)
for _ in range(3):
    s.sendto(hdr, ("192.168.26.1", 0))
PY
wait_for 5 counted a1 ip 1 >/dev/null || fail "no IP drops counted: $(api /metrics | grep guard)"
pass "an IPv4 packet from b1's address on a1's port: dropped (ip $(dropped a1 ip))"

# Another VM's MAC.
ip -n "$G" link set eth0 address "$B_MAC"
ping_gw && fail "a1's port reached the gateway with b1's MAC"
wait_for 5 counted a1 mac 1 >/dev/null || fail "no MAC drops counted"
ip -n "$G" link set eth0 address "$A_MAC"
pass "a1's port with b1's MAC: dropped (mac $(dropped a1 mac))"

# A DHCP server reply from a guest.
ip netns exec "$G" python3 - <<'PY' || true
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("", 67))
for _ in range(3):
    s.sendto(b"\x02" + b"\x00" * 239 + b"\x63\x82\x53\x63\x35\x01\x02\xff", ("192.168.26.255", 68))
PY
wait_for 5 counted a1 dhcp_server 1 >/dev/null || fail "DHCP server replies from a guest not dropped: $(api /metrics | grep guard)"
pass "a DHCP server reply from a1's port: dropped (dhcp_server $(dropped a1 dhcp_server))"

wait_for 5 grep -q "vm.blocked a1 " "$WORK/events.log" >/dev/null || fail "no vm.blocked event: $(cat "$WORK/events.log")"
wait_for 5 ping_gw >/dev/null || fail "a1's normal traffic no longer flows"
# A port that is no VM's (a plain client) is not filtered.
add_client "${ID}k" "" 192.168.26.241/24
ip netns exec "${ID}k" busybox ping -c 1 -W 2 192.168.26.1 >/dev/null || fail "a plain port cannot reach the gateway"
# Removing a1 removes its chain.
[ "$(api_status /api/v1/vms/a1 -X DELETE)" = 204 ] || fail "delete a1"
gone() { ! ip netns exec "$PD_NS" nft list table bridge paddock_guard | matches vm_a1; }
wait_for 5 gone >/dev/null || fail "a1's chain left after its removal"
pass "vm.blocked published; normal traffic still flows; plain ports unaffected; a removed VM's chain goes"
