#!/usr/bin/python3
"""The serial console WebSocket against a real guest (inside the test's host namespace).
  console_ws.py TOKEN VM two         two viewers (header token, ?token=): a command typed on each
                                      runs in the guest, and both viewers see both outputs
  console_ws.py TOKEN VM until-close one viewer; prints "connected", then "closed CODE REASON"
                                      when the server ends it
  console_ws.py TOKEN VM run CMD     types CMD in the guest's shell, prints its output"""
import os, struct, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wsclient import WebSocket

token, vm, mode = sys.argv[1:4]
path = f"/api/v1/vms/{vm}/console"


def read_until(ws, want, seen, timeout=60, retype=None):
    """Reads until `want` arrives. `retype`: typed again every 5 s (a guest still booting has no
    shell yet and drops what it is sent, as it would for a person at the console)."""
    end = time.time() + timeout
    next_type = time.time() + 5
    while want not in seen[0]:
        now = time.time()
        if now >= end:
            raise SystemExit(f"FAIL: {want!r} did not arrive; got {seen[0][-300:]!r}")
        if retype and now >= next_type:
            retype()
            next_type = now + 5
        try:
            op, data = ws.recv(timeout=min(end, next_type if retype else end) - now)
        except TimeoutError:
            continue
        if op == 8:
            raise SystemExit(f"FAIL: closed while waiting for {want!r}: {data!r}")
        seen[0] += data


if mode == "two":
    a = WebSocket("127.0.0.1", 8080, path, token=token)
    b = WebSocket("127.0.0.1", 8080, path + "?token=" + token)
    sa, sb = [b""], [b""]
    nonce = os.urandom(4).hex()  # the recent output replayed on joining may hold an earlier run's
    cmd_a = f"\necho PADDOCK_CON_A_$((6*7))_{nonce}\n".encode()  # the shell expands it: only the output has 42
    a.send(cmd_a)  # a binary frame
    read_until(a, f"PADDOCK_CON_A_42_{nonce}".encode(), sa, retype=lambda: a.send(cmd_a))
    read_until(b, f"PADDOCK_CON_A_42_{nonce}".encode(), sb)
    b.send(f"echo PADDOCK_CON_B_$((2+3))_{nonce}\n", opcode=1)  # a text frame works too
    read_until(a, f"PADDOCK_CON_B_5_{nonce}".encode(), sa)
    read_until(b, f"PADDOCK_CON_B_5_{nonce}".encode(), sb)
    a.close(); b.close()
    print("ok: both viewers saw the output of commands typed on either")
elif mode == "until-close":
    ws = WebSocket("127.0.0.1", 8080, path, token=token)
    print("connected", flush=True)
    while True:
        op, data = ws.recv(timeout=600)
        if op == 8:
            code = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else 0
            print("closed", code, data[2:].decode(errors="replace"), flush=True)
            break
elif mode == "run":
    ws = WebSocket("127.0.0.1", 8080, path, token=token)
    nonce = os.urandom(4).hex()
    line = f"\n{sys.argv[4]}; echo END_$((1+1))_{nonce}\n".encode()  # only the output says END_2
    seen = [b""]
    ws.send(line)
    read_until(ws, f"END_2_{nonce}".encode(), seen, retype=lambda: ws.send(line))
    out = seen[0].decode(errors="replace")
    start = out.rfind(sys.argv[4])
    print(out[start if start >= 0 else 0:])
    ws.close()
else:
    raise SystemExit("usage: console_ws.py TOKEN VM two|until-close|run CMD")
