#!/usr/bin/env python3
"""bench/tunnels.py: open N intercepted CONNECT tunnels (TLS handshake done,
one request each) through a hop and report the hop's RSS before and after.

usage: tunnels.py PROXY_PORT HOP_PID CACERT HOST [N]
"""
import socket, ssl, sys

port, pid, cacert, host = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
n = int(sys.argv[5]) if len(sys.argv) > 5 else 1000


def rss():
    for line in open("/proc/%s/status" % pid):
        if line.startswith("VmRSS"):
            return int(line.split()[1])


ctx = ssl.create_default_context(cafile=cacert)
before = rss()
conns = []
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"CONNECT %s:443 HTTP/1.1\r\nHost: %s:443\r\n\r\n" % (host.encode(), host.encode()))
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(4096)
    t = ctx.wrap_socket(s, server_hostname=host)
    t.sendall(b"GET /echo HTTP/1.1\r\nHost: %s\r\n\r\n" % host.encode())
    got = b""
    while b"\r\n\r\n" not in got:
        got += t.recv(65536)
    conns.append(t)
after = rss()
print("%d open tunnels: hop RSS %d KiB -> %d KiB (%.1f KiB per tunnel)"
      % (n, before, after, (after - before) / n))
