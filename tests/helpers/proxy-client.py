#!/usr/bin/env python3
"""proxy-client: raw-socket clients for what curl cannot do in the bottle-proxy tests.

  ws PROXY_PORT HOST CACERT            CONNECT, TLS, WebSocket upgrade, echo
  raw PROXY_PORT FILE                  send FILE's bytes, print the status line (or "closed")
  tlsraw PROXY_PORT HOST CACERT FILE   CONNECT + TLS, then send FILE, print the status line
  slowloris PROXY_PORT SECONDS         dribble a head; print "cut STATUS" when the hop ends it
  sni PROXY_PORT HOST SNI CACERT       CONNECT HOST, TLS with SNI, GET /echo; print the status line
"""
import base64, os, socket, ssl, sys, time


def connect(port):
    s = socket.create_connection(("127.0.0.1", int(port)), timeout=20)
    return s


def read_head(s):
    data = b""
    while b"\r\n\r\n" not in data:
        try:
            chunk = s.recv(65536)
        except (socket.timeout, ConnectionResetError, ssl.SSLError, OSError):
            break
        if not chunk:
            break
        data += chunk
    return data


def status_line(data):
    if not data:
        return "closed"
    return data.split(b"\r\n", 1)[0].decode("latin-1")


def tunnel(port, host, cacert, sni=None):
    s = connect(port)
    s.sendall(b"CONNECT %s:443 HTTP/1.1\r\nHost: %s:443\r\n\r\n" % (host.encode(), host.encode()))
    head = read_head(s)
    if not head.startswith(b"HTTP/1.1 200"):
        print("connect failed:", status_line(head))
        sys.exit(1)
    ctx = ssl.create_default_context(cafile=cacert)
    ctx.check_hostname = False  # the SNI tests send a name the leaf does not carry
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx.wrap_socket(s, server_hostname=sni or host)


def main():
    mode = sys.argv[1]
    if mode == "ws":
        port, host, cacert = sys.argv[2:5]
        t = tunnel(port, host, cacert)
        key = base64.b64encode(os.urandom(16))
        t.sendall(b"GET /ws HTTP/1.1\r\nHost: %s\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                  b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: %s\r\n\r\n" % (host.encode(), key))
        head = read_head(t)
        print(status_line(head))
        rest = head.split(b"\r\n\r\n", 1)[1]
        msg = b"bottle websocket echo " * 100
        t.sendall(msg)
        got = rest
        deadline = time.time() + 20
        while len(got) < len(msg) and time.time() < deadline:
            chunk = t.recv(65536)
            if not chunk:
                break
            got += chunk
        print("echo ok" if got == msg else "echo mismatch (%d bytes)" % len(got))
    elif mode == "raw":
        port, path = sys.argv[2:4]
        s = connect(port)
        s.sendall(open(path, "rb").read())
        print(status_line(read_head(s)))
    elif mode == "tlsraw":
        port, host, cacert, path = sys.argv[2:6]
        t = tunnel(port, host, cacert)
        t.sendall(open(path, "rb").read())
        print(status_line(read_head(t)))
    elif mode == "sni":
        port, host, sni, cacert = sys.argv[2:6]
        try:
            t = tunnel(port, host, cacert, sni=sni)
            t.sendall(b"GET /echo HTTP/1.1\r\nHost: %s\r\n\r\n" % host.encode())
            head = read_head(t)
            print(status_line(head))
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"x-bottle-block"):
                    print(line.decode())
        except (ssl.SSLError, OSError) as e:
            print("closed", e)
    elif mode == "slowloris":
        port, secs = sys.argv[2], float(sys.argv[3])
        s = connect(port)
        s.sendall(b"GET http://api.example.test/echo HTTP/1.1\r\nHost: api.example.test\r\n")
        start = time.time()
        s.settimeout(0.2)
        while time.time() - start < secs:
            try:
                s.sendall(b"X")
            except OSError:
                print("cut closed %.1f" % (time.time() - start))
                return
            try:
                data = s.recv(65536)
                print("cut %s %.1f" % (status_line(data), time.time() - start))
                return
            except socket.timeout:
                pass
            except OSError:
                print("cut closed %.1f" % (time.time() - start))
                return
        print("not cut")
    else:
        sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main()
