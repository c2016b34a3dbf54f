#!/usr/bin/env python3
"""upstream: a test HTTPS server on 127.0.0.1 for integration tests.

usage: upstream.py CERT KEY PORTFILE LOGFILE [PORT]
Listens on 127.0.0.1:PORT (default 0: any free port), writes the port to PORTFILE, logs one JSON line per
request (method, host, path, headers) to LOGFILE. /echo answers with the
request as JSON; /sse streams three events; anything else answers "ok".
"""
import json
import ssl
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        rec = {"method": self.command, "path": self.path,
               "host": self.headers.get("Host"),
               "headers": {k: v for k, v in self.headers.items()},
               "body": body.decode("utf-8", "replace")}
        with open(self.server.logfile, "a") as f:
            f.write(json.dumps(rec) + "\n")
        if self.path.startswith("/sse"):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Connection", "close")
            self.end_headers()
            for i in range(3):
                self.wfile.write(b"data: event %d\n\n" % i)
                self.wfile.flush()
                time.sleep(0.2)
            return
        # The log keeps what arrived; the answer never reflects credentials
        # back into the bottle (a real upstream does not either).
        shown = dict(rec, headers={k: ("<redacted>" if k.lower() == "authorization" else v)
                                   for k, v in rec["headers"].items()})
        out = json.dumps(shown).encode() if self.path.startswith("/echo") else b"ok\n"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_GET = do_POST = do_PUT = do_DELETE = handle_any


def main():
    cert, key, portfile, logfile = sys.argv[1:5]
    port = int(sys.argv[5]) if len(sys.argv) > 5 else 0
    ThreadingHTTPServer.allow_reuse_address = True
    srv = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    srv.daemon_threads = True
    srv.logfile = logfile
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    with open(portfile + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    import os
    os.rename(portfile + ".tmp", portfile)
    srv.serve_forever()


if __name__ == "__main__":
    main()
