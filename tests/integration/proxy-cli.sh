#!/bin/bash
# bottle-proxy's command line and CA: `ca init` (files, modes, fingerprint,
# idempotence), usage errors, config errors, and the minted leaves as
# openssl s_client sees them through a hop: ECDSA P-256, SAN for DNS names
# and IP literals, chained to the hop CA, ALPN http/1.1.
source "$BOTTLE_SRC/tests/helpers/proxy-lib.sh"

fp=$("$PROXY" ca init "$W/ca") ; rc=$?
check "ca init exits 0" [ "$rc" = 0 ]
check "ca init creates ca.pem and ca-key.pem" [ -f "$W/ca/ca.pem" -a -f "$W/ca/ca-key.pem" ]
check "ca-key.pem is 0600" [ "$(stat -c %a "$W/ca/ca-key.pem")" = 600 ]
check "the CA dir is 0700" [ "$(stat -c %a "$W/ca")" = 700 ]
want=$(openssl x509 -in "$W/ca/ca.pem" -noout -fingerprint -sha256 | cut -d= -f2)
check "ca init prints the SHA-256 fingerprint" [ "$fp" = "$want" ]
check "ca init again keeps the CA" [ "$("$PROXY" ca init "$W/ca")" = "$fp" ]
check "the CA is a CA" bash -c "openssl x509 -in '$W/ca/ca.pem' -noout -text | grep -q 'CA:TRUE'"
mkdir -p "$W/loose" && cp "$W/ca/"* "$W/loose/" && chmod 644 "$W/loose/ca-key.pem"
check "a world-readable CA key is refused" bash -c "! '$PROXY' ca init '$W/loose' 2>'$W/loose.err'"
check "... with a reason" grep -q 'readable by others' "$W/loose.err"

"$PROXY" --help >"$W/help"; rc=$?
check "--help exits 0" [ "$rc" = 0 ]
check "--help shows the commands" grep -q 'bottle-proxy pipelock' "$W/help"
"$PROXY" frobnicate 2>/dev/null; rc=$?
check "an unknown command exits 2" [ "$rc" = 2 ]
"$PROXY" egress --listen 127.0.0.1:0 2>/dev/null; rc=$?
check "missing options exit 2" [ "$rc" = 2 ]
printf 'name: x\nbogus: 1\n' >"$W/bad.yaml"
"$PROXY" pipelock --listen 127.0.0.1:0 --ca-dir "$W/ca" --config "$W/bad.yaml" 2>"$W/bad.err"; rc=$?
check "a bad manifest exits 1" [ "$rc" = 1 ]
check "... naming file:line:col" grep -q 'bad.yaml:2:1' "$W/bad.err"

make_upstream_pki
start_upstream up
cat >"$W/m.yaml" <<Y
name: cli
upstream:
  resolve: {api.example.test: "127.0.0.1:$UP_PORT"}
  ca_file: $W/up-ca.pem
Y
start_hop eg egress --config "$W/m.yaml"; EG=$HOP_PORT
check "the hop event reports the real port" [ "$EG" -gt 0 ]
sclient() { # HOST [extra]
  echo | timeout 20 openssl s_client -proxy "127.0.0.1:$EG" -connect "$1:443" -CAfile "$W/ca-eg/ca.pem" \
    -alpn h2,http/1.1 -showcerts "${@:2}" 2>&1
}
sclient api.example.test -servername api.example.test -verify_hostname api.example.test >"$W/s1"
check "leaf verifies against the hop CA with hostname check" grep -q 'Verify return code: 0 (ok)' "$W/s1"
check "ALPN picks http/1.1 over h2" grep -q 'ALPN protocol: http/1.1' "$W/s1"
openssl x509 -noout -text <"$W/s1" >"$W/leaf1.txt"
check "leaf is ECDSA P-256" grep -q 'NIST CURVE: P-256' "$W/leaf1.txt"
check "leaf SAN is the DNS name" grep -q 'DNS:api.example.test' "$W/leaf1.txt"
check "leaf is not a CA" grep -q 'CA:FALSE' "$W/leaf1.txt"
sclient 127.0.0.1 -verify_ip 127.0.0.1 >"$W/s2"
openssl x509 -noout -text <"$W/s2" >"$W/leaf2.txt"
check "leaf for an IP literal has an IP SAN" grep -q 'IP Address:127.0.0.1' "$W/leaf2.txt"
check "... and verifies" grep -q 'Verify return code: 0 (ok)' "$W/s2"
finish
