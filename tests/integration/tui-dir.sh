#!/bin/bash
# The dashboard on a directory under tmux: manifests listed as stopped, an
# invalid one shown with its error, mouse selection, Enter to launch (y/N),
# a step's output expanded, the command log, colour and NO_COLOR, the ASCII
# fallback, SIGTERM and a crash (SIGSEGV) each restoring the terminal and
# leaving no sandbox behind. Every wait polls capture-pane with a deadline.
set -uo pipefail
source "$(dirname "$0")/lib/common.sh"
command -v tmux >/dev/null || skip "tmux not installed"
command -v bwrap >/dev/null || skip "bubblewrap not installed"
bwrap --ro-bind / / --unshare-net true 2>/dev/null || skip "bwrap cannot create namespaces here"
[[ -x $PROXY ]] && "$PROXY" --help >/dev/null 2>&1 || skip "bottle-proxy not built"

T=$(mktemp -d /tmp/bottle-tui-dir.XXXXXX)
SOCK="bottle-tui-dir-$$"
TM() { tmux -L "$SOCK" "$@"; }
cleanup() {
  TM kill-server 2>/dev/null
  [[ -n ${KEEP:-} ]] || rm -rf "$T"
}
trap cleanup EXIT
export XDG_STATE_HOME=$T/state HOME=$T/home
mkdir -p "$HOME" "$T/bottles/ws"
cat >"$T/bottles/alpha.yaml" <<YAML
name: tuialpha
workspace: ws
agent:
  command: [sh, -c, "echo alpha-agent-up; exec sleep 1000"]
YAML
printf 'name: tuibeta\nbogus: 1\n' >"$T/bottles/beta.yaml"

fails=0 passes=0
ok() { echo "ok   $1"; passes=$((passes + 1)); }
bad() { echo "FAIL $1"; fails=$((fails + 1)); echo "--- screen"; screen; echo "---"; }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }
screen() { TM capture-pane -p -t tui; }
shows() { screen | grep -qE -- "$1"; }
expect() { if wait_for "$1" shows "$3"; then ok "$2"; else bad "$2 (no /$3/ within $1 s)"; fi; }
keys() { TM send-keys -t tui "$@"; }
# click Y X: a left press and release at screen row Y, column X (1-based), X10 encoding.
click() {
  local y=$1 x=$2
  keys -l "$(printf '\033[M %b%b' "\\$(printf '%03o' $((32 + x)))" "\\$(printf '%03o' $((32 + y)))")"
  keys -l "$(printf '\033[M#%b%b' "\\$(printf '%03o' $((32 + x)))" "\\$(printf '%03o' $((32 + y)))")"
}
procs_left() { pgrep -f "bottle-proxy .*--bottle tuialpha" >/dev/null || pgrep -f "bwrap .*$T/bottles/ws" >/dev/null; }
start() { # start ENV...: the dashboard on the directory in a fresh session
  TM kill-server 2>/dev/null
  TM new-session -d -s tui -x 100 -y 30 \
    "cd '$T' && env TERM=tmux-256color $* '$TUI' bottles; echo EXITED:\$?; exec sleep 600"
}

# ---- a directory: listed, not launched ----------------------------------------------------------
start LC_ALL=C.UTF-8
expect 10 "the valid manifest is listed as stopped" "│tuialpha +stopped"
expect 5 "the invalid manifest is listed as invalid" "│beta +\? +invalid"
check "nothing was launched" "! procs_left"
# beta is the second row of the bottles pane (screen row 5).
click 5 4
expect 5 "a click selects the invalid bottle" "^ bottle-tui  beta  invalid"
expect 5 "its error is shown" "2:1: manifest: unknown key"
keys Enter
expect 5 "Enter on an invalid bottle explains instead of launching" "beta: the manifest does not load"
click 4 4
expect 5 "a click selects tuialpha" "^ bottle-tui  tuialpha  stopped"
keys Enter
expect 5 "Enter asks before launching" "Launch bottle 'tuialpha'\? \[y/N\]"
keys y
expect 60 "launched: running" "│tuialpha +running"
expect 10 "the chain has only pipelock" "agent → pipelock → upstream"
expect 10 "the agent trusts the pipelock CA" "agent trusts the pipelock CA"
check "colour is on by default" "TM capture-pane -p -e -t tui | grep -q $'\e\\[3[0-7]m\|\e\\[38;5'"
keys Tab End Enter
expect 10 "the agent step expands to its output" "    alpha-agent-up"
keys c
expect 5 "the command log" "Commands \[following\]"
expect 5 "the command log lists bwrap" "agent +\\$ bwrap "
keys c
expect 5 "c returns to requests" "Requests \[following\]"

# ---- SIGTERM: bottles stopped, terminal restored ---------------------------------------------------
pid=$(pgrep -f "^$TUI bottles" | head -1)
kill -TERM "$pid"
expect 60 "SIGTERM: the dashboard exits" "^EXITED:0"
check "SIGTERM: terminal restored" "[ \"\$(TM display-message -p -t tui '#{alternate_on}')\" = 0 ]"
check "SIGTERM: no sandbox or proxy left" "! procs_left"
check "SIGTERM: run dir removed" "[ ! -e $XDG_STATE_HOME/bottle/tuialpha/run ]"

# ---- NO_COLOR and the ASCII fallback ----------------------------------------------------------------
start LC_ALL=C NO_COLOR=1
expect 10 "ASCII: boxes drawn with ASCII" "^\+- Bottles -+\+\+- Chain"
check "ASCII: no UTF-8 on screen" "! screen | grep -qP '[^\x00-\x7f]'"
check "NO_COLOR: no colour escapes" "! TM capture-pane -p -e -t tui | grep -q $'\e\\[3[0-7]m\|\e\\[38;5\|\e\\[4[0-7]m'"
keys '?'
expect 5 "ASCII: the help overlay" "Help: keys"
keys Escape q
expect 5 "quit with nothing running asks plainly" "Quit bottle-tui\? \[y/N\]"
keys y
expect 10 "quit: exits 0" "^EXITED:0"

# ---- a crash restores the terminal -----------------------------------------------------------------
start LC_ALL=C.UTF-8
expect 10 "relisted" "│tuialpha +stopped"
keys n
expect 5 "n asks before launching" "Launch bottle 'tuialpha'\?"
keys y
expect 60 "running again" "│tuialpha +running"
pid=$(pgrep -f "^$TUI bottles" | head -1)
kill -SEGV "$pid"
expect 10 "SIGSEGV: the dashboard dies with the signal" "^EXITED:139"
check "SIGSEGV: terminal restored (alternate screen off)" "[ \"\$(TM display-message -p -t tui '#{alternate_on}')\" = 0 ]"
if wait_for 15 eval '! procs_left'; then ok "SIGSEGV: the sandbox and hops die with the dashboard"; else
  bad "SIGSEGV: the sandbox and hops die with the dashboard"; pgrep -af "tuialpha|$T/bottles/ws"; fi

echo "$passes passed, $fails failed"
[[ $fails -eq 0 ]]
