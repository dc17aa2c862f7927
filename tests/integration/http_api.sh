#!/bin/bash
# Integration: the HTTP server's error model, auth, static files, size limits and timeouts
# (a slowloris or idle client is dropped, and never blocks other clients).
source "$(dirname "$0")/lib.sh"

setup_world
write_config
start_daemon
TOKEN=$(cat "$STATE/api-token")
[ "$(stat -c %a "$STATE/api-token")" = 600 ] || fail "api-token is not mode 0600"
[ ${#TOKEN} -ge 32 ] || fail "token too short"
grep -q "#token=$TOKEN" "$WORK/daemon.log" || fail "start-up log does not print the dashboard URL with the token"
pass "token generated (0600) and dashboard URL logged"

h=$(api /api/v1/health)
[ "$(echo "$h" | jget status)" = ok ] || fail "health: $h"
[ "$(echo "$h" | jget accel)" = tcg ] || [ "$(echo "$h" | jget accel)" = kvm ] || fail "health accel: $h"
echo "$h" | jget version | grep -Eq '^[0-9]+\.' || fail "health version: $h"
pass "health: $h"

h=$(api /api/v1/host)
[ "$(echo "$h" | jget cpus)" = "$(nproc)" ] || fail "host cpus: $h (nproc $(nproc))"
total=$(echo "$h" | jget memory_total_mib)
[ "$total" = "$(awk '/^MemTotal:/ { print int($2 / 1024) }' /proc/meminfo)" ] || fail "host memory: $h"
[ "$(echo "$h" | jget memory_promised_mib)" = 0 ] && [ "$(echo "$h" | jget state_dir_free_mib)" -gt 0 ] || fail "host: $h"
mkdir -p "$STATE/images"; : > "$STATE/images/nothing"
r=$(api /api/v1/vms -X POST -d "{\"name\":\"big\",\"kernel\":\"nothing\",\"memory_mib\":$(( total + 1024 ))}")
echo "$r" | jget warnings.0 | matches "overcommitted" || fail "no overcommit warning: $r"
r=$(api /api/v1/vms -X POST -d '{"name":"small","kernel":"nothing","memory_mib":256}')
echo "$r" | matches '"warnings"' && fail "a warning for a small VM: $r"
pass "host: $h; a VM of the host's memory + 1 GiB is created with an overcommit warning, a 256 MiB one with none"

code=$(inh curl -s -o "$WORK/body" -w '%{http_code}' http://127.0.0.1:8080/api/v1/health)
[ "$code" = 401 ] || fail "no token: $code"
[ "$(jget error.code < "$WORK/body")" = unauthorized ] || fail "401 body: $(cat "$WORK/body")"
code=$(inh curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer wrong' http://127.0.0.1:8080/api/v1/health)
[ "$code" = 401 ] || fail "wrong token: $code"
pass "missing or wrong token: 401 with a JSON error"

[ "$(api_status /api/v1/nope)" = 404 ] || fail "unknown route not 404"
[ "$(api /api/v1/nope | jget error.code)" = not_found ] || fail "404 body"
[ "$(api_status /api/v1/health -X POST)" = 405 ] || fail "wrong method not 405"
api /api/v1/health -X DELETE -i | matches -i '^Allow: GET' || fail "405 without Allow"
pass "404 and 405 (with Allow) carry JSON errors"

code=$(inh curl -s -o "$WORK/body" -w '%{http_code}' http://127.0.0.1:8080/)
[ "$code" = 200 ] && grep -q '<title>Paddock</title>' "$WORK/body" || fail "dashboard not served: $code"
# Static files: content type, strict CSP, ETag revalidation (304, no body), gzip when accepted.
hdr=$(inh curl -s -D - -o /dev/null http://127.0.0.1:8080/app.js)
echo "$hdr" | matches -i '^Content-Type: text/javascript' || fail "app.js content type: $hdr"
echo "$hdr" | matches -i "^Content-Security-Policy: default-src 'none'; script-src 'self'" || fail "no strict CSP: $hdr"
echo "$hdr" | matches -i '^Cache-Control: no-cache' || fail "no Cache-Control: $hdr"
etag=$(echo "$hdr" | sed -n 's/^[Ee][Tt]ag: \(.*\)\r$/\1/p')
[ -n "$etag" ] || fail "no ETag: $hdr"
rm -f "$WORK/body"
code=$(inh curl -s -o "$WORK/body" -w '%{http_code}' -H "If-None-Match: $etag" http://127.0.0.1:8080/app.js)
[ "$code" = 304 ] && [ ! -s "$WORK/body" ] || fail "If-None-Match: $code"
plain=$(inh curl -s http://127.0.0.1:8080/app.js | wc -c)
gz=$(inh curl -s -H 'Accept-Encoding: gzip' -D "$WORK/gzh" http://127.0.0.1:8080/app.js | wc -c)
grep -qi '^Content-Encoding: gzip' "$WORK/gzh" && [ "$gz" -lt "$plain" ] || fail "no gzip: $(cat "$WORK/gzh")"
[ "$(inh curl -s --compressed http://127.0.0.1:8080/app.js | wc -c)" = "$plain" ] || fail "gzip body does not inflate to the file"
pass "static files: content type, CSP, ETag -> 304, gzip ($plain -> $gz bytes)"
[ "$(inh curl -s -o /dev/null -w '%{http_code}' --path-as-is http://127.0.0.1:8080/../meson.build)" = 404 ] || fail "path traversal"
pass "dashboard served from www/, no path traversal"

head -c 2000000 /dev/zero > "$WORK/big"
code=$(api_status /api/v1/health -X POST --data-binary "@$WORK/big" -H 'Content-Type: application/json')
[ "$code" = 413 ] || fail "2 MB body: $code, want 413"
pass "a 2 MB body gets 413"

# Malformed request line: 400 with a JSON error, daemon fine afterwards.
resp=$(inh /usr/bin/python3 - <<'PY'
import socket
s = socket.create_connection(("127.0.0.1", 8080), timeout=5)
s.sendall(b"GARBAGE\x01 / HTTP/9.9\r\n\r\n")
print(s.recv(4096).decode(errors="replace").split("\r\n")[0])
PY
)
echo "$resp" | matches " 400 " || fail "malformed request: $resp"
pass "malformed request line gets 400"

# Slowloris: a client that trickles a header is dropped after the 10 s read timeout, while a
# normal client is served at once during it.
inh /usr/bin/python3 - > "$WORK/slow.txt" <<'PY' &
import socket, time
s = socket.create_connection(("127.0.0.1", 8080), timeout=30)
t0 = time.monotonic()
s.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n")
try:
    while time.monotonic() - t0 < 25:
        s.sendall(b"X-Slow: 1\r\n")
        time.sleep(1)
    print("SLOWLORIS NOT DROPPED")
except OSError:
    print("dropped after %.1f s" % (time.monotonic() - t0))
PY
slow=$!
sleep 1
t0=$(date +%s%N)
api /api/v1/health >/dev/null || fail "health blocked by a slow client"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$ms" -lt 2000 ] || fail "health took $ms ms while a slow client was connected"
pass "served in ${ms} ms while a slow client trickles"
wait "$slow" || true
grep -q "^dropped after" "$WORK/slow.txt" || fail "slowloris: $(cat "$WORK/slow.txt")"
pass "slowloris client $(cat "$WORK/slow.txt")"
