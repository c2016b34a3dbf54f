#!/bin/bash
# The supervise MCP server from inside a local bottle, with curl speaking
# JSON-RPC 2.0 over Streamable HTTP: initialize (both protocol versions),
# tools/list, each tool, malformed requests with proper JSON-RPC errors while
# the server keeps serving, an operator's answer and denial (headless, through
# `up --operator`), the timeout when nobody answers, and approvals that make
# the next request to the host pass (for this run, or saved to the manifest).
set -uo pipefail
source "$(dirname "$0")/lib/common.sh"
command -v bwrap >/dev/null || skip "bubblewrap not installed"
[[ -x $PROXY ]] && "$PROXY" --help >/dev/null 2>&1 || skip "bottle-proxy not built"

T=$(mktemp -d /tmp/bottle-supervise.XXXXXX)
cleanup() { [[ -n ${UP_PID:-} ]] && kill "$UP_PID" 2>/dev/null; [[ -n ${UPSTREAM_PID:-} ]] && kill "$UPSTREAM_PID" 2>/dev/null; wait 2>/dev/null; exec 3>&- 2>/dev/null; [[ -n ${KEEP:-} ]] || rm -rf "$T"; }
trap cleanup EXIT
export XDG_STATE_HOME=$T/state BOTTLE_SUPERVISE_TIMEOUT_MS=2000
mkdir -p "$T/ws"
cat >"$T/ws/agent.sh" <<'AGENT'
#!/bin/sh
rpc() { curl -sS -m 30 --noproxy '*' -H 'content-type: application/json' \
  -H 'accept: application/json, text/event-stream' -d "$1" http://127.0.0.1:9100/; echo; }
echo "R1 $(rpc '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-03-26","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}')"
echo "R2 $(rpc '{"jsonrpc":"2.0","id":2,"method":"initialize","params":{"protocolVersion":"2025-06-18"}}')"
echo "R3 $(curl -s -o /dev/null -w '%{http_code}' --noproxy '*' -d '{"jsonrpc":"2.0","method":"notifications/initialized"}' http://127.0.0.1:9100/)"
echo "R4 $(rpc '{"jsonrpc":"2.0","id":4,"method":"tools/list"}')"
echo "R5 $(rpc '{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"notify_operator","arguments":{"message":"tests are green"}}}')"
echo "R6 $(rpc '{"jsonrpc":"2.0","id":6,"method":')"
echo "R7 $(rpc '{"jsonrpc":"2.0","id":7,"method":"no/such"}')"
echo "R8 $(rpc '{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"ask_operator","arguments":{}}}')"
echo "R9 $(rpc '[1,2]')"
echo "R10 $(rpc '{"jsonrpc":"2.0","id":10,"method":"ping"}')"
echo "R11 $(rpc '{"jsonrpc":"2.0","id":11,"method":"tools/call","params":{"name":"ask_operator","arguments":{"question":"which branch?"}}}')"
echo "R12 $(rpc '{"jsonrpc":"2.0","id":12,"method":"tools/call","params":{"name":"request_egress","arguments":{"host":"pypi.org","reason":"pip install"}}}')"
echo "R13 $(rpc '{"jsonrpc":"2.0","id":13,"method":"tools/call","params":{"name":"ask_operator","arguments":{"question":"anyone there?"}}}')"
code() { curl -s -o /dev/null -w '%{http_code}' -m 10 "$@"; }
# pipelock is the first hop here: a host not allowed gets 403 on the CONNECT.
connect_code() { curl -s -o /dev/null -w '%{http_connect}' -m 10 "$@"; }
echo "R14 before $(connect_code https://granted.test.example/echo)"
echo "R15 $(rpc '{"jsonrpc":"2.0","id":15,"method":"tools/call","params":{"name":"request_egress","arguments":{"host":"granted.test.example","reason":"docs"}}}')"
echo "R16 after $(code https://granted.test.example/echo)"
echo "R17 $(rpc '{"jsonrpc":"2.0","id":17,"method":"tools/call","params":{"name":"request_egress","arguments":{"host":"saved.test.example","reason":"mirror"}}}')"
echo "R18 after $(code https://saved.test.example/echo)"
echo agent-done
AGENT
make_test_ca "$T/up" granted.test.example saved.test.example
start_upstream "$T/up"
cat >"$T/ws/bottle.yaml" <<YAML
name: suptest
workspace: .
agent: {command: [sh, agent.sh]}
pipelock:
  mode: strict
  allow:
    - nothing.invalid # the operator's comment
supervise: {enabled: true}
upstream:
  resolve: {granted.test.example: "127.0.0.1:$UPSTREAM_PORT", saved.test.example: "127.0.0.1:$UPSTREAM_PORT"}
  ca_file: $T/up/ca.pem
YAML

# A stand-in `claude` on the agent's PATH: the supervise registration runs it.
# (In the workspace: the sandbox's /tmp is its own.)
mkdir -p "$T/ws/bin"
printf '#!/bin/sh\necho "$@" >"%s/claude-args"\n' "$T/ws" >"$T/ws/bin/claude"
chmod 755 "$T/ws/bin/claude"
export PATH="$T/ws/bin:$PATH"
mkfifo "$T/op"
exec 3<>"$T/op"
"$TUI" up --json --operator "$T/ws/bottle.yaml" <"$T/op" >"$T/ev.jsonl" 2>"$T/up.err" &
UP_PID=$!
# The operator: answer the first question, deny the egress request, ignore the last.
pending_id() { grep '"type":"supervise"' "$T/ev.jsonl" | grep "\"tool\":\"$1\"" | grep '"status":"pending"' | sed -n "${2}p" | sed 's/.*"id":"\([0-9]*\)".*/\1/'; }
has_pending() { [[ -n $(pending_id "$1" "$2") ]]; }
wait_for 60 has_pending ask_operator 1 || echo "no pending question"
echo "answer $(pending_id ask_operator 1) use main, please" >&3
wait_for 30 has_pending request_egress 1 || echo "no pending egress request"
echo "deny $(pending_id request_egress 1)" >&3
# Approve the next one for this run, and save the one after into the manifest.
wait_for 30 has_pending request_egress 2 || echo "no second egress request"
echo "approve $(pending_id request_egress 2)" >&3
wait_for 30 has_pending request_egress 3 || echo "no third egress request"
echo "approve-save $(pending_id request_egress 3)" >&3
wait "$UP_PID"; rc=$?; UP_PID=

fails=0 passes=0
check() { if eval "$2"; then echo "ok   $1"; passes=$((passes + 1)); else echo "FAIL $1"; fails=$((fails + 1)); fi; }
line() { grep -o "\"line\":\"R$1 .*" "$T/ev.jsonl" | head -1; }
check "up exit 0" "[ $rc -eq 0 ]"
[[ $rc -eq 0 ]] || { cat "$T/up.err"; tail -20 "$T/ev.jsonl"; }
check "initialize 2025-03-26 answered in kind" "line 1 | grep -q 'protocolVersion.*2025-03-26' && line 1 | grep -q bottle-supervise"
check "initialize 2025-06-18" "line 2 | grep -q 'protocolVersion.*2025-06-18'"
check "notification gets 202" "line 3 | grep -q 'R3 202'"
check "tools/list has the three tools" "line 4 | grep -q notify_operator && line 4 | grep -q ask_operator && line 4 | grep -q request_egress"
check "notify_operator delivered" "line 5 | grep -q delivered && grep '\"type\":\"supervise\"' $T/ev.jsonl | grep -q 'tests are green'"
check "parse error -32700" "line 6 | grep -q -- '-32700'"
check "method not found -32601" "line 7 | grep -q -- '-32601'"
check "invalid params -32602" "line 8 | grep -q -- '-32602'"
check "invalid request in a batch -32600" "line 9 | grep -q -- '-32600'"
check "still serving after bad input" "line 10 | grep -q '\\\\\"id\\\\\":10,\\\\\"result\\\\\"'"
check "ask_operator gets the operator's answer" "line 11 | grep -q 'use main, please'"
check "request_egress denied" "line 12 | grep -q 'denied: the operator did not allow pypi.org'"
check "unanswered question times out" "line 13 | grep -q 'no answer from the operator'"
check "events: answered, denied, timeout" "grep -q '\"status\":\"answered\"' $T/ev.jsonl && grep -q '\"status\":\"denied\"' $T/ev.jsonl && grep -q '\"status\":\"timeout\"' $T/ev.jsonl"
check "a host not allowed: 403 before the approval" "line 14 | grep -q 'R14 before 403'"
check "request_egress approved for this run" "line 15 | grep -q 'approved: granted.test.example is allowed for this run'"
check "the next request to the approved host passes" "line 16 | grep -q 'R16 after 200'"
check "approve-save answers so" "line 17 | grep -q 'saved to the manifest'"
check "the saved host passes" "line 18 | grep -q 'R18 after 200'"
check "the manifest has the saved host, comments kept" "grep -q '^    - saved.test.example\$' $T/ws/bottle.yaml && grep -q '# the operator.s comment' $T/ws/bottle.yaml"
check "the run-only host is not in the manifest" "! grep -q -- '- granted' $T/ws/bottle.yaml"
check "the manifest still checks" "$TUI check $T/ws/bottle.yaml >/dev/null"
check "events: approved" "[ \$(grep -c '\"status\":\"approved\"' $T/ev.jsonl) -eq 2 ]"
check "agent finished" "grep -q agent-done $T/ev.jsonl"
check "claude mcp add ran in the sandbox before the agent" "grep -qx 'mcp add --transport http supervise http://127.0.0.1:9100/' $T/ws/claude-args"
check "run dir (and its allow file) removed" "[ ! -e $T/state/bottle/suptest/run ]"
echo "$passes passed, $fails failed"
[[ $fails -eq 0 ]]
