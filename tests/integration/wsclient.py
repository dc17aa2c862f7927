"""A minimal WebSocket client (RFC 6455) for the integration tests, standard library only:
handshake with a token, over TLS when given a context, masked client frames, text/binary/close/ping frames, read with a timeout."""
import base64, json, os, socket, struct

class WebSocket:
    def __init__(self, host, port, path, token=None, timeout=10, tls=None):
        """tls: an ssl.SSLContext for wss:// (the handshake checks the server's certificate)."""
        self.s = socket.create_connection((host, port), timeout=timeout)
        if tls is not None:
            self.s = tls.wrap_socket(self.s, server_hostname=host)
        key = base64.b64encode(os.urandom(16)).decode()
        auth = f"Authorization: Bearer {token}\r\n" if token else ""
        self.s.sendall((f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{auth}\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.s.recv(4096)
            if not chunk:
                raise ConnectionError("closed during the handshake")
            head += chunk
        head, self.buf = head.split(b"\r\n\r\n", 1)
        self.status = int(head.split(b" ")[1])
        if self.status != 101:
            raise ConnectionError(f"handshake refused: {head.decode(errors='replace').splitlines()[0]}")

    def _read(self, n):
        while len(self.buf) < n:
            chunk = self.s.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv(self, timeout=10):
        """The next data message as (opcode, bytes); opcode 8 is a close (bytes: code + reason)."""
        self.s.settimeout(timeout)
        while True:
            b0, b1 = self._read(2)
            op, n = b0 & 15, b1 & 127
            if n == 126:
                n = struct.unpack("!H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._read(8))[0]
            payload = self._read(n)
            if op == 9:  # ping: answer
                self.send(payload, opcode=10)
                continue
            if op == 10:
                continue
            return op, payload

    def recv_json(self, timeout=10):
        op, payload = self.recv(timeout)
        if op != 1:
            raise ConnectionError(f"expected a text frame, got opcode {op}: {payload!r}")
        return json.loads(payload)

    def send(self, data, opcode=2):
        if isinstance(data, str):
            data, opcode = data.encode(), 1 if opcode == 2 else opcode
        mask = os.urandom(4)
        n = len(data)
        head = bytes([0x80 | opcode])
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack("!Q", n)
        self.s.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def close(self):
        try:
            self.send(struct.pack("!H", 1000), opcode=8)
        except OSError:
            pass
        self.s.close()
