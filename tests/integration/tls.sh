#!/bin/bash
# Integration: the API over TLS. "self-signed": the key and certificate made in state_dir/tls on
# first start (key 0600), the fingerprint logged matches the file's, the certificate names the
# listen address (curl verifies it with --cacert, no -k); listening beyond loopback needs no
# allow_insecure_listen. HTTPS requests, an image upload streamed over TLS, the dashboard, and the
# event stream over WSS. Plain HTTP to the TLS port is refused without harm. SIGHUP: a deleted
# self-signed pair is made anew; new connections get the new certificate while a connection opened
# before keeps working on the same socket. Given files ("tls": {"cert","key"}): a broken key on
# SIGHUP keeps the old pair (logged), a missing file at start is a clear error.
source "$(dirname "$0")/lib.sh"
command -v openssl >/dev/null || skip "missing tool: openssl"

setup_world
mkdir -p "$STATE/images"; : > "$STATE/images/nothing"
write_config "" '"tls": "self-signed"'
sed -i 's/"listen": "127.0.0.1:8080"/"listen": "203.0.113.1:8443"/' "$WORK/config.json"
API_URL=https://203.0.113.1:8443
API_CURL=(--cacert "$STATE/tls/cert.pem")
start_daemon
CHECK="/usr/bin/python3 $SRC/tests/integration/tls_check.py"
TOKEN=$(cat "$STATE/api-token")

[ "$(stat -c %a "$STATE/tls/key.pem")" = 600 ] || fail "key mode $(stat -c %a "$STATE/tls/key.pem")"
fp_file=$(openssl x509 -in "$STATE/tls/cert.pem" -noout -fingerprint -sha256 | cut -d= -f2)
grep -q "SHA-256 fingerprint $fp_file" "$WORK/daemon.log" || fail "logged fingerprint differs from the file's ($fp_file): $(grep -i fingerprint "$WORK/daemon.log")"
grep -q "dashboard: https://203.0.113.1:8443/#token=" "$WORK/daemon.log" || fail "dashboard URL not https: $(grep dashboard "$WORK/daemon.log")"
openssl x509 -in "$STATE/tls/cert.pem" -noout -ext subjectAltName | matches "IP Address:203.0.113.1" \
  || fail "certificate does not name the listen address: $(openssl x509 -in "$STATE/tls/cert.pem" -noout -ext subjectAltName)"
grep -q "allow_insecure_listen" "$WORK/daemon.log" && fail "warned about plain HTTP while serving TLS"
pass "self-signed: key 0600, fingerprint $fp_file logged, SAN names 203.0.113.1, dashboard URL https, no insecure warning"

[ "$(api_status /api/v1/health)" = 200 ] || fail "HTTPS health"
proto=$(inh curl -sS -o /dev/null -w '%{http_version} %{ssl_verify_result}' --cacert "$STATE/tls/cert.pem" "$API_URL/")
[ "$proto" = "1.1 0" ] || fail "dashboard over HTTPS: $proto"
page=$(inh curl -sS --cacert "$STATE/tls/cert.pem" --compressed "$API_URL/")
grep -q '<title>' <<<"$page" || fail "dashboard page: $(head -c 200 <<<"$page")"
# A reply larger than one TLS record, uncompressed (the body after the head was once never sent).
n=$(api /api/v1/openapi.json | /usr/bin/python3 -c 'import json,sys; d=sys.stdin.read(); json.loads(d); print(len(d))') \
  || fail "openapi.json over TLS"
[ "$n" -gt 20000 ] || fail "openapi.json over TLS: only $n bytes"
head -c 3145728 /dev/urandom > "$WORK/blob"
r=$(api /api/v1/images/blob.raw -X PUT --data-binary @"$WORK/blob")
[ "$(echo "$r" | jget sha256)" = "$(sha256sum "$WORK/blob" | cut -d' ' -f1)" ] || fail "upload over TLS: $r"
out=$(inh $CHECK wss 203.0.113.1 8443 "$STATE/tls/cert.pem" "$TOKEN" 2>&1) || fail "WSS: $out"
pass "HTTPS: health, dashboard (verified, HTTP/1.1), openapi.json whole ($n bytes), 3 MiB image upload (sha256 equal), $out"

out=$(inh curl -s --max-time 5 -o /dev/null -w '%{http_code}' http://203.0.113.1:8443/api/v1/health || true)
[ "$out" = 000 ] || fail "plain HTTP to the TLS port answered $out"
out=$(inh curl -s --max-time 5 -k --tlsv1.1 --tls-max 1.1 -o /dev/null -w '%{http_code}' "$API_URL/api/v1/health" || true)
[ "$out" = 000 ] || fail "TLS 1.1 accepted ($out)"
[ "$(api_status /api/v1/health)" = 200 ] || fail "unhealthy after plain HTTP and TLS 1.1"
pass "plain HTTP and TLS 1.1 to the TLS port get no answer; the daemon serves on"

# The paddock command over TLS: a local daemon's certificate is pinned from its file (--config);
# --fingerprint pins one given by hand; a wrong one, or none for a self-signed daemon, is refused.
PADDOCK=$(dirname "$PADDOCKD")/paddock
out=$(inh "$PADDOCK" --config "$WORK/config.json" vm ls -q) || fail "paddock with --config over TLS: $out"
[ "$out" = tlsvm ] || fail "paddock vm ls over TLS: $out"
out=$(PADDOCK_TOKEN=$TOKEN inh "$PADDOCK" --url https://203.0.113.1:8443 --fingerprint "$(echo "$fp_file" | tr -d : | tr A-F a-f)" health) \
  || fail "--fingerprint: $out"
rc=0; out=$(PADDOCK_TOKEN=$TOKEN inh "$PADDOCK" --url https://203.0.113.1:8443 --fingerprint "$(printf '%064d' 0)" health 2>&1) || rc=$?
[ "$rc" = 3 ] && echo "$out" | matches "has SHA-256 fingerprint $fp_file, not the 00:00" || fail "wrong fingerprint: rc $rc: $out"
rc=0; out=$(PADDOCK_TOKEN=$TOKEN inh "$PADDOCK" --url https://203.0.113.1:8443 health 2>&1) || rc=$?
[ "$rc" = 3 ] && echo "$out" | matches "pass --fingerprint" || fail "self-signed without a pin: rc $rc: $out"
out=$(PADDOCK_TOKEN=$TOKEN inh "$PADDOCK" --url https://203.0.113.1:8443 --cacert "$STATE/tls/cert.pem" health) || fail "--cacert: $out"
pass "paddock over TLS: pinned from the config, --fingerprint (any case, no colons), --cacert; a wrong pin and no pin exit 3 with the reason"

# SIGHUP: a new self-signed pair for new connections; the held connection goes on.
inh $CHECK hold 203.0.113.1 8443 "$STATE/tls/cert.pem" "$TOKEN" "$WORK/held" > "$WORK/held.log" 2>&1 &
EXTRA_PIDS+=($!)
HOLD=$!
wait_for 10 test -e "$WORK/held.ready" >/dev/null || fail "held connection: $(cat "$WORK/held.log")"
cp "$STATE/tls/cert.pem" "$WORK/old.pem"
rm "$STATE/tls/cert.pem" "$STATE/tls/key.pem"
kill -HUP "$DAEMON_PID"
wait_for 5 grep -q "SIGHUP: TLS certificate reloaded" "$WORK/daemon.log" >/dev/null || fail "no reload logged"
fp_new=$(openssl x509 -in "$STATE/tls/cert.pem" -noout -fingerprint -sha256 | cut -d= -f2)
[ "$fp_new" != "$fp_file" ] || fail "the same certificate after deleting it"
served=$(inh $CHECK fingerprint 203.0.113.1 8443)
[ "$served" = "$fp_new" ] || fail "a new connection got $served, expected the new $fp_new"
touch "$WORK/held.go"
wait "$HOLD" || fail "held connection: $(cat "$WORK/held.log")"
read -r s1 s2 same old_digest < "$WORK/held"
[ "$s1 $s2 $same" = "200 200 same-socket" ] || fail "held connection across the reload: $(cat "$WORK/held")"
[ "$old_digest" = "$(openssl x509 -in "$WORK/old.pem" -outform der | sha256sum | cut -d' ' -f1)" ] || fail "held connection's certificate"
kill -0 "$DAEMON_PID" || fail "SIGHUP ended the daemon"
pass "SIGHUP: new pair made ($fp_new) and served to new connections; a connection opened before answered again on the same socket"
stop_daemon

# Given files: made by openssl, a reload with a broken key keeps the old pair.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=paddock-test -addext "subjectAltName=IP:203.0.113.1" \
  -keyout "$WORK/k.pem" -out "$WORK/c.pem" 2>/dev/null
write_config "" "\"tls\": {\"cert\": \"$WORK/c.pem\", \"key\": \"$WORK/k.pem\"}"
sed -i 's/"listen": "127.0.0.1:8080"/"listen": "203.0.113.1:8443"/' "$WORK/config.json"
API_CURL=(--cacert "$WORK/c.pem")
start_daemon
fp_given=$(openssl x509 -in "$WORK/c.pem" -noout -fingerprint -sha256 | cut -d= -f2)
[ "$(inh $CHECK fingerprint 203.0.113.1 8443)" = "$fp_given" ] || fail "given certificate not served"
cp "$WORK/k.pem" "$WORK/k.good"
echo "not a key" > "$WORK/k.pem"
kill -HUP "$DAEMON_PID"
wait_for 5 grep -q "TLS reload failed, still serving the previous certificate: tls.key $WORK/k.pem" "$WORK/daemon.log" >/dev/null \
  || fail "broken key not reported: $(grep SIGHUP "$WORK/daemon.log")"
[ "$(api_status /api/v1/health)" = 200 ] || fail "not serving after a failed reload"
[ "$(inh $CHECK fingerprint 203.0.113.1 8443)" = "$fp_given" ] || fail "certificate changed after a failed reload"
pass "given files served ($fp_given); a broken key on SIGHUP is reported and the old pair serves on"
stop_daemon
rm "$WORK/c.pem"
out=$(inh "$PADDOCKD" --config "$WORK/config.json" 2>&1) && fail "started without its certificate"
echo "$out" | matches "$WORK/c.pem: No such file or directory" || fail "missing certificate message: $out"
pass "a missing certificate at start: $(echo "$out" | grep -o 'ERROR.*' | head -1)"
