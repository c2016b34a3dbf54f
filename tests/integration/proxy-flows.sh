#!/bin/bash
# bottle-proxy request flows with real curl through egress alone, pipelock
# alone, and the egress -> pipelock chain: GET, POST, chunked upload,
# Expect: 100-continue, SSE streaming, WebSocket, keep-alive reuse, a 100 MB
# download in constant memory, and the egress token swap (the upstream sees
# the real token, never the placeholder; no hop output contains it).
source "$BOTTLE_SRC/tests/helpers/proxy-lib.sh"

make_upstream_pki
start_upstream up
TOKEN="sk-ant-oat01-$(head -c 300 /dev/urandom | base64 | tr -dc A-Za-z0-9 | head -c 90)"  # matches the DLP rule: pipelock must exempt the route header
printf '%s\n' "$TOKEN" >"$W/token" && chmod 600 "$W/token"
cat >"$W/m.yaml" <<Y
name: flows
egress:
  routes:
    - host: api.example.test
      header: Authorization
      value: "Bearer \${token}"
      token: {file: $W/token}
      placeholder_env: X_TOKEN
pipelock:
  mode: strict
  allow: [api.example.test]
upstream:
  resolve: {api.example.test: "127.0.0.1:$UP_PORT"}
  ca_file: $W/up-ca.pem
Y

start_hop pl pipelock --config "$W/m.yaml"; PL=$HOP_PORT
start_hop eg egress --config "$W/m.yaml" --parent "127.0.0.1:$PL"; EG=$HOP_PORT
start_hop solo egress --config "$W/m.yaml"; SOLO=$HOP_PORT

head -c 3000000 /dev/urandom >"$W/upload.bin"
UPLOAD_SHA=$(sha256sum <"$W/upload.bin" | cut -d' ' -f1)
N=$((100 * 1024 * 1024))
BIG_SHA=$("$PY" -c "
import hashlib,sys
p=bytes(i%251 for i in range(251*1024)); h=hashlib.sha256(); n=$N
while n>0:
    k=min(len(p),n); h.update(p[:k]); n-=k
print(h.hexdigest())")

jget() { "$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }

suite() { # MODE PORT CACERT HOPS...
  local m=$1 port=$2 ca=$3
  local C=(curl -sS --max-time 60 -x "http://127.0.0.1:$port" --cacert "$ca")
  local U=https://api.example.test

  "${C[@]}" -o "$W/$m.get" -H "Authorization: Bearer bottle-placeholder" "$U/echo?q=1"
  check "$m: GET /echo" [ "$(jget "$W/$m.get" 'd["method"]+" "+d["path"]')" = "GET /echo?q=1" ]
  if [[ $m != pipelock ]]; then
    check "$m: upstream got the real token" grep -q "Bearer $TOKEN" "$W/$m.get"
    check "$m: upstream never saw the placeholder" bash -c "! grep -q bottle-placeholder '$W/$m.get'"
  else
    check "$m: pipelock alone passes the agent's header" grep -q "bottle-placeholder" "$W/$m.get"
  fi

  "${C[@]}" -o "$W/$m.post" -d 'a=1&b=two' "$U/echo"
  check "$m: POST body arrives" [ "$(jget "$W/$m.post" 'd["method"]+" "+d["body"]')" = "POST a=1&b=two" ]

  "${C[@]}" -o "$W/$m.chunked" -H 'Transfer-Encoding: chunked' --data-binary @"$W/upload.bin" "$U/echo"
  check "$m: chunked upload arrives intact" [ "$(jget "$W/$m.chunked" 'd["body_sha256"]')" = "$UPLOAD_SHA" ]

  "${C[@]}" -o "$W/$m.expect" -H 'Expect: 100-continue' --data-binary @"$W/upload.bin" "$U/echo"
  check "$m: Expect: 100-continue upload" [ "$(jget "$W/$m.expect" 'd["body_sha256"]')" = "$UPLOAD_SHA" ]

  # SSE: the first event must arrive while the stream is still open; the
  # upstream holds the rest until the gate file exists.
  "${C[@]}" -N -o "$W/$m.sse" "$U/sse?gate=$W/gate-$m" &
  local sse=$!
  if wait_for 20 grep -q 'data: first' "$W/$m.sse" && ! grep -q 'data: last' "$W/$m.sse"; then
    ok "$m: SSE first event arrives before the stream ends"
  else
    bad "$m: SSE first event arrives before the stream ends"
  fi
  touch "$W/gate-$m"
  wait $sse
  check "$m: SSE stream completes" grep -q 'data: last' "$W/$m.sse"

  $CLIENT ws "$port" api.example.test "$ca" >"$W/$m.ws" 2>&1
  check "$m: WebSocket handshake (101)" grep -q '^HTTP/1.1 101' "$W/$m.ws"
  check "$m: WebSocket echo through the tunnel" grep -q '^echo ok' "$W/$m.ws"

  "${C[@]}" -v -o "$W/$m.ka1" "$U/echo" -o "$W/$m.ka2" "$U/echo" 2>"$W/$m.ka.err"
  check "$m: keep-alive: client connection reused" grep -q 'Re-using existing connection' "$W/$m.ka.err"
  check "$m: keep-alive: upstream connection reused" \
    [ "$(jget "$W/$m.ka1" 'd["client_port"]')" = "$(jget "$W/$m.ka2" 'd["client_port"]')" ]

  "${C[@]}" -o "$W/$m.pool1" "$U/echo"
  "${C[@]}" -o "$W/$m.pool2" "$U/echo"
  check "$m: upstream connection pooled across client connections" \
    [ "$(jget "$W/$m.pool1" 'd["client_port"]')" = "$(jget "$W/$m.pool2" 'd["client_port"]')" ]

  "${C[@]}" -I -o "$W/$m.head" "$U/bytes?n=12345"
  check "$m: HEAD gets headers only" grep -qi 'content-length: 12345' "$W/$m.head"

  local sum
  sum=$("${C[@]}" "$U/bytes?n=$N" | sha256sum | cut -d' ' -f1)
  check "$m: 100 MB download checksum" [ "$sum" = "$BIG_SHA" ]
}

suite egress-solo "$SOLO" "$W/ca-solo/ca.pem"
suite pipelock "$PL" "$W/ca-pl/ca.pem"
suite chain "$EG" "$W/ca-eg/ca.pem"

# Constant memory: after 3 x 100 MB no hop grew past a small peak.
# (ASan's quarantine keeps freed memory on purpose: no RSS bound there.)
asan=$(ldd "$PROXY" 2>/dev/null | grep -c libasan)
for h in pl eg solo; do
  [[ $asan -eq 0 ]] || break
  pid_var=${h}_PID
  hwm=$(awk '/VmHWM/{print $2}' "/proc/${!pid_var}/status")
  check "$h: peak RSS ${hwm} KiB stays under 64 MiB" [ "$hwm" -lt 65536 ]
done

# Plain-HTTP absolute-form through pipelock and the chain.
start_upstream plain --plain
cat >"$W/plain.yaml" <<Y
name: flows
pipelock:
  mode: strict
  allow: [api.example.test]
upstream:
  resolve: {api.example.test: "127.0.0.1:$PLAIN_PORT"}
Y
start_hop plp pipelock --config "$W/plain.yaml"
curl -sS --max-time 20 -x "http://127.0.0.1:$HOP_PORT" -o "$W/plain.get" "http://api.example.test/echo?x=1"
check "pipelock: absolute-form http:// GET" [ "$(jget "$W/plain.get" 'd["path"]')" = "/echo?x=1" ]

# Events: one request event per request, with the fields of DESIGN section 7.
check "egress events carry auth rewritten:<host>" grep -q '"auth":"rewritten:api.example.test"' "$W/eg.out"
check "pipelock events carry verdict allow" grep -q '"hop":"pipelock".*"verdict":"allow"' "$W/pl.out"
check "request events have status and byte counts" grep -q '"status":200,"bytes_up":[0-9]*,"bytes_down":[0-9]*' "$W/solo.out"
for h in pl eg solo; do
  check "$h: every stdout line is JSON" "$PY" -c "
import json,sys
for l in open('$W/$h.out'): json.loads(l)"
  check "$h: the token appears in no output" bash -c "! grep -qF '$TOKEN' '$W/$h.out' '$W/$h.err'"
done
finish
