#!/bin/bash
# Integration, real-image tier: a real Debian 12 cloud guest (guest/mk-debian: Debian's own
# packages, cloud-init 22.4 unmodified) provisioned by Paddock as a user would: uploaded, two VMs
# created with user-data (runcmd, write_files) and an SSH key, then checked from the host side
# over SSH: host name, the default user with the key and sudo, runcmd and write_files done,
# `cloud-init status` done, distinct SSH host keys, each resolving the other by name through the
# daemon's DNS, the root file system grown to disk_gib, a reboot keeping the address, and a stop
# by the ACPI power button (systemd-logind), timed; the guest agent (qemu-guest-agent) seen with
# the OS, addresses and file systems, gone when stopped, and its guest-shutdown stopping a guest
# that ignores the power button; the guest's memory report through the balloon. Then once more under firmware "uefi"
# (systemd-boot on the image's ESP) with cloud_init.seed "disk" (no seed URL: the cidata disk only).
# Prints the boot timeline (seconds from POST /vms: lease, seed fetched, SSH, cloud-init done).
# Run alone: sudo PADDOCKD=build/src/paddockd tests/integration/real_guest.sh
source "$(dirname "$0")/lib.sh"
command -v qemu-system-x86_64 >/dev/null || skip "missing tool: qemu-system-x86_64"
for tool in mmdebstrap sfdisk mcopy ssh ssh-keygen; do command -v "$tool" >/dev/null || skip "missing tool: $tool"; done

setup_world
write_config
t0=$(date +%s)
"$SRC/guest/mk-debian" "$WORK/debian.qcow2" > "$WORK/mk-debian.log" 2>&1 || fail "guest/mk-debian: $(tail -20 "$WORK/mk-debian.log")"
pass "Debian 12 cloud guest image: $(tail -1 "$WORK/mk-debian.log" | sed 's/^mk-debian: //') ($(( $(date +%s) - t0 )) s)"
start_daemon
TOKEN=$(cat "$STATE/api-token")
t0=$(date +%s%N)
code=$(inh curl -sS --max-time 300 -o "$WORK/up.json" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
  -T "$WORK/debian.qcow2" http://127.0.0.1:8080/api/v1/images/debian-12)
[ "$code" = 201 ] || fail "upload: $code $(cat "$WORK/up.json")"
pass "uploaded: $(( $(stat -c %s "$WORK/debian.qcow2") / 1048576 )) MiB in $(( ($(date +%s%N) - t0) / 1000000 )) ms, kind $(jget kind < "$WORK/up.json")"

ssh-keygen -q -t ed25519 -N "" -C test@paddock -f "$WORK/id"
KEY=$(cat "$WORK/id.pub")
cat > "$WORK/user-data" <<'UD'
#cloud-config
runcmd:
  - [sh, -c, "echo PADDOCK_RUNCMD_$(hostname) > /var/tmp/runcmd.out"]
write_files:
  - path: /etc/paddock-test
    content: "written by cloud-init\n"
UD
spec() { # name extra-json
  /usr/bin/python3 - "$1" "$KEY" "$WORK/user-data" "${2:-}" <<'PY'
import json, sys
s = {"name": sys.argv[1], "image": "debian-12", "memory_mib": 1024, "disk_gib": 4, "start": True,
     "cloud_init": {"user_data": open(sys.argv[3]).read(), "ssh_authorized_keys": [sys.argv[2]]}}
if sys.argv[4]:
    s.update(json.loads(sys.argv[4]))
s = {k: v for k, v in s.items() if v is not None}
print(json.dumps(s))
PY
}
ipof() { api "/api/v1/vms/$1" | jget ip; }
# One SSH connection per guest, reused (a handshake with a TCG guest takes seconds).
gssh() { local ip=$1; shift; inh ssh -i "$WORK/id" -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
  -o ConnectTimeout=5 -o LogLevel=ERROR -o ControlMaster=auto -o "ControlPath=$WORK/ssh-%h" -o ControlPersist=60 \
  -o ServerAliveInterval=5 -o ServerAliveCountMax=3 \
  "debian@$ip" "$@"; }
declare -A born
create() {
  born[$1]=$(date +%s%N)
  [ "$(api_status /api/v1/vms -X POST -d "$(spec "$1" "${2:-}")")" = 201 ] || fail "create $1: $(api /api/v1/vms/$1)"
}
since() { echo $(( ($(date +%s%N) - born[$1]) / 1000000000 )); }
declare -A t_lease t_seed t_ssh t_done
follow() { # name: waits for each milestone and records when it came
  local v=$1 ip; ip=$(ipof "$v")
  leased() { [ "$(api "/api/v1/vms/$1" | jget ip_leased)" = true ]; }
  wait_for 240 leased "$v" >/dev/null || fail "$v got no lease: $(api "/api/v1/vms/$v/console/log" | tail -c 1500)"
  t_lease[$v]=$(since "$v")
  seeded() { grep -q -E "GET /vm/$1/(meta-data|user-data) -> 200" "$WORK/daemon.log"; }
  if [ "${2:-}" != disk ]; then
    wait_for 240 seeded "$v" >/dev/null || fail "$v fetched no seed: $(grep metadata "$WORK/daemon.log" | tail -3)"
    t_seed[$v]=$(since "$v")
  else
    t_seed[$v]=-
  fi
  wait_for 300 gssh "$ip" true >/dev/null || fail "ssh debian@$ip ($v): $(gssh "$ip" true 2>&1) $(api "/api/v1/vms/$v/console/log" | tail -c 1500)"
  t_ssh[$v]=$(since "$v")
  local st; st=$(gssh "$ip" "timeout 300 cloud-init status --wait" 2>&1 | tail -1)
  t_done[$v]=$(since "$v")
  [ "$st" = "status: done" ] || fail "$v: cloud-init $st: $(gssh "$ip" 'sudo tail -n 30 /var/log/cloud-init.log' 2>&1)"
}

create deb1
create deb2
follow deb1
follow deb2
IP1=$(ipof deb1); IP2=$(ipof deb2)
for v in deb1 deb2; do
  ip=$(ipof $v)
  [ "$(gssh "$ip" hostname)" = "$v" ] || fail "$v's host name: $(gssh "$ip" hostname)"
  [ "$(gssh "$ip" cat /var/tmp/runcmd.out)" = "PADDOCK_RUNCMD_$v" ] || fail "$v's runcmd: $(gssh "$ip" cat /var/tmp/runcmd.out 2>&1)"
  [ "$(gssh "$ip" cat /etc/paddock-test)" = "written by cloud-init" ] || fail "$v's write_files"
  gssh "$ip" sudo -n true || fail "$v: the default user has no sudo"
  gssh "$ip" "cloud-init status --long" | matches -i "error" && fail "$v: cloud-init reports errors: $(gssh "$ip" cloud-init status --long)"
done
pass "deb1 ($IP1) and deb2 ($IP2): host name, user debian with the key and sudo, runcmd, write_files, cloud-init status done"
h1=$(gssh "$IP1" ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub | awk '{print $2}')
h2=$(gssh "$IP2" ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub | awk '{print $2}')
[ -n "$h1" ] && [ "$h1" != "$h2" ] || fail "SSH host keys: deb1 $h1, deb2 $h2"
[ "$(gssh "$IP1" getent ahostsv4 deb2.paddock.internal | awk 'NR == 1 {print $1}')" = "$IP2" ] || fail "deb1 resolving deb2: $(gssh "$IP1" getent ahostsv4 deb2.paddock.internal)"
[ "$(gssh "$IP2" getent ahostsv4 deb1 | awk 'NR == 1 {print $1}')" = "$IP1" ] || fail "deb2 resolving deb1 (search domain): $(gssh "$IP2" getent ahostsv4 deb1)"
# IPv6: the guest's own SLAAC address is the one the API announced, and the other's AAAA resolves.
V6_1=$(api /api/v1/vms/deb1 | jget ipv6)
V6_2=$(api /api/v1/vms/deb2 | jget ipv6)
addrs=$(gssh "$IP1" ip -6 addr show scope global)
grep -q "inet6 $V6_1/64" <<<"$addrs" || fail "deb1's IPv6 is not $V6_1: $addrs"
[ "$(gssh "$IP1" getent ahostsv6 deb2.paddock.internal | awk 'NR == 1 {print $1}')" = "$V6_2" ] || fail "deb1 resolving deb2's AAAA: $(gssh "$IP1" getent ahostsv6 deb2.paddock.internal)"
size=$(gssh "$IP1" df -B1M --output=size / | tail -1 | tr -d ' ')
[ "$size" -gt 3500 ] || fail "deb1's root file system is $size MiB, not grown to disk_gib 4"
pass "distinct SSH host keys ($h1 / $h2); each resolves the other by name (A and AAAA); deb1 took $V6_1 by SLAAC; root grown to $size MiB (disk_gib 4)"

gssh "$IP1" "sudo systemctl reboot" || true
down() { ! gssh "$IP1" true 2>/dev/null; }
wait_for 60 down >/dev/null || fail "deb1 did not go down for the reboot"
t=$(date +%s)
wait_for 300 gssh "$IP1" true >/dev/null || fail "deb1 did not come back after the reboot: $(api /api/v1/vms/deb1/console/log | tail -c 1500)"
[ "$(ipof deb1)" = "$IP1" ] && [ "$(gssh "$IP1" hostname)" = deb1 ] || fail "after the reboot: $(api /api/v1/vms/deb1)"
pass "deb1 rebooted from inside: back on $IP1 after $(( $(date +%s) - t )) s, still deb1"

# The guest agent (Debian's qemu-guest-agent, started by udev when its port appears) and the
# guest's own memory report (virtio-balloon).
agent_up() { [ "$(api /api/v1/vms/deb1 | jget agent.hostname 2>/dev/null)" = deb1 ]; }
wait_for 120 agent_up >/dev/null || fail "no guest agent on deb1: $(api /api/v1/vms/deb1 | jget agent); $(gssh "$IP1" systemctl status qemu-guest-agent | head -5)"
api /api/v1/vms/deb1 > "$WORK/deb1.json"
out=$(/usr/bin/python3 - "$WORK/deb1.json" "$IP1" <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))["agent"]
ip = sys.argv[2]
assert a["os"]["name"].startswith("Debian GNU/Linux 12"), a["os"]
nic = [i for i in a["interfaces"] if any(x.startswith(ip + "/") for x in i["addresses"])]
assert nic, a["interfaces"]
root = [f for f in a["filesystems"] if f["mountpoint"] == "/"]
assert root and root[0]["total_bytes"] > 3 << 30 and 0 < root[0]["used_bytes"] < root[0]["total_bytes"], a["filesystems"]
os_, fs = a["os"], root[0]
print(f"{os_['name']}, kernel {os_['kernel']}, agent {a['version']}, {ip} on {nic[0]['name']}, / {fs['used_bytes'] >> 20}/{fs['total_bytes'] >> 20} MiB used")
PY
) || fail "deb1's agent: $out"
pass "guest agent on deb1: $out"
guest_mem() { api /api/v1/vms/deb1/stats | jget current.guest_total_mib | matches -v null; }
wait_for 30 guest_mem >/dev/null || fail "deb1 reports no memory through its balloon: $(api /api/v1/vms/deb1/stats | jget current)"
pass "deb1's own memory report: $(api /api/v1/vms/deb1/stats | jget current.guest_used_mib)/$(api /api/v1/vms/deb1/stats | jget current.guest_total_mib) MiB in use (QEMU holds $(api /api/v1/vms/deb1/stats | jget current.rss_mib) MiB)"

# deb2 without its agent: the ACPI power button alone (systemd-logind) stops it.
gssh "$IP2" "sudo systemctl stop qemu-guest-agent"
agent_gone() { [ "$(api /api/v1/vms/deb2 | jget agent)" = null ]; }
wait_for 20 agent_gone >/dev/null || fail "deb2's agent stopped but still shown: $(api /api/v1/vms/deb2 | jget agent)"
t=$(date +%s%N)
r=$(api /api/v1/vms/deb2/stop -X POST -d '{"timeout_s":90}' --max-time 120)
ms=$(( ($(date +%s%N) - t) / 1000000 ))
[ "$(echo "$r" | jget state)" = stopped ] || fail "ACPI stop of deb2: $r"
grep -q -E "deb2: .*(forced stop|SIGTERM|SIGKILL)" "$WORK/daemon.log" && fail "deb2 was stopped by force: $(grep deb2 "$WORK/daemon.log" | tail -5)"
grep -q "deb2: QMP event SHUTDOWN" "$WORK/daemon.log" || fail "deb2's guest did not shut down by itself"
grep -q "deb2: asked the guest agent" "$WORK/daemon.log" && fail "deb2's stop went through an agent it no longer had"
pass "deb2 (agent stopped, shown as none) stopped by the ACPI power button (systemd-logind) in $ms ms, no force"

# deb1 told to ignore the power button: its agent's guest-shutdown stops it, no force.
gssh "$IP1" "sudo mkdir -p /etc/systemd/logind.conf.d && printf '[Login]\nHandlePowerKey=ignore\n' | sudo tee /etc/systemd/logind.conf.d/ignore-power.conf >/dev/null && sudo systemctl restart systemd-logind"
t=$(date +%s%N)
r=$(api /api/v1/vms/deb1/stop -X POST -d '{"timeout_s":90}' --max-time 120)
ms=$(( ($(date +%s%N) - t) / 1000000 ))
[ "$(echo "$r" | jget state)" = stopped ] || fail "agent stop of deb1: $r"
grep -q -E "deb1: .*(forced stop|SIGTERM|SIGKILL|no power-off within)" "$WORK/daemon.log" && fail "deb1 was stopped by force: $(grep deb1 "$WORK/daemon.log" | tail -5)"
grep -q "deb1: asked the guest agent to power off" "$WORK/daemon.log" || fail "deb1's stop did not go through its agent"
pass "deb1 ignoring the power button (logind HandlePowerKey=ignore) stopped through its guest agent in $ms ms, no force"

# Once more: UEFI firmware, and the seed on the cidata disk alone.
stop_daemon
write_config "" '"cloud_init": {"seed": "disk"}'
start_daemon
create deb3 '{"firmware": "uefi", "disk_gib": null}'
follow deb3 disk
IP3=$(ipof deb3)
[ "$(gssh "$IP3" hostname)" = deb3 ] && [ "$(gssh "$IP3" cat /var/tmp/runcmd.out)" = PADDOCK_RUNCMD_deb3 ] || fail "deb3's seed"
gssh "$IP3" "test -d /sys/firmware/efi" || fail "deb3 did not boot under UEFI"
grep -q "GET /vm/deb3/" "$WORK/daemon.log" && fail "deb3 fetched an HTTP seed with cloud_init.seed \"disk\""
pass "deb3: UEFI (systemd-boot, /sys/firmware/efi present) and the seed from the cidata disk only: host name, key, runcmd, cloud-init done"

echo "# boot timeline, seconds from POST /api/v1/vms (TCG, 2 cores; deb1 and deb2 boot at once, deb2 is"
echo "# looked at after deb1, so its figures are upper bounds; bench/boot times one guest beside libvirt):"
for v in deb1 deb2 deb3; do
  echo "#   $v: lease ${t_lease[$v]}, seed fetched ${t_seed[$v]}, SSH ${t_ssh[$v]}, cloud-init done ${t_done[$v]}"
done
