#!/usr/bin/python3
"""Integration: DHCP protocol scenarios against paddockd, driven by a scripted client.

Runs inside a client namespace on the bridge (eth0). Controls the daemon (start, SIGTERM, kill -9)
through nsenter into the test's host namespace. Environment: PADDOCKD, HOST_NS, WORK (config.json,
state/, daemon.log). Prints one "ok - ..." line per scenario; exits non-zero on the first failure.
"""
import json, os, random, signal, socket, struct, subprocess, sys, time

PADDOCKD, HOST_NS, WORK = os.environ["PADDOCKD"], os.environ["HOST_NS"], os.environ["WORK"]
CFG, STATE = f"{WORK}/config.json", f"{WORK}/state"
SERVER = "192.168.26.2"
COOKIE = b"\x63\x82\x53\x63"
DISCOVER, OFFER, REQUEST, DECLINE, ACK, NAK, RELEASE, INFORM = range(1, 9)
NAMES = {2: "OFFER", 5: "ACK", 6: "NAK"}

def fail(msg):
    print("FAIL:", msg, file=sys.stderr)
    try:
        print("--- daemon log (tail)\n" + "".join(open(f"{WORK}/daemon.log").readlines()[-25:]), file=sys.stderr)
    except OSError:
        pass
    sys.exit(1)

def ok(msg):
    print("ok -", msg, flush=True)

# --- daemon control ------------------------------------------------------------------------------
daemon = None

def api(path, method="GET", body=None):
    token = open(f"{STATE}/api-token").read().strip()
    cmd = ["nsenter", f"--net=/run/netns/{HOST_NS}", "curl", "-sS", "--max-time", "5", "-X", method,
           "-H", f"Authorization: Bearer {token}", f"http://127.0.0.1:8080{path}"]
    if body is not None:
        cmd[-1:-1] = ["-d", json.dumps(body)]
    out = subprocess.run(cmd, capture_output=True, text=True).stdout
    return json.loads(out) if out else None

def start():
    global daemon
    log = open(f"{WORK}/daemon.log", "a")
    daemon = subprocess.Popen(["nsenter", f"--net=/run/netns/{HOST_NS}", PADDOCKD, "--config", CFG, "--log-level", "debug"],
                              stdout=log, stderr=log)
    for _ in range(200):
        try:
            if os.path.exists(f"{STATE}/api-token") and api("/api/v1/health")["status"] == "ok":
                return
        except Exception:
            pass
        if daemon.poll() is not None:
            fail("daemon exited during start-up")
        time.sleep(0.05)
    fail("daemon not healthy")

def stop(sig=signal.SIGTERM):
    daemon.send_signal(sig)
    daemon.wait(10)

def lease_of(mac):
    for l in api("/api/v1/leases")["leases"]:
        if l["mac"] == mac:
            return l
    return None

# --- a scripted DHCP client ----------------------------------------------------------------------
def ip2b(ip): return socket.inet_aton(ip)
def b2ip(b): return socket.inet_ntoa(b)

class Client:
    sock = None

    def __init__(self, mac, client_id=None):
        self.mac = mac
        self.chaddr = bytes(int(x, 16) for x in mac.split(":"))
        self.client_id = client_id
        if Client.sock is None:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"eth0")
            s.bind(("", 68))
            Client.sock = s

    def packet(self, mtype, xid, ciaddr="0.0.0.0", giaddr="0.0.0.0", broadcast=True, hops=0, **opts):
        hdr = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 1, 1, 6, hops, xid, 0, 0x8000 if broadcast else 0,
                          ip2b(ciaddr), b"\0" * 4, b"\0" * 4, ip2b(giaddr), self.chaddr, b"", b"")
        o = bytes([53, 1, mtype])
        if self.client_id:
            o += bytes([61, len(self.client_id)]) + self.client_id
        for code, val in opts.items():
            code = {"requested": 50, "server": 54, "prl": 55, "hostname": 12, "maxsize": 57}[code]
            if code in (50, 54):
                val = ip2b(val)
            elif code == 57:
                val = struct.pack("!H", val)
            elif isinstance(val, str):
                val = val.encode()
            o += bytes([code, len(val)]) + val
        return hdr + COOKIE + o + b"\xff"

    def exchange(self, pkt, xid, dst="255.255.255.255", sock=None, timeout=1.0):
        s = sock or Client.sock
        s.sendto(pkt, (dst, 67))
        return self.wait(xid, sock=s, timeout=timeout)

    def wait(self, xid, sock=None, timeout=1.0):
        s = sock or Client.sock
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return None
            s.settimeout(left)
            try:
                data, src = s.recvfrom(2048)
            except socket.timeout:
                return None
            r = parse(data)
            if r and r["xid"] == xid and r["chaddr"] == self.chaddr:
                r["src"] = src
                return r

    def discover(self, **opts):
        xid = random.getrandbits(32)
        return self.exchange(self.packet(DISCOVER, xid, **opts), xid)

    def select(self, ip, server=SERVER):
        xid = random.getrandbits(32)
        return self.exchange(self.packet(REQUEST, xid, requested=ip, server=server), xid)

    def dora(self, **opts):
        offer = self.discover(**opts)
        if not offer or offer["type"] != OFFER:
            return offer, None
        return offer, self.select(offer["yiaddr"])

def parse(data):
    if len(data) < 240 or data[236:240] != COOKIE:
        return None
    op, _, hlen, _, xid, _, flags, ci, yi, si, gi, ch = struct.unpack("!BBBBIHH4s4s4s4s16s", data[:44])
    opts, i = {}, 240
    while i < len(data) and data[i] != 255:
        if data[i] == 0:
            i += 1
            continue
        opts[data[i]] = data[i + 2:i + 2 + data[i + 1]]
        i += 2 + data[i + 1]
    return {"op": op, "xid": xid, "flags": flags, "ciaddr": b2ip(ci), "yiaddr": b2ip(yi), "giaddr": b2ip(gi),
            "chaddr": ch[:hlen], "type": opts.get(53, b"\0")[0], "opts": opts, "len": len(data)}

def expect(r, mtype, what):
    if not r:
        fail(f"{what}: no reply")
    if r["type"] != mtype:
        fail(f"{what}: got {NAMES.get(r['type'], r['type'])}, want {NAMES[mtype]}")
    return r

def set_addr(ip):
    subprocess.run(["ip", "addr", "add", f"{ip}/24", "dev", "eth0"], check=True)

def del_addr(ip):
    subprocess.run(["ip", "addr", "del", f"{ip}/24", "dev", "eth0"], check=True)

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
time.sleep(1.1)
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
