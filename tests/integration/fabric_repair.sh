#!/bin/bash
# Integration: pieces deleted or changed out of band while the daemon runs are back within a second,
# and each repair is logged.
source "$(dirname "$0")/lib.sh"

setup_world
write_config
start_daemon

# (grep without -q reads all its input: see `matches` in lib.sh.)
bridge_ok() { ip -n "$PD_NS" -4 addr show br0 | grep "192.168.26.2/24" >/dev/null && ip -n "$PD_NS" link show gw0 | grep "master br0" >/dev/null; }
veth_ok() { inh ip -4 addr show paddock0 | grep "192.168.26.1/24" >/dev/null && inh ip link show paddock0 | grep ",UP" >/dev/null; }
table_ok() { inh nft list chain inet paddock postrouting | grep masquerade >/dev/null && inh nft list chain inet paddock forward | grep "ip saddr 192.168.26.0/24" >/dev/null; }
all_ok() { bridge_ok && veth_ok && table_ok; }

repairs_before() { grep -c "repaired:" "$WORK/daemon.log" || true; }

check_repair() {
  local what=$1; shift
  local n0; n0=$(repairs_before)
  "$@"
  local ms
  ms=$(wait_for 1 all_ok) || fail "$what: not repaired within 1 s"
  wait_for 1 sh -c "[ \$(grep -c 'repaired:' '$WORK/daemon.log') -gt $n0 ]" >/dev/null || fail "$what: repair not logged"
  pass "$what: repaired in ${ms} ms"
}

wait_for 2 all_ok >/dev/null || fail "fabric not complete at start: bridge $(bridge_ok && echo ok), veth $(veth_ok && echo ok), table $(table_ok && echo ok)"
check_repair "bridge deleted" ip -n "$PD_NS" link del br0
check_repair "host veth deleted" inh ip link del paddock0
check_repair "nft table deleted" inh nft delete table inet paddock
check_repair "nft chain flushed" inh nft flush chain inet paddock postrouting
check_repair "gateway address removed" inh ip addr del 192.168.26.1/24 dev paddock0
check_repair "bridge address removed" ip -n "$PD_NS" addr del 192.168.26.2/24 dev br0
check_repair "host veth set down" inh ip link set paddock0 down
check_repair "bridge port released" ip -n "$PD_NS" link set gw0 nomaster
check_repair "namespace deleted" ip netns del "$PD_NS"
fwd_ok() { [ "$(inh cat /proc/sys/net/ipv4/ip_forward)" = 1 ]; }
n0=$(repairs_before)
inh sh -c 'echo 0 > /proc/sys/net/ipv4/ip_forward'
ms=$(wait_for 1 fwd_ok) || fail "ip_forward not turned back on within 1 s"
pass "ip_forward turned off: repaired in ${ms} ms"

[ "$(inh cat /proc/sys/net/ipv4/ip_forward)" = 1 ] || fail "ip_forward not restored to 1"
inh nft list tables | grep -c "inet paddock" | matches -x 1 || fail "duplicate tables after repairs"
ev=$(grep -c "network.repaired" "$WORK/daemon.log" || true)
[ "$ev" -ge 10 ] || fail "expected a network.repaired event per repair, saw $ev"
pass "every repair published network.repaired ($ev events)"
