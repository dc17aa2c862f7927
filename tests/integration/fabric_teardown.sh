#!/bin/bash
# Integration: `paddockd teardown` leaves the host namespace exactly as before the first start
# (links, addresses, routes, ip_forward, nftables), also while a daemon is running, and also twice.
source "$(dirname "$0")/lib.sh"

setup_world
write_config
# A foreign table that must survive untouched.
inh nft add table ip other
inh nft add chain ip other forwarding '{ type filter hook forward priority 10; policy accept; }'

host_state() {
  inh ip -d link show
  inh ip addr show
  inh ip route show
  inh sysctl net.ipv4.ip_forward
  inh nft list ruleset
}
before=$(host_state)

start_daemon
[ "$(inh cat /proc/sys/net/ipv4/ip_forward)" = 1 ] || fail "daemon did not enable ip_forward"
stop_daemon
inh "$PADDOCKD" teardown --config "$WORK/config.json" > "$WORK/teardown.log" 2>&1 || fail "teardown failed: $(cat "$WORK/teardown.log")"
after=$(host_state)
[ "$before" = "$after" ] || fail "host differs after teardown:
$(diff <(echo "$before") <(echo "$after"))"
ip netns list | matches -w "$PD_NS" && fail "namespace $PD_NS still listed"
[ -e "/run/netns/$PD_NS" ] && fail "/run/netns/$PD_NS still exists"
pass "teardown after stop: links, addresses, routes, ip_forward and nftables as before"

# Teardown while the daemon runs: it stops the daemon first, then removes everything.
start_daemon
pid=$DAEMON_PID
inh "$PADDOCKD" teardown --config "$WORK/config.json" > "$WORK/teardown2.log" 2>&1 || fail "teardown with a running daemon failed: $(cat "$WORK/teardown2.log")"
wait "$pid" 2>/dev/null || true
DAEMON_PID=
kill -0 "$pid" 2>/dev/null && fail "daemon still running after teardown"
[ "$before" = "$(host_state)" ] || fail "host differs after teardown of a running daemon"
pass "teardown stops a running daemon and restores the host"

inh "$PADDOCKD" teardown --config "$WORK/config.json" > "$WORK/teardown3.log" 2>&1 || fail "second teardown failed"
grep -q "nothing to remove" "$WORK/teardown3.log" || fail "second teardown did something: $(cat "$WORK/teardown3.log")"
pass "teardown twice is harmless"

# ip_forward that was already 1 stays 1.
inh sh -c 'echo 1 > /proc/sys/net/ipv4/ip_forward'
rm -f "$STATE/paddock.db"*
start_daemon; stop_daemon
inh "$PADDOCKD" teardown --config "$WORK/config.json" > /dev/null 2>&1 || fail "teardown failed"
[ "$(inh cat /proc/sys/net/ipv4/ip_forward)" = 1 ] || fail "teardown turned off an ip_forward the host had on"
pass "an ip_forward that was on before stays on"
