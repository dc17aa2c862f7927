#!/usr/bin/python3
"""IPv6 probes run inside a test namespace standing in for a VM's port (stdlib only):
  ipv6_probe.py ra IFACE             send a Router Solicitation, print the RA that answers (JSON)
  ipv6_probe.py dhcpv6 IFACE         stateless DHCPv6 INFORMATION-REQUEST, print the reply (JSON)
  ipv6_probe.py rogue-ra IFACE N     send N Router Advertisements (a guest pretending to be a router)
  ipv6_probe.py rogue-na IFACE ADDR N  send N unsolicited Neighbour Advertisements claiming ADDR
  ipv6_probe.py aaaa SERVER NAME     AAAA of NAME from SERVER over UDP/IPv6 (one line per address)
  ipv6_probe.py ptr SERVER ADDR      the PTR name of ADDR
"""
import ipaddress, json, os, random, select, socket, struct, sys, time

def ifindex(name):
    return socket.if_nametoindex(name)

def ra(iface):
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, ifindex(iface))
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVHOPLIMIT, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, iface.encode())
    s.sendto(struct.pack("!BBHI", 133, 0, 0, 0), ("ff02::2", 0, 0, ifindex(iface)))
    deadline = time.time() + 5
    while time.time() < deadline:
        r, _, _ = select.select([s], [], [], deadline - time.time())
        if not r:
            break
        data, anc, _, src = s.recvmsg(2000, 256)
        if data[0] != 134:
            continue
        hop = [struct.unpack("i", d)[0] for l, t, d in anc if t == socket.IPV6_HOPLIMIT]
        out = {"source": src[0].split("%")[0], "hop_limit": hop[0] if hop else None, "cur_hop_limit": data[4],
               "managed": bool(data[5] & 0x80), "other": bool(data[5] & 0x40),
               "router_lifetime": struct.unpack("!H", data[6:8])[0], "prefixes": [], "rdnss": [], "dnssl": []}
        at = 16
        while at + 2 <= len(data):
            t, l = data[at], data[at + 1] * 8
            o = data[at:at + l]
            if l == 0:
                break
            if t == 3:
                out["prefixes"].append({"prefix": str(ipaddress.IPv6Address(o[16:32])) + "/" + str(o[2]),
                                        "onlink": bool(o[3] & 0x80), "autonomous": bool(o[3] & 0x40),
                                        "valid": struct.unpack("!I", o[4:8])[0], "preferred": struct.unpack("!I", o[8:12])[0]})
            elif t == 25:
                out["rdnss"] += [str(ipaddress.IPv6Address(o[i:i + 16])) for i in range(8, l, 16)]
                out["rdnss_lifetime"] = struct.unpack("!I", o[4:8])[0]
            elif t == 31:
                names, i, labels = [], 8, []
                while i < l and o[i] != 0 or labels:
                    if i >= l or o[i] == 0:
                        names.append(".".join(labels)); labels = []; i += 1
                        if i >= l or o[i] == 0:
                            break
                        continue
                    labels.append(o[i + 1:i + 1 + o[i]].decode()); i += 1 + o[i]
                if labels:
                    names.append(".".join(labels))
                out["dnssl"] = names
            at += l
        print(json.dumps(out))
        return 0
    print(json.dumps({"error": "no router advertisement within 5 s"}))
    return 1

def dhcpv6(iface):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, iface.encode())
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, ifindex(iface))
    s.bind(("::", 546))
    xid = random.randrange(1 << 24)
    duid = b"\x00\x03\x00\x01" + bytes(random.randrange(256) for _ in range(6))
    msg = bytes([11]) + xid.to_bytes(3, "big") + struct.pack("!HH", 1, len(duid)) + duid + struct.pack("!HHH", 6, 2, 23)
    s.sendto(msg, ("ff02::1:2", 547, 0, ifindex(iface)))
    s.settimeout(5)
    try:
        data, src = s.recvfrom(2000)
    except socket.timeout:
        print(json.dumps({"error": "no DHCPv6 reply within 5 s"}))
        return 1
    out = {"type": data[0], "xid_ok": int.from_bytes(data[1:4], "big") == xid, "source": src[0].split("%")[0], "dns": [], "domains": []}
    at = 4
    while at + 4 <= len(data):
        code, l = struct.unpack("!HH", data[at:at + 4])
        v = data[at + 4:at + 4 + l]
        if code == 1:
            out["client_id_ok"] = v == duid
        elif code == 2:
            out["server_id"] = v.hex()
        elif code == 23:
            out["dns"] = [str(ipaddress.IPv6Address(v[i:i + 16])) for i in range(0, l, 16)]
        elif code == 24:
            i, labels = 0, []
            while i < l and v[i]:
                labels.append(v[i + 1:i + 1 + v[i]].decode()); i += 1 + v[i]
            out["domains"].append(".".join(labels))
        at += 4 + l
    print(json.dumps(out))
    return 0

def rogue_ra(iface, n):
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, ifindex(iface))
    prefix = ipaddress.IPv6Address("2001:db8:bad::").packed
    msg = struct.pack("!BBHBBHII", 134, 0, 0, 64, 0, 9000, 0, 0) + struct.pack("!BBBBIII", 3, 4, 64, 0xC0, 86400, 14400, 0) + prefix
    for _ in range(n):
        s.sendto(msg, ("ff02::1", 0, 0, ifindex(iface)))
        time.sleep(0.01)
    return 0

def rogue_na(iface, target, n):
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, ifindex(iface))
    mac = bytes.fromhex(open(f"/sys/class/net/{iface}/address").read().strip().replace(":", ""))
    msg = struct.pack("!BBHI", 136, 0, 0, 0x20000000) + ipaddress.IPv6Address(target).packed + bytes([2, 1]) + mac
    for _ in range(n):
        s.sendto(msg, ("ff02::1", 0, 0, ifindex(iface)))
        time.sleep(0.01)
    return 0

def dns_query(server, name, qtype):
    q = struct.pack("!HHHHHH", random.randrange(65536), 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    q += b"\x00" + struct.pack("!HH", qtype, 1)
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.settimeout(3)
    s.sendto(q, (server, 53))
    data, _ = s.recvfrom(4096)
    an = struct.unpack("!H", data[6:8])[0]
    at = len(q)
    out = []
    def name_at(i):
        labels = []
        while True:
            l = data[i]
            if l == 0:
                return ".".join(labels), i + 1
            if l & 0xC0:
                n, _ = name_at(((l & 0x3F) << 8) | data[i + 1])
                labels.append(n)
                return ".".join(labels), i + 2
            labels.append(data[i + 1:i + 1 + l].decode()); i += 1 + l
    for _ in range(an):
        _, at = name_at(at)
        t, _, _, l = struct.unpack("!HHIH", data[at:at + 10])
        rd = data[at + 10:at + 10 + l]
        if t == 28:
            out.append(str(ipaddress.IPv6Address(rd)))
        elif t == 12:
            out.append(name_at(at + 10)[0])
        at += 10 + l
    return data[3] & 15, out

if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "ra":
        sys.exit(ra(sys.argv[2]))
    if cmd == "dhcpv6":
        sys.exit(dhcpv6(sys.argv[2]))
    if cmd == "rogue-ra":
        sys.exit(rogue_ra(sys.argv[2], int(sys.argv[3])))
    if cmd == "rogue-na":
        sys.exit(rogue_na(sys.argv[2], sys.argv[3], int(sys.argv[4])))
    if cmd == "aaaa":
        rc, ans = dns_query(sys.argv[2], sys.argv[3], 28)
        print("\n".join(ans) if ans else f"rcode {rc}")
        sys.exit(0 if ans else 1)
    if cmd == "ptr":
        rc, ans = dns_query(sys.argv[2], ipaddress.IPv6Address(sys.argv[3]).reverse_pointer, 12)
        print("\n".join(ans) if ans else f"rcode {rc}")
        sys.exit(0 if ans else 1)
    sys.exit(__doc__)
