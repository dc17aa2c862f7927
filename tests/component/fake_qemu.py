#!/usr/bin/python3
"""A stand-in for qemu-system-x86_64 in component tests: takes QEMU's command line, serves QMP on
the -qmp socket and a console on the -chardev socket, and behaves like QEMU for the commands the
supervisor sends (qmp-spec: greeting, qmp_capabilities, ids echoed, events). The guest powers off
on system_powerdown unless FAKE_QEMU_DEAF is set (a guest that ignores the power button). With
FAKE_AGENT set, a guest agent answers on the qga0 channel (QGA: guest-sync-delimited's 0xFF
sentinel, ids echoed, guest-shutdown powers off without a reply), its port opening 0.3 s after
start (VSERPORT_CHANGE)."""
import json, os, select, socket, sys, time

args = sys.argv[1:]
qmp_path = console_path = agent_path = None
for i, a in enumerate(args):
    if a == "-qmp":
        qmp_path = args[i + 1].split(",")[0].removeprefix("unix:")
    if a == "-chardev":
        parts = dict(p.split("=", 1) for p in args[i + 1].split(",")[1:] if "=" in p)
        if parts.get("id") == "console":
            console_path = parts["path"]
        if parts.get("id") == "qga0":
            agent_path = parts["path"]
deaf = os.environ.get("FAKE_QEMU_DEAF") == "1"

def listen(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.listen(4)
    return s

qmp_l, con_l = listen(qmp_path), listen(console_path)
agent_l = listen(agent_path) if agent_path and os.environ.get("FAKE_AGENT") == "1" else None
clients, consoles, agents, bufs = [], [], [], {}
started = time.time()
agent_open = False

def lines_from(s, peers):
    """The complete lines that arrived on `s` (None when it closed: it leaves `peers`)."""
    data = s.recv(4096)
    if not data:
        peers.remove(s)
        return None
    bufs[s] += data
    out = []
    while b"\n" in bufs[s]:
        line, bufs[s] = bufs[s].split(b"\n", 1)
        out.append(line)
    return out


def agent_reply(c, msg):
    cmd, mid = msg.get("execute"), msg.get("id")
    ret = {}
    if cmd == "guest-sync-delimited":
        c.sendall(b"\xff")
        ret = msg["arguments"]["id"]
    elif cmd == "guest-shutdown":
        shutdown(True, "guest-shutdown")  # no reply: the agent never answers a shutdown that works
    elif cmd == "guest-info":
        ret = {"version": "7.2.0-fake", "supported_commands": []}
    elif cmd == "guest-get-osinfo":
        ret = {"name": "Fake Linux", "pretty-name": "Fake Linux 1 (test)", "version": "1 (test)", "kernel-release": "6.1.0-fake"}
    elif cmd == "guest-get-host-name":
        ret = {"host-name": "fakehost"}
    elif cmd == "guest-network-get-interfaces":
        ret = [{"name": "lo", "hardware-address": "00:00:00:00:00:00", "ip-addresses": [{"ip-address-type": "ipv4", "ip-address": "127.0.0.1", "prefix": 8}]},
               {"name": "eth0", "hardware-address": "52:54:00:00:00:01", "ip-addresses": [{"ip-address-type": "ipv4", "ip-address": "192.168.26.10", "prefix": 24}]}]
    elif cmd == "guest-get-fsinfo":
        ret = [{"name": "vda1", "mountpoint": "/", "type": "ext4", "total-bytes": 4 << 30, "used-bytes": 1 << 30, "disk": []}]
    else:
        ret = None
    reply = {"return": ret} if ret is not None else {"error": {"class": "CommandNotFound", "desc": cmd}}
    if mid is not None:
        reply["id"] = mid
    send(c, reply)

def send(c, obj):
    c.sendall((json.dumps(obj) + "\r\n").encode())

def event(name, data=None):
    for c in clients:
        send(c, {"event": name, "data": data or {}, "timestamp": {"seconds": int(time.time()), "microseconds": 0}})

def shutdown(guest, reason):
    event("SHUTDOWN", {"guest": guest, "reason": reason})
    time.sleep(0.05)
    sys.exit(0)

status = "running"
while True:
    if agent_l and not agent_open and clients and time.time() - started > 0.3:
        agent_open = True
        event("VSERPORT_CHANGE", {"id": "agent0", "open": True})
    r, _, _ = select.select([qmp_l, con_l] + ([agent_l] if agent_l else []) + clients + agents, [], [], 0.1)
    for s in r:
        if s is agent_l:
            c, _ = agent_l.accept()
            agents.append(c)
            bufs[c] = b""
            continue
        if s in agents:
            for line in lines_from(s, agents) or []:
                line = line.lstrip(b"\xff")
                if line.strip():
                    agent_reply(s, json.loads(line))
            continue
        if s is qmp_l:
            c, _ = qmp_l.accept()
            clients.append(c)
            bufs[c] = b""
            send(c, {"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}}, "capabilities": []}})
        elif s is con_l:
            c, _ = con_l.accept()
            consoles.append(c)
            c.sendall(b"fake console: booted\r\n")
        else:
            for line in lines_from(s, clients) or []:
                msg = json.loads(line)
                cmd, mid = msg.get("execute"), msg.get("id")
                reply = {"return": {}}
                if cmd == "query-status":
                    reply = {"return": {"status": status, "running": status == "running"}}
                elif cmd == "query-chardev":
                    reply = {"return": [{"label": "qga0", "filename": "unix:" + str(agent_path), "frontend-open": agent_open}]}
                elif cmd == "query-blockstats":
                    n = int(time.time() * 1000) % 10**9
                    reply = {"return": [{"device": "", "qdev": "disk0", "stats": {
                        "rd_bytes": n * 512, "wr_bytes": n * 64, "rd_operations": n, "wr_operations": n // 8}}]}
                elif cmd == "qom-get" and msg["arguments"].get("property") == "guest-stats":
                    reply = {"return": {"stats": {"stat-total-memory": 256 << 20, "stat-available-memory": 200 << 20,
                                                  "stat-free-memory": 180 << 20}, "last-update": int(time.time())}}
                if mid is not None:
                    reply["id"] = mid
                send(s, reply)
                if cmd == "stop":
                    status = "paused"
                    event("STOP")
                elif cmd == "cont":
                    status = "running"
                    event("RESUME")
                elif cmd == "system_powerdown":
                    event("POWERDOWN")
                    if not deaf:
                        shutdown(True, "guest-shutdown")
                elif cmd == "quit":
                    shutdown(False, "host-qmp-quit")
