# SPDX-License-Identifier: MIT
# Shared helpers for the integration tier. Every test builds its own throwaway world:
#   HOST_NS   stands in for the host (the daemon runs here, with its own loopback and nft ruleset)
#   UPLINK_NS stands in for the internet (203.0.113.2, TEST-NET-3, and 2001:db8:1::2, documentation
#             addresses, reachable only from HOST_NS)
#   PD_NS     the daemon's namespace (name unique per test run)
# Nothing touches the real host's links, firewall or sysctls; everything is removed on exit,
# even on failure. Needs root; exits 77 (meson SKIP) without it.
set -euo pipefail

PADDOCKD=${PADDOCKD:?PADDOCKD must point to the paddockd binary}
SRC=${PADDOCK_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; [ -f "${WORK:-/nonexistent}/daemon.log" ] && { echo "--- daemon log (tail)" >&2; tail -40 "$WORK/daemon.log" >&2; }; exit 1; }
pass() { echo "ok - $*"; }
# `cmd | matches PATTERN`: grep that reads all its input. With pipefail, `cmd | grep -q` fails
# whenever cmd writes again after grep -q has seen its match and left (SIGPIPE, exit 141): a flake
# that shows up under load, on long outputs (journals, console logs, nft listings).
matches() { grep "$@" >/dev/null; }

[ "$(id -u)" = 0 ] || skip "needs root (creates network namespaces)"
for tool in ip nft nsenter curl busybox; do
  command -v "$tool" >/dev/null || skip "missing tool: $tool"
done

ID=pt$$-$RANDOM
HOST_NS=${ID}h
UPLINK_NS=${ID}u
PD_NS=${ID}p
CLIENT_NS=${ID}c
WORK=$(mktemp -d /tmp/paddock-test.XXXXXX)
STATE=$WORK/state
DAEMON_PID=
EXTRA_PIDS=()

cleanup() {
  set +e
  exec 2>/dev/null  # no "Killed" job notices for the helpers we end here
  [ -n "$DAEMON_PID" ] && kill -9 "$DAEMON_PID" 2>/dev/null
  for p in "${EXTRA_PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
  pkill -9 -f -- "--config $WORK/config.json" 2>/dev/null  # daemons a helper started
  pkill -9 -f -- "$WORK/state/vms/" 2>/dev/null            # QEMUs of this test's VMs
  pkill -9 -f -- "ControlPath=$WORK/" 2>/dev/null          # SSH connection masters into its guests
  wait 2>/dev/null
  # Whatever still runs inside the test's namespaces (a helper started in the background through a
  # shell function has a subshell as its $!, e.g. dns.sh's dnsmasq stub) ends with them.
  for ns in "${CLIENTS[@]}" "$CLIENT_NS" "$PD_NS" "$UPLINK_NS" "$HOST_NS"; do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
  done
  for ns in "${CLIENTS[@]}" "$CLIENT_NS" "$PD_NS" "$UPLINK_NS" "$HOST_NS"; do
    ip netns del "$ns" 2>/dev/null
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
[ -n "${KEEP_LOG:-}" ] && trap 'cp "$WORK/daemon.log" "$KEEP_LOG" 2>/dev/null; [ -n "${KEEP_WORK:-}" ] && cp -r "$WORK" "$KEEP_WORK"; cleanup' EXIT

inh() { nsenter --net="/run/netns/$HOST_NS" "$@"; }

# The fake host with an uplink to the fake internet.
setup_world() {
  ip netns add "$HOST_NS"
  ip netns add "$UPLINK_NS"
  ip -n "$HOST_NS" link set lo up
  ip -n "$UPLINK_NS" link set lo up
  ip link add up0 netns "$HOST_NS" type veth peer name wan0 netns "$UPLINK_NS"
  ip -n "$HOST_NS" addr add 203.0.113.1/24 dev up0
  ip -n "$UPLINK_NS" addr add 203.0.113.2/24 dev wan0
  ip -n "$HOST_NS" link set up0 up
  ip -n "$UPLINK_NS" link set wan0 up
  ip -n "$HOST_NS" route add default via 203.0.113.2
  ip -n "$HOST_NS" addr add 2001:db8:1::1/64 dev up0 nodad
  ip -n "$UPLINK_NS" addr add 2001:db8:1::2/64 dev wan0 nodad
  ip -n "$HOST_NS" -6 route add default via 2001:db8:1::2
  inh sh -c 'echo 0 > /proc/sys/net/ipv4/ip_forward'
}

# Writes $WORK/config.json; extra JSON members for "network" can be passed as $1, top-level ones as $2.
# The DNS service reads its upstream servers from $WORK/resolv.conf (empty unless a test fills it),
# never from the machine's own.
write_config() {
  local extra=${1:-} top=${2:-}
  mkdir -p "$STATE"
  [ -e "$WORK/resolv.conf" ] || : > "$WORK/resolv.conf"
  cat > "$WORK/config.json" <<JSON
{
  "listen": "127.0.0.1:8080",${top:+ $top,}
  "state_dir": "$STATE",
  "dns_service": {"resolv_conf": "$WORK/resolv.conf"},
  "network": {"namespace": "$PD_NS"${extra:+, $extra}}
}
JSON
}

start_daemon() {
  # nsenter execs paddockd, so $! is the daemon itself (a shell function here would hide it).
  nsenter --net="/run/netns/$HOST_NS" "$PADDOCKD" --config "$WORK/config.json" --log-level debug "$@" >> "$WORK/daemon.log" 2>&1 &
  DAEMON_PID=$!
  for _ in $(seq 1 200); do
    if [ -s "$STATE/api-token" ] && api /api/v1/health >/dev/null 2>&1; then return 0; fi
    kill -0 "$DAEMON_PID" 2>/dev/null || fail "daemon exited during start-up"
    sleep 0.05
  done
  fail "daemon not healthy after 10 s"
}

stop_daemon() {
  [ -n "$DAEMON_PID" ] || return 0
  kill -TERM "$DAEMON_PID"
  wait "$DAEMON_PID" || fail "daemon exited non-zero on SIGTERM"
  DAEMON_PID=
}

# Where api/api_status send requests; a TLS test sets API_URL=https://... and API_CURL=(--cacert F).
API_URL=http://127.0.0.1:8080
API_CURL=()

# curl against the daemon's API inside HOST_NS, with the token; prints the body.
api() {
  local path=$1; shift
  inh curl -sS --max-time 5 "${API_CURL[@]}" -H "Authorization: Bearer $(cat "$STATE/api-token")" "$@" "$API_URL$path"
}

# HTTP status only.
api_status() {
  local path=$1; shift
  inh curl -s -o /dev/null -w '%{http_code}' --max-time 5 "${API_CURL[@]}" -H "Authorization: Bearer $(cat "$STATE/api-token")" "$@" "$API_URL$path"
}

# JSON field via python (Debian's /usr/bin/python3; stdlib only).
jget() { /usr/bin/python3 -c 'import json,sys; v=json.load(sys.stdin)
for k in sys.argv[1].split("."): v=v[int(k)] if isinstance(v,list) else v[k]
print(json.dumps(v) if isinstance(v,(dict,list,bool)) or v is None else v)' "$1"; }

# Waits up to $1 seconds for a command to succeed; prints the elapsed ms on success.
wait_for() {
  local limit_ms=$(( ${1%.*} * 1000 )); shift
  local t0; t0=$(date +%s%N)
  while :; do
    if "$@" >/dev/null 2>&1; then echo $(( ($(date +%s%N) - t0) / 1000000 )); return 0; fi
    (( ($(date +%s%N) - t0) / 1000000 > limit_ms )) && return 1
    sleep 0.02
  done
}

# The world plus what VM tests need: QEMU, and the busybox test guest in state_dir/images.
setup_vm_world() {
  command -v qemu-system-x86_64 >/dev/null || skip "missing tool: qemu-system-x86_64"
  command -v cpio >/dev/null || skip "missing tool: cpio"
  setup_world
  write_config
  "$SRC/guest/mk-image" "$STATE/images" test > "$WORK/mk-image.log" 2>&1 || fail "guest image: $(cat "$WORK/mk-image.log")"
}

# plug NS PORT [MAC] [ADDR/LEN]: a namespace whose eth0 is the bridge port PORT (named like a VM's
# TAP, it plays that VM); with an address, its default route is the gateway. Removed on exit.
CLIENTS=()
plug() {
  local ns=$1 port=$2 mac=${3:-} addr=${4:-}
  ip netns add "$ns"
  CLIENTS+=("$ns")
  ip -n "$ns" link set lo up
  ip link add eth0 netns "$ns" type veth peer name "$port" netns "$PD_NS"
  [ -n "$mac" ] && ip -n "$ns" link set eth0 address "$mac"
  ip -n "$PD_NS" link set "$port" master br0
  ip -n "$PD_NS" link set "$port" up
  ip -n "$ns" link set eth0 up
  if [ -n "$addr" ]; then
    ip -n "$ns" addr add "$addr" dev eth0
    ip -n "$ns" route add default via 192.168.26.1
  fi
}

# A client namespace on a plain bridge port (not a VM's): add_client NS [MAC] [ADDR/LEN].
add_client() { plug "$1" "v${#CLIENTS[@]}x$$" "${2:-}" "${3:-}"; }

# The anti-spoofing table's drop count for VM $1 and reason $2 in /metrics (empty when none yet).
dropped() { api /metrics | awk -v vm="$1" -v why="$2" '$1 == "paddock_guard_dropped_packets_total{vm=\""vm"\",reason=\""why"\"}" { print $2 }'; }
# counted VM REASON N: at least N such drops.
counted() { local n; n=$(dropped "$1" "$2"); [ -n "$n" ] && [ "${n%.*}" -ge "$3" ]; }

# The world of the guest-port tests: the daemon up, its event stream watched into
# $WORK/events.log, and VMs NAME... defined (never started: the kernel need not be real) with
# their ports in the anti-spoofing table.
setup_guest_world() {
  setup_world
  write_config
  mkdir -p "$STATE/images"; : > "$STATE/images/nothing"
  start_daemon
  inh /usr/bin/python3 "$SRC/tests/integration/events_watch.py" "$(cat "$STATE/api-token")" > "$WORK/events.log" 2>&1 &
  EXTRA_PIDS+=($!)
  wait_for 5 grep -q connected "$WORK/events.log" >/dev/null || fail "event stream: $(cat "$WORK/events.log")"
  local v
  for v in "$@"; do
    [ "$(api_status /api/v1/vms -X POST -d "{\"name\":\"$v\",\"kernel\":\"nothing\"}")" = 201 ] || fail "create $v"
  done
  guest_ports_guarded() {
    ip netns exec "$PD_NS" nft list table bridge paddock_guard > "$WORK/guard.nft" || return 1
    for v in "$@"; do grep -q "goto vm_$v\b" "$WORK/guard.nft" || return 1; done
  }
  wait_for 5 guest_ports_guarded "$@" >/dev/null || fail "VM ports not in the guard table: $(cat "$WORK/guard.nft")"
}
