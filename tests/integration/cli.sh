#!/bin/bash
# Integration: the `paddock` command against the real daemon, as a user at a terminal and as a
# script would run it. Help for every command; bad command lines exit 2. Found by --config (URL and
# token from the daemon's config): images push with a progress bar on a terminal (none when piped),
# images ls/rm; vm create --start, ls (table, -q, --json), info, a booted guest's lease in
# `leases`, `net`; exit codes 4 (no such VM) and 5 (conflict) with the API's message; events
# (--since, --type, --count); the console under a pseudo-terminal (raw mode, a command runs in the
# guest, Ctrl-C goes to the guest, Ctrl-] leaves); vm stop, vm rm. PADDOCK_TOKEN and --url work,
# a wrong token is exit 1 with the hint.
source "$(dirname "$0")/lib.sh"
PADDOCK=${PADDOCK:-$(dirname "$PADDOCKD")/paddock}
[ -x "$PADDOCK" ] || fail "no paddock binary beside $PADDOCKD"

# Help and command-line errors need no daemon.
"$PADDOCK" --help | matches "vm create NAME" || fail "general help"
n=0
while read -r c; do
  # shellcheck disable=SC2086
  "$PADDOCK" $c --help > "$WORK/help.txt" || fail "paddock $c --help failed"
  grep -q "^usage: paddock $c" "$WORK/help.txt" || fail "help of $c: $(head -2 "$WORK/help.txt")"
  n=$((n + 1))
done < <("$PADDOCK" --help | sed -n 's/^  \([a-z]*\( [a-z]*\)\?\) .*/\1/p' | sed 's/ [A-Z].*//' | awk '$1 != "--" {print}' | sort -u)
[ "$n" -ge 15 ] || fail "only $n commands have help"
rc=0; out=$("$PADDOCK" vm ls extra 2>&1) || rc=$?
[ "$rc" = 2 ] && echo "$out" | matches 'takes no arguments' || fail "extra argument: rc $rc: $out"
rc=0; out=$("$PADDOCK" vm frobnicate 2>&1) || rc=$?
[ "$rc" = 2 ] || fail "unknown command: rc $rc: $out"
rc=0; out=$("$PADDOCK" vm create x --cpus 2 --bogus 1 2>&1) || rc=$?
[ "$rc" = 2 ] && echo "$out" | matches 'unknown option --bogus' || fail "unknown option: rc $rc: $out"
rc=0; out=$("$PADDOCK" vm create x --memory lots --kernel k --config /nonexistent.json 2>&1) || rc=$?
[ "$rc" = 2 ] || fail "bad config path: rc $rc: $out"
pass "help for $n commands; bad command lines exit 2 with the reason"

setup_vm_world
start_daemon
P() { inh "$PADDOCK" --config "$WORK/config.json" "$@"; }

rc=0; out=$(P vm info nope 2>&1) || rc=$?
[ "$rc" = 4 ] && echo "$out" | matches 'paddock: no VM named' || fail "missing VM: rc $rc: $out"
rc=0; out=$(inh "$PADDOCK" --url http://127.0.0.1:8080 vm ls 2>&1) || rc=$?   # no token
[ "$rc" = 1 ] && echo "$out" | matches 'PADDOCK_TOKEN' || fail "no token: rc $rc: $out"
out=$(PADDOCK_TOKEN=$(cat "$STATE/api-token") inh "$PADDOCK" --url http://127.0.0.1:8080 health) || fail "PADDOCK_TOKEN: $out"
echo "$out" | matches '^status: *ok' || fail "health: $out"
rc=0; out=$(inh "$PADDOCK" --url http://127.0.0.1:1 health 2>&1) || rc=$?
[ "$rc" = 3 ] && echo "$out" | matches -i 'connection refused' || fail "unreachable: rc $rc: $out"
pass "exit 4 for a missing VM, 1 without a token (with the hint), 3 when unreachable; PADDOCK_TOKEN and --url"

# images push: a terminal gets the progress bar (script(1) gives a pty), a pipe does not.
head -c $((48 << 20)) /dev/urandom > "$WORK/disk.raw"
inh script -qec "$PADDOCK --config $WORK/config.json images push $WORK/disk.raw blob.raw" /dev/null > "$WORK/push.tty" \
  || fail "push on a terminal: $(cat "$WORK/push.tty")"
grep -q "\] 100%  48 MiB / 48 MiB  .*iB/s  done in" "$WORK/push.tty" || fail "no progress bar: $(tr '\r' '\n' < "$WORK/push.tty" | tail -3)"
grep -q 'ETA' "$WORK/push.tty" || echo "(no ETA line on this fast a push)"
grep -q "sha256: *$(sha256sum "$WORK/disk.raw" | cut -d' ' -f1)" "$WORK/push.tty" || fail "push result: $(cat "$WORK/push.tty")"
P images push "$WORK/disk.raw" blob2.raw > "$WORK/push.pipe" 2> "$WORK/push.err" || fail "push piped: $(cat "$WORK/push.err")"
[ ! -s "$WORK/push.err" ] || fail "progress bar on a pipe: $(head -c 200 "$WORK/push.err")"
P images ls | matches '^blob.raw  *disk  *raw  *48 MiB' || fail "images ls: $(P images ls)"
[ "$(P images ls -q | grep -c blob)" = 2 ] || fail "images ls -q: $(P images ls -q)"
P images rm blob2.raw | matches 'removed blob2.raw' || fail "images rm"
rc=0; out=$(P images rm blob2.raw 2>&1) || rc=$?; [ "$rc" = 4 ] || fail "images rm twice: rc $rc $out"
pass "images push: progress bar on a terminal ($(tr '\r' '\n' < "$WORK/push.tty" | grep -c '%') updates), none on a pipe; ls, -q, rm, exit 4 for a missing one"

P vm create vm1 --kernel test-kernel --initrd test-initrd --memory 128 --autostart restore --start > "$WORK/create.txt" \
  || fail "create: $(cat "$WORK/create.txt")"
grep -q '^autostart: *restore' "$WORK/create.txt" || fail "create output: $(cat "$WORK/create.txt")"
P vm ls | matches '^vm1  *running  *1  *128 MiB' || fail "vm ls: $(P vm ls)"
[ "$(P vm ls --json | jget vms.0.name)" = vm1 ] || fail "vm ls --json"
[ "$(P vm ls -q)" = vm1 ] || fail "vm ls -q"
rc=0; out=$(P vm start vm1 2>&1) || rc=$?
[ "$rc" = 5 ] || fail "start a running VM: rc $rc: $out"
rc=0; out=$(P vm create vm1 --kernel test-kernel 2>&1) || rc=$?
[ "$rc" = 5 ] || fail "create a taken name: rc $rc: $out"
ms=$(wait_for 60 sh -c "nsenter --net=/run/netns/$HOST_NS $PADDOCK --config $WORK/config.json leases | awk '\$3 == \"vm1\" && \$5 == \"bound\"' | grep -q .") \
  || fail "no lease for vm1: $(P leases)"
ip=$(P vm info vm1 | awk '$1 == "ip:" {print $2}')
P leases | matches "^$ip .* vm1 .* bound " || fail "leases: $(P leases)"
P net | matches '^subnet: *192.168.26.0/24' || fail "net: $(P net)"
pass "vm create --start, ls (table, --json, -q), exit 5 for start-when-running and a taken name; vm1 leased $ip in $ms ms (leases, vm info); net"

# since=0 is from no run of this daemon: the stream says so (resync) with the oldest seq it holds.
out=$(P events --since 0 --count 1 --json)
[ "$(echo "$out" | jget type)" = resync ] || fail "events --since 0: $out"
since=$(( $(echo "$out" | jget data.oldest) - 1 ))
P events --since "$since" --type vm.state --vm vm1 --count 2 > "$WORK/events.txt" || fail "events: $(cat "$WORK/events.txt")"
[ "$(grep -c ' vm.state vm1 ' "$WORK/events.txt")" = 2 ] || fail "events: $(cat "$WORK/events.txt")"
out=$(P events --since "$since" --type vm.created --count 1 --json)
[ "$(echo "$out" | jget type)" = vm.created ] || fail "events --json: $out"
pass "events --since --type --vm --count: $(head -1 "$WORK/events.txt" | cut -c1-100)"

out=$(inh /usr/bin/python3 "$SRC/tests/integration/cli_console.py" "$PADDOCK" --config "$WORK/config.json" -- vm1) || fail "console: $out"
pass "console under a pty: $out"

# Port forwards: add (one line each), ls, a conflict is exit 5 naming the holder, rm.
out=$(P forward add vm1 tcp/8081:80 udp/5353:53@203.0.113.1) || fail "forward add: $out"
grep -q "forwarding tcp/8081 on 0.0.0.0 to vm1 port 80" <<<"$out" && grep -q "forwarding udp/5353 on 203.0.113.1 to vm1 port 53" <<<"$out" \
  || fail "forward add said: $out"
out=$(P forward ls vm1)
grep -q "^tcp/8081 *80 *0.0.0.0" <<<"$out" && grep -q "^udp/5353 *53 *203.0.113.1" <<<"$out" || fail "forward ls: $out"
P vm create other --kernel test-kernel > /dev/null || fail "create other"
rc=0; out=$(P forward add other tcp/8081 2>&1) || rc=$?
[ "$rc" = 5 ] && grep -q "VM vm1 forwards tcp/8081" <<<"$out" || fail "taken port: rc $rc: $out"
rc=0; out=$(P forward add other tcp/80x 2>&1) || rc=$?
[ "$rc" = 2 ] && grep -q "is not a forward like tcp/8080:80" <<<"$out" || fail "bad forward: rc $rc: $out"
rc=0; out=$(P forward rm vm1 tcp/8081:80 2>&1) || rc=$?
[ "$rc" = 2 ] || fail "forward rm with a guest port: rc $rc: $out"
P forward rm vm1 tcp/8081 udp/5353 | grep -c removed | matches 2 || fail "forward rm"
[ "$(P forward ls vm1)" = "no forwards" ] || fail "forwards left: $(P forward ls vm1)"
rc=0; out=$(P forward rm vm1 tcp/8081 2>&1) || rc=$?
[ "$rc" = 4 ] || fail "removing a missing forward: rc $rc: $out"
out=$(P vm create fw2 --kernel test-kernel --forward tcp/9090:90 --json)
[ "$(echo "$out" | jget forwards.0.guest_port)" = 90 ] || fail "vm create --forward: $out"
P vm rm other fw2 > /dev/null || fail "rm other fw2"
rc=0; out=$(P events --count abc 2>&1) || rc=$?
[ "$rc" = 2 ] && grep -q -- '--count: "abc" is not a whole number' <<<"$out" || fail "events --count abc: rc $rc: $out"
rc=0; out=$(P vm stop vm1 --stop-timeout soon 2>&1) || rc=$?
[ "$rc" = 2 ] || fail "--stop-timeout soon: rc $rc: $out"
pass "forward add/ls/rm, vm create --forward; a taken port is exit 5 naming the holder; bad numbers exit 2"

P vm stop vm1 --force | matches '^vm1: stopped' || fail "stop"
P vm set vm1 --cpus 2 --memory 256 | matches '^cpus: *2' || fail "vm set"
P vm rm vm1 | matches 'removed vm1' || fail "vm rm"
[ -z "$(P vm ls -q)" ] || fail "vm1 still listed"
pass "vm stop --force, vm set, vm rm"
