#!/bin/bash
# `bottle-tui up` on the docker backend, end to end with the real dockerd, the
# offline agent image, bottle-proxy hops and curl inside the container: the
# chain works with the container's trust store (update-ca-certificates), the
# upstream sees the real token, blocks answer 403, the container reaches
# nothing but its first hop, the token is nowhere in the container (docker
# export) or the events, and nothing is left after exit, SIGTERM or a failure.
set -uo pipefail
source "$(dirname "$0")/lib/common.sh"
[[ $(id -u) -eq 0 ]] || skip "needs root (docker, iptables)"
docker info >/dev/null 2>&1 || skip "no docker daemon"
[[ -x $PROXY ]] && "$PROXY" --help >/dev/null 2>&1 || skip "bottle-proxy not built"
"$SRC/scripts/build-agent-image" >/dev/null || fail "scripts/build-agent-image failed"

T=$(mktemp -d /tmp/bottle-up-docker.XXXXXX)
NAME=updock$$
cleanup() {
  [[ -n ${UP_PID:-} ]] && kill "$UP_PID" 2>/dev/null
  [[ -n ${UPSTREAM_PID:-} ]] && kill "$UPSTREAM_PID" 2>/dev/null
  [[ -n ${OPEN_PID:-} ]] && kill "$OPEN_PID" 2>/dev/null
  wait 2>/dev/null
  docker rm -f "bottle-$NAME" >/dev/null 2>&1
  docker network rm "bottle-$NAME" >/dev/null 2>&1
  [[ -n ${KEEP:-} ]] || rm -rf "$T"
}
trap cleanup EXIT
export XDG_STATE_HOME=$T/state
mkdir -p "$T/ws" && chmod 777 "$T/ws"
TOKEN="real-token-$RANDOM$RANDOM-do-not-leak"
printf '%s\n' "$TOKEN" >"$T/token" && chmod 600 "$T/token"
make_test_ca "$T/up" api.test.example other.test.example
start_upstream "$T/up"
# A port open on every host address: the container must not reach it.
OPEN_PORT=$((20000 + RANDOM % 20000))
python3 -m http.server --bind 0.0.0.0 "$OPEN_PORT" >/dev/null 2>&1 &
OPEN_PID=$!
wait_for 10 curl -s "http://127.0.0.1:$OPEN_PORT/" || fail "could not open the probe port"

cat >"$T/ws/agent.sh" <<AGENT
#!/bin/sh
c() { if eval "\$2" >/dev/null 2>&1; then echo "check \$1 ok"; else echo "check \$1 FAIL"; fi; }
code() { curl -s -o /dev/null -w '%{http_code}' -m 10 "\$@"; }
gw=\$(echo "\$HTTPS_PROXY" | sed 's#http://##; s#:.*##')
curl -sS -m 10 -H "Authorization: Bearer \$X_TOKEN" https://api.test.example/echo >/tmp/echo.json
c allowed_request 'grep -q "\"path\": \"/echo\"" /tmp/echo.json'
c not_allowed_403 '[ "\$(code https://other.test.example/)" = 403 ]'
c dlp_body_403 '[ "\$(code -d "key=AKIA$(printf 'IOSFODNN7')EXAMPLE" https://api.test.example/echo)" = 403 ]'
c no_host_port_via_gateway '! curl -s -m 3 --noproxy "*" http://\$gw:$OPEN_PORT/'
c no_host_port_via_docker0 '! curl -s -m 3 --noproxy "*" http://172.17.0.1:$OPEN_PORT/'
c no_dns '! getent hosts api.test.example'
c placeholder_only '[ "\$X_TOKEN" = bottle-placeholder ]'
c token_not_in_env '! env | grep -q "$TOKEN"'
c runs_as_node '[ "\$(id -u)" = 1000 ]'
echo agent-finished
[ -n "\${HOLD:-}" ] && sleep 600
exit 0
AGENT

write_manifest() {
cat >"$T/ws/bottle.yaml" <<YAML
name: $NAME
backend: docker
image: ${1:-bottle-agent:latest}
workspace: .
agent:
  command: [sh, /workspace/agent.sh]
  env: {HOLD: "${2:-}"}
egress:
  routes:
    - host: api.test.example
      header: Authorization
      value: "Bearer \${token}"
      token: {file: $T/token}
      placeholder_env: X_TOKEN
pipelock:
  mode: strict
  allow: [api.test.example]
upstream:
  resolve: {api.test.example: "127.0.0.1:$UPSTREAM_PORT", other.test.example: "127.0.0.1:$UPSTREAM_PORT"}
  ca_file: $T/up/ca.pem
YAML
}

fails=0 passes=0
check() { if eval "$2"; then echo "ok   $1"; passes=$((passes + 1)); else echo "FAIL $1"; fails=$((fails + 1)); fi; }
# The bridges this test's bottles used (from their start steps); other tests
# may run bottles of their own at the same time.
our_rules_left() {
  local br
  for br in $(cat "$T"/*.jsonl "$T"/*.txt 2>/dev/null | grep -o 'from br-[0-9a-f]*' | cut -d' ' -f2 | sort -u); do
    iptables -S INPUT | grep -q -- "$br" && return 0
  done
  return 1
}
nothing_left() {
  [[ -z $(docker ps -aq --filter "name=^bottle-$NAME\$") ]] &&
  ! docker network inspect "bottle-$NAME" >/dev/null 2>&1 &&
  ! pgrep -f "bottle-proxy .*--bottle $NAME" >/dev/null &&
  ! our_rules_left &&
  [[ ! -e $XDG_STATE_HOME/bottle/$NAME/run ]]
}

# ---- a whole run ---------------------------------------------------------------
write_manifest
timeout 300 "$TUI" up --json "$T/ws/bottle.yaml" >"$T/events.jsonl" 2>"$T/up.err"; rc=$?
check "up exited 0" "[ $rc -eq 0 ]"
[[ $rc -eq 0 ]] || { cat "$T/up.err"; tail -30 "$T/events.jsonl"; }
grep -o '"line":"check [a-z_0-9]* [a-zA-Z]*"' "$T/events.jsonl" | sed 's/"line":"//; s/"$//'
check "every in-bottle check ok" "[ \$(grep -c '\"line\":\"check [a-z_0-9]* ok\"' $T/events.jsonl) -eq 9 ]"
check "ca step: 1 added, fingerprint" "grep '\"step\":\"ca\"' $T/events.jsonl | grep -q '\"fingerprint\":\"'"
check "upstream saw the real token" "grep -q 'Bearer $TOKEN' $T/up/requests.jsonl"
check "upstream never saw the placeholder" "! grep -q bottle-placeholder $T/up/requests.jsonl"
check "token not in the events" "! grep -q '$TOKEN' $T/events.jsonl $T/up.err"
check "nothing left after exit" nothing_left

# ---- token nowhere in the container; SIGTERM while running -----------------------------
write_manifest bottle-agent:latest hold
"$TUI" up --json "$T/ws/bottle.yaml" >"$T/ev2.jsonl" 2>"$T/up2.err" &
UP_PID=$!
wait_for 240 grep -q agent-finished "$T/ev2.jsonl" || { echo "FAIL the bottle did not run"; cat "$T/up2.err"; fails=$((fails + 1)); }
docker export "bottle-$NAME" >"$T/export.tar"
check "docker export worked" "[ -s $T/export.tar ]"
check "token not in the container's files" "! grep -aq '$TOKEN' $T/export.tar"
check "container env has only the placeholder" "! docker inspect bottle-$NAME | grep -q '$TOKEN'"
rm -f "$T/export.tar"
kill -TERM "$UP_PID"; wait "$UP_PID"; rc=$?; UP_PID=
echo "     (up exited $rc after SIGTERM)"
check "SIGTERM: up exits with a signal status" "[ $rc -gt 128 ]"
check "SIGTERM: stopped" "tail -1 $T/ev2.jsonl | grep -q '\"state\":\"stopped\"'"
check "SIGTERM: nothing left" nothing_left

# ---- the supervisor SIGKILLed: its hops end with it; the next launch of the
# name clears the container, network and firewall rules it could not --------------------
"$TUI" up --json "$T/ws/bottle.yaml" >"$T/ev5.jsonl" 2>"$T/up5.err" &
UP_PID=$!
wait_for 240 grep -q agent-finished "$T/ev5.jsonl" || { echo "FAIL the bottle did not run (SIGKILL case)"; fails=$((fails + 1)); }
old_br=$(docker network inspect -f '{{.Id}}' "bottle-$NAME" 2>/dev/null | cut -c1-12)
kill -KILL "$UP_PID"; wait "$UP_PID" 2>/dev/null; UP_PID=
no_hops() { ! pgrep -f "bottle-proxy .*--bottle $NAME" >/dev/null; }
wait_for 20 no_hops
check "SIGKILL: the hops end with the supervisor" no_hops
check "SIGKILL: the old bridge had rules" "[ -n '$old_br' ] && iptables -S INPUT | grep -q -- '-i br-$old_br '"
write_manifest
timeout 240 "$TUI" up --json "$T/ws/bottle.yaml" >"$T/ev6.jsonl" 2>"$T/up6.err"; rc=$?
check "relaunch after SIGKILL: runs to the end" "[ $rc -eq 0 ] && grep -q agent-finished $T/ev6.jsonl"
check "relaunch after SIGKILL: the old bridge's rules are gone" "! iptables -S INPUT | grep -q -- '-i br-$old_br '"
check "relaunch after SIGKILL: nothing left" nothing_left

# ---- an image without update-ca-certificates: the ca step fails clearly ----------------
docker rmi bottle-agent-noca:test >/dev/null 2>&1
printf 'FROM bottle-agent:latest\nRUN rm -f /usr/sbin/update-ca-certificates\n' >"$T/Dockerfile"
if docker build -q -t bottle-agent-noca:test "$T" >/dev/null 2>&1 ||
   { cid=$(docker create bottle-agent:latest true) && docker export "$cid" | tar -C "$T" -x --exclude='usr/sbin/update-ca-certificates' -f - 2>/dev/null; docker rm "$cid" >/dev/null; false; }; then
  write_manifest bottle-agent-noca:test
  timeout 300 "$TUI" up "$T/ws/bottle.yaml" >"$T/ev3.txt" 2>"$T/up3.err"; rc=$?
  check "no update-ca-certificates: exit 1" "[ $rc -eq 1 ]"
  check "no update-ca-certificates: clear message" "grep -q \"step 'ca' failed: update-ca-certificates\" $T/up3.err"
  check "no update-ca-certificates: nothing left" nothing_left
  docker rmi bottle-agent-noca:test >/dev/null 2>&1
fi

# ---- a missing agent command -------------------------------------------------------------
write_manifest
sed -i 's#command: \[sh, /workspace/agent.sh\]#command: [no-such-agent-command]#' "$T/ws/bottle.yaml"
timeout 300 "$TUI" up "$T/ws/bottle.yaml" >"$T/ev4.txt" 2>"$T/up4.err"; rc=$?
check "missing command: exit 1" "[ $rc -eq 1 ]"
check "missing command: clear message" "grep -q \"step 'agent' failed: the agent command 'no-such-agent-command' is not found\" $T/up4.err"
check "missing command: nothing left" nothing_left

# ---- dockerd not reachable -----------------------------------------------------------------
write_manifest
DOCKER_HOST=unix://$T/no-dockerd.sock timeout 120 "$TUI" up "$T/ws/bottle.yaml" >"$T/ev5.txt" 2>"$T/up5.err"; rc=$?
check "no dockerd: exit 1" "[ $rc -eq 1 ]"
check "no dockerd: clear message" "grep -q \"step 'network' failed: docker network create failed; is dockerd running\" $T/up5.err"
check "no dockerd: nothing left" nothing_left

echo "$passes passed, $fails failed"
[[ $fails -eq 0 ]]
