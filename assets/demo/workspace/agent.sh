#!/bin/sh
# The demo agent: a few requests through the bottle's proxy chain, repeated, so
# every dashboard pane has something to show. Runs inside the sandbox.
set -u
n=0
req() {
  label=$1; shift
  code=$(curl -sS -m 10 -o /dev/null -w '%{http_code}' "$@" 2>/dev/null) || code="failed"
  echo "demo-agent: $label -> $code"
}
# A shaped-but-fake AWS key id, built so this file holds no literal secret.
fake_key="AKIA$(printf 'DEMO%s' 234567ABCDEF)"
while :; do
  n=$((n + 1))
  echo "demo-agent: round $n"
  req "allowed GET" https://api.demo.test/v1/hello
  req "credential rewritten by egress" -H "Authorization: Bearer ${DEMO_API_TOKEN:-none}" \
    -H 'content-type: application/json' -d '{"prompt":"hello"}' https://api.demo.test/v1/messages
  req "host not allowed" https://evil.demo.test/upload
  req "secret in the query" "https://api.demo.test/v1/search?q=$fake_key"
  [ "${DEMO_ROUNDS:-0}" -gt 0 ] && [ "$n" -ge "${DEMO_ROUNDS:-0}" ] && exit 0
  sleep 5
done
