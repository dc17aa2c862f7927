#!/bin/bash
# Builds the libFuzzer target with clang (ASan + UBSan) and runs it for FUZZ_SECONDS (default 60)
# on a seed corpus made from the recorded client captures. Fails on any crash, leak or trap.
# Exit 77 (SKIP) when clang's libFuzzer runtime is missing.
set -euo pipefail
SRC=${PADDOCK_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
OUT=${FUZZ_BUILD:-$SRC/build/fuzz}
SECONDS_TO_RUN=${FUZZ_SECONDS:-60}
command -v clang++ >/dev/null || { echo "SKIP: clang++ missing (apt-get install clang libclang-rt-14-dev)"; exit 77; }
mkdir -p "$OUT/corpus"
if ! clang++ -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
     -I"$SRC/src" "$SRC/tests/fuzz/fuzz_dhcp.cpp" "$SRC/src/dhcp/message.cpp" "$SRC/src/dhcp/engine.cpp" \
     "$SRC/src/base/ipv4.cpp" "$SRC/src/base/error.cpp" "$SRC/src/base/mac.cpp" -o "$OUT/fuzz_dhcp" 2> "$OUT/build.log"; then
  if grep -q "libclang_rt.fuzzer\|cannot find" "$OUT/build.log"; then
    echo "SKIP: libFuzzer runtime missing (apt-get install libclang-rt-14-dev)"; cat "$OUT/build.log"; exit 77
  fi
  cat "$OUT/build.log"; exit 1
fi
# Seeds: the real captures, as binary files.
for f in "$SRC"/tests/fixtures/dhcp/*.hex; do
  grep -v '^#' "$f" | tr -d '\n' | xxd -r -p > "$OUT/corpus/$(basename "$f" .hex)" 2>/dev/null \
    || /usr/bin/python3 -c 'import sys; sys.stdout.buffer.write(bytes.fromhex("".join(l.strip() for l in open(sys.argv[1]) if not l.startswith("#"))))' "$f" > "$OUT/corpus/$(basename "$f" .hex)"
done
cd "$OUT"
"$OUT/fuzz_dhcp" -max_total_time="$SECONDS_TO_RUN" -max_len=1500 -print_final_stats=1 corpus 2>&1 | tail -15
echo "ok - fuzz_dhcp ran ${SECONDS_TO_RUN} s without a crash"
