"""The integration tier's scripted DHCP client and daemon control, shared by the Python tests.

Runs inside a client namespace on the bridge (eth0). Controls the daemon (start, SIGTERM, kill -9)
through nsenter into the test's host namespace. Environment: PADDOCKD, HOST_NS, WORK (config.json,
state/, daemon.log).
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

