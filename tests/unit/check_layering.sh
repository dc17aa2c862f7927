#!/bin/bash
# Unit: the module layering (STYLE §4). Two checks:
#  1. Direction: base ← dhcp, dns, qmp, net, store, conf ← vm ← api ← cli ← app (conf reads net's
#     network_config). Leaf domains never include each
#     other; vm reaches the network only through vm/host.hpp (no net/ or dhcp/ includes); api
#     never includes qmp/, net/, dhcp/ or store/. Each offending include is named.
#  2. Purity: the CORE files reach for no Asio I/O, sockets, netlink, nftables, SQLite or clock.
#     (api.cpp may name asio::awaitable: its handler is a coroutine, but it does no I/O itself.)
set -euo pipefail
SRC=${PADDOCK_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/src
declare -A allowed=(
  [base]="base"
  [dhcp]="base dhcp"
  [dns]="base dns"
  [qmp]="base qmp"
  [net]="base net"
  [store]="base store"
  [conf]="base net conf"
  [vm]="base qmp store vm"
  [api]="base vm api"
  [app]="base conf dhcp dns qmp net store vm api cli app"
  [cli]="base conf api cli"
)
bad=0
for mod in "${!allowed[@]}"; do
  [ -d "$SRC/$mod" ] || { echo "missing module folder $SRC/$mod"; bad=1; continue; }
  while IFS= read -r hit; do
    [ -n "$hit" ] || continue
    dep=$(sed -E 's/.*#include "([a-z_]+)\/.*/\1/' <<<"$hit")
    case " ${allowed[$mod]} " in
      *" $dep "*) ;;
      *) echo "LAYERING: $mod may not include $dep/: ${hit#$SRC/}"; bad=1 ;;
    esac
  done < <(grep -HnE '^#include "[a-z_]+/' "$SRC/$mod"/*.hpp "$SRC/$mod"/*.cpp || true)
done

cores=(base/ipv4 base/ipv6 dhcp/ipv6_config vm/forwards net/listeners base/mac base/error net/nft_ruleset conf/config dhcp/message dhcp/engine dhcp/frame dhcp/admission dns/message dns/cache dns/resolver vm/spec vm/lifecycle
       vm/qemu_argv qmp/protocol base/event_bus api/api api/event_stream cli/commands)
for c in "${cores[@]}"; do
  for f in "$SRC/$c.hpp" "$SRC/$c.cpp"; do
    [ -f "$f" ] || { echo "missing core file $f"; bad=1; continue; }
    hits=$(grep -nE '#include <(boost/asio/(ip|local|posix|steady_timer|io_context|co_spawn)|sys/socket\.h|netlink/|nftables/|sqlite3\.h|thread>)|steady_clock::now|system_clock::now|::time\(' "$f" || true)
    if [ -n "$hits" ]; then
      echo "CORE file $f reaches for I/O or a clock:"; echo "$hits"; bad=1
    fi
  done
done
[ $bad = 0 ] && echo "ok - modules include only what lies below them; ${#cores[@]} core modules include no sockets, netlink, nftables, SQLite or clocks"
exit $bad
