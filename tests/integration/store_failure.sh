#!/bin/bash
# Integration: the store fails under the DHCP server (state_dir on a small tmpfs that the test
# fills up) and recovers without a restart. While the disk is full no ACK leaves for a lease that
# was not kept, reservation changes answer 503 and change nothing, and the lease table in memory is
# what is on disk; once space is back, new clients get leases again, and a kill -9 loses nothing
# that was acknowledged.
source "$(dirname "$0")/lib.sh"
command -v mount >/dev/null || skip "missing tool: mount"

setup_world
mkdir -p "$STATE"
mount -t tmpfs -o size=3m,mode=0700 paddock-test "$STATE" || skip "cannot mount a tmpfs"
trap 'umount -l "$STATE" 2>/dev/null; cleanup' EXIT
# Its 40-odd scripted clients share one bridge port: no per-port lease cap here (hostile.sh tests it).
write_config '"dhcp_max_leases_per_port": 0'
start_daemon
add_client "$CLIENT_NS" 52:54:00:bb:00:01
stop_daemon
HOST_NS=$HOST_NS WORK=$WORK PADDOCKD=$PADDOCKD ip netns exec "$CLIENT_NS" /usr/bin/python3 "$(dirname "$0")/store_failure.py"
