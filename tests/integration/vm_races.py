#!/usr/bin/python3
"""Concurrent requests against the VM API (see vm_races.sh). Prints "ok - ..." lines."""
import json, os, random, subprocess, sys, threading, time

HOST_NS, WORK, STATE = os.environ["HOST_NS"], os.environ["WORK"], os.environ["STATE"]
TOKEN = open(f"{STATE}/api-token").read().strip()

def fail(msg, vm=None):
    print("FAIL:", msg, file=sys.stderr)
    if vm:  # what the daemon did with it, and what is left
        try:
            lines = [l for l in open(f"{WORK}/daemon.log") if f" {vm}:" in l or f" vm {vm} " in l or f"/vms/{vm}" in l]
            print(f"--- daemon log for {vm}\n" + "".join(lines[-60:]), file=sys.stderr)
        except OSError:
            pass
        r = subprocess.run(["pgrep", "-a", "-f", f"process=paddock-{vm} "], capture_output=True, text=True)
        print(f"--- processes\n{r.stdout}", file=sys.stderr)
    sys.exit(1)

def call(method, path, body=None, limit=60):
    cmd = ["nsenter", f"--net=/run/netns/{HOST_NS}", "curl", "-s", "--max-time", str(limit), "-X", method,
           "-H", f"Authorization: Bearer {TOKEN}", "-w", "\n%{http_code}", f"http://127.0.0.1:8080{path}"]
    if body is not None:
        cmd[-1:-1] = ["-d", json.dumps(body)]
    out = subprocess.run(cmd, capture_output=True, text=True).stdout
    text, _, code = out.rpartition("\n")
    return int(code or 0), text

def spec(name, **kw):
    s = {"name": name, "kernel": "test-kernel", "initrd": "test-initrd", "memory_mib": 128}
    s.update(kw)
    return s

def parallel(calls):
    out = [None] * len(calls)
    def run(i, c):
        out[i] = call(*c)
    ts = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in ts: t.start()
    for t in ts: t.join()
    return out

def qemu_pids(name):
    r = subprocess.run(["pgrep", "-f", f"process=paddock-{name} "], capture_output=True, text=True)
    return [p for p in r.stdout.split() if p]

def vms():
    return {v["name"]: v for v in json.loads(call("GET", "/api/v1/vms")[1])["vms"]}

def reservations():
    return json.loads(call("GET", "/api/v1/reservations")[1])["reservations"]

# 1. Same-name creates, five rounds of two at once (with and without start).
for rnd in range(5):
    name = f"race{rnd}"
    res = parallel([("POST", "/api/v1/vms", spec(name, start=rnd % 2 == 1)), ("POST", "/api/v1/vms", spec(name, start=rnd % 2 == 1))])
    codes = sorted(c for c, _ in res)
    if codes != [201, 409]:
        fail(f"round {rnd}: same-name creates gave {codes}, want [201, 409]: {res}")
    mine = [r for r in reservations() if r["vm"] == name]
    if len(mine) != 1 or mine[0]["mac"] != vms()[name]["mac"]:
        fail(f"round {rnd}: reservations for {name}: {mine}")
    if not os.path.isdir(f"{STATE}/vms/{name}"):
        fail(f"round {rnd}: the survivor's folder is gone")
    code, _ = call("DELETE", f"/api/v1/vms/{name}")
    if code != 204:
        fail(f"round {rnd}: delete {code}")
print("ok - 5 rounds of two same-name creates: one 201 and one 409 each, one reservation, the survivor intact")

# 2. Random concurrent lifecycle requests on three VMs.
names = ["p1", "p2", "p3"]
for n in names:
    code, body = call("POST", "/api/v1/vms", spec(n))
    if code != 201:
        fail(f"create {n}: {code} {body}")
ops = [
    lambda n: ("POST", f"/api/v1/vms/{n}/start"),
    lambda n: ("POST", f"/api/v1/vms/{n}/stop", {"force": True}),
    lambda n: ("POST", f"/api/v1/vms/{n}/stop", {"timeout_s": 1}),
    lambda n: ("POST", f"/api/v1/vms/{n}/pause"),
    lambda n: ("POST", f"/api/v1/vms/{n}/resume"),
    lambda n: ("POST", f"/api/v1/vms/{n}/restart", {"timeout_s": 1}),
    lambda n: ("DELETE", f"/api/v1/vms/{n}"),
    lambda n: ("POST", "/api/v1/vms", spec(n, start=random.random() < 0.5)),
    lambda n: ("GET", f"/api/v1/vms/{n}"),
]
rng = random.Random(int(os.environ.get("SEED", "7")))
random.seed(rng.random())
seen = {}
total = 0
for wave in range(10):
    # Creates weigh more than deletes, so most requests find their VM.
    batch = [rng.choices(ops, weights=[3, 2, 1, 2, 2, 1, 1, 3, 1])[0](rng.choice(names)) for _ in range(10)]
    for (method, path, *_), (code, body) in zip(batch, parallel(batch)):
        total += 1
        seen[code] = seen.get(code, 0) + 1
        if code >= 500 or code == 0:
            fail(f"{method} {path}: {code} {body}")
# Quiesce: every VM settles (no stop/start still in flight).
deadline = time.time() + 60
while time.time() < deadline and any(v["state"] in ("starting", "stopping") for v in vms().values()):
    time.sleep(0.2)
cur = vms()
for n, v in cur.items():
    pids = qemu_pids(n)
    if v["state"] in ("running", "paused"):
        if len(pids) != 1 or int(pids[0]) != v["pid"]:
            fail(f"{n} is {v['state']} with QEMU pids {pids} (record says {v['pid']})", n)
    elif pids:
        fail(f"{n} is {v['state']} but QEMU pids {pids} run", n)
for n in names:
    if n not in cur and qemu_pids(n):
        fail(f"QEMU runs for removed VM {n}", n)
resv = {r["mac"]: r["vm"] for r in reservations() if r["vm"]}
want = {v["mac"]: n for n, v in cur.items()}
if resv != want:
    fail(f"reservations {resv} do not match the VMs {want}")
print(f"ok - {total} random concurrent lifecycle requests ({dict(sorted(seen.items()))}): no 5xx; "
      f"each running/paused VM has one QEMU, none without a VM, reservations match VMs")
