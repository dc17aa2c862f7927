#!/usr/bin/python3
"""Integration: DHCP protocol scenarios against paddockd, driven by a scripted client (dhcp_client).
Prints one "ok - ..." line per scenario; exits non-zero on the first failure."""
import os, random, signal, socket, struct, subprocess, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dhcp_client import *

# --- scenarios -----------------------------------------------------------------------------------
start()
a = Client("52:54:00:aa:00:01")
offer, ack = a.dora()
expect(offer, OFFER, "DISCOVER")
expect(ack, ACK, "REQUEST (selecting)")
ip_a = ack["yiaddr"]
o = ack["opts"]
if b2ip(o[54]) != SERVER or b2ip(o[1]) != "255.255.255.0" or b2ip(o[3]) != "192.168.26.1" or struct.unpack("!I", o[51])[0] != 3600:
    fail(f"ACK options: {o}")
if struct.unpack("!I", o[58])[0] != 1800 or struct.unpack("!I", o[59])[0] != 3150:
    fail("T1/T2")
ok(f"selecting: DISCOVER/OFFER/REQUEST/ACK gives {ip_a} with server id, mask, router, lease 3600, T1 1800, T2 3150")

# PRL honoured: asking only for the router still gets mask + router, but no domain/broadcast.
r = expect(a.discover(prl=bytes([3])), OFFER, "DISCOVER with PRL")
if 15 in r["opts"] or 28 in r["opts"] or 3 not in r["opts"]:
    fail(f"PRL not honoured: {sorted(r['opts'])}")
if r["yiaddr"] != ip_a:
    fail("a bound client re-discovering was offered another address")
ok("parameter request list honoured; a bound client is offered its own address again")

before = lease_of(a.mac)["expires_at"]
time.sleep(2.1)  # a renewal within 2 s of the last is answered with the same binding (not a new commit)
set_addr(ip_a)
# RENEWING: unicast from ciaddr to the server, no server id, no requested address.
xid = random.getrandbits(32)
r = expect(a.exchange(a.packet(REQUEST, xid, ciaddr=ip_a, broadcast=False), xid, dst=SERVER), ACK, "RENEWING")
if r["yiaddr"] != ip_a or r["src"][0] != SERVER:
    fail(f"renew reply {r['yiaddr']} from {r['src']}")
after = lease_of(a.mac)["expires_at"]
if not after > before:
    fail(f"renew did not extend the lease ({before} -> {after})")
ok(f"renewing: unicast ACK from {SERVER}, lease extended to {after}")

# REBINDING: broadcast with ciaddr.
xid = random.getrandbits(32)
expect(a.exchange(a.packet(REQUEST, xid, ciaddr=ip_a, broadcast=False), xid), ACK, "REBINDING")
ok("rebinding: broadcast REQUEST with ciaddr gets an ACK")
del_addr(ip_a)

# INIT-REBOOT: its own address → ACK; a stale address (another subnet) → NAK; another client's → NAK.
xid = random.getrandbits(32)
expect(a.exchange(a.packet(REQUEST, xid, requested=ip_a), xid), ACK, "INIT-REBOOT own address")
xid = random.getrandbits(32)
r = expect(a.exchange(a.packet(REQUEST, xid, requested="10.1.2.3"), xid), NAK, "INIT-REBOOT foreign subnet")
if r["yiaddr"] != "0.0.0.0" or 51 in r["opts"]:
    fail("NAK carries an address or lease time")
b = Client("52:54:00:aa:00:02")
xid = random.getrandbits(32)
expect(b.exchange(b.packet(REQUEST, xid, requested=ip_a), xid), NAK, "INIT-REBOOT with another client's address")
ok("init-reboot: own address ACKed; stale (foreign subnet) and taken addresses NAKed")

# RELEASE frees the address, and the event says so.
_, ack_b = b.dora()
ip_b = expect(ack_b, ACK, "client b")["yiaddr"]
set_addr(ip_b)
xid = random.getrandbits(32)
Client.sock.sendto(b.packet(RELEASE, xid, ciaddr=ip_b, broadcast=False, server=SERVER), (SERVER, 67))
del_addr(ip_b)
for _ in range(50):
    if lease_of(b.mac) is None:
        break
    time.sleep(0.02)
else:
    fail("released lease still listed")
if "lease.released" not in open(f"{WORK}/daemon.log").read():
    fail("no lease.released event")
ok(f"release: {ip_b} freed, lease.released published")

# DECLINE quarantines the address: nobody is offered it.
c = Client("52:54:00:aa:00:03")
_, ack_c = c.dora()
ip_c = expect(ack_c, ACK, "client c")["yiaddr"]
xid = random.getrandbits(32)
Client.sock.sendto(c.packet(DECLINE, xid, requested=ip_c, server=SERVER), ("255.255.255.255", 67))
time.sleep(0.2)
l = [x for x in api("/api/v1/leases")["leases"] if x["ip"] == ip_c]
if not l or l[0]["state"] != "declined":
    fail(f"declined address not quarantined: {l}")
d = Client("52:54:00:aa:00:04")
r = expect(d.discover(requested=ip_c), OFFER, "DISCOVER after decline")
if r["yiaddr"] == ip_c:
    fail("a declined address was offered again")
ok(f"decline: {ip_c} quarantined and not offered to the next client (got {r['yiaddr']})")

# INFORM: configuration without a lease, unicast back to ciaddr.
e = Client("52:54:00:aa:00:05")
set_addr("192.168.26.5")
xid = random.getrandbits(32)
r = expect(e.exchange(e.packet(INFORM, xid, ciaddr="192.168.26.5", broadcast=False), xid, dst=SERVER), ACK, "INFORM")
if r["yiaddr"] != "0.0.0.0" or 51 in r["opts"] or 3 not in r["opts"]:
    fail(f"INFORM ACK: yiaddr {r['yiaddr']}, options {sorted(r['opts'])}")
del_addr("192.168.26.5")
ok("inform: ACK with options, no address, no lease time")

# Two clients racing for the same requested address: exactly one gets it.
want = "192.168.26.17"
f1, f2 = Client("52:54:00:aa:00:06"), Client("52:54:00:aa:00:07")
o1 = expect(f1.discover(requested=want), OFFER, "racer 1")
o2 = expect(f2.discover(requested=want), OFFER, "racer 2")
if o1["yiaddr"] == o2["yiaddr"]:
    fail("the same address was offered to two clients")
r1, r2 = f1.select(want), f2.select(want)
acks = [r for r in (r1, r2) if r and r["type"] == ACK and r["yiaddr"] == want]
if len(acks) != 1 or not r2 or r2["type"] != NAK:
    fail(f"race: {[(r and NAMES.get(r['type']), r and r['yiaddr']) for r in (r1, r2)]}")
ok(f"race for {want}: one ACK, one NAK (the loser was offered {o2['yiaddr']})")

# A relayed request (giaddr) is answered to the relay on port 67.
relay = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
set_addr("192.168.26.6")
relay.bind(("192.168.26.6", 67))
g = Client("52:54:00:aa:00:08")
xid = random.getrandbits(32)
r = g.exchange(g.packet(DISCOVER, xid, giaddr="192.168.26.6", hops=1, broadcast=False), xid, dst=SERVER, sock=relay)
expect(r, OFFER, "relayed DISCOVER")
if r["src"] != (SERVER, 67) or r["giaddr"] != "192.168.26.6":
    fail(f"relay reply from {r['src']} giaddr {r['giaddr']}")
relay.close()
del_addr("192.168.26.6")
ok("relay: DISCOVER with giaddr answered to the relay's port 67")

# Malformed packets are dropped; the server keeps answering.
junk = [b"", b"\x01" * 10, b"\x01" * 239, a.packet(DISCOVER, 1)[:-20] + b"\x35\x05\x01", b"\x02" + a.packet(DISCOVER, 2)[1:],
        a.packet(DISCOVER, 3)[:236] + b"XXXX" + b"\xff", bytes(random.getrandbits(8) for _ in range(600))]
for j in junk:
    Client.sock.sendto(j, ("255.255.255.255", 67))
expect(a.discover(), OFFER, "DISCOVER after junk")
if api("/api/v1/health")["status"] != "ok":
    fail("daemon unhealthy after junk")
ok(f"{len(junk)} malformed packets dropped; the server still answers")

# Restart between DISCOVER and REQUEST: the client still gets its address; bound leases survive.
h = Client("52:54:00:aa:00:09")
o = expect(h.discover(), OFFER, "DISCOVER before restart")
stop()
start()
expect(h.select(o["yiaddr"]), ACK, "REQUEST after restart")
xid = random.getrandbits(32)
expect(b.exchange(b.packet(REQUEST, xid, requested=ip_a), xid), NAK, "another client asking for a's address after restart")
if lease_of(a.mac)["ip"] != ip_a:
    fail("a's lease lost across restart")
ok(f"restart between DISCOVER and REQUEST: {o['yiaddr']} ACKed; {ip_a} still a's after restart")

# kill -9 right after an ACK: the lease is in the store on restart.
k = Client("52:54:00:aa:00:0a")
_, ack_k = k.dora()
ip_k = expect(ack_k, ACK, "client k")["yiaddr"]
stop(signal.SIGKILL)
start()
l = lease_of(k.mac)
if not l or l["ip"] != ip_k or l["state"] != "bound":
    fail(f"lease ACKed before kill -9 is gone: {l}")
xid = random.getrandbits(32)
expect(b.exchange(b.packet(REQUEST, xid, requested=ip_k), xid), NAK, "request for k's address after kill -9")
ok(f"kill -9 right after the ACK: {ip_k} is in the store and not given to anyone else")

# Pool exhaustion: fill the pool, the next client gets no offer and the log says so.
net = api("/api/v1/network")["dhcp_pool"]
n = 0
while True:
    cl = Client("52:54:00:bb:%02x:%02x" % (n // 256, n % 256))
    offer, ack = cl.dora()
    if offer is None:
        break
    expect(ack, ACK, f"filler {n}")
    n += 1
    if n > net["size"]:
        fail("more leases than pool addresses")
if "pool exhausted" not in open(f"{WORK}/daemon.log").read():
    fail("pool exhaustion not logged")
ips = [x["ip"] for x in api("/api/v1/leases")["leases"] if x["state"] in ("bound", "offered", "declined")]
if len(ips) != len(set(ips)):
    fail("an address is listed twice")
ok(f"pool exhaustion: {n} more clients filled the pool of {net['size']}; the next got no offer (logged); no address twice")
stop()
