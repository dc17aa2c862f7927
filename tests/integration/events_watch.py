#!/usr/bin/python3
"""Reads GET /api/v1/events (inside the test's host namespace) and prints one line per event,
"type vm data-json", until killed or --count events were seen. Usage: events_watch.py TOKEN [SINCE]"""
import json, os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wsclient import WebSocket

token = sys.argv[1]
path = "/api/v1/events" + (f"?since={sys.argv[2]}" if len(sys.argv) > 2 else "")
ws = WebSocket("127.0.0.1", 8080, path, token=token)
print("connected", flush=True)
while True:
    e = ws.recv_json(timeout=300)
    print(e["seq"], e["type"], e.get("vm", "-"), json.dumps(e.get("data", {}), separators=(",", ":")), flush=True)
