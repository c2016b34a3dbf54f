#!/bin/bash
# bottle-proxy against bad and slow input: the request-smuggling corpus
# (fuzz/corpus/fuzz-http/smuggle-*: CL+TE, double CL, obs-fold, bad chunk
# sizes, ...) gets 400 and a close, oversized heads 431, oversized URLs 414,
# a slowloris client 408 after the header timeout, random bytes and TLS
# garbage an answer or a close; the idle timeout never cuts a moving
# download; and after all of it the hop still serves everyone else.
source "$BOTTLE_SRC/tests/helpers/proxy-lib.sh"
CORPUS=$SRC/fuzz/corpus/fuzz-http

make_upstream_pki
start_upstream up
start_upstream plain --plain
cat >"$W/m.yaml" <<Y
name: robust
pipelock:
  mode: strict
  allow: [api.example.test]
upstream:
  resolve: {api.example.test: "127.0.0.1:$PLAIN_PORT"}
Y
cat >"$W/tls.yaml" <<Y
name: robust
pipelock:
  mode: strict
  allow: [api.example.test]
upstream:
  resolve: {api.example.test: "127.0.0.1:$UP_PORT"}
  ca_file: $W/up-ca.pem
Y
start_hop pl pipelock --config "$W/m.yaml" --header-timeout-ms 1000 --idle-timeout-ms 1500; PL=$HOP_PORT
start_hop eg egress --config "$W/tls.yaml" --header-timeout-ms 1000 --idle-timeout-ms 1500; EG=$HOP_PORT

serves() { # PORT: a normal request still works
  [[ $(curl -sS --max-time 10 -x "http://127.0.0.1:$1" -o /dev/null -w '%{http_code}' http://api.example.test/echo) == 200 ]]
}

# ---- smuggling corpus --------------------------------------------------------
n=0
for f in "$CORPUS"/smuggle-*; do
  n=$((n + 1))
  name=$(basename "$f")
  for hop in pl:$PL eg:$EG; do
    got=$($CLIENT raw "${hop#*:}" "$f")
    if [[ $got == "HTTP/1.1 400 "* ]]; then ok "${hop%%:*}: $name -> 400"; else bad "${hop%%:*}: $name -> $got"; fi
  done
done
((n >= 10)) || bad "smuggling corpus has only $n cases"
# The same inside an intercepted TLS tunnel.
sed 's#http://api.example.test##' "$CORPUS/smuggle-cl-te.http" >"$W/inner-cl-te"
got=$($CLIENT tlsraw "$EG" api.example.test "$W/ca-eg/ca.pem" "$W/inner-cl-te")
check "CL+TE inside a TLS tunnel -> 400 ($got)" [ "${got:0:12}" = "HTTP/1.1 400" ]
check "smuggling is logged on stderr" grep -q 'bad request' "$W/pl.err"

# ---- sizes ---------------------------------------------------------------------
big=$(head -c 70000 /dev/zero | tr '\0' a)
printf 'GET http://api.example.test/echo HTTP/1.1\r\nHost: api.example.test\r\nX-Big: %s\r\n\r\n' "$big" >"$W/bighead"
got=$($CLIENT raw "$PL" "$W/bighead")
check "70 KB header -> 431 ($got)" [ "${got:0:12}" = "HTTP/1.1 431" ]
for i in $(seq 300); do printf 'X-H%d: v\r\n' "$i"; done >"$W/many"
{ printf 'GET http://api.example.test/echo HTTP/1.1\r\nHost: api.example.test\r\n'; cat "$W/many"; printf '\r\n'; } >"$W/manyhead"
got=$($CLIENT raw "$PL" "$W/manyhead")
check "300 header lines -> 431 ($got)" [ "${got:0:12}" = "HTTP/1.1 431" ]
long=$(head -c 9000 /dev/zero | tr '\0' b)
printf 'GET http://api.example.test/echo?%s HTTP/1.1\r\nHost: api.example.test\r\n\r\n' "$long" >"$W/longurl"
got=$($CLIENT raw "$PL" "$W/longurl")
check "9 KB URL -> 414 ($got)" [ "${got:0:12}" = "HTTP/1.1 414" ]

# ---- garbage -------------------------------------------------------------------
for i in 1 2 3 4 5; do
  head -c 4096 /dev/urandom >"$W/rand$i"
  got=$($CLIENT raw "$PL" "$W/rand$i")
  check "random bytes #$i: answered or closed ($got)" bash -c "[[ '$got' == 'HTTP/1.1 4'* || '$got' == closed ]]"
done
got=$($CLIENT raw "$PL" "$CORPUS/garbage-tls.http")
check "TLS garbage at the port: answered or closed ($got)" bash -c "[[ '$got' == 'HTTP/1.1 4'* || '$got' == closed ]]"
echo | timeout 10 openssl s_client -connect "127.0.0.1:$PL" >"$W/sclient" 2>&1
check "openssl s_client (TLS at a plain port) is turned away" grep -qi 'error\|no peer certificate' "$W/sclient"
{ printf 'CONNECT api.example.test:443 HTTP/1.1\r\nHost: api.example.test:443\r\n\r\n'; head -c 2048 /dev/urandom; } >"$W/connect-garbage"
got=$($CLIENT raw "$EG" "$W/connect-garbage")
check "garbage after CONNECT: tunnel opened, then closed ($got)" bash -c "[[ '$got' == 'HTTP/1.1 200'* || '$got' == closed ]]"
check "TLS failure is explained on stderr" grep -q 'TLS with the client' "$W/eg.err"

# ---- slow clients and timeouts ---------------------------------------------------
$CLIENT slowloris "$PL" 10 >"$W/slow" &
slow=$!
check "served while a slowloris client dribbles" serves "$PL"
wait $slow
check "slowloris cut by the header timeout ($(cat "$W/slow"))" grep -q '^cut HTTP/1.1 408' "$W/slow"
# A download slower than the idle timeout, but always moving, is never cut.
N=$((6 * 1024 * 1024))
sz=$(curl -sS --max-time 30 --limit-rate 2M -x "http://127.0.0.1:$EG" --cacert "$W/ca-eg/ca.pem" \
  "https://api.example.test/bytes?n=$N" | wc -c)
check "a moving 3 s download outlives a 1.5 s idle timeout ($sz bytes)" [ "$sz" -eq "$N" ]

# ---- upstream TLS is verified ---------------------------------------------------
cat >"$W/untrusted.yaml" <<Y
name: robust
upstream:
  resolve: {api.example.test: "127.0.0.1:$UP_PORT", wrong.example.test: "127.0.0.1:$UP_PORT", closed.example.test: "127.0.0.1:1"}
Y
start_hop un egress --config "$W/untrusted.yaml"; UN=$HOP_PORT
UC=(curl -sS --max-time 20 -x "http://127.0.0.1:$UN" --cacert "$W/ca-un/ca.pem" -o "$W/un.body" -w '%{http_code}')
check "an upstream not signed by a trusted CA -> 502" [ "$("${UC[@]}" https://api.example.test/echo)" = 502 ]
check "... saying why" grep -q 'certificate verify failed' "$W/un.body"
{ cat "$W/untrusted.yaml"; echo "  ca_file: $W/up-ca.pem"; } >"$W/trusted.yaml"
start_hop tr egress --config "$W/trusted.yaml"; TR=$HOP_PORT
TC=(curl -sS --max-time 20 -x "http://127.0.0.1:$TR" --cacert "$W/ca-tr/ca.pem" -o "$W/tr.body" -w '%{http_code}')
check "trusted upstream passes" [ "$("${TC[@]}" https://api.example.test/echo)" = 200 ]
check "an upstream whose certificate lacks the name -> 502" [ "$("${TC[@]}" https://wrong.example.test/echo)" = 502 ]
check "... hostname mismatch explained" grep -qi 'hostname mismatch\|verify failed' "$W/tr.body"
check "a refused upstream connection -> 502" [ "$("${TC[@]}" https://closed.example.test/echo)" = 502 ]

# An upstream that accepts but never speaks TLS: 504 after the connect timeout.
"$PY" -c "
import socket, time
s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(8)
print(s.getsockname()[1], flush=True)
conns = []
while True:
    c, _ = s.accept(); conns.append(c)
" >"$W/hole.port" &
PIDS+=($!)
wait_for 10 test -s "$W/hole.port"
printf 'name: robust\nupstream:\n  resolve: {hole.example.test: "127.0.0.1:%s"}\n' "$(cat "$W/hole.port")" >"$W/hole.yaml"
start_hop hole egress --config "$W/hole.yaml" --connect-timeout-ms 1000; HOLE=$HOP_PORT
code=$(curl -sS --max-time 20 -x "http://127.0.0.1:$HOLE" --cacert "$W/ca-hole/ca.pem" -o /dev/null -w '%{http_code}' https://hole.example.test/)
check "a silent upstream -> 504 after the connect timeout ($code)" [ "$code" = 504 ]

# ---- still alive ---------------------------------------------------------------
check "pipelock still serves" serves "$PL"
code=$(curl -sS --max-time 10 -x "http://127.0.0.1:$EG" --cacert "$W/ca-eg/ca.pem" -o /dev/null -w '%{http_code}' https://api.example.test/echo)
check "egress still serves" [ "$code" = 200 ]
check "pipelock process alive" kill -0 "$pl_PID"
check "egress process alive" kill -0 "$eg_PID"
finish
