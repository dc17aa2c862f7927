#!/usr/bin/python3
"""Parses GET /metrics (stdin) with the Prometheus client library's own parser and checks it.
  metrics_check.py NAME{label=value,...}>=N ...   each sample must exist and meet its bound"""
import re, sys
from prometheus_client.parser import text_string_to_metric_families

text = sys.stdin.read()
samples = {}
families = {}
for fam in text_string_to_metric_families(text):  # raises on anything that is not the text format
    families[fam.name] = fam.type
    for s in fam.samples:
        samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
for want in ("paddock_vms", "paddock_dhcp_packets", "paddock_dhcp_active_leases", "paddock_dhcp_pool_free",
             "paddock_http_requests", "paddock_http_request_duration_seconds", "paddock_websocket_clients",
             "paddock_websocket_dropped_clients", "paddock_events_published", "paddock_fabric_repairs",
             "paddock_loop_stall_seconds"):
    if want not in families:
        sys.exit(f"FAIL: family {want} missing; have {sorted(families)}")
for arg in sys.argv[1:]:
    m = re.fullmatch(r"(\w+)(?:\{(.*)\})?(>=|==)([\d.]+)", arg)
    name, labels, op, bound = m.group(1), m.group(2) or "", m.group(3), float(m.group(4))
    key = (name, tuple(sorted(tuple(kv.split("=", 1)) for kv in labels.split(",") if kv)))
    if key not in samples:
        sys.exit(f"FAIL: no sample {arg}")
    v = samples[key]
    if not (v >= bound if op == ">=" else v == bound):
        sys.exit(f"FAIL: {arg}: value {v}")
print(f"ok: {len(families)} families, {len(samples)} samples parsed")
