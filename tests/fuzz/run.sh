#!/bin/bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs them: the DHCP codec and engine for
# FUZZ_SECONDS (default 60) on a seed corpus made from the recorded client captures, the DNS codec,
# cache and resolver for FUZZ_DNS_SECONDS (default 30) on a few hand-made queries, and the cloud-init
# seed server's HTTP handling for FUZZ_SEED_SECONDS (default 20) on cloud-init's requests. Fails on any
# crash, leak or trap.
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
if ! clang++ -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
     -I"$SRC/src" "$SRC/tests/fuzz/fuzz_dns.cpp" "$SRC/src/dns/message.cpp" "$SRC/src/dns/cache.cpp" \
     "$SRC/src/dns/resolver.cpp" "$SRC/src/base/ipv4.cpp" "$SRC/src/base/ipv6.cpp" "$SRC/src/base/mac.cpp" \
     "$SRC/src/base/error.cpp" -o "$OUT/fuzz_dns" 2> "$OUT/build-dns.log"; then
  cat "$OUT/build-dns.log"; exit 1
fi
if ! clang++ -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
     -I"$SRC/src" "$SRC/tests/fuzz/fuzz_seed.cpp" "$SRC/src/vm/nocloud.cpp" "$SRC/src/vm/spec.cpp" "$SRC/src/vm/forwards.cpp" \
     "$SRC/src/base/ipv4.cpp" "$SRC/src/base/error.cpp" "$SRC/src/base/mac.cpp" -o "$OUT/fuzz_seed" 2> "$OUT/build-seed.log"; then
  cat "$OUT/build-seed.log"; exit 1
fi
# Seeds: the real captures, as binary files.
for f in "$SRC"/tests/fixtures/dhcp/*.hex; do
  grep -v '^#' "$f" | tr -d '\n' | xxd -r -p > "$OUT/corpus/$(basename "$f" .hex)" 2>/dev/null \
    || /usr/bin/python3 -c 'import sys; sys.stdout.buffer.write(bytes.fromhex("".join(l.strip() for l in open(sys.argv[1]) if not l.startswith("#"))))' "$f" > "$OUT/corpus/$(basename "$f" .hex)"
done
cd "$OUT"
"$OUT/fuzz_dhcp" -max_total_time="$SECONDS_TO_RUN" -max_len=1500 -print_final_stats=1 corpus 2>&1 | tail -15
echo "ok - fuzz_dhcp ran ${SECONDS_TO_RUN} s without a crash"
# DNS seeds: queries for a VM name, a reverse name and an outside name with EDNS, and a reply.
mkdir -p "$OUT/corpus-dns"
/usr/bin/python3 - "$OUT/corpus-dns" <<'PY'
import struct, sys
def q(name, qtype, edns=False, flags=0x0100):
    b = struct.pack("!HHHHHH", 0x1234, flags, 1, 0, 0, 1 if edns else 0)
    for label in name.split(".") if name else []:
        b += bytes([len(label)]) + label.encode()
    b += b"\0" + struct.pack("!HH", qtype, 1)
    if edns:
        b += b"\0" + struct.pack("!HHIH", 41, 4096, 0, 0)
    return b
seeds = {"vm": q("web.paddock.internal", 1), "ptr": q("11.26.168.192.in-addr.arpa", 12),
         "outside": q("example.org", 1, True), "aaaa": q("Web", 28)}
seeds["answer"] = q("example.org", 1)[:-0] + struct.pack("!HHHIH", 0xC00C, 1, 1, 300, 4) + bytes([10, 0, 0, 1])
for k, v in seeds.items():
    open(f"{sys.argv[1]}/{k}", "wb").write(v)
PY
DNS_SECONDS=${FUZZ_DNS_SECONDS:-30}
"$OUT/fuzz_dns" -max_total_time="$DNS_SECONDS" -max_len=1024 -print_final_stats=1 corpus-dns 2>&1 | tail -15
echo "ok - fuzz_dns ran ${DNS_SECONDS} s without a crash"
# Seed server seeds: the requests a guest's cloud-init makes, from each kind of peer (first byte).
mkdir -p "$OUT/corpus-seed"
for peer in 0 1 2 3; do
  for f in meta-data user-data vendor-data; do
    printf "\\x0${peer}GET /vm/web/$f HTTP/1.1\r\nHost: 192.168.26.2\r\nUser-Agent: Cloud-Init/22.4.2\r\n\r\n" > "$OUT/corpus-seed/$peer-$f"
  done
done
printf '\x00HEAD /vm/web/ HTTP/1.0\r\n\r\n' > "$OUT/corpus-seed/head"
SEED_SECONDS=${FUZZ_SEED_SECONDS:-20}
"$OUT/fuzz_seed" -max_total_time="$SEED_SECONDS" -max_len=9000 -print_final_stats=1 corpus-seed 2>&1 | tail -15
echo "ok - fuzz_seed ran ${SEED_SECONDS} s without a crash"
