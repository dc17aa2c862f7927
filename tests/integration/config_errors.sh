#!/bin/bash
# Integration (no root needed): paddockd refuses bad config files and flags with a non-zero exit
# and a message naming the field, before touching anything.
set -euo pipefail
PADDOCKD=${PADDOCKD:?PADDOCKD must point to the paddockd binary}
SRC=${PADDOCK_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
WORK=$(mktemp -d /tmp/paddock-cfg.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
matches() { grep "$@" >/dev/null; }   # grep reading all its input (see lib.sh)

expect_error() {
  local json=$1 field=$2
  printf '%s\n' "$json" > "$WORK/c.json"
  local out rc=0
  out=$("$PADDOCKD" check-config --config "$WORK/c.json" 2>&1) || rc=$?
  [ "$rc" -ne 0 ] || fail "accepted: $json"
  echo "$out" | matches -F "$field" || fail "message for $json does not name $field: $out"
  # The daemon itself (not just check-config) refuses too, and says why before needing root.
  rc=0
  out=$("$PADDOCKD" --config "$WORK/c.json" 2>&1) || rc=$?
  [ "$rc" -ne 0 ] || fail "daemon started with: $json"
  echo "$out" | matches -F "$field" || fail "daemon message for $json does not name $field: $out"
  echo "ok - rejected ($field): $(echo "$out" | head -1)"
}

expect_error '{"network": {"subnet": "192.168.26.0/33"}}' "network.subnet"
expect_error '{"network": {"subnet": "not-a-cidr"}}' "network.subnet"
expect_error '{"network": {"gateway": "10.9.9.1"}}' "network.gateway"
expect_error '{"network": {"dhcp_pool": {"start": "10.0.0.10", "end": "10.0.0.20"}}}' "network.dhcp_pool.start"
expect_error '{"network": {"dhcp_pool": {"end": "192.168.99.20"}}}' "network.dhcp_pool.end"
expect_error '{"network": {"host_veth": "much-too-long-name0"}}' "network.host_veth"
expect_error '{"network": {"bridge": "this-bridge-name-is-long"}}' "network.bridge"
expect_error '{"network": {"namespace": "a/b"}}' "network.namespace"
expect_error '{"network": {"lease_time_s": -1}}' "network.lease_time_s"
expect_error '{"listen": "127.0.0.1:notaport"}' "listen"
expect_error '{"auth": "sometimes"}' "auth"
expect_error '{"listen": "0.0.0.0:8080"}' "listen: 0.0.0.0 is not a loopback address"
expect_error '{"listen": "0.0.0.0:8080", "allow_insecure_listen": "yes"}' "allow_insecure_listen"
expect_error '{"qemu": {"accel": "whpx"}}' "qemu.accel"
expect_error '{"tls": "yes-please"}' "tls: \"yes-please\" is not"
expect_error '{"network": {"ipv6": "fd00::/48"}}' "network.ipv6: \"fd00::/48\" is not a /64"
expect_error '{"network": {"routes": [{"subnet": "192.168.26.0/25", "via": "203.0.113.9"}]}}' "network.routes[0].subnet: 192.168.26.0/25 overlaps the VM subnet"
expect_error '{"network": {"peers": [{"subnet": "10.1.0.0/16", "gateway": "203.0.113.3"}]}}' "network.peers[0]: \"domain\" is required"
expect_error '{"tls": {"cert": "cert.pem", "key": "/k.pem"}}' "tls.cert: must be an absolute path"
expect_error '{"tls": {"cert": "/c.pem"}}' "tls.key: missing"
expect_error '{"tls": {"cert": "/c.pem", "key": "/k.pem", "chain": "/x"}}' "tls.chain"
expect_error '{"surprise": true}' "surprise"
expect_error '{"network": {' "not valid JSON"

# A missing file and bad flags are clear too.
out=$("$PADDOCKD" --config "$WORK/none.json" 2>&1) && fail "missing config accepted"
echo "$out" | matches "cannot read config file" || fail "missing file message: $out"
out=$("$PADDOCKD" check-config --listen nonsense 2>&1) && fail "bad --listen accepted"
echo "$out" | matches "listen" || fail "bad --listen message: $out"
out=$("$PADDOCKD" --bogus 2>&1) && fail "unknown flag accepted"
echo "$out" | matches "unknown argument" || fail "unknown flag message: $out"
echo "ok - missing file, bad flag values and unknown flags are refused"

# The shipped config is valid and equals the embedded defaults.
"$PADDOCKD" check-config --config "$SRC/config/paddockd.json" > "$WORK/a.txt"
"$PADDOCKD" check-config > "$WORK/b.txt"
cmp -s "$WORK/a.txt" "$WORK/b.txt" || fail "config/paddockd.json differs from the embedded defaults"
"$PADDOCKD" --version | grep -Eq '^paddockd [0-9]+\.[0-9]+\.[0-9]+$' || fail "--version"
echo "ok - shipped config equals the embedded defaults; --version works"
