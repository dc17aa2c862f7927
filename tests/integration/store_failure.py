#!/usr/bin/python3
"""Integration: a full disk under the DHCP server's store, then recovery without a restart."""
import os, subprocess, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dhcp_client import *

def mac(i):
    return f"52:54:00:cc:{i >> 8:02x}:{i & 255:02x}"

def leases():
    return {l["mac"]: l for l in api("/api/v1/leases")["leases"] if l["state"] == "bound"}

def api_status(path, method, body=None):
    token = open(f"{STATE}/api-token").read().strip()
    cmd = ["nsenter", f"--net=/run/netns/{HOST_NS}", "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10",
           "-X", method, "-H", f"Authorization: Bearer {token}", f"http://127.0.0.1:8080{path}"]
    if body is not None:
        cmd[-1:-1] = ["-d", json.dumps(body)]
    return subprocess.run(cmd, capture_output=True, text=True).stdout

start()
acked = {}
for i in range(30):
    _, ack = Client(mac(i)).dora()
    expect(ack, ACK, f"client {i} before the disk fills")
    acked[mac(i)] = ack["yiaddr"]
if api_status("/api/v1/reservations/52:54:00:dd:00:01", "PUT", {"ip": "192.168.26.200"}) != "200":
    fail("reservation before the disk fills")
ok("30 clients leased, one reservation made, before the disk fills")

# Fill the state_dir's file system.
subprocess.run(["dd", "if=/dev/zero", f"of={STATE}/filler", "bs=64k"], capture_output=True)
withheld = 0
for i in range(100, 110):
    offer, ack = Client(mac(i)).dora()
    if ack and ack["type"] == ACK:
        fail(f"client {i} got an ACK while the store cannot write (lease not kept)")
    withheld += 1
log = open(f"{WORK}/daemon.log").read()
if "lease commit failed" not in log or "lease table reloaded from the store" not in log:
    fail("no failed commit / reload in the log")
ok(f"disk full: {withheld} REQUESTs got no ACK (their leases could not be kept); the engine was reloaded from the store")

code = api_status("/api/v1/reservations/52:54:00:dd:00:02", "PUT", {"ip": "192.168.26.201"})
if code != "503":
    fail(f"reservation while the disk is full: {code}, want 503")
code = api_status("/api/v1/reservations/52:54:00:dd:00:01", "DELETE")
if code != "503":
    fail(f"reservation delete while the disk is full: {code}, want 503 (never a 204 that was not kept)")
resv = {r["mac"] for r in api("/api/v1/reservations")["reservations"]}
if "52:54:00:dd:00:02" in resv or "52:54:00:dd:00:01" not in resv:
    fail(f"reservations changed although nothing was kept: {resv}")
now = leases()
if any(mac(i) in now for i in range(100, 110)):
    fail("a lease that was never kept is listed")
if any(now.get(m, {}).get("ip") != ip for m, ip in acked.items()):
    fail("an acknowledged lease changed or vanished")
ok("disk full: reservation PUT and DELETE answer 503 and change nothing; memory matches the disk")

# Space back: recovery without a restart.
os.remove(f"{STATE}/filler")
for i in range(100, 110):
    ack = None
    for _ in range(3):  # a client's normal retransmissions
        _, ack = Client(mac(i)).dora()
        if ack and ack["type"] == ACK:
            break
    expect(ack, ACK, f"client {i} after space came back")
    acked[mac(i)] = ack["yiaddr"]
if api_status("/api/v1/reservations/52:54:00:dd:00:01", "DELETE") != "204":
    fail("reservation delete after recovery")
ips = list(acked.values())
if len(set(ips)) != len(ips):
    fail("an address was handed to two clients")
ok("space back: the 10 clients got leases on retry, deletes work again, no address held twice")

stop(signal.SIGKILL)
start()
now = leases()
missing = [m for m in acked if now.get(m, {}).get("ip") != acked[m]]
if missing:
    fail(f"acknowledged leases lost after kill -9: {missing}")
ok(f"kill -9 and restart: all {len(acked)} acknowledged leases are there")
stop()
