#!/usr/bin/python3
"""SIGTERM in the middle of creates and lifecycle operations (see shutdown.sh).

Phase "load": a console viewer on a running VM; then worker threads, each on VMs of its own (so the
order of its successful requests is the order they took effect), fire creates (from kernel+initrd
and from a qcow2 image: an overlay), starts, stops, pauses, resumes and deletes; SIGTERM lands in
the middle. Every answer is written to $WORK/answers.json. The viewer must hear 1001 (going away).

Phase "check" (after a restart): every change that got a 2xx is there (the VM exists or not, its
state as the last successful operation left it), and nothing leaked: a TAP only for a VM whose QEMU
runs, a reservation exactly for each VM, a folder (and overlay) exactly for each VM.
Runs inside the test's host namespace. Prints "ok - ..." lines."""
import json, os, random, signal, subprocess, sys, threading, time, urllib.error, urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wsclient import WebSocket

WORK, STATE, PD_NS = os.environ["WORK"], os.environ["STATE"], os.environ["PD_NS"]
TOKEN = open(f"{STATE}/api-token").read().strip()
ANSWERS = f"{WORK}/answers.json"


def fail(msg):
    print("FAIL:", msg, file=sys.stderr)
    sys.exit(1)


def call(method, path, body=None, timeout=30):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"http://127.0.0.1:8080{path}", data=data, method=method,
                                 headers={"Authorization": f"Bearer {TOKEN}"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except (OSError, urllib.error.URLError) as e:
        return 0, str(e)  # refused or cut: the daemon is going or gone


def spec(name, disk, start):
    s = {"name": name, "memory_mib": 128, "start": start}
    if disk:
        s["image"] = "blank"
    else:
        s.update(kernel="test-kernel", initrd="test-initrd")
    return s


def vms():
    code, body = call("GET", "/api/v1/vms")
    if code != 200:
        fail(f"GET /api/v1/vms: {code} {body}")
    return {v["name"]: v for v in json.loads(body)["vms"]}


def load():
    code, body = call("POST", "/api/v1/vms", spec("viewed", False, True))
    if code != 201:
        fail(f"create viewed: {code} {body}")
    deadline = time.time() + 30
    while vms()["viewed"]["state"] != "running":
        if time.time() > deadline:
            fail("viewed never ran")
        time.sleep(0.1)
    ws = WebSocket("127.0.0.1", 8080, "/api/v1/vms/viewed/console", TOKEN)

    answers, lock, stop = [], threading.Lock(), threading.Event()

    def worker(w):
        rng = random.Random(w)
        mine = []  # this worker's VMs that exist (as far as it knows)
        n = 0
        while not stop.is_set():
            if not mine or rng.random() < 0.35:
                name = f"w{w}n{n}"
                n += 1
                req = ("POST", "/api/v1/vms", spec(name, rng.random() < 0.5, rng.random() < 0.5))
            else:
                name = rng.choice(mine)
                req = rng.choice([("POST", f"/api/v1/vms/{name}/start", None),
                                  ("POST", f"/api/v1/vms/{name}/stop", {"force": True}),
                                  ("POST", f"/api/v1/vms/{name}/pause", None),
                                  ("POST", f"/api/v1/vms/{name}/resume", None),
                                  ("DELETE", f"/api/v1/vms/{name}", None)])
            code, body = call(*req)
            with lock:
                answers.append({"worker": w, "vm": name, "method": req[0], "path": req[1], "code": code, "body": body})
            if code == 201:
                mine.append(name)
            elif req[0] == "DELETE" and code == 204:
                mine.remove(name)
            if code == 0:
                time.sleep(0.05)

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    time.sleep(float(os.environ.get("LOAD_SECONDS", "4")))
    pid = int(os.environ["DAEMON_PID"])
    t0 = time.time()
    os.kill(pid, signal.SIGTERM)
    # The viewer hears why, with 1001 (going away).
    op, data = ws.recv(timeout=20)
    while op != 8:
        op, data = ws.recv(timeout=20)
    code = int.from_bytes(data[:2], "big") if len(data) >= 2 else None
    if code != 1001:
        fail(f"console viewer closed with {code} {data[2:]!r}, want 1001")
    # The daemon ends by itself (it is the shell's child: gone or a zombie here).
    while True:
        try:
            st = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
        except OSError:
            break
        if st == "Z":
            break
        if time.time() - t0 > 25:
            fail("the daemon did not exit within 25 s of SIGTERM")
        time.sleep(0.02)
    took = time.time() - t0
    stop.set()
    for t in threads:
        t.join()
    json.dump(answers, open(ANSWERS, "w"))
    codes = {}
    for a in answers:
        codes[a["code"]] = codes.get(a["code"], 0) + 1
    bad = [a for a in answers if a["code"] >= 500 and a["code"] != 503]
    if bad:
        fail(f"5xx other than 503 shutting_down: {bad[:5]}")
    for a in answers:
        if a["code"] == 503 and "shutting_down" not in a["body"] and "store_failed" not in a["body"]:
            fail(f"a 503 that is not shutting_down: {a}")
    print(f"ok - {len(answers)} requests from 4 workers, SIGTERM in the middle: the daemon exited in {took:.2f} s; "
          f"answers {dict(sorted(codes.items()))}; the console viewer got 1001")


TARGET = {"start": "running", "stop": "stopped", "pause": "paused", "resume": "running"}


def expected():
    """Per VM: what its answers allow after the restart. A 2xx fixes the outcome; an answer that
    never came (0) or a 503 leaves it open: the operation may or may not have taken effect."""
    want = {"viewed": {"exists": {True}, "state": {"running"}}}
    for a in json.load(open(ANSWERS)):
        vm, code, path, method = a["vm"], a["code"], a["path"], a["method"]
        unknown = code == 0 or code == 503
        if method == "POST" and path == "/api/v1/vms":
            if code == 201:
                want[vm] = {"exists": {True}, "state": {json.loads(a["body"])["state"]}}
            elif unknown:
                want.setdefault(vm, {"exists": {False}, "state": set()})
                want[vm]["exists"].add(True)
                want[vm]["state"] |= {"stopped", "starting", "running"}
        elif method == "DELETE":
            if code == 204:
                want[vm] = {"exists": {False}, "state": set()}
            elif unknown and vm in want:
                want[vm]["exists"].add(False)
        elif vm in want:
            target = TARGET[path.rsplit("/", 1)[1]]
            if code == 200:
                want[vm]["state"] = {target}
            elif unknown:
                want[vm]["state"] |= {target, "stopping"}
    return want


def check():
    have = vms()
    want = expected()
    for vm, w in want.items():
        if (vm in have) not in w["exists"]:
            fail(f"{vm}: its answers say exists={sorted(w['exists'])}, after the restart exists={vm in have}")
        if vm not in have:
            continue
        st = have[vm]["state"]
        # A VM created with start may still have been starting when the answer was written.
        if "starting" in w["state"]:
            w["state"].add("running")
        if st not in w["state"]:
            fail(f"{vm}: its answers allow {sorted(w['state'])}, after the restart it is {st}")
    # Nothing leaked: TAPs, reservations, folders (overlays).
    out = subprocess.run(["ip", "-n", PD_NS, "-o", "link"], capture_output=True, text=True).stdout
    taps = {l.split(":")[1].strip().split("@")[0] for l in out.splitlines() if ": tap-" in l}
    running = {v["tap"] for v in have.values() if v["state"] in ("running", "paused", "starting", "stopping")}
    if taps - running:
        fail(f"TAPs without a running VM: {taps - running}")
    code, body = call("GET", "/api/v1/reservations")
    resv = {r["mac"] for r in json.loads(body)["reservations"] if r.get("vm")}
    macs = {v["mac"] for v in have.values()}
    if resv != macs:
        fail(f"reservations {sorted(resv)} do not match the VMs' MACs {sorted(macs)}")
    folders = set(os.listdir(f"{STATE}/vms"))
    if folders != set(have):
        fail(f"VM folders {sorted(folders)} do not match the VMs {sorted(have)}")
    for v in have.values():
        if v.get("image") == "blank" and not os.path.exists(f"{STATE}/vms/{v['name']}/disk.qcow2"):
            fail(f"{v['name']} lost its overlay")
    print(f"ok - after the restart: {len(have)} VMs, each as its last 2xx left it (or as an unanswered request may "
          f"have), {sum(1 for w in want.values() if w['exists'] == {False})} removed stay removed; "
          f"no stray TAP, reservation, folder or overlay")


{"load": load, "check": check}[sys.argv[1]]()
