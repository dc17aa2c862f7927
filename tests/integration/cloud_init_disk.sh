#!/bin/bash
# Integration: cloud-init for a VM that boots from a disk image, as a cloud image would. The test
# builds the busybox guest as a bootable FAT disk (guest/mk-disk: SYSLINUX, kernel, initramfs),
# uploads it through the image store, and creates a VM from it (a qcow2 overlay) with user data and
# an SSH key. The firmware boots the disk; the guest reads the seed URL from its SMBIOS serial,
# fetches meta-data and user-data from the daemon and prints them on the serial console: host name,
# user-data marker and key must arrive. The same seed is on the VM's `cidata` seed disk (default
# cloud_init.seed "both"): the guest's kernel mounts it (vfat) and reads the same files, and its
# network-config names the VM's MAC. It also looks its own name up through the daemon's DNS.
source "$(dirname "$0")/lib.sh"
command -v qemu-system-x86_64 >/dev/null || skip "missing tool: qemu-system-x86_64"
for tool in syslinux mcopy mkfs.vfat cpio; do command -v "$tool" >/dev/null || skip "missing tool: $tool (syslinux mtools dosfstools cpio)"; done

setup_world
write_config
"$SRC/guest/mk-disk" "$WORK/guest.img" "quiet panic=-1 paddock.resolve=cidisk.paddock.internal" > "$WORK/mk-disk.log" 2>&1 \
  || fail "guest disk: $(cat "$WORK/mk-disk.log")"
start_daemon
TOKEN=$(cat "$STATE/api-token")
code=$(inh curl -sS --max-time 60 -o "$WORK/up.json" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
  -T "$WORK/guest.img" http://127.0.0.1:8080/api/v1/images/guest-disk)
[ "$code" = 201 ] || fail "upload of the guest disk: $code $(cat "$WORK/up.json")"
[ "$(jget kind < "$WORK/up.json")" = disk ] && [ "$(jget format < "$WORK/up.json")" = raw ] || fail "disk record: $(cat "$WORK/up.json")"
pass "bootable guest disk ($(jget size < "$WORK/up.json") bytes, FAT + SYSLINUX) uploaded as a raw disk image"

KEY="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDiskGuestKeyOnlyForTests disk@paddock"
code=$(api_status /api/v1/vms -X POST -d '{"name":"cidisk","image":"guest-disk","memory_mib":256,"start":true,
  "cloud_init":{"user_data":"#cloud-config\n# PADDOCK_MARK_disk42\n","ssh_authorized_keys":["'"$KEY"'"]}}')
[ "$code" = 201 ] || fail "create cidisk: $code"
IP=$(api /api/v1/vms/cidisk | jget ip)
[ -f "$STATE/vms/cidisk/disk.qcow2" ] || fail "no overlay for the VM"
qemu-img info -U "$STATE/vms/cidisk/disk.qcow2" | grep "backing file: .*images/guest-disk" >/dev/null || fail "the overlay does not sit on the image"
log() { api /api/v1/vms/cidisk/console/log; }
booted() { log | grep "SYSLINUX" >/dev/null; }
wait_for 60 booted >/dev/null || fail "the firmware did not boot the disk: $(log | tail -5)"
seeded() { log | grep "PADDOCK: NOCLOUD" >/dev/null; }
wait_for 120 seeded >/dev/null || fail "no NoCloud line: $(log | grep PADDOCK)"
log | grep "PADDOCK: NOCLOUD hostname=cidisk mark=PADDOCK_MARK_disk42 key=$KEY" >/dev/null \
  || fail "seed: $(log | grep NOCLOUD); daemon: $(grep metadata "$WORK/daemon.log" | tail -3)"
pass "the disk-booted guest got its host name, user-data marker and SSH key from its NoCloud seed"
MAC=$(api /api/v1/vms/cidisk | jget mac)
disk_seeded() { log | grep "PADDOCK: NOCLOUD_DISK" >/dev/null; }
wait_for 60 disk_seeded >/dev/null || fail "no NOCLOUD_DISK line: $(log | grep PADDOCK)"
log | grep "PADDOCK: NOCLOUD_DISK /dev/vdb hostname=cidisk mark=PADDOCK_MARK_disk42 key=$KEY mac=$MAC" >/dev/null \
  || fail "seed disk: $(log | grep NOCLOUD_DISK)"
[ -s "$STATE/vms/cidisk/seed.img" ] || fail "no seed disk in the VM folder"
pass "and the same from its cidata seed disk (/dev/vdb, after its system disk), network-config naming its MAC $MAC"
resolved() { log | grep "PADDOCK: RESOLVE cidisk.paddock.internal=$IP" >/dev/null; }
wait_for 20 resolved >/dev/null || fail "own name by DNS: $(log | grep RESOLVE)"
pass "and resolves its own name (cidisk.paddock.internal = $IP) through the daemon's DNS"
r=$(api /api/v1/vms/cidisk/stop -X POST -d '{"timeout_s":30}' --max-time 60)
[ "$(echo "$r" | jget state)" = stopped ] || fail "graceful stop: $r"
[ "$(api_status /api/v1/images/guest-disk -X DELETE)" = 409 ] || fail "the image in use could be deleted"
pass "graceful stop of the disk-booted guest; its image cannot be deleted while the VM exists"
