#!/usr/bin/python3
"""`paddock console VM` under a pseudo-terminal, as a person runs it: the terminal goes raw (no
echo from the local tty: what appears is the guest's), a command typed runs in the guest, Ctrl-C
goes to the guest (the shell prints a new prompt, paddock lives on), Ctrl-] leaves with exit 0
and the terminal's settings as they were.
Usage: cli_console.py PADDOCK ARGS... -- VM"""
import os, pty, select, sys, termios, time

sep = sys.argv.index("--")
cmd, vm = sys.argv[1:sep], sys.argv[sep + 1]
nonce = os.urandom(3).hex()

pid, fd = pty.fork()
if pid == 0:
    os.execv(cmd[0], cmd + ["console", vm])

before = termios.tcgetattr(fd)
seen = b""


def read_until(want, timeout, retype=None):
    global seen
    end, next_type = time.time() + timeout, time.time() + 4
    while want not in seen:
        if time.time() > end:
            raise SystemExit(f"FAIL: {want!r} did not appear; got {seen[-400:]!r}")
        if retype and time.time() > next_type:
            os.write(fd, retype)
            next_type = time.time() + 4
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try:
                seen += os.read(fd, 65536)
            except OSError:
                raise SystemExit(f"FAIL: paddock ended early; got {seen[-400:]!r}")


read_until(b"Ctrl-] leaves", 10)
raw = termios.tcgetattr(fd)
if raw[3] & termios.ECHO or raw[3] & termios.ICANON or raw[3] & termios.ISIG:
    raise SystemExit(f"FAIL: the terminal is not raw under paddock console: lflag {raw[3]:#x}")
line = f"echo CLI_CON_$((6*7))_{nonce}\r".encode()
os.write(fd, line)
read_until(f"CLI_CON_42_{nonce}".encode(), 90, retype=line)
os.write(fd, b"sleep 30\r")
time.sleep(0.5)
os.write(fd, b"\x03")  # Ctrl-C: to the guest's shell, which interrupts sleep
os.write(fd, f"echo AFTER_INT_$((1+1))_{nonce}\r".encode())
read_until(f"AFTER_INT_2_{nonce}".encode(), 20)
os.write(fd, b"\x1d")  # Ctrl-]
end = time.time() + 10
status = None
while time.time() < end:
    p, st = os.waitpid(pid, os.WNOHANG)
    if p:
        status = st
        break
    try:
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            seen += os.read(fd, 65536)
    except OSError:
        pass
if status is None:
    os.kill(pid, 9)
    raise SystemExit("FAIL: Ctrl-] did not end paddock console")
if os.waitstatus_to_exitcode(status) != 0:
    raise SystemExit(f"FAIL: paddock console exited {os.waitstatus_to_exitcode(status)}; {seen[-300:]!r}")
try:
    after = termios.tcgetattr(fd)
    if after != before:
        raise SystemExit("FAIL: the terminal's settings were not restored")
except termios.error:
    pass  # the pty closed with the child: its settings went with it
print(f"ok: typed command ran ({nonce}), Ctrl-C reached the guest, Ctrl-] left with exit 0, terminal restored")
