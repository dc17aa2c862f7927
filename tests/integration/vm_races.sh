#!/bin/bash
# Integration: concurrency on the VM API with real QEMU. Same-name creates racing each other give
# exactly one 201 and one 409, the survivor intact and one reservation; then random concurrent
# lifecycle requests on a few VMs never get a 5xx, and afterwards every running/paused VM has
# exactly one QEMU, no QEMU runs without a VM, and reservations match the VMs one to one.
source "$(dirname "$0")/lib.sh"

setup_vm_world
start_daemon
HOST_NS=$HOST_NS WORK=$WORK STATE=$STATE /usr/bin/python3 "$(dirname "$0")/vm_races.py" || fail "vm_races.py"
