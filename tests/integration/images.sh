#!/bin/bash
# Integration: the image store. Files already in state_dir/images are adopted at start (inspected,
# hashed, recorded); uploads stream to disk and appear only when complete and valid (qcow2 without
# a backing file, or a raw disk, kernel or initrd); a client gone mid-upload leaves nothing; a
# non-image body and a qcow2 with a backing file are refused; names that try to leave the store are
# 400; an image in use cannot be deleted (409); records survive a restart; events announce it all.
source "$(dirname "$0")/lib.sh"
command -v qemu-img >/dev/null || skip "missing tool: qemu-img"

setup_vm_world    # builds test-kernel and test-initrd into $STATE/images before the daemon starts
start_daemon
TOKEN=$(cat "$STATE/api-token")
inh /usr/bin/python3 "$SRC/tests/integration/events_watch.py" "$TOKEN" > "$WORK/events.log" 2>&1 &
EXTRA_PIDS+=($!)
wait_for 5 grep -q connected "$WORK/events.log" >/dev/null || fail "event stream: $(cat "$WORK/events.log")"
img() { api "/api/v1/images/$1"; }
upload() { inh curl -sS --max-time 60 -o "$WORK/up.json" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" -T "$2" "http://127.0.0.1:8080/api/v1/images/$1"; }

# Adopted at start, with their kind and sha256.
adopted() { [ "$(img test-kernel | jget kind)" = kernel ] && [ "$(img test-initrd | jget kind)" = initrd ]; }
wait_for 20 adopted >/dev/null || fail "boot files not adopted: $(api /api/v1/images)"
[ "$(img test-kernel | jget sha256)" = "$(sha256sum "$STATE/images/test-kernel" | cut -d' ' -f1)" ] || fail "sha256 of test-kernel"
pass "files already in images/ adopted at start: $(api /api/v1/images | jget images.0.name), $(api /api/v1/images | jget images.1.name)"

# A qcow2 disk, streamed.
qemu-img create -q -f qcow2 "$WORK/disk.qcow2" 2G
code=$(upload disk1 "$WORK/disk.qcow2")
[ "$code" = 201 ] || fail "qcow2 upload: $code $(cat "$WORK/up.json")"
[ "$(jget format < "$WORK/up.json")" = qcow2 ] && [ "$(jget virtual_size < "$WORK/up.json")" = 2147483648 ] || fail "qcow2 record: $(cat "$WORK/up.json")"
[ "$(jget sha256 < "$WORK/up.json")" = "$(sha256sum "$WORK/disk.qcow2" | cut -d' ' -f1)" ] || fail "qcow2 sha256"
cmp -s "$WORK/disk.qcow2" "$STATE/images/disk1" || fail "stored bytes differ"
wait_for 5 grep -q "image.added - .*\"name\":\"disk1\"" "$WORK/events.log" >/dev/null || fail "no image.added: $(cat "$WORK/events.log")"
pass "qcow2 upload: 201, format, virtual size, sha256, the same bytes on disk, image.added"

# A 64 MiB raw disk, streamed (more than one chunk), and listed.
head -c $((64 << 20)) /dev/urandom > "$WORK/raw.img"
code=$(upload raw1 "$WORK/raw.img"); [ "$code" = 201 ] || fail "raw upload: $code $(cat "$WORK/up.json")"
[ "$(jget kind < "$WORK/up.json")" = disk ] && [ "$(jget sha256 < "$WORK/up.json")" = "$(sha256sum "$WORK/raw.img" | cut -d' ' -f1)" ] || fail "raw record"
cmp -s "$WORK/raw.img" "$STATE/images/raw1" || fail "raw1: stored bytes differ"
# The same bytes sent chunked (no Content-Length: curl reading stdin) take the parser's path.
code=$(inh curl -sS --max-time 60 -o "$WORK/up.json" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" -T - \
  "http://127.0.0.1:8080/api/v1/images/raw2" < "$WORK/raw.img")
[ "$code" = 201 ] || fail "chunked upload: $code $(cat "$WORK/up.json")"
cmp -s "$WORK/raw.img" "$STATE/images/raw2" || fail "raw2 (chunked): stored bytes differ"
[ "$(api_status /api/v1/images/raw2 -X DELETE)" = 204 ] || fail "delete raw2"
pass "64 MiB raw upload streamed and hashed, with a Content-Length and chunked, the same bytes on disk"

# Refusals: a text body, a qcow2 with a backing file, another format, a taken name, bad names.
echo "hello, I am not a disk" > "$WORK/text"
code=$(upload notes "$WORK/text"); [ "$code" = 400 ] && [ "$(jget error.code < "$WORK/up.json")" = invalid_image ] || fail "text body: $code $(cat "$WORK/up.json")"
qemu-img create -q -f qcow2 -F qcow2 -b "$WORK/disk.qcow2" "$WORK/child.qcow2"
code=$(upload child "$WORK/child.qcow2"); [ "$code" = 400 ] && jget error.message < "$WORK/up.json" | matches backing || fail "backing file: $code $(cat "$WORK/up.json")"
qemu-img create -q -f vdi "$WORK/disk.vdi" 64M
code=$(upload vdi1 "$WORK/disk.vdi"); [ "$code" = 400 ] || fail "vdi accepted: $code"
code=$(upload disk1 "$WORK/disk.qcow2"); [ "$code" = 409 ] || fail "taken name: $code"
for bad in '..' '.hidden' '-x' 'a%2fb' 'a..b'; do
  code=$(upload "$bad" "$WORK/disk.qcow2"); [ "$code" = 400 ] || [ "$code" = 404 ] || fail "name $bad: $code $(cat "$WORK/up.json")"
done
code=$(inh curl -s -o /dev/null -w '%{http_code}' -T "$WORK/disk.qcow2" http://127.0.0.1:8080/api/v1/images/noauth)
[ "$code" = 401 ] || fail "upload without the token: $code"
ls -A "$STATE/images" | grep -E '^(notes|child|vdi1|noauth)$|^\.upload-' && fail "a refused upload left a file: $(ls -A "$STATE/images")"
pass "refused, and nothing left: text body (400 invalid_image), qcow2 with a backing file, vdi, taken name (409), bad names, no token (401)"

# A client that goes away mid-upload leaves nothing.
head -c $((256 << 20)) /dev/zero > "$WORK/big.img"
inh curl -s -o /dev/null --limit-rate 2M -H "Authorization: Bearer $TOKEN" -T "$WORK/big.img" http://127.0.0.1:8080/api/v1/images/partial &
CURL=$!
wait_for 10 sh -c "ls -A '$STATE/images' | grep -q '^\.upload-partial'" >/dev/null || fail "upload did not start"
sleep 1; pkill -9 -f "api/v1/images/partial" || true; wait "$CURL" 2>/dev/null || true
gone() { ! ls -A "$STATE/images" | matches partial; }
wait_for 15 gone >/dev/null || fail "partial upload left: $(ls -A "$STATE/images")"
[ "$(api_status /api/v1/images/partial)" = 404 ] || fail "partial upload listed"
pass "a client killed mid-upload: no file, no record"

# Delete: 409 while a VM uses it, 204 after; records survive a restart.
[ "$(api_status /api/v1/vms -X POST -d '{"name":"d1","image":"disk1"}')" = 201 ] || fail "create d1"
code=$(api_status /api/v1/images/disk1 -X DELETE); [ "$code" = 409 ] || fail "delete in use: $code"
api /api/v1/images/disk1 -X DELETE | jget error.message | matches "d1" || fail "409 does not name the VM"
[ "$(api_status /api/v1/vms/d1 -X DELETE)" = 204 ] || fail "delete d1"
[ "$(api_status /api/v1/images/disk1 -X DELETE)" = 204 ] || fail "delete disk1"
[ ! -e "$STATE/images/disk1" ] || fail "disk1 file left"
wait_for 5 grep -q "image.removed - .*\"name\":\"disk1\"" "$WORK/events.log" >/dev/null || fail "no image.removed"
stop_daemon
start_daemon
[ "$(img raw1 | jget sha256)" = "$(sha256sum "$WORK/raw.img" | cut -d' ' -f1)" ] || fail "raw1 lost across a restart: $(api /api/v1/images)"
[ "$(api_status /api/v1/images/disk1)" = 404 ] || fail "disk1 back after a restart"
pass "delete: 409 naming the VM while in use, 204 after, image.removed; records survive a restart"
