#!/usr/bin/python3
"""Reads the event stream at PATH (e.g. /api/v1/events?types=vm.stats) for SECONDS and prints one
line per frame: "seq type vm t_ms". Usage: stats_watch.py TOKEN PATH SECONDS"""
import os, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wsclient import WebSocket

token, path, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
ws = WebSocket("127.0.0.1", 8080, path, token=token)
print("connected", flush=True)
end = time.time() + seconds
while time.time() < end:
    try:
        e = ws.recv_json(timeout=max(0.1, end - time.time()))
    except TimeoutError:
        break
    print(e["seq"], e["type"], e.get("vm", "-"), e.get("data", {}).get("t", "-"), flush=True)
