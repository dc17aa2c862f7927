#!/bin/bash
# Unit: the systemd unit (config/paddockd.service) as systemd itself reads it: its directives parse
# (systemd-analyze verify, the missing binary aside), it is Type=notify with a watchdog, restarts on
# failure, leaves QEMU running on a stop (KillMode=process), and its exposure score
# (systemd-analyze security --offline=true) is at most 5.0.
set -euo pipefail
SRC=${PADDOCK_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
UNIT=$SRC/config/paddockd.service
command -v systemd-analyze >/dev/null || { echo "SKIP: no systemd-analyze (package systemd)"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "$UNIT" "$tmp/paddockd.service"
# Parse errors show up as "Unknown key", "Invalid", "Failed to parse"; the binary is not installed here.
out=$(cd "$tmp" && systemd-analyze verify --man=no ./paddockd.service 2>&1 || true)
if grep -vE 'is not executable: No such file or directory|^$' <<<"$out" | grep . >/dev/null; then
  echo "FAIL: systemd-analyze verify: $out"; exit 1
fi
for want in '^Type=notify$' '^NotifyAccess=main$' '^WatchdogSec=' '^Restart=on-failure$' '^KillMode=process$' \
            '^ExecStart=/usr/sbin/paddockd ' '^CapabilityBoundingSet=' '^SystemCallFilter=' '^ProtectSystem=strict$'; do
  grep -qE "$want" "$UNIT" || { echo "FAIL: no $want in $UNIT"; exit 1; }
done
score=$(cd "$tmp" && systemd-analyze security --offline=true ./paddockd.service 2>&1 | sed -n 's/.*Overall exposure level for paddockd.service: \([0-9.]*\).*/\1/p')
[ -n "$score" ] || { echo "FAIL: no exposure score from systemd-analyze security"; exit 1; }
awk -v s="$score" 'BEGIN { exit !(s <= 5.0) }' || { echo "FAIL: exposure $score > 5.0"; exit 1; }
# The guests unit: stops the VMs before paddockd stops at host shutdown, and parses clean.
GUESTS=$SRC/config/paddock-guests.service
cp "$GUESTS" "$tmp/paddock-guests.service"
out=$(cd "$tmp" && systemd-analyze verify --man=no ./paddock-guests.service 2>&1 || true)
if grep -vE 'is not executable: No such file or directory|^$' <<<"$out" | grep . >/dev/null; then
  echo "FAIL: systemd-analyze verify paddock-guests.service: $out"; exit 1
fi
for want in '^After=paddockd.service$' '^Type=oneshot$' '^RemainAfterExit=yes$' '^ExecStop=/usr/sbin/paddockd shutdown-vms '; do
  grep -qE "$want" "$GUESTS" || { echo "FAIL: no $want in $GUESTS"; exit 1; }
done
echo "ok - config/paddockd.service: verify clean; Type=notify, watchdog, KillMode=process; exposure $score (at most 5.0); paddock-guests.service verify clean, ordered after paddockd"
