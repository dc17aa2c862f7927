#!/bin/bash
# Sanitizer tier: builds paddockd with AddressSanitizer + UBSan (build/asan) and runs the
# broadest integration tests against it, so a memory error anywhere in the daemon (codec, QMP,
# coroutine lifetimes, store) fails the suite instead of corrupting a heap silently.
# Exit 77 without root (the integration tests need it).
set -euo pipefail
SRC=${PADDOCK_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
OUT=${ASAN_BUILD:-$SRC/build/asan}
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (integration tests)"; exit 77; }
if [ ! -f "$OUT/build.ninja" ]; then
  meson setup "$OUT" "$SRC" --wrap-mode=nodownload --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false > "$OUT.setup.log" 2>&1 \
    || { cat "$OUT.setup.log"; exit 1; }
fi
ninja -C "$OUT" src/paddockd > "$OUT.build.log" 2>&1 || { tail -30 "$OUT.build.log"; exit 1; }
# Leaks in libnl/libnftables' process-lifetime caches are not ours to chase; memory errors are.
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:halt_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export PADDOCKD=$OUT/src/paddockd PADDOCK_SRC=$SRC
rc=0
for t in dhcp_protocol dhcp_clients fabric_repair http_api vm_lifecycle vm_races store_failure images dns anti_spoof shutdown image_races hostile; do
  echo "# $t under ASan/UBSan"
  if ! bash "$SRC/tests/integration/$t.sh"; then
    echo "FAIL: $t under ASan/UBSan"; rc=1
  fi
done
exit $rc
