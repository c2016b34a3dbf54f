#!/bin/bash
# The dashboard end to end under tmux: the real bottle-tui on a copy of the demo
# bottle (local backend, real bwrap and proxy hops, a loopback HTTPS upstream):
# every step, the CA fingerprint in full, the chain with real pids, requests
# with verdicts, the filter, kill (nothing left behind), restart, resize to
# 80x24 and back, quit with the terminal restored, and no token on screen.
# Every wait polls capture-pane with a deadline.
set -uo pipefail
source "$(dirname "$0")/lib/common.sh"
source "$(dirname "$0")/lib/tui.sh"
command -v tmux >/dev/null || skip "tmux not installed"
need_local_bottles

T=$(mktemp -d /tmp/bottle-tui-demo.XXXXXX)
SOCK="bottle-tui-test-$$"
cleanup() {
  TM kill-server 2>/dev/null
  [[ -n ${UPSTREAM_PID:-} ]] && kill "$UPSTREAM_PID" 2>/dev/null
  wait 2>/dev/null
  [[ -n ${KEEP:-} ]] || rm -rf "$T"
}
trap cleanup EXIT
export XDG_STATE_HOME=$T/state HOME=$T/home
mkdir -p "$HOME" "$T/ws"
TOKEN="demo-real-token-$RANDOM$RANDOM-never-on-screen"
printf '%s\n' "$TOKEN" >"$T/token" && chmod 600 "$T/token"
cp "$SRC/assets/demo/workspace/agent.sh" "$T/ws/"
make_test_ca "$T/up" api.demo.test evil.demo.test
start_upstream "$T/up"

# The demo manifest with this test's upstream port, token and workspace.
cat >"$T/tuidemo.yaml" <<YAML
name: tuidemo
backend: local
workspace: $T/ws
agent:
  command: [sh, agent.sh]
egress:
  routes:
    - host: api.demo.test
      header: Authorization
      value: "Bearer \${token}"
      token: {file: $T/token}
      placeholder_env: DEMO_API_TOKEN
pipelock:
  mode: strict
  allow: [api.demo.test]
upstream:
  resolve: {api.demo.test: "127.0.0.1:$UPSTREAM_PORT", evil.demo.test: "127.0.0.1:$UPSTREAM_PORT"}
  ca_file: $T/up/ca.pem
prompt: $SRC/assets/demo/prompt.txt
YAML

procs_left() { pgrep -f "bottle-proxy .*--bottle tuidemo" >/dev/null || pgrep -f "bwrap .*$T/ws" >/dev/null; }

TM new-session -d -s tui -x 120 -y 40 \
  "cd '$T' && env LC_ALL=C.UTF-8 TERM=tmux-256color '$TUI' '$T/tuidemo.yaml'; echo EXITED:\$?; exec sleep 600"
TM set-option -t tui remain-on-exit on >/dev/null

# ---- launch: every pane comes alive -------------------------------------------------------
expect 60 "the bottle runs" "│tuidemo +local +running"
for s in network proxies gate start ca git supervise prompt skills; do
  expect 10 "step $s shown as done" "[✓–] $s "
done
expect 10 "step agent ok with its pid" "✓ agent +[0-9]+ms +pid [0-9]+"
fp=$(openssl x509 -noout -fingerprint -sha256 -in "$XDG_STATE_HOME/bottle/tuidemo/ca/egress/ca.pem" | cut -d= -f2)
# The fingerprint wraps inside the steps pane: join the pane's lines from "SHA-256" on.
shown_fp() {
  screen | python3 -c '
import sys, re
lines = sys.stdin.read().split("\n")
out, on = "", False
for l in lines:
    left = l.split("││")[0][1:] if "││" in l else ""
    if "SHA-256" in left:
        on = True
        left = left.split("SHA-256", 1)[1]
    elif on and not re.match(r"^ {4}[0-9A-F:]+ *$", left):
        break
    if on:
        out += left.strip()
print(out)'
}
check "the CA fingerprint in full" "[ \"\$(shown_fp)\" = '$fp' ]"
expect 10 "the chain diagram" "agent → egress → pipelock → upstream"
eg=$(pgrep -f "bottle-proxy egress .*--bottle tuidemo" | head -1)
pl=$(pgrep -f "bottle-proxy pipelock .*--bottle tuidemo" | head -1)
expect 5 "egress hop: address, real pid, up" "● egress +127\.0\.0\.1:[0-9]+ +pid $eg +up"
expect 5 "pipelock hop: address, real pid, up" "● pipelock +127\.0\.0\.1:[0-9]+ +pid $pl +up"
expect 5 "which CA the agent trusts" "agent trusts the egress CA"
expect 30 "an allowed request with the auth-rewritten marker" "egress +POST +api\.demo\.test/v1/messages.* 200 ✱ allow"
expect 30 "a blocked request with its reason" "evil\.demo\.test/upload.* 403 +block: host not in"
expect 30 "a DLP block, its URL cut to the host" "GET +api\.demo\.test +403 .*block: dlp"
check "the secret itself is not on screen" "! screen | grep -q AKIA"
expect 5 "requests pane follows" "Requests \[following\]"

# ---- the hop dies and is restarted: the chain follows ----------------------------------------
kill -KILL "$pl"
expect 20 "a dead hop is shown down or restarted" "(○ pipelock .* down|restarted 1)"
expect 30 "the restarted hop is shown with its restart" "● pipelock .* up .*restarted 1"

# ---- filter, blocked-only, pause --------------------------------------------------------------
keys /
keys -l evil
expect 5 "the filter prompt echoes" "^filter: /evil"
keys Enter
expect 5 "the filter is in the title" "Requests \[following\] filter: evil"
rows_only_evil() { screen | grep -E "(GET|POST) " | grep -vq evil && return 1; screen | grep -qE "GET +evil"; }
check "filtered rows all match" rows_only_evil
keys Escape
expect 5 "Esc clears the filter" "Requests \[following\] +─"
keys b
expect 5 "blocked-only shows in the title" "\[blocked only\]"
only_blocked() { ! screen | grep -E "(GET|POST) " | grep -q " allow"; }
check "blocked-only hides allowed requests" only_blocked
keys b f
expect 5 "f pauses" "Requests \[paused\]"
keys f
expect 5 "f follows again" "Requests \[following\]"

# ---- kill ------------------------------------------------------------------------------------------
keys k
expect 5 "kill asks first" "Kill bottle 'tuidemo'\?.*\[y/N\]"
keys n
expect 5 "n cancels" "cancelled"
check "still running after cancel" "shows '│tuidemo +local +running'"
keys k
expect 5 "kill asks again" "Kill bottle 'tuidemo'\?"
keys y
expect 30 "killed: stopped" "│tuidemo +local +stopped"
check "killed: no proxy or bwrap left" "! procs_left"
check "killed: run dir removed" "[ ! -e $XDG_STATE_HOME/bottle/tuidemo/run ]"
expect 5 "killed: hops shown down" "○ egress .* down"

# ---- restart -----------------------------------------------------------------------------------------
keys r
expect 5 "restart asks" "Restart bottle 'tuidemo'\?"
keys y
expect 60 "restarted: running" "│tuidemo +local +running"
expect 20 "restarted: agent step ok" "✓ agent +[0-9]+ms +pid"
eg2=$(pgrep -f "bottle-proxy egress .*--bottle tuidemo" | head -1)
check "restarted: a new egress process" "[ -n '$eg2' ] && [ '$eg2' != '$eg' ]"
expect 10 "restarted: the chain shows the new pid" "● egress .*pid $eg2 +up"

# ---- resize ----------------------------------------------------------------------------------------
TM resize-window -t tui -x 80 -y 24
fits80() { local l; l=$(screen | sed -n 2p); [[ ${#l} -eq 80 && $l == "┌─ Bottles"*"┐" ]]; }
if wait_for 10 fits80; then ok "resized to 80x24: redrawn to fit"; else bad "resized to 80x24: redrawn to fit"; fi
expect 5 "80x24: every pane present" "Requests \["
check "80x24: the bottle row" "shows '│tuidemo +running'"
check "80x24: the chain" "shows 'agent → egress → pipelock → upstream'"
check "80x24: the status bar on the last row" "[ \"\$(screen | sed -n 24p | cut -c1-8)\" = 'n launch' ]"
TM resize-window -t tui -x 120 -y 40
fits120() { local l; l=$(screen | sed -n 2p); [[ ${#l} -eq 120 ]]; }
if wait_for 10 fits120; then ok "resized back to 120x40"; else bad "resized back to 120x40"; fi

# ---- help overlay ----------------------------------------------------------------------------------
keys '?'
expect 5 "? opens the help" "Help: keys"
check "help lists kill" "shows ' k +kill the selected bottle'"
keys x
if wait_for 5 eval '! shows "Help: keys"'; then ok "any key closes the help"; else bad "any key closes the help"; fi

# ---- quit ------------------------------------------------------------------------------------------
keys q
expect 5 "quit asks and names the running bottle" "Quit\? 1 running bottle will be killed \[y/N\]"
keys y
expect 60 "quit: the dashboard exits 0" "^EXITED:0"
check "quit: the terminal is restored (alternate screen off)" "[ \"\$(TM display-message -p -t tui '#{alternate_on}')\" = 0 ]"
check "quit: no proxy or bwrap left" "! procs_left"
check "quit: run dir removed" "[ ! -e $XDG_STATE_HOME/bottle/tuidemo/run ]"
check "the token never reached the screen" "! grep -q '$TOKEN' '$T/screens.txt'"
check "the upstream saw the real token (egress rewrote it)" "grep -q 'Bearer $TOKEN' '$T/up/requests.jsonl'"

echo "$passes passed, $fails failed"
[[ $fails -eq 0 ]]
