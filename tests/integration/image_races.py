#!/usr/bin/python3
"""Deletes of an image fired while creates from it are in flight (see image_races.sh): a create
pins its image from its first check to its end, so each round ends with a VM on its image (the
delete got 409 naming it) or the image gone (the create got 400), never a VM whose base is gone.
Runs inside the test's host namespace. Prints "ok - ..." lines."""
import json, os, random, sys, threading, time, urllib.error, urllib.request

STATE = os.environ["STATE"]
TOKEN = open(f"{STATE}/api-token").read().strip()
BLANK = open(os.environ["BLANK"], "rb").read()


def fail(msg):
    print("FAIL:", msg, file=sys.stderr)
    sys.exit(1)


def call(method, path, body=None, raw=None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(f"http://127.0.0.1:8080{path}", data=data, method=method,
                                 headers={"Authorization": f"Bearer {TOKEN}"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


rng = random.Random(11)
outcomes = {}
rounds = int(os.environ.get("ROUNDS", "20"))
for r in range(rounds):
    img, vm = f"base{r}", f"on{r}"
    code, body = call("PUT", f"/api/v1/images/{img}", raw=BLANK)
    if code != 201:
        fail(f"round {r}: upload {code} {body}")
    got = {}

    def create():
        time.sleep(rng.random() * 0.02)
        got["create"] = call("POST", "/api/v1/vms", {"name": vm, "image": img, "memory_mib": 128})

    def delete():
        time.sleep(rng.random() * 0.03)  # land anywhere in the create's course
        got["delete"] = call("DELETE", f"/api/v1/images/{img}")

    ts = [threading.Thread(target=create), threading.Thread(target=delete)]
    for t in ts: t.start()
    for t in ts: t.join()
    cc, dc = got["create"][0], got["delete"][0]
    outcomes[(cc, dc)] = outcomes.get((cc, dc), 0) + 1
    if (cc, dc) == (201, 204):
        fail(f"round {r}: both the create (201) and the delete (204) succeeded: a VM whose base is gone")
    if (cc, dc) not in ((201, 409), (400, 204)):
        fail(f"round {r}: create {got['create']}, delete {got['delete']}")
    if dc == 409 and vm not in got["delete"][1]:
        fail(f"round {r}: the 409 does not name the VM: {got['delete'][1]}")
    exists = call("GET", f"/api/v1/vms/{vm}")[0] == 200
    image_there = call("GET", f"/api/v1/images/{img}")[0] == 200
    if exists and not (image_there and os.path.exists(f"{STATE}/images/{img}")):
        fail(f"round {r}: VM {vm} exists but its image {img} is gone")
    if exists:
        if call("DELETE", f"/api/v1/vms/{vm}")[0] != 204 or call("DELETE", f"/api/v1/images/{img}")[0] != 204:
            fail(f"round {r}: cleanup")
print(f"ok - {rounds} rounds of a create and a delete of its image at once: "
      f"{ {f'{c}/{d}': n for (c, d), n in sorted(outcomes.items())} } (create/delete); never a VM without its base")
