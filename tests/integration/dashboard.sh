#!/bin/bash
# Integration: the dashboard end to end in Debian's headless Chromium (tests/browser/dashboard.mjs,
# driven by playwright-core) against the real daemon and a real busybox guest, inside the test's
# own namespaces. Screenshots go to $PADDOCK_ARTIFACTS (build/tests/integration/artifacts).
source "$(dirname "$0")/lib.sh"

CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || skip "no $CHROMIUM (apt-get install chromium; scripts/install-deps does)"
command -v node >/dev/null || skip "no node (scripts/install-deps installs nodejs)"
[ -d "$SRC/tests/browser/node_modules/playwright-core" ] || skip "no playwright-core (npm ci in tests/browser; scripts/install-deps does)"
[ -f "$SRC/www/node_modules/@xterm/xterm/lib/xterm.mjs" ] || skip "no xterm.js (npm ci in www; scripts/install-deps does)"

setup_vm_world
start_daemon
ART=${PADDOCK_ARTIFACTS:-$WORK/artifacts}
out=$(inh env HOME="$WORK" CHROMIUM="$CHROMIUM" timeout 300 node "$SRC/tests/browser/dashboard.mjs" \
  "http://127.0.0.1:8080" "$(cat "$STATE/api-token")" "$ART" 2>&1) || fail "dashboard: $out"
echo "$out" | grep -E "^(#|figure|ok)" | sed 's/^/# /'
pass "dashboard in Chromium: sign-in, create, live state and IP, console, pause/resume, stop, remove, wrong token"
