#!/bin/bash
# Integration: guests that boot like real ones. The busybox test guest, built three ways:
#   - a hybrid disk (guest/mk-disk: SYSLINUX for BIOS, systemd-boot for UEFI) booted with
#     firmware "uefi": OVMF runs, the VM keeps its own variable store, removed with it;
#   - a bootable ISO (guest/mk-iso), uploaded (kind "iso") and booted from the VM's CD-ROM with an
#     empty disk_gib disk first in the boot order (nothing on it yet: the firmware moves on to
#     the CD, as with an installer);
#   - with cloud_init.seed "disk": no seed URL in the SMBIOS serial, the guest reads its seed
#     from the cidata disk alone.
source "$(dirname "$0")/lib.sh"
command -v qemu-system-x86_64 >/dev/null || skip "missing tool: qemu-system-x86_64"
for tool in syslinux mcopy mkfs.vfat cpio xorriso; do command -v "$tool" >/dev/null || skip "missing tool: $tool"; done
for f in /usr/share/OVMF/OVMF_CODE_4M.fd /usr/lib/systemd/boot/efi/systemd-bootx64.efi /usr/lib/ISOLINUX/isolinux.bin; do
  [ -f "$f" ] || skip "missing $f (ovmf, systemd-boot-efi, isolinux)"
done

setup_world
write_config
"$SRC/guest/mk-disk" "$WORK/guest.img" "quiet panic=-1" > "$WORK/mk-disk.log" 2>&1 || fail "guest disk: $(cat "$WORK/mk-disk.log")"
"$SRC/guest/mk-iso" "$WORK/guest.iso" "quiet panic=-1" > "$WORK/mk-iso.log" 2>&1 || fail "guest ISO: $(cat "$WORK/mk-iso.log")"
start_daemon
TOKEN=$(cat "$STATE/api-token")
upload() { inh curl -sS --max-time 60 -o "$WORK/up.json" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" -T "$1" "http://127.0.0.1:8080/api/v1/images/$2"; }
[ "$(upload "$WORK/guest.img" guest-disk)" = 201 ] || fail "upload of the disk: $(cat "$WORK/up.json")"
[ "$(upload "$WORK/guest.iso" guest.iso)" = 201 ] || fail "upload of the ISO: $(cat "$WORK/up.json")"
[ "$(jget kind < "$WORK/up.json")" = iso ] || fail "the ISO's record: $(cat "$WORK/up.json")"
body=$(api /api/v1/vms -X POST -d '{"name":"wrong","image":"guest.iso"}')
echo "$body" | matches 'give it as \\"cdrom\\"' || fail "an ISO as a disk image was not refused: $body"
body=$(api /api/v1/vms -X POST -d '{"name":"wrong","cdrom":"guest-disk"}')
echo "$body" | matches 'not an ISO' || fail "a disk as a CD-ROM was not refused: $body"
pass "ISO uploaded as kind iso; an ISO as \"image\" and a disk as \"cdrom\" are refused (400)"

code=$(api_status /api/v1/vms -X POST -d '{"name":"efi1","image":"guest-disk","memory_mib":256,"firmware":"uefi","start":true}')
[ "$code" = 201 ] || fail "create efi1: $code"
code=$(api_status /api/v1/vms -X POST -d '{"name":"inst1","cdrom":"guest.iso","disk_gib":1,"memory_mib":256,"start":true}')
[ "$code" = 201 ] || fail "create inst1: $code"
info=$(api /api/v1/vms/inst1)
[ "$(echo "$info" | jget boot_order)" = '["disk", "cdrom"]' ] && [ "$(echo "$info" | jget cdrom)" = guest.iso ] \
  && [ "$(echo "$info" | jget firmware)" = bios ] || fail "inst1's view: $info"
[ "$(api /api/v1/vms/efi1 | jget firmware)" = uefi ] || fail "efi1's view: $(api /api/v1/vms/efi1)"
log() { api "/api/v1/vms/$1/console/log"; }
leased() { log "$1" | grep -a "PADDOCK: LEASE ip=$(api "/api/v1/vms/$1" | jget ip)/" >/dev/null; }
wait_for 150 leased efi1 >/dev/null || fail "efi1 did not boot to a lease: $(log efi1 | grep -a -E 'PADDOCK|BdsDxe' | tail -5)"
log efi1 | grep -a -q "BdsDxe: starting" || fail "no OVMF on efi1's console: $(log efi1 | head -c 400)"
[ "$(stat -c %s "$STATE/vms/efi1/uefi-vars.fd")" = "$(stat -c %s /usr/share/OVMF/OVMF_VARS_4M.fd)" ] || fail "efi1 has no variable store of its own"
pid=$(api /api/v1/vms/efi1 | jget pid)
tr '\0' ' ' < "/proc/$pid/cmdline" | matches "if=pflash,format=raw,unit=1,file=$STATE/vms/efi1/uefi-vars.fd" || fail "efi1's QEMU: $(tr '\0' ' ' < "/proc/$pid/cmdline")"
pass "firmware uefi: OVMF boots the disk through systemd-boot to a lease; the VM's variable store is its own"

wait_for 150 leased inst1 >/dev/null || fail "inst1 did not boot from its CD-ROM to a lease: $(log inst1 | grep -a -E 'PADDOCK|ISOLINUX|Boot' | tail -5)"
log inst1 | grep -a -q "ISOLINUX" || fail "inst1 did not boot ISOLINUX: $(log inst1 | head -c 400)"
qemu-img info -U "$STATE/vms/inst1/disk.qcow2" | matches "virtual size: 1 GiB" || fail "inst1's empty disk: $(qemu-img info -U "$STATE/vms/inst1/disk.qcow2")"
qemu-img info -U "$STATE/vms/inst1/disk.qcow2" | matches "backing file" && fail "inst1's empty disk has a backing file"
[ "$(api_status /api/v1/images/guest.iso -X DELETE)" = 409 ] || fail "the ISO in use could be deleted"
pass "cdrom: the empty 1 GiB disk first, nothing on it, the firmware boots the ISO to a lease; the ISO cannot be deleted while in use"

for v in efi1 inst1; do
  r=$(api "/api/v1/vms/$v/stop" -X POST -d '{"timeout_s":30}' --max-time 60)
  [ "$(echo "$r" | jget state)" = stopped ] || fail "graceful stop of $v: $r"
done
[ "$(api_status /api/v1/vms/efi1 -X DELETE)" = 204 ] || fail "remove efi1"
[ ! -e "$STATE/vms/efi1" ] || fail "efi1's folder (and variable store) outlived it"
pass "both stop by the ACPI power button; removing efi1 removes its variable store"

# Seed on the disk only.
stop_daemon
write_config "" '"cloud_init": {"seed": "disk"}'
start_daemon
KEY="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAISeedDiskOnlyKeyForTests seed@paddock"
code=$(api_status /api/v1/vms -X POST -d '{"name":"seed1","image":"guest-disk","memory_mib":256,"start":true,
  "cloud_init":{"user_data":"#cloud-config\n# PADDOCK_MARK_seeddisk\n","ssh_authorized_keys":["'"$KEY"'"]}}')
[ "$code" = 201 ] || fail "create seed1: $code"
MAC=$(api /api/v1/vms/seed1 | jget mac)
disk_seeded() { log seed1 | grep -a "PADDOCK: NOCLOUD_DISK" >/dev/null; }
wait_for 150 disk_seeded >/dev/null || fail "seed1 read no seed disk: $(log seed1 | grep -a PADDOCK)"
log seed1 | grep -a -q "PADDOCK: NOCLOUD_DISK /dev/vdb hostname=seed1 mark=PADDOCK_MARK_seeddisk key=$KEY mac=$MAC" \
  || fail "seed1's seed disk: $(log seed1 | grep -a NOCLOUD)"
log seed1 | grep -a -q "PADDOCK: NOCLOUD " && fail "seed1 found an HTTP seed with cloud_init.seed \"disk\""
pid=$(api /api/v1/vms/seed1 | jget pid)
tr '\0' ' ' < "/proc/$pid/cmdline" | matches -- "-smbios" && fail "seed1's QEMU has a seed URL: $(tr '\0' ' ' < "/proc/$pid/cmdline")"
pass "cloud_init.seed \"disk\": no seed URL; the guest reads host name, marker, key and its MAC's network-config from the cidata disk"
