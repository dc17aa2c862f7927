#!/bin/bash
# Integration: the Debian package, built and installed for real. scripts/package builds
# paddock_<version>_amd64.deb with dpkg-buildpackage and lintian finds nothing; apt-get installs
# it: both binaries, the units (enabled, not started: installing changes no network), the config
# as a conffile, the dashboard, man pages, bash completion. paddockd started from the installed
# paths (inside this test's namespaces, as every integration test) serves the installed dashboard
# and boots the demo guest, driven by the installed `paddock`. Then `paddockd teardown` and
# apt-get purge: the host's namespaces, links, nftables ruleset, ip_forward and files are as
# before the installation.
source "$(dirname "$0")/lib.sh"
for tool in dpkg-buildpackage dh lintian apt-get systemd-analyze; do
  command -v "$tool" >/dev/null || skip "missing tool: $tool (scripts/install-deps installs it)"
done
dpkg-query -W -f='${Status}' paddock 2>/dev/null | matches "install ok installed" && skip "paddock is installed on this machine already"

# A state directory from a checkout's runs (scripts/run) is put aside while the package is here
# (purge removes /var/lib/paddock), and put back at the end, whatever happens.
SAVED=
if [ -e /var/lib/paddock ]; then
  SAVED=/var/lib/paddock.saved-by-package-test.$$
  mv /var/lib/paddock "$SAVED"
fi
package_cleanup() {
  set +e
  dpkg-query -W -f='${Status}' paddock 2>/dev/null | matches installed && DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq paddock >/dev/null 2>&1
  if [ -n "$SAVED" ]; then rm -rf /var/lib/paddock; mv "$SAVED" /var/lib/paddock; fi
  cleanup
}
trap package_cleanup EXIT

host_state() {
  ( set +e +o pipefail
    echo "## netns"; ip netns list | grep -v "^$ID" | sort   # (this test's own namespaces go at its exit)
    echo "## links"; ip -o link show | sed -E 's/^[0-9]+: //; s/ qlen [0-9]+//' | awk '{print $1, $2}' | sort
    echo "## nft"; nft list ruleset 2>&1
    echo "## ip_forward"; cat /proc/sys/net/ipv4/ip_forward
    echo "## files"
    ls -d /etc/paddock /var/lib/paddock /usr/share/paddock /usr/sbin/paddockd /usr/bin/paddock /lib/systemd/system/paddock*.service \
      /usr/share/man/man1/paddock.1.gz /usr/share/man/man8/paddockd.8.gz /usr/share/bash-completion/completions/paddock 2>/dev/null || true
    find /etc/systemd/system -name '*paddock*' 2>/dev/null | sort
  ) > "$1"
}
host_state "$WORK/host.before"

t0=$(date +%s)
"$SRC/scripts/package" "$WORK/pkg" > "$WORK/package.log" 2>&1 || fail "scripts/package: $(tail -30 "$WORK/package.log")"
deb=$(ls "$WORK"/pkg/paddock_*_amd64.deb)
grep -q "package: lintian clean" "$WORK/package.log" || fail "lintian: $(grep -E '^[EW]:' "$WORK/package.log")"
pass "scripts/package: $(basename "$deb") ($(du -h "$deb" | cut -f1)) in $(( $(date +%s) - t0 )) s, lintian clean"

DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$deb" > "$WORK/install.log" 2>&1 || fail "apt-get install: $(tail -20 "$WORK/install.log")"
for f in /usr/sbin/paddockd /usr/bin/paddock /lib/systemd/system/paddockd.service /lib/systemd/system/paddock-guests.service \
         /etc/paddock/paddockd.json /usr/share/paddock/www/index.html /usr/share/paddock/www/node_modules/@xterm/xterm/lib/xterm.mjs \
         /usr/share/man/man1/paddock.1.gz /usr/share/man/man8/paddockd.8.gz /usr/share/bash-completion/completions/paddock; do
  [ -e "$f" ] || fail "not installed: $f"
done
grep -qx /etc/paddock/paddockd.json /var/lib/dpkg/info/paddock.conffiles || fail "the config is not a conffile"
[ -L /etc/systemd/system/multi-user.target.wants/paddockd.service ] || fail "paddockd.service not enabled"
pgrep -x paddockd >/dev/null && fail "installing started paddockd"
ip netns list | matches -w paddock && fail "installing made a namespace"
/usr/sbin/paddockd check-config --config /etc/paddock/paddockd.json > /dev/null || fail "the installed config does not check"
systemd-analyze verify /lib/systemd/system/paddockd.service 2>&1 | grep -v "^$" > "$WORK/verify.txt" || true
[ ! -s "$WORK/verify.txt" ] || fail "installed unit: $(cat "$WORK/verify.txt")"
man -w paddock >/dev/null && MANWIDTH=100 man paddockd 2>/dev/null | matches "shutdown-vms" || fail "man pages"
[ "$(/usr/bin/paddock --version)" = "paddock $(dpkg-query -W -f='${Version}' paddock)" ] || fail "paddock --version"
pass "installed: binaries, units (enabled, not started: no daemon, no namespace), conffile, dashboard, man pages, completion; the config checks"

# The installed daemon, in this test's namespaces, with the demo guest.
setup_vm_world
PADDOCKD=/usr/sbin/paddockd
start_daemon
grep -q "paddockd $(dpkg-query -W -f='${Version}' paddock) ready" "$WORK/daemon.log" || fail "not the installed daemon: $(grep ready "$WORK/daemon.log")"
[ "$(api_status /node_modules/@xterm/xterm/lib/xterm.mjs)" = 200 ] && api / | matches '<title>' || fail "installed dashboard not served"
P() { inh /usr/bin/paddock --config "$WORK/config.json" "$@"; }
P vm create demo --kernel test-kernel --initrd test-initrd --memory 128 --start > /dev/null || fail "paddock vm create"
ms=$(wait_for 90 sh -c "nsenter --net=/run/netns/$HOST_NS /usr/bin/paddock --config $WORK/config.json leases | awk '\$3 == \"demo\" && \$5 == \"bound\"' | grep -q .") \
  || fail "the demo guest got no lease: $(P vm info demo)"
comp=$(inh env PADDOCK_TOKEN="$(cat "$STATE/api-token")" bash -c 'source /usr/share/bash-completion/completions/paddock
  COMP_WORDS=(paddock vm stop ""); COMP_CWORD=3; _paddock; echo "${COMPREPLY[*]}"
  COMP_WORDS=(paddock vm ""); COMP_CWORD=2; _paddock; echo "${COMPREPLY[*]}"')
grep -qx demo <<<"$(head -1 <<<"$comp")" || fail "completion of VM names: $comp"
grep -q "create start stop" <<<"$comp" || fail "completion of vm verbs: $comp"
P vm stop demo --force > /dev/null || fail "stop"
pass "installed paddockd served the installed dashboard; the demo guest leased in $ms ms (installed paddock); completion offers verbs and VM names"
stop_daemon
/usr/sbin/paddockd teardown --config "$WORK/config.json" >> "$WORK/daemon.log" 2>&1 || fail "teardown"

DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq paddock > "$WORK/purge.log" 2>&1 || fail "apt-get purge: $(tail -20 "$WORK/purge.log")"
ip netns del "$PD_NS" 2>/dev/null || true
host_state "$WORK/host.after"
diff -u "$WORK/host.before" "$WORK/host.after" > "$WORK/host.diff" || fail "the host differs after purge: $(cat "$WORK/host.diff")"
pass "apt-get purge: namespaces, links, nftables ruleset, ip_forward and files as before the installation"
