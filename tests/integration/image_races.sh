#!/bin/bash
# Integration: an image cannot be deleted under a VM being created from it (pins). See image_races.py.
source "$(dirname "$0")/lib.sh"

command -v qemu-img >/dev/null || skip "missing tool: qemu-img"
setup_world
write_config
qemu-img create -q -f qcow2 "$WORK/blank.qcow2" 64M || fail "qemu-img create"
start_daemon
inh env STATE="$STATE" BLANK="$WORK/blank.qcow2" /usr/bin/python3 "$SRC/tests/integration/image_races.py" || fail "image_races.py"
