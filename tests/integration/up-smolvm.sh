#!/bin/bash
# `bottle-tui up` on the smolvm backend, end to end against the fake smolvm
# CLI (tests/fakes/smolvm: the real CLI contract over bubblewrap, since
# smolvm needs KVM) with its warm-up race switched on: the backend waits for
# the exec channel and folds each step into one exec; the CA step verifies
# "1 added" and the fingerprint; git (~/.gitconfig to the gate, fetch and push
# through it), supervise (claude mcp add, the server reachable through TSI),
# prompt (from a host path with a colon, which `machine cp` cannot take) and
# skills arrive owned by the agent user; requests pass the real chain to a
# loopback upstream that sees the real token; blocks answer 403; a killed hop
# is restarted and requests pass again; SIGTERM tears everything down and a
# relaunch works (its agent killed by a signal: the guest's 128+signal is the
# exit status); a stale machine is removed with `delete -f`, an unreachable
# one is stopped, waited for and started again. With the readiness wait and
# the folding switched off (BOTTLE_SMOLVM_UNSAFE_NO_READY=1) the same launch
# fails at the `ca` step with a clear error, instead of going on without the
# CA as the seed did. Every `machine delete` is `-f`; every stop is followed
# by status polls until stopped.
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
command -v git >/dev/null || skip "git not installed"

T=$(mktemp -d /tmp/bottle-up-smolvm.XXXXXX)
NAME=upsmol$$
export SMOLVM_DATA_DIR=$T/smolvm XDG_STATE_HOME=$T/state
export PATH=$SRC/tests/fakes:$PATH
# The race: for 1.5 s after start, an exec within 1 s of the previous exec or
# cp is killed after its first line (the readiness probe retries every 250 ms,
# so it is hit until the warm-up ends). The unsafe launch widens the window.
export SMOLVM_FAKE_WARMUP_MS=1500 SMOLVM_FAKE_BACKTOBACK_MS=1000 SMOLVM_FAKE_STOP_DELAY_MS=300
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
# A host path with a colon: `machine cp` would take "$T/the" for a machine.
PROMPT="$T/the:prompt.txt"
printf 'You are a careful agent.\n' >"$PROMPT"
printf '# review\n' >"$T/skills/review/SKILL.md"
printf 'notes\n' >"$T/skills/notes.md"
make_test_ca "$T/up" api.test.example other.test.example
start_upstream "$T/up"

# The image: the rootfs (a directory image is used in place by the fake) with
# a stub `claude` that records `claude mcp add` as Claude Code would.
mkdir -p "$T/image" && tar -C "$T/image" --numeric-owner -xf "$IMAGE" || fail "cannot unpack $IMAGE"
cat >"$T/image/usr/local/bin/claude" <<'CLAUDE'
#!/bin/sh
# claude (test stub): `claude mcp add --transport http NAME URL` recorded in ~/.claude-mcp.
[ "$1 $2" = "mcp add" ] || { echo "claude stub: unsupported: $*" >&2; exit 2; }
shift 2
printf '%s\n' "$*" >>"$HOME/.claude-mcp" && echo "Added HTTP MCP server with: $*"
CLAUDE
chmod 755 "$T/image/usr/local/bin/claude"
IMAGE=$T/image

# The operator's repository is the workspace; its remote must never be contacted.
git -C "$T/ws" init -q -b main
git -C "$T/ws" -c user.name=op -c user.email=op@example.invalid commit -q --allow-empty -m "operator commit"
git -C "$T/ws" remote add origin https://git.example.invalid/team/project.git
chmod -R a+rwX "$T/ws/.git"

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
c gitconfig_owned '[ "\$(stat -c %U ~/.gitconfig)" = node ] && grep -q "insteadOf = https://git.example.invalid/team/project.git" ~/.gitconfig'
c git_fetch_via_gate 'git fetch -q origin && git log --oneline origin/main | grep -q "operator commit"'
c git_push_via_gate 'git commit -q --allow-empty -m "agent work smolvm" && git push -q origin HEAD:refs/heads/agent-smolvm'
c mcp_registered 'grep -Eqx -- "--transport http supervise http://127\.0\.0\.1:[0-9]+/" ~/.claude-mcp && [ "\$(stat -c %U ~/.claude-mcp)" = node ]'
c supervise_via_tsi 'curl -sS -m 10 --noproxy "*" -H "content-type: application/json" -H "accept: application/json, text/event-stream" -d "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}" "\$(sed "s/.* //" ~/.claude-mcp | tail -1)" | grep -q "\"id\":1"'
echo agent-finished
[ -n "\${DIE:-}" ] && kill -KILL \$\$
[ -n "\${HOLD:-}" ] && while :; do echo "probe \$(code https://api.test.example/echo)"; sleep 0.3; done
exit 0
AGENT
NCHECKS=$(grep -c '^c ' "$T/ws/agent.sh")

write_manifest() {
cat >"$T/ws/bottle.yaml" <<YAML
name: $NAME
backend: smolvm
image: $IMAGE
workspace: .
agent:
  command: [sh, /workspace/agent.sh]
  env: {HOLD: "${1:-}", DIE: "${2:-}"}
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
git:
  repos: [{path: $T/ws, name: project}]
prompt: $PROMPT
skills: $T/skills
YAML
}

fails=0 passes=0
check() { if eval "$2"; then echo "ok   $1"; passes=$((passes + 1)); else echo "FAIL $1"; fails=$((fails + 1)); fi; }
nothing_left() {
  [[ $(smolvm machine ls --json) == "[]" ]] &&
  ! pgrep -f "smolvm __vm bottle-$NAME\$" >/dev/null &&
  ! pgrep -f "bottle-proxy .*--bottle $NAME" >/dev/null &&
  ! pgrep -f "git daemon.*$XDG_STATE_HOME/bottle/$NAME/gate" >/dev/null &&
  [[ ! -e $XDG_STATE_HOME/bottle/$NAME/run ]]
}
# q PATTERN: grep -q that reads all its input, so nothing upstream dies of
# SIGPIPE (which pipefail would turn into a failed check).
q() { grep -c "$@" >/dev/null; }
step_line() { grep "\"step\":\"$2\"" "$1" | grep "\"status\":\"$3\"" | tail -1; }
all_checks_ok() { [[ $(grep -c '"line":"check [a-z_0-9]* ok"' "$1") -eq $NCHECKS ]]; }
# cmds FILE STEP: the `smolvm machine` subcommands STEP ran, in order, on one line.
cmds() { grep '"type":"cmd"' "$1" | grep "\"step\":\"$2\"" | grep -o '"machine","[a-z]*' | sed 's/.*"//' | tr '\n' ' '; }
# The CLI's status --json output, as an output event of STEP, says STATE.
status_said() { grep '"type":"output"' "$1" | grep "\"step\":\"$2\"" | q "\\\\\"state\\\\\": \\\\\"$3\\\\\""; }

# ---- a whole run, race on ----------------------------------------------------------
write_manifest
timeout 300 "$TUI" up --json "$T/ws/bottle.yaml" >"$T/events.jsonl" 2>"$T/up.err"; rc=$?
check "up exited 0 (the agent's status)" "[ $rc -eq 0 ]"
[[ $rc -eq 0 ]] || { echo "--- stderr"; cat "$T/up.err"; echo "--- events"; tail -40 "$T/events.jsonl"; }
grep -o '"line":"check [a-z_0-9]* [a-zA-Z]*"' "$T/events.jsonl" | sed 's/"line":"//; s/"$//'
check "every in-machine check ok ($NCHECKS)" "all_checks_ok $T/events.jsonl"
check "agent finished" "grep -q agent-finished $T/events.jsonl"
probes=$(step_line "$T/events.jsonl" start ok | grep -o 'ready after [0-9]* probe' | grep -o '[0-9]*')
echo "     (start: exec channel ready after ${probes:-?} probes; start step ran: $(cmds "$T/events.jsonl" start))"
check "the race fired during start and the probe waited it out" "[ \${probes:-0} -gt 2 ] && grep '\"step\":\"start\"' $T/events.jsonl | q '\"type\":\"cmd\".*\"exec\"'"
fp=$(openssl x509 -noout -fingerprint -sha256 -in "$XDG_STATE_HOME/bottle/$NAME/ca/egress/ca.pem" | cut -d= -f2)
check "ca step: 1 added, the egress CA fingerprint checked inside" "step_line $T/events.jsonl ca ok | q '\"fingerprint\":\"$fp\"'"
check "ca step: machine cp as root, then one folded exec (chown && chmod && update-ca-certificates)" "[ \"\$(cmds $T/events.jsonl ca)\" = 'cp exec ' ] && grep '\"type\":\"cmd\"' $T/events.jsonl | grep '\"step\":\"ca\"' | q 'chown root:root .* && chmod 0644 .* && update-ca-certificates'"
check "gate step: git daemon on host loopback" "step_line $T/events.jsonl gate ok | q 'git daemon on 127.0.0.1:[0-9]*'"
check "git step: ~/.gitconfig to the gate via TSI, owned by node" "step_line $T/events.jsonl git ok | q 'git://127.0.0.1:[0-9]*/ (TSI to the gate).*owned by node'"
check "git: the fetch got the operator's commit, the push is a gate event" "grep '\"type\":\"gate\"' $T/events.jsonl | q 'refs/heads/agent-smolvm'"
check "git: the branch is in the gate, not in the host repository" "git -C $XDG_STATE_HOME/bottle/$NAME/gate/project.git rev-parse -q --verify refs/heads/agent-smolvm >/dev/null && ! git -C $T/ws rev-parse -q --verify refs/heads/agent-smolvm"
check "supervise step: claude mcp add ran in the machine (one exec)" "step_line $T/events.jsonl supervise ok | q \"registered with claude as 'supervise' (http://127.0.0.1:[0-9]*/, via TSI)\" && [ \"\$(cmds $T/events.jsonl supervise)\" = 'exec ' ]"
check "prompt and skills steps ok, owned by node" "step_line $T/events.jsonl prompt ok | q 'owned by node' && step_line $T/events.jsonl skills ok | q '2 file(s), owned by node'"
staged=$(grep '"type":"cmd"' "$T/events.jsonl" | grep '"step":"prompt"' | grep -o '/tmp/bottle-smolvm-[A-Za-z0-9]*' | head -1)
check "prompt from a path with a colon: staged under a colon-free name, then removed" "[ -n '$staged' ] && [ ! -e '$staged' ] && ! grep '\"type\":\"cmd\"' $T/events.jsonl | q 'the:prompt'"
check "states in order" "[ \"\$(grep -o '\"state\":\"[a-z]*\"' $T/events.jsonl | tr '\n' ' ')\" = '\"state\":\"creating\" \"state\":\"provisioning\" \"state\":\"running\" \"state\":\"stopping\" \"state\":\"stopped\" ' ]"
check "upstream saw the real token" "grep -q 'Bearer $TOKEN' $T/up/requests.jsonl"
check "upstream never saw the placeholder" "! grep -q bottle-placeholder $T/up/requests.jsonl"
check "token not in the events" "! grep -q '$TOKEN' $T/events.jsonl $T/up.err"
check "token not in the state dir" "! grep -rq '$TOKEN' $XDG_STATE_HOME"
check "request event with auth rewritten" "grep '\"type\":\"request\"' $T/events.jsonl | q 'rewritten:api.test.example'"
check "block event for the host not allowed" "grep '\"type\":\"request\"' $T/events.jsonl | grep '\"verdict\":\"block\"' | q other.test.example"
check "teardown: stop, status until stopped, then delete -f" "cmds $T/events.jsonl teardown | q -E '^(stop )+(status )+delete status \$' && status_said $T/events.jsonl teardown stopped && grep '\"step\":\"teardown\"' $T/events.jsonl | q '\"delete\",\"--name\",\"bottle-$NAME\",\"-f\"'"
check "workspace written" "[ -f $T/ws/written-by-agent ]"
check "nothing left after exit" nothing_left

# ---- a killed hop, then SIGTERM while running; the machine's files checked for the token ----
write_manifest hold
"$TUI" up --json "$T/ws/bottle.yaml" >"$T/ev2.jsonl" 2>"$T/up2.err" &
UP_PID=$!
wait_for 120 grep -q '"line":"probe 200"' "$T/ev2.jsonl" || { echo "FAIL the bottle did not run"; cat "$T/up2.err"; tail -20 "$T/ev2.jsonl"; fails=$((fails + 1)); }
check "machine listed as running" "smolvm machine status --name bottle-$NAME --json | q '\"state\": \"running\"'"
# What the machine wrote to its disk (the fake's overlay upper layer, or its whole copy).
disk=$SMOLVM_DATA_DIR/machines/bottle-$NAME/upper
[[ -d $disk ]] && [[ -n $(ls -A "$disk") ]] || disk=$SMOLVM_DATA_DIR/machines/bottle-$NAME/rootfs
check "token not in the machine's files" "[ -f $disk/home/node/.gitconfig ] && ! grep -rqs --exclude-dir=proc '$TOKEN' $disk"
pl=$(pgrep -f "bottle-proxy pipelock .*--bottle $NAME" | head -1)
check "pipelock runs" "[ -n '$pl' ]"
[[ -n $pl ]] && kill -KILL "$pl"
wait_for 30 grep -q '"hop":"pipelock".*"status":"restarted"' "$T/ev2.jsonl"
check "killed hop: down, then restarted reported" "grep -q '\"hop\":\"pipelock\".*\"status\":\"down\"' $T/ev2.jsonl && grep -q '\"hop\":\"pipelock\".*\"status\":\"restarted\"' $T/ev2.jsonl"
n=$(grep -n '"status":"restarted"' "$T/ev2.jsonl" | head -1 | cut -d: -f1)
after_ok() { tail -n +"${n:-1}" "$T/ev2.jsonl" | q '"line":"probe 200"'; }
wait_for 30 after_ok
check "killed hop: requests from the machine pass again" after_ok
kill -TERM "$UP_PID"; wait "$UP_PID"; rc=$?; UP_PID=
echo "     (up exited $rc after SIGTERM)"
check "SIGTERM: up exits with a signal status" "[ $rc -gt 128 ]"
check "SIGTERM: stopped" "tail -1 $T/ev2.jsonl | q '\"state\":\"stopped\"'"
check "SIGTERM: the machine stopped, waited for, then deleted -f" "cmds $T/ev2.jsonl teardown | q -E '^(stop )+(status )+delete status \$' && status_said $T/ev2.jsonl teardown stopped"
check "SIGTERM: nothing left" nothing_left

# ---- relaunch; its agent is killed by a signal inside the guest ------------------------
write_manifest "" die
timeout 300 "$TUI" up --json "$T/ws/bottle.yaml" >"$T/ev3.jsonl" 2>"$T/up3.err"; rc=$?
check "relaunch after SIGTERM: every check ok" "all_checks_ok $T/ev3.jsonl && grep -q agent-finished $T/ev3.jsonl"
check "a guest killed by SIGKILL: up exits 137 (128+signal, passed through exec)" "[ $rc -eq 137 ]"
check "relaunch: nothing left" nothing_left

# ---- a stale machine (delete -f), an unreachable start (stop, wait, start), a missing command ----
# A machine left by a crash is removed before the launch; the new machine's
# first start comes up unreachable, so it is stopped, polled until stopped and
# started again; the launch then fails at the agent step with a clear message.
write_manifest
sed -i 's#command: \[sh, /workspace/agent.sh\]#command: [no-such-agent-command]#' "$T/ws/bottle.yaml"
smolvm machine create --name "bottle-$NAME" --image "$IMAGE" >/dev/null &&
  smolvm machine start --name "bottle-$NAME" >/dev/null
SMOLVM_FAKE_UNREACHABLE_STARTS=1 timeout 300 "$TUI" up --json "$T/ws/bottle.yaml" >"$T/ev4.jsonl" 2>"$T/up4.err"; rc=$?
check "stale machine: removed with delete -f" "step_line $T/ev4.jsonl network ok | q 'removed a stale machine' && [ \"\$(cmds $T/ev4.jsonl network)\" = 'status delete ' ] && grep '\"step\":\"network\"' $T/ev4.jsonl | q '\"delete\",\"--name\",\"bottle-$NAME\",\"-f\"'"
check "unreachable: stopped, polled until stopped, started again" "step_line $T/ev4.jsonl start ok | q 'restarted: it was unreachable' && cmds $T/ev4.jsonl start | q -E '^create start status stop (status )+start status exec' && status_said $T/ev4.jsonl start unreachable && status_said $T/ev4.jsonl start stopped"
check "missing command: exit 1, clear message" "[ $rc -eq 1 ] && grep -q \"step 'agent' failed: the agent command 'no-such-agent-command' is not found in the machine\" $T/up4.err"
[[ $rc -eq 1 ]] || { cat "$T/up4.err"; tail -20 "$T/ev4.jsonl"; }
check "stale/unreachable/missing: nothing left" nothing_left

# ---- readiness and folding off: the CA check catches the race --------------------------------
write_manifest
BOTTLE_SMOLVM_UNSAFE_NO_READY=1 SMOLVM_FAKE_WARMUP_MS=60000 timeout 300 "$TUI" up "$T/ws/bottle.yaml" >"$T/ev6.txt" 2>"$T/up6.err"; rc=$?
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

# ---- no smolvm CLI ----------------------------------------------------------------------------
write_manifest
BOTTLE_SMOLVM=$T/no-such-smolvm timeout 60 "$TUI" up "$T/ws/bottle.yaml" >"$T/ev9.txt" 2>"$T/up9.err"; rc=$?
check "no CLI: exit 1, clear message" "[ $rc -eq 1 ] && grep -q \"step 'network' failed: the smolvm CLI\" $T/up9.err"
check "no CLI: nothing left" nothing_left

check "every machine delete the backend ran was delete -f (never the prompt)" "! cat $T/events.jsonl $T/ev2.jsonl $T/ev3.jsonl $T/ev4.jsonl | grep '\"type\":\"cmd\"' | grep '\"machine\",\"delete\"' | grep -v '\"-f\"' | q ."

echo "$passes passed, $fails failed"
[[ $fails -eq 0 ]]
