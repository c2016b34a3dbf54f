#!/bin/bash
# pipelock's blocks with real curl, openssl s_client and raw clients: hosts
# not allowed or denied, DLP secrets in the query / a header / the body
# (also base64-encoded), oversized bodies, SNI and Host mismatches, IP
# literals to internal addresses in many spellings, passthrough tunnels, and
# the same blocks seen through the egress -> pipelock chain. Every block is
# a 403 with X-Bottle-Block and a request event that never echoes the secret.
source "$BOTTLE_SRC/tests/helpers/proxy-lib.sh"

make_upstream_pki
start_upstream up
start_upstream plain --plain
printf 'tok-%s\n' "$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n')" >"$W/token" && chmod 600 "$W/token"
cat >"$W/strict.yaml" <<Y
name: blocks
egress:
  routes:
    - host: api.example.test
      header: Authorization
      value: "Bearer \${token}"
      token: {file: $W/token}
pipelock:
  mode: strict
  allow: [api.example.test, pass.example.test, "*.pastebin.com"]
  deny: ["*.pastebin.com"]
  passthrough: [pass.example.test]
  dlp:
    patterns:
      - {name: internal-key, regex: "ik_[A-Za-z0-9]{32}"}
upstream:
  resolve: {api.example.test: "127.0.0.1:$UP_PORT", pass.example.test: "127.0.0.1:$UP_PORT", paste.pastebin.com: "127.0.0.1:$UP_PORT"}
  ca_file: $W/up-ca.pem
Y
cat >"$W/balanced.yaml" <<Y
name: blocks
pipelock:
  mode: balanced
upstream:
  resolve: {10.1.2.3: "127.0.0.1:$PLAIN_PORT"}
Y
start_hop pl pipelock --config "$W/strict.yaml"; PL=$HOP_PORT
start_hop bal pipelock --config "$W/balanced.yaml"; BAL=$HOP_PORT
start_hop eg egress --config "$W/strict.yaml" --parent "127.0.0.1:$PL"; EG=$HOP_PORT

PLC=(curl -sS --max-time 20 -x "http://127.0.0.1:$PL" --cacert "$W/ca-pl/ca.pem")
EGC=(curl -sS --max-time 20 -x "http://127.0.0.1:$EG" --cacert "$W/ca-eg/ca.pem")
U=https://api.example.test
GHP=ghp_$(printf 'A1b2C3d4E5%.0s' 1 2 3 4 | head -c 36)
AWS=AKIAIOSFODNN7EXAMPLE

# expect_block NAME REASON-SUBSTRING curl-args...: a 403 with X-Bottle-Block.
expect_block() {
  local name=$1 reason=$2; shift 2
  local code
  code=$("$@" -o "$W/body" -D "$W/hdrs" -w '%{http_code}' 2>/dev/null)
  if [[ $code == 403 ]] && grep -qi "^x-bottle-block: .*$reason" "$W/hdrs"; then
    ok "$name"
  else
    bad "$name (status $code)"; cat "$W/hdrs" "$W/body" 2>/dev/null | head -5
  fi
}
# expect_connect_refused NAME curl-args...: the CONNECT itself got 403.
expect_connect_refused() {
  local name=$1; shift
  local code
  code=$("$@" -o /dev/null -w '%{http_connect}' 2>/dev/null)
  if [[ $code == 403 ]]; then ok "$name"; else bad "$name (CONNECT status $code)"; fi
}

# ---- host rules -----------------------------------------------------------
expect_connect_refused "host not allowed (CONNECT)" "${PLC[@]}" https://evil.example.test/
check "event: host not in allowlist" grep -q '"host":"evil.example.test".*"verdict":"block","reason":"host not in allowlist"' "$W/pl.out"
expect_block "host not allowed (absolute-form http)" "host not in allowlist" "${PLC[@]}" http://evil.example.test/
expect_connect_refused "denied host wins over allow" "${PLC[@]}" https://paste.pastebin.com/
check "event: host denied with its rule" grep -q '"reason":"host denied","rule":"\*.pastebin.com"' "$W/pl.out"
expect_block "chain: host not allowed" "host not in allowlist" "${EGC[@]}" https://evil.example.test/echo

# ---- DLP ------------------------------------------------------------------
expect_block "DLP: secret in the query" "dlp" "${PLC[@]}" "$U/echo?key=$AWS"
expect_block "DLP: secret in a header" "dlp" "${PLC[@]}" -H "X-Debug: $GHP" "$U/echo"
expect_block "DLP: secret in the body" "dlp" "${PLC[@]}" -d "token=$GHP" "$U/echo"
expect_block "DLP: chunked body" "dlp" "${PLC[@]}" -H 'Transfer-Encoding: chunked' -d "x=$GHP" "$U/echo"
B64=$(printf '%s' "$GHP" | base64 | tr -d '\n=')
expect_block "DLP: base64-encoded secret in the query" "dlp" "${PLC[@]}" "$U/echo?data=$B64"
expect_block "DLP: manifest pattern" "dlp" "${PLC[@]}" "$U/echo?k=ik_0123456789abcdef0123456789ABCDEF"
expect_block "chain: DLP secret in the query" "dlp" "${EGC[@]}" "$U/echo?key=$AWS"
expect_block "chain: DLP secret in the body" "dlp" "${EGC[@]}" -d "token=$GHP" "$U/echo"
head -c $((6 * 1024 * 1024)) /dev/zero >"$W/big.bin"
expect_block "DLP: body over 5 MiB is blocked" "too large" "${PLC[@]}" --data-binary @"$W/big.bin" "$U/echo"
expect_block "DLP: chunked body over 5 MiB is blocked" "too large" "${PLC[@]}" -H 'Transfer-Encoding: chunked' --data-binary @"$W/big.bin" "$U/echo"
check "DLP events log scheme and host only" bash -c "! grep '\"reason\":\"dlp' '$W/pl.out' | grep -q '\"path\"'"
check "DLP events name the rule" grep -q '"rule":"aws-access-key-id"' "$W/pl.out"
check "no secret in pipelock's output" bash -c "! grep -qE '$AWS|$GHP|$B64|ik_0123' '$W/pl.out' '$W/pl.err'"
check "no secret in egress's output" bash -c "! grep -qE '$AWS|$GHP' '$W/eg.out' '$W/eg.err'"
"${PLC[@]}" -o "$W/clean" -d 'hello=world' "$U/echo"
check "a clean request still passes" grep -q '"body": "hello=world"' "$W/clean"

# ---- SNI and Host agreement ------------------------------------------------
$CLIENT sni "$PL" api.example.test other.example.test "$W/ca-pl/ca.pem" >"$W/sni" 2>&1
check "SNI mismatch is blocked" grep -qE '403|closed' "$W/sni"
check "event: sni mismatch" grep -q '"reason":"sni mismatch"' "$W/pl.out"
$CLIENT sni "$PL" api.example.test api.example.test "$W/ca-pl/ca.pem" >"$W/sni-ok" 2>&1
check "matching SNI passes" grep -q '200' "$W/sni-ok"
expect_block "Host header mismatch inside the tunnel" "host mismatch" "${PLC[@]}" -H 'Host: other.example.test' "$U/echo"
expect_block "Host header mismatch (absolute-form)" "host mismatch" "${PLC[@]}" -H 'Host: other.example.test' "http://api.example.test/echo"

# ---- passthrough ------------------------------------------------------------
code=$(curl -sS --max-time 20 -x "http://127.0.0.1:$PL" --cacert "$W/up-ca.pem" -o "$W/pass" -w '%{http_code}' https://pass.example.test/echo)
check "passthrough host is tunnelled (origin's own certificate)" [ "$code" = 200 ]
echo | timeout 20 openssl s_client -proxy "127.0.0.1:$PL" -connect pass.example.test:443 \
  -servername evil.example.test -CAfile "$W/up-ca.pem" >"$W/sclient" 2>&1
check "passthrough with a mismatched SNI is closed" grep -q 'no peer certificate available' "$W/sclient"
check "event: passthrough sni mismatch" grep -q '"host":"pass.example.test".*"reason":"sni mismatch"' "$W/pl.out"

# ---- egress never sends a route's token in cleartext ---------------------------
expect_block "egress: route host over plain http is refused" "route requires https" "${EGC[@]}" http://api.example.test/echo
check "egress: token never in its output" bash -c "! grep -qF \"\$(cat '$W/token')\" '$W/eg.out' '$W/eg.err'"

# ---- audit mode reports but passes -------------------------------------------------
sed -e 's/mode: strict/mode: audit/' "$W/strict.yaml" >"$W/audit.yaml"
start_hop aud pipelock --config "$W/audit.yaml"; AUD=$HOP_PORT
code=$(curl -sS --max-time 20 -x "http://127.0.0.1:$AUD" --cacert "$W/ca-aud/ca.pem" -o /dev/null -w '%{http_code}' \
  "https://api.example.test/echo?key=$AWS")
check "audit: a DLP hit passes ($code)" [ "$code" = 200 ]
check "audit: ... and is reported" grep -q '"verdict":"allow","reason":"dlp' "$W/aud.out"

# ---- IP literals -----------------------------------------------------------
BC=(curl -sS --max-time 20 -x "http://127.0.0.1:$BAL")
for ip in 127.0.0.1 127.1 2130706433 0x7f.0.0.1 0177.0.0.1 0x7f000001 "[::1]" "[::ffff:127.0.0.1]" \
          "[::ffff:7f00:1]" 10.0.0.1 192.168.1.1 172.16.0.1 169.254.169.254 "[fe80::1]" 0.0.0.0; do
  expect_block "internal address $ip (absolute-form)" "internal address" "${BC[@]}" "http://$ip:$PLAIN_PORT/echo"
done
for ip in 127.0.0.1 2130706433 0x7f.1 "[::1]" 169.254.169.254; do
  expect_connect_refused "internal address $ip (CONNECT)" "${BC[@]}" --cacert "$W/ca-bal/ca.pem" "https://$ip:$UP_PORT/echo"
done
code=$("${BC[@]}" -o "$W/resolved" -w '%{http_code}' "http://10.1.2.3/echo")
check "an internal address named by upstream.resolve passes" [ "$code" = 200 ]
check "every block event has verdict block" bash -c "grep '\"reason\":\"internal address\"' '$W/bal.out' | grep -q '\"verdict\":\"block\"'"
finish
