#!/bin/bash
# Integration: concurrency on the VM API with real QEMU. Same-name creates racing each other give
# exactly one 201 and one 409, the survivor intact and one reservation; then random concurrent
# lifecycle requests on a few VMs never get a 5xx, and afterwards every running/paused VM has
# exactly one QEMU, no QEMU runs without a VM, and reservations match the VMs one to one.
source "$(dirname "$0")/lib.sh"
command -v qemu-system-x86_64 >/dev/null || skip "missing tool: qemu-system-x86_64"
command -v cpio >/dev/null || skip "missing tool: cpio"

setup_world
write_config
"$SRC/guest/mk-image" "$STATE/images" test > "$WORK/mk-image.log" 2>&1 || fail "guest image: $(cat "$WORK/mk-image.log")"
start_daemon
HOST_NS=$HOST_NS WORK=$WORK STATE=$STATE /usr/bin/python3 "$(dirname "$0")/vm_races.py" || fail "vm_races.py"
