#!/bin/bash
# Integration: DHCP protocol scenarios (all four REQUEST states, release, decline, inform, relay,
# races, malformed packets, restarts, kill -9 after ACK, pool exhaustion) with a scripted client.
source "$(dirname "$0")/lib.sh"

setup_world
# A small pool (10 addresses) so that exhaustion is quick to reach.
write_config '"dhcp_pool": {"start": "192.168.26.10", "end": "192.168.26.19"}'
# The daemon must exist once so that the client can be plugged into its bridge.
start_daemon
add_client "$CLIENT_NS" 52:54:00:aa:00:01
stop_daemon
HOST_NS=$HOST_NS WORK=$WORK PADDOCKD=$PADDOCKD ip netns exec "$CLIENT_NS" /usr/bin/python3 "$(dirname "$0")/dhcp_protocol.py"
