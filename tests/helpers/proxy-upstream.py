#!/usr/bin/env python3
"""proxy-upstream: a test HTTPS origin for the bottle-proxy tests.

Endpoints: /echo (method, path, headers, body as JSON), /sse (events; with
?gate=FILE the rest waits until FILE exists), /bytes?n=N (N deterministic
bytes: byte i is i % 251), /ws (WebSocket handshake, then raw echo),
/status?code=N. Prints "listening PORT" once it accepts connections.
"""
import argparse, base64, hashlib, http.server, json, os, socket, ssl, sys, time
import urllib.parse

PATTERN = bytes(i % 251 for i in range(251 * 1024))  # whole periods: slices stay aligned


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("upstream: " + (fmt % args) + "\n")

    def read_body(self):
        te = self.headers.get("Transfer-Encoding", "")
        if te.lower() == "chunked":
            out = b""
            while True:
                line = self.rfile.readline()
                n = int(line.split(b";")[0].strip(), 16)
                if n == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return out, "chunked"
                out += self.rfile.read(n)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length", "0") or 0)
        return (self.rfile.read(n) if n else b""), "length"

    def send_json(self, obj, status=200):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def handle_any(self):
        u = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(u.query)
        if u.path == "/echo":
            body, framing = self.read_body()
            self.send_json({
                "method": self.command,
                "path": self.path,
                "headers": [[k, v] for k, v in self.headers.items()],
                "body": body.decode("latin-1"),
                "body_len": len(body),
                "body_sha256": hashlib.sha256(body).hexdigest(),
                "framing": framing,
                "tls": isinstance(self.connection, ssl.SSLSocket),
                "client_port": self.client_address[1],
            })
        elif u.path == "/sse":
            self.read_body()
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()

            def chunk(b):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(b), b))
                self.wfile.flush()
            chunk(b"data: first\n\n")
            gate = q.get("gate", [None])[0]
            if gate:
                deadline = time.time() + 30
                while not os.path.exists(gate) and time.time() < deadline:
                    time.sleep(0.02)
            for i in range(3):
                chunk(b"data: event %d\n\n" % i)
            chunk(b"data: last\n\n")
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        elif u.path == "/bytes":
            self.read_body()
            n = int(q.get("n", ["0"])[0])
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(n))
            self.end_headers()
            if self.command == "HEAD":
                return
            sent = 0
            while sent < n:
                k = min(len(PATTERN), n - sent)
                self.wfile.write(PATTERN[:k])
                sent += k
        elif u.path == "/ws":
            key = self.headers.get("Sec-WebSocket-Key", "")
            if self.headers.get("Upgrade", "").lower() != "websocket" or not key:
                self.send_json({"error": "not a websocket request"}, 400)
                return
            acc = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
            self.send_response(101)
            self.send_header("Upgrade", "websocket")
            self.send_header("Connection", "Upgrade")
            self.send_header("Sec-WebSocket-Accept", acc)
            self.end_headers()
            self.wfile.flush()
            self.close_connection = True
            while True:  # raw echo: enough to see bytes cross the tunnel both ways
                try:
                    data = self.connection.recv(65536)
                except OSError:
                    break
                if not data:
                    break
                self.connection.sendall(data)
        elif u.path == "/status":
            self.read_body()
            self.send_json({"status": int(q.get("code", ["200"])[0])}, int(q.get("code", ["200"])[0]))
        else:
            self.read_body()
            self.send_json({"error": "no such endpoint"}, 404)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = handle_any


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, ctx):
        self.ctx = ctx
        super().__init__(addr, Handler)

    def get_request(self):
        sock, addr = self.socket.accept()
        if self.ctx:
            sock = self.ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def finish_request(self, request, client_address):
        if self.ctx:
            try:
                request.settimeout(30)
                request.do_handshake()
                request.settimeout(None)
            except (OSError, ssl.SSLError) as e:
                sys.stderr.write("upstream: handshake failed: %s\n" % e)
                return
        super().finish_request(request, client_address)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--plain", action="store_true")
    a = ap.parse_args()
    ctx = None
    if not a.plain:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.cert, a.key)
        ctx.set_alpn_protocols(["http/1.1"])
    srv = Server(("127.0.0.1", a.port), ctx)
    print("listening %d" % srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
