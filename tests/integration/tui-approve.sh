#!/bin/bash
# The operator's side of the supervise server and the git gate, end to end
# under tmux: the real bottle-tui runs a local (bwrap) bottle whose agent
# calls the MCP server with curl. The agent asks for a host (403 before),
# the operator approves in the approvals pane and the agent's next request
# passes; the agent asks a question and gets the typed answer; a blocked
# request is approved from the request pane and the next one passes; the
# agent pushes a branch to the gate, the operator reads its log and brings
# it into the host repository as bottle/<name>/<branch>, leaving the host's
# own branches alone. Every wait polls the screen or a file with a deadline.
set -uo pipefail
source "$(dirname "$0")/lib/common.sh"
source "$(dirname "$0")/lib/tui.sh"
command -v tmux >/dev/null || skip "tmux not installed"
command -v git >/dev/null || skip "git not installed"
need_local_bottles

T=$(mktemp -d /tmp/bottle-tui-approve.XXXXXX)
SOCK="bottle-tui-approve-$$"
NAME=tuiappr
cleanup() {
  TM kill-server 2>/dev/null
  [[ -n ${UPSTREAM_PID:-} ]] && kill "$UPSTREAM_PID" 2>/dev/null
  wait 2>/dev/null
  [[ -n ${KEEP:-} ]] || rm -rf "$T"
}
trap cleanup EXIT
export XDG_STATE_HOME=$T/state HOME=$T/home BOTTLE_SUPERVISE_TIMEOUT_MS=120000
mkdir -p "$HOME" "$T/ws"
EV=$XDG_STATE_HOME/bottle/$NAME/events.jsonl

# The operator's repository (not the workspace): its remote must never be contacted.
HR=$T/hostrepo
mkdir -p "$HR" && git -C "$HR" init -q -b main
git -C "$HR" -c user.name=op -c user.email=op@example.invalid commit -q --allow-empty -m "operator commit"
git -C "$HR" remote add origin https://git.example.invalid/team/project.git
heads_before=$(git -C "$HR" for-each-ref --format='%(refname) %(objectname)' refs/heads)

cat >"$T/ws/agent.sh" <<'AGENT'
#!/bin/sh
rpc() { curl -sS -m 130 --noproxy '*' -H 'content-type: application/json' \
  -H 'accept: application/json, text/event-stream' -d "$1" http://127.0.0.1:9100/; echo; }
# The proxy's answer to CONNECT, then the upstream's: a blocked host is "403 000".
code() { curl -s -o /dev/null -w '%{http_connect} %{http_code}' -m 10 "$@"; }
echo "E1 before $(code https://granted.test.example/echo)"
echo "E2 $(rpc '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"request_egress","arguments":{"host":"granted.test.example","reason":"read the docs"}}}')"
echo "E3 after $(code https://granted.test.example/echo)"
echo "Q1 $(rpc '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"ask_operator","arguments":{"question":"which branch should I use?"}}}')"
echo "B1 before $(code https://blocked.test.example/echo)"
# The operator allows it from the request pane; until then each try is blocked.
i=0
while [ "$(code https://blocked.test.example/echo)" != "200 200" ] && [ $i -lt 240 ]; do sleep 0.5; i=$((i + 1)); done
echo "B2 after $(code https://blocked.test.example/echo)"
git clone -q https://git.example.invalid/team/project.git clone && cd clone &&
  git checkout -q -b agent-work &&
  git -c user.name=agent -c user.email=agent@example.invalid commit -q --allow-empty -m "agent work for review" &&
  git push -q origin agent-work && echo "G1 pushed"
echo agent-done
exec sleep 600
AGENT

make_test_ca "$T/up" granted.test.example blocked.test.example
start_upstream "$T/up"
cat >"$T/$NAME.yaml" <<YAML
name: $NAME
backend: local
workspace: $T/ws
agent: {command: [sh, agent.sh]}
pipelock:
  mode: strict
  allow: [nothing.invalid]
supervise: {enabled: true}
git:
  repos: [{path: $HR, name: project}]
upstream:
  resolve: {granted.test.example: "127.0.0.1:$UPSTREAM_PORT", blocked.test.example: "127.0.0.1:$UPSTREAM_PORT"}
  ca_file: $T/up/ca.pem
YAML

# The agent's output line starting with TAG, from the bottle's event log.
agent_line() { grep -o "\"line\":\"$1 .*" "$EV" 2>/dev/null | head -1; }
agent_says() { agent_line "$1" | grep -q -- "$2"; }
expect_agent() { if wait_for "$1" agent_says "$3" "$4"; then ok "$2"; else bad "$2 (agent line $3 lacks /$4/: $(agent_line "$3"))"; fi; }

TM new-session -d -s tui -x 120 -y 40 \
  "cd '$T' && env LC_ALL=C.UTF-8 TERM=tmux-256color '$TUI' '$T/$NAME.yaml'; echo EXITED:\$?; exec sleep 600"
TM set-option -t tui remain-on-exit on >/dev/null

expect 60 "the bottle runs" "│$NAME +local +running"

# ---- request_egress: approve for this run in the approvals pane ------------------------------
expect_agent 30 "before the approval the host is blocked (403)" E1 "before 403"
expect 30 "the request is on screen without a key" "#[0-9]+ +egress .*granted\.test\.example: read the docs"
check "the status bar says so" "shows '1 pending approval'"
check "the bottle row carries the marker" "shows '│$NAME .* !1'"
keys y
expect_agent 30 "approved: the agent hears so" E2 "approved: granted.test.example is allowed for this run"
expect_agent 10 "the next request to the host passes (200)" E3 "after 200 200"
allowlist() { sed -n '/^pipelock:/,/^[a-z]/p' "$T/$NAME.yaml"; }
check "the manifest's allowlist is unchanged (this run only)" "! allowlist | grep -q granted"

# ---- ask_operator: a typed answer ------------------------------------------------------------
expect 30 "the question is on screen" "#[0-9]+ +ask .*which branch should I use\?"
keys y
expect 5 "y opens the answer prompt" "^answer #[0-9]+:"
keys -l "use main, please"
expect 5 "the typed answer echoes" "^answer #[0-9]+: use main, please"
keys Enter
expect_agent 30 "the agent gets the typed answer" Q1 "use main, please"
if wait_for 10 eval '! shows "pending approval"'; then ok "nothing pending any more"; else bad "nothing pending any more"; fi

# ---- a blocked request approved from the request pane ------------------------------------------
expect_agent 30 "the other host is blocked (403)" B1 "before 403"
expect 30 "the blocked request is in the request pane" "CONNEC? +blocked\.test\.example .*403 +block: host not in"
keys Tab Tab
keys y
expect 5 "y on a blocked request asks y/N" "Allow blocked\.test\.example for this run\? \[y/N\]"
keys y
expect 15 "the result is shown" "blocked\.test\.example allowed for this run: pipelock reloaded"
expect_agent 60 "the next request to that host passes (200)" B2 "after 200 200"
check "the run's allowlist, not the manifest" "! allowlist | grep -q blocked"
keys p
expect 5 "p shows the approvals history: the answered question" "answered +which branch should I use\? -> use main"
check "...and the approved request" "shows 'approved +granted\.test\.example: read the docs'"
keys p

# ---- the gate: a pushed branch, its log, bring it in ----------------------------------------------
expect_agent 60 "the agent pushed to the gate" G1 pushed
keys g
expect 10 "the push is in the gate pane" "Gate $NAME: 1 push"
expect 5 "repo, branch, range and subject" "project +agent-work +0000000\.\.[0-9a-f]{7} +agent work for review"
keys Enter
expect 15 "the log overlay shows the pushed commit" "│ +[0-9a-f]{7,} agent work for review \(agent, "
expect 5 "and asks to bring it in" "Bring agent-work into .*hostrepo as bottle/$NAME/agent-work\? \[y/N\]"
check "nothing in the host repository yet" "! git -C '$HR' rev-parse -q --verify refs/heads/bottle/$NAME/agent-work"
keys y
expect 30 "brought in (shown)" "brought in as bottle/$NAME/agent-work"
check "the host repository has the commit on bottle/$NAME/agent-work" \
  "git -C '$HR' log --format=%s bottle/$NAME/agent-work | grep -cx 'agent work for review' >/dev/null"
heads_after=$(git -C "$HR" for-each-ref --format='%(refname) %(objectname)' refs/heads | grep -v "refs/heads/bottle/")
check "the host repository's own branches are unchanged" "[ \"\$heads_after\" = \"\$heads_before\" ]"
check "no agent-work branch of its own in the host repository" "! git -C '$HR' rev-parse -q --verify refs/heads/agent-work"

# ---- 80x24 with the panes ---------------------------------------------------------------------------
TM resize-window -t tui -x 80 -y 24
fits80() { local l; l=$(screen | sed -n 2p); [[ ${#l} -eq 80 ]]; }
if wait_for 10 fits80; then ok "80x24: redrawn to fit"; else bad "80x24: redrawn to fit"; fi
expect 5 "80x24: the gate pane is there" "Gate $NAME: 1 push"
TM resize-window -t tui -x 120 -y 40

# ---- quit ------------------------------------------------------------------------------------------
keys q
expect 5 "quit asks" "Quit\? 1 running bottle will be killed \[y/N\]"
keys y
expect 60 "quit: the dashboard exits 0" "^EXITED:0"
check "quit: no proxy or bwrap left" "! pgrep -f 'bottle-proxy .*--bottle $NAME' >/dev/null"

echo "$passes passed, $fails failed"
[[ $fails -eq 0 ]]
