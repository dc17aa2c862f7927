#!/bin/bash
# Unit: the pure cores stay pure (STYLE §4): no Asio I/O, sockets, netlink, nftables, SQLite or
# clock reads in the CORE files. (api.cpp may name asio::awaitable: its handler is a coroutine, but
# it does no I/O itself.)
set -euo pipefail
SRC=${PADDOCK_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/src
cores=(base/ipv4 base/mac base/error net/nft_ruleset app/config dhcp/message dhcp/engine dhcp/frame vm/spec vm/lifecycle vm/qemu_argv
       qmp/protocol base/event_bus api/api)
bad=0
for c in "${cores[@]}"; do
  for f in "$SRC/$c.hpp" "$SRC/$c.cpp"; do
    [ -f "$f" ] || { echo "missing core file $f"; bad=1; continue; }
    hits=$(grep -nE '#include <(boost/asio/(ip|local|posix|steady_timer|io_context|co_spawn)|sys/socket\.h|netlink/|nftables/|sqlite3\.h|thread>)|steady_clock::now|system_clock::now|::time\(' "$f" || true)
    if [ -n "$hits" ]; then
      echo "CORE file $f reaches for I/O or a clock:"; echo "$hits"; bad=1
    fi
  done
done
[ $bad = 0 ] && echo "ok - ${#cores[@]} core modules include no sockets, netlink, nftables, SQLite or clocks"
exit $bad
