#!/bin/bash
# `bottle-tui up` on the smolvm backend, end to end against the fake smolvm
# CLI (tests/fakes/smolvm: the real CLI contract over bubblewrap, since
# smolvm needs KVM) with its warm-up race switched on: the backend waits for
# the exec channel and folds each step into one exec, the CA step verifies
# "1 added" and the fingerprint, prompt and skills arrive owned by the agent
# user, requests pass the real chain to a loopback upstream that sees the
# real token, blocks answer 403, SIGTERM tears everything down and a
# relaunch works. With the readiness wait and the folding switched off
# (BOTTLE_SMOLVM_UNSAFE_NO_READY=1) the same launch fails at the `ca` step
# with a clear error, instead of going on without the CA as the seed did.
set -uo pipefail
source "$(dirname "$0")/lib/common.sh"
[[ $(id -u) -eq 0 ]] || skip "needs root (the fake smolvm runs guests as root in bubblewrap)"
command -v bwrap >/dev/null || skip "bubblewrap not installed"
bwrap --ro-bind / / --unshare-pid true 2>/dev/null || skip "bwrap cannot create namespaces here"
[[ -x $PROXY ]] && "$PROXY" --help >/dev/null 2>&1 || skip "bottle-proxy not built"
[[ -x /usr/bin/python3 ]] || skip "the fake smolvm needs /usr/bin/python3"

# The guest rootfs: the agent image's cached debootstrap tarball, which
# scripts/build-agent-image writes (and reuses) under /var/cache/bottle.
rootfs_tar() { ls -t "${BOTTLE_CACHE_DIR:-/var/cache/bottle}"/agent-rootfs-bookworm-*.tar 2>/dev/null | head -1; }
IMAGE=$(rootfs_tar)
if [[ -z $IMAGE ]]; then
  "$SRC/scripts/build-agent-image" >/dev/null 2>&1
  IMAGE=$(rootfs_tar)
fi
[[ -n $IMAGE ]] || skip "no agent rootfs tarball (scripts/build-agent-image makes it; it needs docker once)"

T=$(mktemp -d /tmp/bottle-up-smolvm.XXXXXX)
NAME=upsmol$$
export SMOLVM_DATA_DIR=$T/smolvm XDG_STATE_HOME=$T/state
export PATH=$SRC/tests/fakes:$PATH
# Deterministic race: for 4 s after start, an exec within 1 s of the previous
# exec or cp is killed after its first line.
export SMOLVM_FAKE_WARMUP_MS=4000 SMOLVM_FAKE_BACKTOBACK_MS=1000 SMOLVM_FAKE_STOP_DELAY_MS=300
cleanup() {
  [[ -n ${UP_PID:-} ]] && kill "$UP_PID" 2>/dev/null
  [[ -n ${UPSTREAM_PID:-} ]] && kill "$UPSTREAM_PID" 2>/dev/null
  wait 2>/dev/null
  local m
  for m in $(ls "$SMOLVM_DATA_DIR/machines" 2>/dev/null); do
    smolvm machine delete -f --name "$m" >/dev/null 2>&1
  done
  [[ -n ${KEEP:-} ]] || rm -rf "$T"
}
trap cleanup EXIT
mkdir -p "$T/ws" "$T/skills/review" && chmod 777 "$T/ws"
TOKEN="real-token-$RANDOM$RANDOM-do-not-leak"
printf '%s\n' "$TOKEN" >"$T/token" && chmod 600 "$T/token"
printf 'You are a careful agent.\n' >"$T/prompt.txt"
printf '# review\n' >"$T/skills/review/SKILL.md"
printf 'notes\n' >"$T/skills/notes.md"
make_test_ca "$T/up" api.test.example other.test.example
start_upstream "$T/up"

cat >"$T/ws/agent.sh" <<AGENT
#!/bin/sh
# Runs inside the machine as the agent user. One "check NAME ok|FAIL" line per check.
c() { if eval "\$2" >/dev/null 2>&1; then echo "check \$1 ok"; else echo "check \$1 FAIL"; fi; }
code() { curl -s -o /dev/null -w '%{http_code}' -m 10 "\$@"; }
curl -sS -m 10 -H "Authorization: Bearer \$X_TOKEN" https://api.test.example/echo >/tmp/echo.json
c allowed_request 'grep -q "\"path\": \"/echo\"" /tmp/echo.json'
c not_allowed_403 '[ "\$(code https://other.test.example/)" = 403 ]'
c dlp_body_403 '[ "\$(code -d "key=AKIA$(printf 'IOSFODNN7')EXAMPLE" https://api.test.example/echo)" = 403 ]'
c proxy_is_tsi_loopback 'echo "\$HTTPS_PROXY" | grep -Eq "^http://127\.0\.0\.1:[0-9]+\$"'
c no_dns '! getent hosts api.test.example'
c placeholder_only '[ "\$X_TOKEN" = bottle-placeholder ]'
c token_not_in_env '! env | grep -q "$TOKEN"'
c runs_as_node '[ "\$(id -u)" = 1000 ] && [ "\$HOME" = /home/node ]'
c ca_in_trust_store '[ -e /etc/ssl/certs/bottle.pem ]'
c prompt_owned '[ "\$(stat -c %U:%a ~/.claude-bottle-prompt.txt)" = node:644 ] && grep -q careful ~/.claude-bottle-prompt.txt'
c skills_owned '[ "\$(stat -c %U ~/.claude/skills/review/SKILL.md)" = node ] && [ -f ~/.claude/skills/notes.md ]'
c workspace_writable 'touch /workspace/written-by-agent'
echo agent-finished
[ -n "\${HOLD:-}" ] && while :; do echo "probe \$(code https://api.test.example/echo)"; sleep 0.3; done
exit 0
AGENT

write_manifest() {
cat >"$T/ws/bottle.yaml" <<YAML
name: $NAME
backend: smolvm
image: $IMAGE
workspace: .
agent:
  command: [sh, /workspace/agent.sh]
  env: {HOLD: "${1:-}"}
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
prompt: $T/prompt.txt
skills: $T/skills
YAML
}

fails=0 passes=0
check() { if eval "$2"; then echo "ok   $1"; passes=$((passes + 1)); else echo "FAIL $1"; fails=$((fails + 1)); fi; }
nothing_left() {
  [[ $(smolvm machine ls --json) == "[]" ]] &&
  ! pgrep -f "smolvm __vm bottle-$NAME\$" >/dev/null &&
  ! pgrep -f "bottle-proxy .*--bottle $NAME" >/dev/null &&
  [[ ! -e $XDG_STATE_HOME/bottle/$NAME/run ]]
}
step_line() { grep "\"step\":\"$2\"" "$1" | grep "\"status\":\"$3\"" | tail -1; }

# ---- a whole run, race on ----------------------------------------------------------
write_manifest
timeout 300 "$TUI" up --json "$T/ws/bottle.yaml" >"$T/events.jsonl" 2>"$T/up.err"; rc=$?
check "up exited 0 (the agent's status)" "[ $rc -eq 0 ]"
[[ $rc -eq 0 ]] || { echo "--- stderr"; cat "$T/up.err"; echo "--- events"; tail -40 "$T/events.jsonl"; }
grep -o '"line":"check [a-z_0-9]* [a-zA-Z]*"' "$T/events.jsonl" | sed 's/"line":"//; s/"$//'
check "every in-machine check ok" "[ \$(grep -c '\"line\":\"check [a-z_0-9]* ok\"' $T/events.jsonl) -eq 12 ]"
check "agent finished" "grep -q agent-finished $T/events.jsonl"
probes=$(step_line "$T/events.jsonl" start ok | grep -o 'ready after [0-9]* probe' | grep -o '[0-9]*')
echo "     (start: exec channel ready after ${probes:-?} probes)"
check "the race fired during start and the probe waited it out" "[ \${probes:-0} -gt 2 ]"
fp=$(openssl x509 -noout -fingerprint -sha256 -in "$XDG_STATE_HOME/bottle/$NAME/ca/egress/ca.pem" | cut -d= -f2)
check "ca step: 1 added, the egress CA fingerprint checked inside" "step_line $T/events.jsonl ca ok | grep -q '\"fingerprint\":\"$fp\"'"
check "ca step: one folded exec (chown && chmod && update-ca-certificates)" "grep '\"type\":\"cmd\"' $T/events.jsonl | grep '\"step\":\"ca\"' | grep -c 'machine\",\"exec' | grep -qx 1"
check "prompt and skills steps ok" "step_line $T/events.jsonl prompt ok | grep -q 'owned by node' && step_line $T/events.jsonl skills ok | grep -q '2 file(s)'"
check "states in order" "[ \"\$(grep -o '\"state\":\"[a-z]*\"' $T/events.jsonl | tr '\n' ' ')\" = '\"state\":\"creating\" \"state\":\"provisioning\" \"state\":\"running\" \"state\":\"stopping\" \"state\":\"stopped\" ' ]"
check "upstream saw the real token" "grep -q 'Bearer $TOKEN' $T/up/requests.jsonl"
check "upstream never saw the placeholder" "! grep -q bottle-placeholder $T/up/requests.jsonl"
check "token not in the events" "! grep -q '$TOKEN' $T/events.jsonl $T/up.err"
check "token not in the state dir" "! grep -rq '$TOKEN' $XDG_STATE_HOME"
check "request event with auth rewritten" "grep '\"type\":\"request\"' $T/events.jsonl | grep -q 'rewritten:api.test.example'"
check "block event for the host not allowed" "grep '\"type\":\"request\"' $T/events.jsonl | grep '\"verdict\":\"block\"' | grep -q other.test.example"
check "teardown: stop, then delete -f" "grep '\"step\":\"teardown\"' $T/events.jsonl | grep '\"type\":\"cmd\"' | grep -o 'machine\",\"[a-z]*' | sed 's/.*\"//' | tr '\n' ' ' | grep -q 'stop status.* delete status'"
check "workspace written" "[ -f $T/ws/written-by-agent ]"
check "nothing left after exit" nothing_left

# ---- SIGTERM while running, with the machine's files checked for the token; relaunch -----
write_manifest hold
"$TUI" up --json "$T/ws/bottle.yaml" >"$T/ev2.jsonl" 2>"$T/up2.err" &
UP_PID=$!
wait_for 120 grep -q '"line":"probe 200"' "$T/ev2.jsonl" || { echo "FAIL the bottle did not run"; cat "$T/up2.err"; tail -20 "$T/ev2.jsonl"; fails=$((fails + 1)); }
check "machine listed as running" "smolvm machine status --name bottle-$NAME --json | grep -q '\"state\": \"running\"'"
check "token not in the machine's files" "! grep -rqs --exclude-dir=proc '$TOKEN' $SMOLVM_DATA_DIR/machines/bottle-$NAME/rootfs"
kill -TERM "$UP_PID"; wait "$UP_PID"; rc=$?; UP_PID=
echo "     (up exited $rc after SIGTERM)"
check "SIGTERM: up exits with a signal status" "[ $rc -gt 128 ]"
check "SIGTERM: stopped" "tail -1 $T/ev2.jsonl | grep -q '\"state\":\"stopped\"'"
check "SIGTERM: nothing left" nothing_left

write_manifest
timeout 300 "$TUI" up --json "$T/ws/bottle.yaml" >"$T/ev3.jsonl" 2>"$T/up3.err"; rc=$?
check "relaunch after SIGTERM: exit 0, every check ok" "[ $rc -eq 0 ] && [ \$(grep -c '\"line\":\"check [a-z_0-9]* ok\"' $T/ev3.jsonl) -eq 12 ]"
check "relaunch: nothing left" nothing_left

# ---- a machine left by a crash is removed (delete -f) before the launch ------------------
smolvm machine create --name "bottle-$NAME" --image "$IMAGE" >/dev/null &&
  smolvm machine start --name "bottle-$NAME" >/dev/null
timeout 300 "$TUI" up --json "$T/ws/bottle.yaml" >"$T/ev4.jsonl" 2>"$T/up4.err"; rc=$?
check "stale machine: removed, launch ok" "[ $rc -eq 0 ] && step_line $T/ev4.jsonl network ok | grep -q 'removed a stale machine'"
check "stale machine: nothing left" nothing_left

# ---- an unreachable machine is restarted ----------------------------------------------------
SMOLVM_FAKE_UNREACHABLE_STARTS=1 timeout 300 "$TUI" up --json "$T/ws/bottle.yaml" >"$T/ev5.jsonl" 2>"$T/up5.err"; rc=$?
check "unreachable: restarted, launch ok" "[ $rc -eq 0 ] && step_line $T/ev5.jsonl start ok | grep -q 'restarted: it was unreachable'"
check "unreachable: nothing left" nothing_left

# ---- readiness and folding off: the CA check catches the race --------------------------------
BOTTLE_SMOLVM_UNSAFE_NO_READY=1 timeout 300 "$TUI" up "$T/ws/bottle.yaml" >"$T/ev6.txt" 2>"$T/up6.err"; rc=$?
check "unsafe: exit 1" "[ $rc -eq 1 ]"
check "unsafe: fails at ca with a clear message" "grep -q \"step 'ca' failed: update-ca-certificates was killed (SIGKILL, exit 137) before it reported '1 added'\" $T/up6.err"
[[ $rc -eq 1 ]] || { cat "$T/up6.err"; tail -20 "$T/ev6.txt"; }
check "unsafe: the agent never ran" "! grep -q agent-finished $T/ev6.txt"
check "unsafe: nothing left" nothing_left

# ---- a registry image without a registry ------------------------------------------------------
sed -i "s#^image: .*#image: bottle-agent:latest#" "$T/ws/bottle.yaml"
timeout 120 "$TUI" up "$T/ws/bottle.yaml" >"$T/ev7.txt" 2>"$T/up7.err"; rc=$?
check "registry image: exit 1, the start step says why" "[ $rc -eq 1 ] && grep -q \"step 'start' failed: machine bottle-$NAME: \\\`machine create\\\` failed for image bottle-agent:latest\" $T/up7.err"
check "registry image: nothing left" nothing_left

# ---- a missing agent command ------------------------------------------------------------------
write_manifest
sed -i 's#command: \[sh, /workspace/agent.sh\]#command: [no-such-agent-command]#' "$T/ws/bottle.yaml"
timeout 300 "$TUI" up "$T/ws/bottle.yaml" >"$T/ev8.txt" 2>"$T/up8.err"; rc=$?
check "missing command: exit 1, clear message" "[ $rc -eq 1 ] && grep -q \"step 'agent' failed: the agent command 'no-such-agent-command' is not found in the machine\" $T/up8.err"
check "missing command: nothing left" nothing_left

# ---- no smolvm CLI ----------------------------------------------------------------------------
write_manifest
BOTTLE_SMOLVM=$T/no-such-smolvm timeout 60 "$TUI" up "$T/ws/bottle.yaml" >"$T/ev9.txt" 2>"$T/up9.err"; rc=$?
check "no CLI: exit 1, clear message" "[ $rc -eq 1 ] && grep -q \"step 'network' failed: the smolvm CLI\" $T/up9.err"
check "no CLI: nothing left" nothing_left

echo "$passes passed, $fails failed"
[[ $fails -eq 0 ]]
