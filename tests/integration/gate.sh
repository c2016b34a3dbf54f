#!/bin/bash
# The git gate with the real git client inside local and docker bottles: the
# agent fetches from the gate and pushes to it with no credentials; the push
# lands in the gate (and is a `gate` event), not in the host repository's
# branches; the real remote is never contacted.
set -uo pipefail
source "$(dirname "$0")/lib/common.sh"
command -v bwrap >/dev/null || skip "bubblewrap not installed"
command -v git >/dev/null || skip "git not installed"
[[ -x $PROXY ]] && "$PROXY" --help >/dev/null 2>&1 || skip "bottle-proxy not built"

T=$(mktemp -d /tmp/bottle-gate.XXXXXX)
NAME=gate$$
cleanup() {
  docker rm -f "bottle-$NAME-d" >/dev/null 2>&1; docker network rm "bottle-$NAME-d" >/dev/null 2>&1
  [[ -n ${KEEP:-} ]] || rm -rf "$T"
}
trap cleanup EXIT
export XDG_STATE_HOME=$T/state
fails=0 passes=0
check() { if eval "$2"; then echo "ok   $1"; passes=$((passes + 1)); else echo "FAIL $1"; fails=$((fails + 1)); fi; }

# The operator's repository; its remote is a host that must never be contacted.
mkdir -p "$T/ws" && git -C "$T/ws" init -q -b main
git -C "$T/ws" -c user.name=op -c user.email=op@example.invalid commit -q --allow-empty -m "operator commit"
git -C "$T/ws" remote add origin https://git.example.invalid/team/project.git
chmod -R a+rwX "$T/ws"

# The supervise MCP server from inside, with curl: tools/list, and a malformed request.
cat >"$T/ws/mcp.sh" <<'MCP'
url=$1
rpc() { curl -sS -m 10 -H 'content-type: application/json' -H 'accept: application/json, text/event-stream' -d "$1" "$url"; echo; }
echo "MCP1 $(rpc '{"jsonrpc":"2.0","id":1,"method":"tools/list"}')"
echo "MCP2 $(rpc '{"jsonrpc":"2.0","id":2,')"
MCP
run_bottle() { # backend name
  local be=$1 name=$2 ws=$T/ws sup=http://127.0.0.1:9100/
  [[ $be == docker ]] && sup=http://supervise:9100/
  cat >"$T/$name.yaml" <<YAML
name: $name
backend: $be
workspace: $ws
agent:
  command: [sh, -c, "git config --global --list >/dev/null; git fetch origin && git log --oneline origin/main && git commit -q --allow-empty -m 'agent work $be' && git push origin HEAD:refs/heads/agent-$be && echo pushed-$be; sh mcp.sh $sup"]
pipelock: {mode: strict, allow: [nothing.invalid]}
git:
  repos: [{path: $ws, name: project}]
YAML
  timeout 300 "$TUI" up --json "$T/$name.yaml" >"$T/$name.jsonl" 2>"$T/$name.err"
}

run_bottle local "$NAME"
rc=$?
check "local: up exit 0" "[ $rc -eq 0 ]"
[[ $rc -eq 0 ]] || { cat "$T/$NAME.err"; grep -E 'output|step' "$T/$NAME.jsonl" | tail -20; }
check "local: fetched the operator's commit through the gate" "grep -q 'operator commit' $T/$NAME.jsonl"
check "local: push done" "grep -q pushed-local $T/$NAME.jsonl"
check "local: push is a gate event" "grep '\"type\":\"gate\"' $T/$NAME.jsonl | grep -q 'refs/heads/agent-local.*agent work local'"
check "local: the branch is in the gate" "git -C $XDG_STATE_HOME/bottle/$NAME/gate/project.git rev-parse -q --verify refs/heads/agent-local"
check "local: not a branch of the host repository" "! git -C $T/ws rev-parse -q --verify refs/heads/agent-local"
check "local: MCP tools/list from inside" "grep -o '\"line\":\"MCP1 .*' $T/$NAME.jsonl | grep -q request_egress"
check "local: malformed JSON-RPC gets -32700" "grep -o '\"line\":\"MCP2 .*' $T/$NAME.jsonl | grep -q -- -32700"
check "local: the gate's daemon is gone" "! pgrep -f 'git daemon.*$XDG_STATE_HOME/bottle/$NAME/gate'"

if [[ $(id -u) -eq 0 ]] && docker info >/dev/null 2>&1 && "$SRC/scripts/build-agent-image" >/dev/null 2>&1; then
  chmod -R a+rwX "$T/ws" # the local run wrote .git files as root; the agent is uid 1000
  run_bottle docker "$NAME-d"
  rc=$?
  check "docker: up exit 0" "[ $rc -eq 0 ]"
  [[ $rc -eq 0 ]] || { cat "$T/$NAME-d.err"; grep -E 'output|step' "$T/$NAME-d.jsonl" | tail -20; }
  check "docker: push is a gate event" "grep '\"type\":\"gate\"' $T/$NAME-d.jsonl | grep -q 'refs/heads/agent-docker'"
  check "docker: MCP tools/list from inside (http://supervise:9100/)" "grep -o '\"line\":\"MCP1 .*' $T/$NAME-d.jsonl | grep -q request_egress"
  check "docker: malformed JSON-RPC gets -32700" "grep -o '\"line\":\"MCP2 .*' $T/$NAME-d.jsonl | grep -q -- -32700"
  check "docker: the branch is in the gate" "git -C $XDG_STATE_HOME/bottle/$NAME-d/gate/project.git rev-parse -q --verify refs/heads/agent-docker"
  check "docker: not a branch of the host repository" "! git -C $T/ws rev-parse -q --verify refs/heads/agent-docker"
  br=$(grep -o 'from br-[0-9a-f]*' "$T/$NAME-d.jsonl" | head -1 | cut -d' ' -f2)
  check "docker: the bridge was named" "[ -n '$br' ]"
  check "docker: nothing left" "! docker ps -aq --filter name=bottle-$NAME-d | grep -q . && ! iptables -S INPUT | grep -q -- '$br'"
else
  echo "skip docker part: needs root, dockerd and the agent image"
fi
echo "$passes passed, $fails failed"
[[ $fails -eq 0 ]]
