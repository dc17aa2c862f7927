#!/bin/bash
# Integration: real DHCP clients (busybox udhcpc, ISC dhclient, dhcpcd), each in its own namespace
# on the bridge, get a lease from paddockd's embedded server and apply it: address, mask, router,
# DNS, domain, lease time, host name (for a reserved client).
source "$(dirname "$0")/lib.sh"
for tool in dhclient dhcpcd; do command -v $tool >/dev/null || skip "missing tool: $tool"; done

setup_world
write_config
start_daemon

# A reservation made while running, with a host name: the udhcpc client gets exactly this.
out=$(api /api/v1/reservations/52:54:00:00:00:11 -X PUT -d '{"ip":"192.168.26.33","hostname":"alpha"}')
[ "$(echo "$out" | jget ip)" = 192.168.26.33 ] || fail "reservation: $out"
pass "reservation added live: $out"

# --- busybox udhcpc --------------------------------------------------------------------------
cat > "$WORK/udhcpc.sh" <<'SH'
#!/bin/sh
case "$1" in
  bound|renew)
    ip addr flush dev "$interface"; ip addr add "$ip/$mask" dev "$interface"
    ip route add default via "$router" dev "$interface" 2>/dev/null
    { echo "ip=$ip"; echo "mask=$mask"; echo "router=$router"; echo "dns=$dns"; echo "domain=$domain";
      echo "lease=$lease"; echo "hostname=$hostname"; echo "serverid=$serverid"; } > "$OUT" ;;
esac
exit 0
SH
chmod +x "$WORK/udhcpc.sh"
add_client "${ID}a" 52:54:00:00:00:11
OUT=$WORK/udhcpc.lease ip netns exec "${ID}a" busybox udhcpc -i eth0 -q -f -n -t 5 -T 1 -s "$WORK/udhcpc.sh" \
  -O hostname -O domain -O broadcast > "$WORK/udhcpc.log" 2>&1 || fail "udhcpc got no lease: $(cat "$WORK/udhcpc.log")"
got=$(cat "$WORK/udhcpc.lease")
for want in ip=192.168.26.33 mask=24 router=192.168.26.1 dns=192.168.26.2 domain=paddock.internal lease=3600 \
            hostname=alpha serverid=192.168.26.2; do
  echo "$got" | matches -x "$want" || fail "udhcpc: want $want in: $got"
done
ip -n "${ID}a" -4 addr show eth0 | matches "192.168.26.33/24" || fail "udhcpc did not apply the address"
pass "udhcpc: reserved 192.168.26.33/24, router, DNS, domain, lease 3600 s, host name alpha"

# --- ISC dhclient ----------------------------------------------------------------------------
cat > "$WORK/dhclient.sh" <<'SH'
#!/bin/sh
case "$reason" in
  BOUND|RENEW|REBIND|REBOOT)
    ip addr add "$new_ip_address/$(echo "$new_subnet_mask" | awk -F. '{n=0; for(i=1;i<=4;i++){x=$i; while(x){n+=x%2; x=int(x/2)}} print n}')" dev "$interface"
    { echo "reason=$reason"; echo "ip=$new_ip_address"; echo "mask=$new_subnet_mask"; echo "router=$new_routers";
      echo "dns=$new_domain_name_servers"; echo "domain=$new_domain_name"; echo "lease=$new_dhcp_lease_time";
      echo "server=$new_dhcp_server_identifier"; echo "t1=$new_dhcp_renewal_time"; echo "t2=$new_dhcp_rebinding_time"; } > "$OUT" ;;
esac
exit 0
SH
sed -i "s|\"\$OUT\"|\"$WORK/dhclient.lease\"|" "$WORK/dhclient.sh"  # dhclient clears the environment
chmod +x "$WORK/dhclient.sh"
add_client "${ID}b" 52:54:00:00:00:22
OUT=$WORK/dhclient.lease timeout 20 ip netns exec "${ID}b" dhclient -4 -1 -d -sf "$WORK/dhclient.sh" \
  -lf "$WORK/dhclient.leases" -pf "$WORK/dhclient.pid" eth0 > "$WORK/dhclient.log" 2>&1 &
dpid=$!; EXTRA_PIDS+=($dpid)
wait_for 15 test -s "$WORK/dhclient.lease" >/dev/null || fail "dhclient got no lease: $(tail -5 "$WORK/dhclient.log")"
kill "$dpid" 2>/dev/null || true
got=$(cat "$WORK/dhclient.lease")
ip=$(echo "$got" | sed -n 's/^ip=//p')
case "$ip" in 192.168.26.*) ;; *) fail "dhclient address: $got" ;; esac
n=${ip##*.}; [ "$n" -ge 10 ] && [ "$n" -le 250 ] || fail "dhclient address $ip outside the pool"
for want in mask=255.255.255.0 router=192.168.26.1 dns=192.168.26.2 domain=paddock.internal lease=3600 \
            server=192.168.26.2 t1=1800 t2=3150; do
  echo "$got" | matches -x "$want" || fail "dhclient: want $want in: $got"
done
pass "dhclient: pool address $ip, mask, router, DNS, domain, lease 3600 s, T1 1800, T2 3150"

# --- dhcpcd ----------------------------------------------------------------------------------
cat > "$WORK/dhcpcd.sh" <<'SH'
#!/bin/sh
case "$reason" in
  BOUND|RENEW|REBIND|REBOOT)
    { echo "reason=$reason"; echo "ip=$new_ip_address"; echo "mask=$new_subnet_mask"; echo "router=$new_routers";
      echo "dns=$new_domain_name_servers"; echo "domain=$new_domain_name"; echo "lease=$new_dhcp_lease_time";
      echo "server=$new_dhcp_server_identifier"; echo "hostname=$new_host_name"; } > "$OUT" ;;
esac
exit 0
SH
sed -i "s|\"\$OUT\"|\"$WORK/dhcpcd.lease\"|" "$WORK/dhcpcd.sh"  # dhcpcd clears the environment
chmod +x "$WORK/dhcpcd.sh"
printf 'option domain_name_servers, domain_name, host_name, subnet_mask, routers\nnoarp\nnoipv4ll\nnohook resolv.conf\n' > "$WORK/dhcpcd.conf"
add_client "${ID}c" 52:54:00:00:00:33
# Private tmpfs for dhcpcd's run and lease folders: nothing is written to the machine's own.
OUT=$WORK/dhcpcd.lease timeout 20 ip netns exec "${ID}c" sh -c '
  mkdir -p /run/dhcpcd /var/lib/dhcpcd && mount -t tmpfs tmpfs /run/dhcpcd && mount -t tmpfs tmpfs /var/lib/dhcpcd &&
  exec dhcpcd -4 -1 -B -f "$0" -c "$1" -t 15 eth0' "$WORK/dhcpcd.conf" "$WORK/dhcpcd.sh" > "$WORK/dhcpcd.log" 2>&1 \
  || fail "dhcpcd failed: $(tail -5 "$WORK/dhcpcd.log")"
got=$(cat "$WORK/dhcpcd.lease" 2>/dev/null) || fail "dhcpcd wrote no lease: $(tail -5 "$WORK/dhcpcd.log")"
ip3=$(echo "$got" | sed -n 's/^ip=//p')
[ -n "$ip3" ] && [ "$ip3" != "$ip" ] && [ "$ip3" != 192.168.26.33 ] || fail "dhcpcd address $ip3 collides or is missing"
for want in mask=255.255.255.0 router=192.168.26.1 dns=192.168.26.2 domain=paddock.internal lease=3600 server=192.168.26.2; do
  echo "$got" | matches -x "$want" || fail "dhcpcd: want $want in: $got"
done
ip -n "${ID}c" -4 addr show eth0 | matches "$ip3/24" || fail "dhcpcd did not apply $ip3"
pass "dhcpcd: pool address $ip3, mask, router, DNS, domain, lease 3600 s"

# The daemon knows every lease the moment it is bound.
leases=$(api /api/v1/leases)
for pair in "52:54:00:00:00:11 192.168.26.33" "52:54:00:00:00:22 $ip" "52:54:00:00:00:33 $ip3"; do
  set -- $pair
  echo "$leases" | /usr/bin/python3 -c 'import json,sys
l=[x for x in json.load(sys.stdin)["leases"] if x["mac"]==sys.argv[1]]
assert l and l[0]["ip"]==sys.argv[2] and l[0]["state"]=="bound" and l[0]["expires_at"], l' "$1" "$2" \
    || fail "lease of $1 not listed as bound $2: $leases"
done
echo "$leases" | /usr/bin/python3 -c 'import json,sys
assert [x for x in json.load(sys.stdin)["leases"] if x["mac"]=="52:54:00:00:00:11"][0]["hostname"]=="alpha"' \
  || fail "host name not in lease listing: $leases"
grep -q "lease.bound" "$WORK/daemon.log" || fail "no lease.bound event"
used=$(api /api/v1/network | jget dhcp_pool.used)
[ "$used" -ge 2 ] || fail "pool usage $used"
pass "GET /api/v1/leases lists all three as bound; lease.bound events published; pool used $used"
