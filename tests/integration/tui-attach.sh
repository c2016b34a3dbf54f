#!/bin/bash
# Attach under tmux: the real bottle-tui on a local (bubblewrap) bottle whose
# agent is an interactive bash under the supervisor's pty. The session pane
# shows its output; a hands the terminal to it (banner, raw keys, a command
# and its output, a resize seen by `stty size` inside); Ctrl-] gives the
# dashboard back intact, with the output in the session pane and the
# transcript; i types a line without attaching; attaching again repaints
# what the agent showed last; the agent never noticed (same pid, running).
# Quitting, and a crash while attached, leave the terminal in cooked mode.
# Every wait polls capture-pane with a deadline.
set -uo pipefail
source "$(dirname "$0")/lib/common.sh"
source "$(dirname "$0")/lib/tui.sh"
command -v tmux >/dev/null || skip "tmux not installed"
need_local_bottles

T=$(mktemp -d /tmp/bottle-tui-attach.XXXXXX)
SOCK="bottle-tui-attach-$$"
cleanup() {
  TM kill-server 2>/dev/null
  [[ -n ${KEEP:-} ]] || rm -rf "$T"
}
trap cleanup EXIT
export XDG_STATE_HOME=$T/state HOME=$T/home
mkdir -p "$HOME" "$T/ws"
NAME=tuiattach
# The rc file (in the workspace, the agent's cwd) makes its command line this test's own.
RC=agent-$$.rc
printf 'PS1="agent\\$ "\necho agent-ready\n' >"$T/ws/$RC"
cat >"$T/$NAME.yaml" <<YAML
name: $NAME
workspace: $T/ws
agent:
  command: [bash, --noprofile, --rcfile, $RC, -i]
YAML

agent_pid() { pgrep -f "^bash --noprofile --rcfile $RC -i" | head -1; }
# What the pane's shell finds after bottle-tui exits: the terminal's line discipline.
TTYCHECK="stty -a | tr ' ;' '\n\n' | grep -xE -- '-?(icanon|echo|isig)' | tr '\n' ' '; echo"
# The previous server gone before the next starts (kill-server does not wait).
fresh_tmux() { TM kill-server 2>/dev/null; wait_for 10 eval '! TM ls'; }
# [EXTRA=MANIFEST] start [VAR=VALUE...]: bottle-tui on the manifest(s) in a new tmux session.
start() {
  TM new-session -d -s tui -x 120 -y 40 \
    "cd '$T' && env LC_ALL=C.UTF-8 TERM=tmux-256color $* '$TUI' '$T/$NAME.yaml' ${EXTRA:-}; echo EXITED:\$?; $TTYCHECK; exec sleep 600"
  TM set-option -t tui remain-on-exit on >/dev/null
}

start
expect 60 "the bottle runs" "│$NAME +(local +)?running"
expect 5 "the status bar names the session and attach keys" "s session +a attach"
# "running" comes when the agent is spawned; bash is there once the sandbox has started it.
has_agent() { [[ -n $(agent_pid) ]]; }
wait_for 20 has_agent
pid=$(agent_pid)
check "the agent is an interactive bash" "[ -n '$pid' ]"

# ---- the session pane ----------------------------------------------------------------------------
keys s
expect 5 "s shows the session pane" "Session $NAME \[following\]"
expect 10 "the agent's output is in it" "│agent-ready"
expect 10 "the shell's prompt, an unfinished line, is in it too" '│agent\$ +│'
check "the pane says how to attach" "shows 'a attach  i type a line'"

# ---- attach: banner, a command, its output -------------------------------------------------------
keys a
expect 5 "a attaches with a one-line banner" "^\[bottle\] attached to $NAME; Ctrl-\] detaches"
check "the dashboard is gone while attached" "! shows 'Session $NAME'"
keys -l 'echo attached-$((6*7))'
keys Enter
expect 5 "the command's output on the operator's terminal" "^attached-42"

# ---- resize while attached: the agent's terminal follows -------------------------------------------
# The resize reaches the agent through the dashboard's SIGWINCH: ask until it has.
size_is() { keys -l 'stty size'; keys Enter; wait_for 1 shows "^$1\$"; }
TM resize-window -t tui -x 100 -y 30
if wait_for 8 size_is "30 100"; then ok "stty size inside reports the new size"; else bad "stty size inside reports the new size"; fi
TM resize-window -t tui -x 90 -y 27
if wait_for 8 size_is "27 90"; then ok "and again"; else bad "and again"; fi

# ---- detach: the dashboard intact ----------------------------------------------------------------------
keys C-]
expect 5 "Ctrl-] detaches" "detached from $NAME"
expect 5 "the bottle row" "│$NAME +(local +)?running"
check "the chain pane" "shows 'agent → '"
check "the session pane, following" "shows 'Session $NAME \[following\]'"
check "the command's output in the session pane" "shows '│attached-42'"
check "the stty output in the session pane" "shows '│27 90'"
fits90() { local l; l=$(screen | sed -n 2p); [[ ${#l} -eq 90 && $l == "┌─ Bottles"*"┐" ]]; }
if wait_for 5 fits90; then ok "the dashboard redrawn at the new size"; else bad "the dashboard redrawn at the new size"; fi
check "the command's output in the transcript" "grep -aq 'attached-42' '$XDG_STATE_HOME/bottle/$NAME/transcript'"
check "the agent did not notice (same pid)" "[ \"\$(agent_pid)\" = '$pid' ]"
keys '?'
expect 5 "keys are answered after detaching" "Help: keys"
keys x

# ---- i: one line without attaching ---------------------------------------------------------------------
keys i
expect 5 "i prompts in the status bar" "^type to $NAME \(Enter sends, Esc cancels\):"
keys -l 'echo typed-$((7*6))-line'
expect 5 "the typed line echoes" "^type to $NAME .*: echo typed-"
keys Enter
expect 5 "sent" "sent a line to $NAME"
expect 5 "its output in the session pane" "│typed-42-line"
check "the typed line in the transcript" "grep -aq 'typed-42-line' '$XDG_STATE_HOME/bottle/$NAME/transcript'"

# ---- attach again: what the agent showed last is repainted ------------------------------------------------
keys a
expect 5 "attached again" "attached to $NAME"
expect 5 "the last output is repainted without a key" "^typed-42-line"
keys -l 'echo second-$((40+2))'
keys Enter
expect 5 "typing still reaches the agent" "^second-42"
keys C-]
expect 5 "detached again" "detached from $NAME"
check "still the same agent" "[ \"\$(agent_pid)\" = '$pid' ]"
TM resize-window -t tui -x 120 -y 40

# ---- quit: the terminal is back in cooked mode ---------------------------------------------------------------
keys q
expect 5 "quit asks" "Quit\? 1 running bottle will be killed"
keys y
expect 60 "the dashboard exits 0" "^EXITED:0"
expect 5 "the terminal is cooked again" "^isig icanon echo"
check "alternate screen off" "[ \"\$(TM display-message -p -t tui '#{alternate_on}')\" = 0 ]"
check "the agent is gone" "[ -z \"\$(agent_pid)\" ]"

# ---- a crash while attached still restores the terminal -----------------------------------------------------
fresh_tmux
start
expect 60 "launched again" "│$NAME +(local +)?running"
keys a
expect 5 "attached" "attached to $NAME"
tui=$(pgrep -f "^$TUI $T/$NAME.yaml" | head -1)
kill -SEGV "$tui"
expect 10 "the crash is reported by the shell" "^EXITED:139"
expect 5 "the terminal is cooked after the crash" "^isig icanon echo"
if wait_for 10 eval '[ -z "$(agent_pid)" ]'; then ok "the crash took the agent down"; else bad "the crash took the agent down"; fi

# ---- another detach key; another bottle runs on while attached; the agent exiting --------------------------
# A second bottle whose agent prints a line once told to (while the operator is attached to the first).
mkdir -p "$T/ws2"
printf 'echo ticker-up\nwhile [ ! -e go ]; do sleep 0.1; done\necho ticker-while-attached\nexec sleep 1000\n' >"$T/ws2/ticker.sh"
printf 'name: tuiticker\nworkspace: %s/ws2\nagent:\n  command: [sh, ticker.sh]\n' "$T" >"$T/tuiticker.yaml"
fresh_tmux
EXTRA="'$T/tuiticker.yaml'" start BOTTLE_DETACH_KEY=C-b
expect 60 "launched with BOTTLE_DETACH_KEY=C-b" "│$NAME +(local +)?running"
expect 60 "the second bottle runs" "│tuiticker +(local +)?running"
keys a
expect 5 "the banner names the key" "attached to $NAME; Ctrl-B detaches"
touch "$T/ws2/go"
if wait_for 10 grep -aq ticker-while-attached "$XDG_STATE_HOME/bottle/tuiticker/transcript"; then
  ok "the other bottle ran on while attached"; else bad "the other bottle ran on while attached"; fi
keys C-b
expect 5 "Ctrl-B detaches" "detached from $NAME"
keys s Tab Down
expect 5 "its output reached the model while attached" "│ticker-while-attached"
keys Up
expect 5 "back on the first bottle" "Session $NAME "
keys a
expect 5 "attached once more" "attached to $NAME"
keys -l 'exit'
keys Enter
# The detach note, or the stop note that follows it.
expect 10 "the agent exiting gives the dashboard back" "detached from $NAME: the agent exited|$NAME stopped \(status 0\)"
expect 10 "the bottle is shown stopped" "│$NAME +(local +)?stopped"
keys q
expect 5 "quit names the one bottle still running" "Quit\? 1 running bottle will be killed"
keys y
expect 30 "the dashboard exits 0" "^EXITED:0"
expect 5 "the terminal is cooked" "^isig icanon echo"

echo "$passes passed, $fails failed"
[[ $fails -eq 0 ]]
