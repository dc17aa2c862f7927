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
write_config "" '"qemu": {"stats_interval_s": 1}' # the graphs move each second
start_daemon
ART=${PADDOCK_ARTIFACTS:-$WORK/artifacts}
# The browser runs in the background; midway it asks for a daemon restart (restart.request), which
# this script does, creating web2 while the page is away, then says so (restart.done).
inh env HOME="$WORK" CHROMIUM="$CHROMIUM" RESTART_DIR="$WORK" timeout 300 node "$SRC/tests/browser/dashboard.mjs" \
  "http://127.0.0.1:8080" "$(cat "$STATE/api-token")" "$ART" > "$WORK/browser.log" 2>&1 &
BROWSER=$!
EXTRA_PIDS+=($BROWSER)
while kill -0 "$BROWSER" 2>/dev/null; do
  if [ -f "$WORK/restart.request" ] && [ ! -f "$WORK/restart.done" ]; then
    stop_daemon
    start_daemon
    [ "$(api_status /api/v1/vms -X POST -d '{"name":"web2","kernel":"test-kernel"}')" = 201 ] || fail "create web2"
    touch "$WORK/restart.done"
  fi
  sleep 0.1
done
rc=0; wait "$BROWSER" || rc=$?
[ "$rc" = 0 ] || fail "dashboard: $(cat "$WORK/browser.log")"
grep -E "^(#|figure|ok)" "$WORK/browser.log" | sed 's/^/# /'
pass "dashboard in Chromium: sign-in, create, live state and IP, figures and graphs, console, pause/resume, daemon restart, stop, remove, wrong token; no page wider than a phone"
