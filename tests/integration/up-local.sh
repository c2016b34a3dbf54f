#!/bin/bash
# `bottle-tui up` on the local backend, end to end with the real bwrap,
# bottle-proxy hops and curl inside the sandbox: the chain works with the
# system trust store, the upstream sees the real token, blocks answer 403,
# the sandbox reaches nothing but its first hop, the token is nowhere in the
# bottle or the events, and everything is cleaned up after exit and SIGTERM.
set -uo pipefail
source "$(dirname "$0")/lib/common.sh"
need_local_bottles

T=$(mktemp -d /tmp/bottle-up-local.XXXXXX)
cleanup() {
  [[ -n ${UP_PID:-} ]] && kill "$UP_PID" 2>/dev/null
  [[ -n ${UPSTREAM_PID:-} ]] && kill "$UPSTREAM_PID" 2>/dev/null
  wait 2>/dev/null
  [[ -n ${KEEP:-} ]] || rm -rf "$T"
}
trap cleanup EXIT
export XDG_STATE_HOME=$T/state HOME=$T/home
mkdir -p "$HOME" "$T/ws"
TOKEN="real-token-$RANDOM$RANDOM-do-not-leak"
printf '%s\n' "$TOKEN" >"$T/token" && chmod 600 "$T/token"
make_test_ca "$T/up" api.test.example other.test.example
start_upstream "$T/up"

cat >"$T/ws/agent.sh" <<AGENT
#!/bin/sh
# Runs inside the bottle. Prints one "check NAME ok|FAIL" line per check.
c() { if eval "\$2" >/dev/null 2>&1; then echo "check \$1 ok"; else echo "check \$1 FAIL"; fi; }
code() { curl -s -o /dev/null -w '%{http_code}' -m 10 "\$@"; }
curl -sS -m 10 -H "Authorization: Bearer \$X_TOKEN" https://api.test.example/echo >echo.json
c allowed_request 'grep -q "\"path\": \"/echo\"" echo.json'
c not_allowed_403 '[ "\$(code https://other.test.example/)" = 403 ]'
c dlp_body_403 '[ "\$(code -d "key=AKIA$(printf 'IOSFODNN7')EXAMPLE" https://api.test.example/echo)" = 403 ]'
c no_direct_upstream '! curl -s -m 3 --noproxy "*" -k https://127.0.0.1:$UPSTREAM_PORT/'
c no_dns '! getent hosts api.test.example'
c placeholder_only '[ "\$X_TOKEN" = bottle-placeholder ]'
c token_not_in_env '! env | grep -q "$TOKEN"'
c token_file_masked '! grep -q "$TOKEN" "$T/token"'
c state_dir_masked '! ls "$XDG_STATE_HOME/bottle" | grep -q .'
c workspace_writable 'touch written-by-agent'
c home_is_empty_tmpfs '[ -z "\$(ls -A "\$HOME")" ]'
echo agent-finished
AGENT

cat >"$T/ws/bottle.yaml" <<YAML
name: uplocal
workspace: .
agent:
  command: [sh, agent.sh]
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

# ---- a whole run ---------------------------------------------------------------
timeout 120 "$TUI" up --json "$T/ws/bottle.yaml" >"$T/events.jsonl" 2>"$T/up.err"
rc=$?
fails=0 passes=0
check() { if eval "$2"; then echo "ok   $1"; passes=$((passes + 1)); else echo "FAIL $1"; fails=$((fails + 1)); fi; }
check "up exited 0 (the agent's status)" "[ $rc -eq 0 ]"
[[ $rc -eq 0 ]] || { echo "--- stderr"; cat "$T/up.err"; echo "--- events"; tail -40 "$T/events.jsonl"; }
grep -o '"line":"check [a-z_0-9]* [a-zA-Z]*"' "$T/events.jsonl" | sed 's/"line":"//; s/"$//'
check "every in-bottle check ran" "[ \$(grep -c '\"line\":\"check [a-z_0-9]* ok\"' $T/events.jsonl) -eq 11 ]"
check "agent finished" "grep -q agent-finished $T/events.jsonl"
check "states in order" "[ \"\$(grep -o '\"state\":\"[a-z]*\"' $T/events.jsonl | tr '\n' ' ')\" = '\"state\":\"creating\" \"state\":\"provisioning\" \"state\":\"running\" \"state\":\"stopping\" \"state\":\"stopped\" ' ]"
check "upstream saw the real token" "grep -q 'Bearer $TOKEN' $T/up/requests.jsonl"
check "upstream never saw the placeholder" "! grep -q bottle-placeholder $T/up/requests.jsonl"
check "token not in the events" "! grep -q '$TOKEN' $T/events.jsonl $T/up.err"
check "token not in the state dir" "! grep -rq '$TOKEN' $XDG_STATE_HOME"
check "request event with auth rewritten" "grep '\"type\":\"request\"' $T/events.jsonl | grep -q 'rewritten:api.test.example'"
check "block event for the host not allowed" "grep '\"type\":\"request\"' $T/events.jsonl | grep '\"verdict\":\"block\"' | grep -q other.test.example"
fp=$(openssl x509 -noout -fingerprint -sha256 -in "$XDG_STATE_HOME/bottle/uplocal/ca/egress/ca.pem" | cut -d= -f2)
check "ca step reports the egress CA fingerprint" "grep '\"step\":\"ca\"' $T/events.jsonl | grep -q '\"fingerprint\":\"$fp\"'"
check "CA keys are 0600" "[ \$(stat -c %a $XDG_STATE_HOME/bottle/uplocal/ca/egress/ca-key.pem) = 600 ] && [ \$(stat -c %a $XDG_STATE_HOME/bottle/uplocal/ca/pipelock/ca-key.pem) = 600 ]"
check "events.jsonl kept" "[ \$(wc -l <$XDG_STATE_HOME/bottle/uplocal/events.jsonl) -eq \$(wc -l <$T/events.jsonl) ]"
check "transcript kept" "grep -q agent-finished $XDG_STATE_HOME/bottle/uplocal/transcript"
check "workspace written" "[ -f $T/ws/written-by-agent ]"
check "run dir removed" "[ ! -e $XDG_STATE_HOME/bottle/uplocal/run ]"
check "no process left" "! pgrep -f 'bottle-proxy .*--bottle uplocal' && ! pgrep -f 'bwrap .*$T/ws'"

# ---- SIGTERM while running --------------------------------------------------------
# The held agent keeps probing the chain, so a hop restart shows up in its output.
sed -i 's/^echo agent-finished$/echo agent-finished; while :; do echo "probe $(code https:\/\/api.test.example\/echo)"; sleep 0.3; done/' "$T/ws/agent.sh"
"$TUI" up --json "$T/ws/bottle.yaml" >"$T/ev2.jsonl" 2>"$T/up2.err" &
UP_PID=$!
wait_for 60 grep -q agent-finished "$T/ev2.jsonl" || { echo "FAIL bottle did not run"; cat "$T/up2.err"; fails=$((fails + 1)); }
# A hop that dies is reported and restarted on the same address; requests pass again.
pl=$(pgrep -f "bottle-proxy pipelock .*--bottle uplocal" | head -1)
check "pipelock runs" "[ -n '$pl' ]"
kill -KILL "$pl"
wait_for 30 grep -q '"hop":"pipelock".*"status":"down"' "$T/ev2.jsonl"
check "hop down reported" "grep -q '\"hop\":\"pipelock\".*\"status\":\"down\"' $T/ev2.jsonl"
wait_for 30 grep -q '"status":"restarted"' "$T/ev2.jsonl"
check "hop restarted reported" "grep -q '\"hop\":\"pipelock\".*\"status\":\"restarted\"' $T/ev2.jsonl"
n=$(grep -n '"status":"restarted"' "$T/ev2.jsonl" | head -1 | cut -d: -f1)
after_ok() { tail -n +"$n" "$T/ev2.jsonl" | grep -q '"line":"probe 200"'; }
wait_for 30 after_ok
check "requests pass after the restart" after_ok
kill -TERM "$UP_PID"
wait "$UP_PID"; rc=$?; UP_PID=
check "SIGTERM: up exits with the agent's signal status" "[ $rc -eq 143 ]"
check "SIGTERM: stopped" "tail -1 $T/ev2.jsonl | grep -q '\"state\":\"stopped\"'"
check "SIGTERM: no process left" "! pgrep -f 'bottle-proxy .*--bottle uplocal' && ! pgrep -f 'bwrap .*$T/ws'"
check "SIGTERM: run dir removed" "[ ! -e $XDG_STATE_HOME/bottle/uplocal/run ]"

# ---- the supervisor SIGKILLed: no hop or sandbox outlives it -------------------------
"$TUI" up --json "$T/ws/bottle.yaml" >"$T/ev4.jsonl" 2>"$T/up4.err" &
UP_PID=$!
wait_for 60 grep -q agent-finished "$T/ev4.jsonl" || echo "FAIL bottle did not run (SIGKILL case)"
kill -KILL "$UP_PID"; wait "$UP_PID" 2>/dev/null; UP_PID=
gone() { ! pgrep -f 'bottle-proxy .*--bottle uplocal' && ! pgrep -f "bwrap .*$T/ws"; }
wait_for 20 gone
check "supervisor SIGKILLed: hops and sandbox end with it" gone

# ---- a missing agent command ---------------------------------------------------------
sed -i 's/command: \[sh, agent.sh\]/command: [no-such-agent-command]/' "$T/ws/bottle.yaml"
timeout 60 "$TUI" up "$T/ws/bottle.yaml" >"$T/ev3.txt" 2>"$T/up3.err"; rc=$?
check "missing command: exit 1" "[ $rc -eq 1 ]"
check "missing command: the step is named on stderr" "grep -q \"step 'agent' failed: .*no-such-agent-command\" $T/up3.err"
check "missing command: nothing left" "! pgrep -f 'bottle-proxy .*--bottle uplocal' && [ ! -e $XDG_STATE_HOME/bottle/uplocal/run ]"

echo "$passes passed, $fails failed"
[[ $fails -eq 0 ]]
