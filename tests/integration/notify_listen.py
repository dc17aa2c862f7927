#!/usr/bin/python3
"""A fake service manager or journal: binds a unix datagram socket and prints each datagram it
gets, one line each, with its arrival time:
  "notify <unix time> <state with newlines as |>"  or  "journal <unix time> <FIELD=value|...>"
(the journal's binary-safe MESSAGE is decoded). Usage: notify_listen.py notify|journal PATH"""
import os, select, socket, struct, sys, time

socks = {}
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[2])
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
socks[s] = sys.argv[1]
print("listening", flush=True)


def fields(b):
    out, i = [], 0
    while i < len(b):
        nl = b.index(b"\n", i)
        line = b[i:nl]
        if b"=" in line:
            out.append(line.decode(errors="replace"))
            i = nl + 1
        else:  # NAME\n<u64 le length><data>\n
            n = struct.unpack("<Q", b[nl + 1:nl + 9])[0]
            out.append(line.decode() + "=" + b[nl + 9:nl + 9 + n].decode(errors="replace"))
            assert b[nl + 9 + n:nl + 10 + n] == b"\n", "binary field not closed by a newline"
            i = nl + 10 + n
    return out


while True:
    r, _, _ = select.select(list(socks), [], [])
    for s in r:
        data = s.recv(1 << 20)
        t = f"{time.time():.3f}"
        if socks[s] == "notify":
            print("notify", t, data.decode(errors="replace").replace("\n", "|"), flush=True)
        else:
            print("journal", t, "|".join(fields(data)).replace("\n", "\\n"), flush=True)
