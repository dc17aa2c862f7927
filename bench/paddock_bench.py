"""Shared by the bench scripts: a throwaway network namespace this process joins, and paddockd
started in it with its own state_dir and namespace names; everything is removed on exit."""
import ctypes, json, os, shutil, signal, socket, subprocess, tempfile, time, urllib.request

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
PADDOCKD = os.path.join(ROOT, "build", "src", "paddockd")


def sh(*cmd, **kw):
    return subprocess.run(list(cmd), check=True, capture_output=True, text=True, **kw)


class World:
    """`with World("ba") as w:` joins a fresh namespace; w.start() runs paddockd there."""

    def __init__(self, tag, paddockd=PADDOCKD, work_mode=0o755):
        self.tag = f"{tag}{os.getpid()}"
        self.host, self.pd = self.tag + "h", self.tag + "p"
        self.paddockd = paddockd
        self.work = tempfile.mkdtemp(prefix=f"paddock-bench-{tag}.")
        os.chmod(self.work, work_mode)
        self.state = os.path.join(self.work, "state")
        self.procs = []
        self.token = None

    def __enter__(self):
        sh("ip", "netns", "add", self.host)
        sh("ip", "-n", self.host, "link", "set", "lo", "up")
        fd = os.open(f"/run/netns/{self.host}", os.O_RDONLY)
        if ctypes.CDLL(None, use_errno=True).setns(fd, 0x40000000) != 0:
            raise SystemExit("setns failed")
        os.makedirs(os.path.join(self.state, "images"))
        return self

    def start(self, log_level="info", extra=None):
        """Starts paddockd; `extra` holds more top-level config keys (e.g. "dns_service")."""
        cfg = os.path.join(self.work, "config.json")
        doc = {"state_dir": self.state, "network": {"namespace": self.pd, "host_veth": self.tag[:9] + "v"}}
        doc.update(extra or {})
        json.dump(doc, open(cfg, "w"))
        log = open(os.path.join(self.work, "daemon.log"), "w")
        d = subprocess.Popen([self.paddockd, "--config", cfg, "--log-level", log_level], stdout=log, stderr=log)
        self.procs.append(d)
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", 8080), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        if not os.path.exists(os.path.join(self.state, "api-token")):
            raise SystemExit("paddockd did not start: " + open(os.path.join(self.work, "daemon.log")).read()[-2000:])
        self.token = open(os.path.join(self.state, "api-token")).read().strip()
        self.daemon = d
        return d

    def api(self, method, path, body=None, timeout=600):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request("http://127.0.0.1:8080" + path, data=data, method=method,
                                     headers={"Authorization": "Bearer " + self.token})
        out = urllib.request.urlopen(req, timeout=timeout).read()
        return json.loads(out) if out[:1] in (b"{", b"[") else out

    def __exit__(self, *exc):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
        cfg = os.path.join(self.work, "config.json")
        if os.path.exists(cfg):
            subprocess.run([self.paddockd, "teardown", "--config", cfg], capture_output=True)
        subprocess.run(["ip", "netns", "del", self.host], capture_output=True)
        shutil.rmtree(self.work, ignore_errors=True)
        return False
