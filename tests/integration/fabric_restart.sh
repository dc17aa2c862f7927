#!/bin/bash
# Integration: start, stop, start again (and kill -9, start again): the fabric is adopted, never
# duplicated; a quiet daemon makes no changes at all (no rule churn); SIGTERM leaves the fabric up.
source "$(dirname "$0")/lib.sh"

setup_world
write_config

snapshot() {
  {
    inh nft list tables
    inh nft -j list table inet paddock | /usr/bin/python3 -c 'import json,sys
d=json.load(sys.stdin)["nftables"]
print("chains", sum(1 for i in d if "chain" in i), "rules", sum(1 for i in d if "rule" in i))'
    inh ip -o link show type veth | awk '{print $2}'
    inh ip -o -4 addr show dev paddock0 | awk '{print $4}'
    ip -n "$PD_NS" -o link show | awk '{print $2}' | sed 's/@.*//'
    ip -n "$PD_NS" -o -4 addr show | awk '{print $2, $4}'
    ip netns list | grep -c "^$PD_NS"
  }
}

start_daemon
first=$(snapshot)
echo "$first" | matches "chains 3 rules 13" || fail "unexpected table content (9 IPv4 rules + 4 IPv6): $first"

# Steady state: nothing is rewritten. Watch nftables and links for 1.5 s while the daemon idles.
inh timeout 1.5 nft monitor > "$WORK/monitor.txt" 2>&1 || true
[ ! -s "$WORK/monitor.txt" ] || fail "the idle daemon changed nftables: $(head -5 "$WORK/monitor.txt")"
pass "an idle daemon makes no nftables changes"

stop_daemon
[ "$(snapshot)" = "$first" ] || fail "SIGTERM changed the fabric"
grep -q "fabric and VMs stay up" "$WORK/daemon.log" || fail "no shutdown log line"
pass "SIGTERM stops the daemon and leaves the fabric in place"

start_daemon
[ "$(snapshot)" = "$first" ] || fail "restart changed the fabric:\n$(diff <(echo "$first") <(snapshot))"
# The second start adopted everything: it must not log any creation.
awk '/ready in/{n++} n==1 && /INFO net: (created|added|enslaved)/' "$WORK/daemon.log" | matches . \
  && fail "second start re-created pieces: $(awk '/ready in/{n++} n==1' "$WORK/daemon.log" | grep 'INFO net')"
pass "a second start adopts the fabric: nothing duplicated or re-created"

kill -9 "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null || true; DAEMON_PID=
start_daemon
[ "$(snapshot)" = "$first" ] || fail "restart after kill -9 changed the fabric"
pass "restart after kill -9: one table, one bridge, one veth pair, one address each"

# A second daemon on the same state_dir is refused.
if inh "$PADDOCKD" --config "$WORK/config.json" --listen 127.0.0.1:8081 > "$WORK/second.log" 2>&1; then
  fail "a second daemon started on the same state_dir"
fi
grep -q "another paddockd" "$WORK/second.log" || fail "second daemon's refusal is unclear: $(cat "$WORK/second.log")"
pass "a second daemon on the same state_dir is refused"
