#!/bin/busybox sh
# Paddock demo/test guest: PID 1 of a busybox initramfs. Loads the NIC drivers, gets an address
# by DHCP from Paddock, reports on the serial console (lines starting "PADDOCK:"), then stays up
# with a shell on the console until the ACPI power button (QMP system_powerdown) powers it off.
# If the SMBIOS serial names a NoCloud seed (ds=nocloud-net;s=URL), it fetches meta-data and user-data
# and reports the host name, a PADDOCK_MARK_ marker from the user data and the first SSH key; if a
# disk labelled CIDATA is attached (the seed disk), it reports the same from there (NOCLOUD_DISK),
# with the MAC its network-config names.
# Kernel command line knobs:
#   paddock.ping=IP[,IP...]  also ping these addresses after the lease (e.g. another VM)
#   paddock.resolve=NAME[,NAME...]  look these names up (nslookup, through the DNS server DHCP gave)
#   paddock.mode=oneshot     power off right after the checks instead of waiting
#   paddock.httpd=PORT       serve "hello from <host name>" over HTTP on PORT (busybox httpd)
#   paddock.ipv6=1           wait for a SLAAC address and report it with the default router, then
#                            paddock.ping6=IP[,IP...] and paddock.resolve6=NAME[,NAME...] (AAAA,
#                            asking the server paddock.dns6=IP)
/bin/busybox --install -s /bin
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /var/log /tmp /run /etc/acpi/PWRF
uptime_s() { cut -d' ' -f1 /proc/uptime; }
arg() { tr ' ' '\n' < /proc/cmdline | sed -n "s/^$1=//p" | tail -1; }
say() { echo "PADDOCK: $* t=$(uptime_s)"; }

say "init start"
for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci failover net_failover virtio_net \
         button evdev virtio_blk virtio_balloon fat vfat nls_cp437 nls_ascii; do
  [ -f "/lib/modules/$m.ko" ] && insmod "/lib/modules/$m.ko" 2>/dev/null
done
# ACPI power button -> clean poweroff.
printf '#!/bin/sh\necho "PADDOCK: power button -> poweroff" > /dev/console\npoweroff -f\n' > /etc/acpi/PWRF/00000080
chmod +x /etc/acpi/PWRF/00000080
acpid -c /etc/acpi -l /var/log/acpid.log
ip link set lo up
i=0; while ! ip link show eth0 >/dev/null 2>&1 && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
ip link set eth0 up
hostname "$(arg paddock.name || echo guest)"
if udhcpc -i eth0 -q -f -n -t 10 -T 1 -s /etc/udhcpc.script -O hostname; then
  . /tmp/lease
  [ -n "$hostname" ] && hostname "$hostname"
  say "LEASE ip=$ip/$mask router=$router dns=$dns domain=$domain hostname=$hostname"
  if ping -c 1 -W 3 "$router" >/dev/null 2>&1; then say "PING_OK $router"; else say "PING_FAIL $router"; fi
  port=$(arg paddock.httpd)
  if [ -n "$port" ]; then
    mkdir -p /www
    echo "hello from $(hostname)" > /www/index.html
    if httpd -p "$port" -h /www; then say "HTTPD $port"; else say "HTTPD_FAIL $port"; fi
  fi
  # cloud-init's NoCloud seed, as a real guest would find it: the URL is in the SMBIOS serial.
  # (HTTP by hand with nc: the static busybox's wget crashes looking up the "http" service.)
  serial=$(cat /sys/class/dmi/id/product_serial 2>/dev/null)
  case "$serial" in
    *ds=nocloud*\;s=http://*)
      url=${serial#*;s=http://}; host=${url%%/*}; path=/${url#*/}
      fetch() {
        printf 'GET %s%s HTTP/1.0\r\nHost: %s\r\n\r\n' "$path" "$1" "$host" | nc -w 5 "$host" 80 > /tmp/resp 2>/tmp/nc.err &&
          head -1 /tmp/resp | grep -q " 200 " && sed '1,/^\r$/d' /tmp/resp > "/tmp/$1"
      }
      if fetch meta-data && fetch user-data; then
        h=$(sed -n 's/^local-hostname: "\(.*\)"\r*$/\1/p' /tmp/meta-data)
        key=$(sed -n 's/^  - "\(.*\)"\r*$/\1/p' /tmp/meta-data | head -1)
        mark=$(grep -o 'PADDOCK_MARK_[A-Za-z0-9_]*' /tmp/user-data | head -1)
        say "NOCLOUD hostname=$h mark=$mark key=$key"
      else
        say "NOCLOUD_FAIL $host$path: $(head -1 /tmp/resp 2>/dev/null) $(cat /tmp/nc.err 2>/dev/null)"
      fi ;;
  esac
  for name in $(arg paddock.resolve | tr ',' ' '); do
    nslookup "$name" > /tmp/ns.out 2>&1
    addr=$(sed -n '/^Name:/,$ s/^Address[^:]*: *\([0-9.]*\).*/\1/p' /tmp/ns.out | grep . | head -1)
    if [ -n "$addr" ]; then say "RESOLVE $name=$addr"; else say "RESOLVE_FAIL $name: $(tr '\n' ' ' < /tmp/ns.out)"; fi
  done
  for peer in $(arg paddock.ping | tr ',' ' '); do
    n=0; okp=
    while [ $n -lt 30 ]; do
      if ping -c 1 -W 1 "$peer" >/dev/null 2>&1; then okp=1; break; fi
      n=$((n+1)); sleep 1
    done
    if [ -n "$okp" ]; then say "PING_OK $peer"; else say "PING_FAIL $peer"; fi
  done
else
  say "DHCP_FAIL"
fi
if [ "$(arg paddock.ipv6)" = 1 ]; then
  i=0; addr6=
  while [ -z "$addr6" ] && [ $i -lt 100 ]; do
    addr6=$(ip -6 addr show dev eth0 scope global 2>/dev/null | sed -n 's/.*inet6 \([0-9a-f:]*\)\/64.*/\1/p' | head -1)
    [ -z "$addr6" ] && sleep 0.1; i=$((i+1))
  done
  router6=$(ip -6 route show default 2>/dev/null | sed -n 's/^default via \([0-9a-f:]*\).*/\1/p' | head -1)
  if [ -n "$addr6" ]; then say "IPV6 addr=$addr6 router=$router6"; else say "IPV6_FAIL $(ip -6 addr show dev eth0 | tr '\n' ' ')"; fi
  for peer in $(arg paddock.ping6 | tr ',' ' '); do
    if ping6 -c 1 -W 3 "$peer" >/dev/null 2>&1 || ping6 -c 1 -W 3 "$peer" >/dev/null 2>&1; then say "PING6_OK $peer"; else say "PING6_FAIL $peer"; fi
  done
  for name in $(arg paddock.resolve6 | tr ',' ' '); do
    nslookup -type=aaaa "$name" "$(arg paddock.dns6)" > /tmp/ns6.out 2>&1
    a6=$(sed -n '/^Name:/,$ s/^Address[^:]*: *\([0-9a-f:]*:[0-9a-f:]*\).*/\1/p' /tmp/ns6.out | grep . | head -1)
    if [ -n "$a6" ]; then say "RESOLVE6 $name=$a6"; else say "RESOLVE6_FAIL $name: $(tr '\n' ' ' < /tmp/ns6.out)"; fi
  done
fi
# cloud-init's NoCloud seed disk, found as cloud-init finds it: the file system labelled CIDATA.
# (busybox has no blkid: the label is read where FAT keeps it, 43 bytes into the boot sector.)
seed_dev=
i=0; while [ -z "$seed_dev" ] && [ $i -lt 10 ]; do
  for d in /dev/vd?; do
    [ -b "$d" ] || continue
    label=$(dd if="$d" bs=1 skip=43 count=11 2>/dev/null | tr -d ' ')
    case "$label" in CIDATA|cidata) seed_dev=$d; break ;; esac
  done
  i=$((i+1)); [ -z "$seed_dev" ] && sleep 0.1
done
if [ -n "$seed_dev" ]; then
  mkdir -p /seed
  if mount -t vfat -o ro "$seed_dev" /seed 2>/tmp/mount.err; then
    h=$(sed -n 's/^local-hostname: "\(.*\)"\r*$/\1/p' /seed/meta-data)
    key=$(sed -n 's/^  - "\(.*\)"\r*$/\1/p' /seed/meta-data | head -1)
    mark=$(grep -o 'PADDOCK_MARK_[A-Za-z0-9_]*' /seed/user-data | head -1)
    nmac=$(sed -n 's/^ *macaddress: "\(.*\)"\r*$/\1/p' /seed/network-config)
    say "NOCLOUD_DISK $seed_dev hostname=$h mark=$mark key=$key mac=$nmac"
    umount /seed
  else
    say "NOCLOUD_DISK_FAIL $seed_dev: $(cat /tmp/mount.err)"
  fi
fi
if [ "$(arg paddock.mode)" = oneshot ]; then say "poweroff"; poweroff -f; fi
say "ready"
while true; do
  setsid cttyhack sh
  sleep 1
done
