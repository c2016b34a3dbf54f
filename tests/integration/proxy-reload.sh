#!/bin/bash
# bottle-proxy's lifecycle: SIGHUP reloads the allowlist (the manifest's and
# pipelock's --allow-file) and the egress token live, a broken config on reload keeps
# the old one and says why on stderr (a good one says "config reloaded"), and SIGTERM drains an in-flight stream
# before exiting 0 with a hop "down" event.
source "$BOTTLE_SRC/tests/helpers/proxy-lib.sh"

make_upstream_pki
start_upstream up
printf 'first-token-AAAA\n' >"$W/token" && chmod 600 "$W/token"
manifest() { # ALLOW-LIST
  cat >"$W/m.yaml.new" <<Y
name: reload
egress:
  routes:
    - host: api.example.test
      header: X-Api-Key
      value: "\${token}"
      token: {file: $W/token}
pipelock:
  mode: strict
  allow: [$1]
upstream:
  resolve: {api.example.test: "127.0.0.1:$UP_PORT", other.example.test: "127.0.0.1:$UP_PORT"}
  ca_file: $W/up-ca.pem
Y
  mv "$W/m.yaml.new" "$W/m.yaml"
}
manifest api.example.test
# The allow file does not exist yet: that adds no hosts.
start_hop pl pipelock --config "$W/m.yaml" --allow-file "$W/allow"; PL=$HOP_PORT
start_hop eg egress --config "$W/m.yaml" --parent "127.0.0.1:$PL"; EG=$HOP_PORT
C=(curl -sS --max-time 20 -x "http://127.0.0.1:$EG" --cacert "$W/ca-eg/ca.pem")
code() { "${C[@]}" -o "$W/body" -w '%{http_code}' "$@"; }

check "before reload: other.example.test is blocked" [ "$(code https://other.example.test/echo)" = 403 ]
manifest "api.example.test, other.example.test"
kill -HUP "$pl_PID"
wait_for 20 grep -q 'config reloaded' "$W/pl.err"
check "after SIGHUP: other.example.test is allowed" [ "$(code https://other.example.test/echo)" = 200 ]

printf 'this: [is not valid\n' >"$W/m.yaml"
kill -HUP "$pl_PID"
wait_for 20 grep -q 'reload failed' "$W/pl.err"
check "a bad config on reload is reported on stderr" grep -q 'keeping the previous config' "$W/pl.err"
check "... and the old config stays in force" [ "$(code https://other.example.test/echo)" = 200 ]
check "... and api.example.test still passes" [ "$(code https://api.example.test/echo)" = 200 ]

manifest api.example.test
# --allow-file: its hosts join pipelock.allow; it is re-read with the manifest on SIGHUP.
lines() { grep -c -- "$1" "$W/pl.err"; }
more_lines() { [ "$(lines "$1")" -gt "$2" ]; } # PATTERN COUNT
reload_pl() { # PATTERN: SIGHUP pipelock and wait until stderr has one more PATTERN line
  local n; n=$(lines "$1")
  kill -HUP "$pl_PID"
  wait_for 20 more_lines "$1" "$n" || bad "pipelock reported '$1' after SIGHUP"
}
reload_pl 'config reloaded'
check "allow file missing: other.example.test is blocked again" [ "$(code https://other.example.test/echo)" = 403 ]
printf '# extra hosts\n\n  Other.example.test   # added live\n' >>"$W/allow"
reload_pl 'config reloaded'
check "appended to the allow file + SIGHUP: other.example.test is allowed" [ "$(code https://other.example.test/echo)" = 200 ]
check "... and api.example.test (from the manifest) still passes" [ "$(code https://api.example.test/echo)" = 200 ]
printf 'not a host!\n' >>"$W/allow"
reload_pl 'reload failed'
check "a bad allow-file line is reported with file and line" grep -q "$W/allow:4: error: 'not a host!'" "$W/pl.err"
check "... and the previous config stays in force" [ "$(code https://other.example.test/echo)" = 200 ]
"${C[@]}" -o "$W/t1" https://api.example.test/echo
check "egress sends the first token" grep -q '"X-Api-Key", "first-token-AAAA"' "$W/t1"
printf 'second-token-BBBB\n' >"$W/token"
kill -HUP "$eg_PID"
wait_for 20 grep -q 'config reloaded' "$W/eg.err"
"${C[@]}" -o "$W/t2" https://api.example.test/echo
check "after SIGHUP egress sends the new token" grep -q '"X-Api-Key", "second-token-BBBB"' "$W/t2"
for h in pl eg; do
  check "$h: no token in any output" bash -c "! grep -qE 'first-token|second-token' '$W/$h.out' '$W/$h.err'"
done

# SIGTERM with a stream in flight: the hop drains it, then exits 0.
"${C[@]}" -N -o "$W/sse" "https://api.example.test/sse?gate=$W/gate" &
sse=$!
wait_for 20 grep -q 'data: first' "$W/sse"
kill -TERM "$eg_PID"
check "draining egress stays up while a stream is open" kill -0 "$eg_PID"
code=$(curl -sS --max-time 5 -x "http://127.0.0.1:$EG" -o /dev/null -w '%{http_code}' http://api.example.test/ 2>/dev/null)
check "draining egress accepts no new connections (got '$code')" [ "$code" != 200 ]
touch "$W/gate"
wait $sse
check "the open stream completed" grep -q 'data: last' "$W/sse"
wait "$eg_PID"; rc=$?
check "egress exits 0 after SIGTERM (rc $rc)" [ "$rc" = 0 ]
check "egress printed a hop down event" grep -q '"type":"hop".*"status":"down"' "$W/eg.out"
kill -TERM "$pl_PID"; wait "$pl_PID"; rc=$?
check "idle pipelock exits 0 after SIGTERM (rc $rc)" [ "$rc" = 0 ]
finish
