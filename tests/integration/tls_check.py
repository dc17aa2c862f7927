#!/usr/bin/python3
"""The TLS checks that need a client holding state (tests/integration/tls.sh runs it in the test's
host namespace). Verbs:
  wss HOST PORT CAFILE TOKEN       an event over WSS: creates a VM through HTTPS, reads vm.created
  hold HOST PORT CAFILE TOKEN OUT  one keep-alive HTTPS connection: a request, then waits for the
                                   file OUT.go, then another request on the same connection; writes
                                   "first second same-socket" to OUT
  fingerprint HOST PORT            the SHA-256 of the certificate a new connection is served"""
import hashlib, http.client, json, os, socket, ssl, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wsclient import WebSocket

verb = sys.argv[1]


def context(cafile):
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.check_hostname = True
    return ctx


if verb == "wss":
    host, port, cafile, token = sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
    ws = WebSocket(host, port, "/api/v1/events?types=vm.created", token=token, tls=context(cafile))
    c = http.client.HTTPSConnection(host, port, context=context(cafile), timeout=10)
    c.request("POST", "/api/v1/vms", json.dumps({"name": "tlsvm", "kernel": "nothing"}),
              {"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    r = c.getresponse()
    assert r.status == 201, (r.status, r.read())
    e = ws.recv_json(timeout=10)
    assert e["type"] == "vm.created" and e["vm"] == "tlsvm", e
    print("wss ok", e["seq"], ws.s.version(), ws.s.cipher()[0])
elif verb == "hold":
    host, port, cafile, token, out = sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6]
    c = http.client.HTTPSConnection(host, port, context=context(cafile), timeout=10)
    h = {"Authorization": "Bearer " + token}
    c.request("GET", "/api/v1/health", headers=h)
    first = c.getresponse()
    first.read()
    sock = c.sock
    before = hashlib.sha256(sock.getpeercert(binary_form=True)).hexdigest()
    open(out + ".ready", "w").write("ready\n")
    for _ in range(300):
        if os.path.exists(out + ".go"):
            break
        time.sleep(0.05)
    c.request("GET", "/api/v1/health", headers=h)
    second = c.getresponse()
    second.read()
    open(out, "w").write(f"{first.status} {second.status} {'same-socket' if c.sock is sock else 'reconnected'} {before}\n")
elif verb == "fingerprint":
    host, port = sys.argv[2], int(sys.argv[3])
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection((host, port), timeout=10) as s, ctx.wrap_socket(s) as t:
        print(":".join(f"{b:02X}" for b in hashlib.sha256(t.getpeercert(binary_form=True)).digest()))
else:
    sys.exit("usage: tls_check.py wss|hold|fingerprint ...")
