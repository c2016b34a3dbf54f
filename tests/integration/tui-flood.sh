#!/bin/bash
# A flooding agent under tmux: the real bottle-tui on a local (bubblewrap)
# bottle whose agent prints over 50 MB to its terminal. While it floods, the
# dashboard answers keys within a deadline (the help opens and closes, the
# session pane toggles) and bottle-tui's resident memory stays under a bound
# (VmRSS from /proc, sampled throughout). Afterwards the transcript holds
# all of it, the session pane says how many lines it did not show, and the
# dashboard still works. Every wait polls with a deadline.
set -uo pipefail
source "$(dirname "$0")/lib/common.sh"
source "$(dirname "$0")/lib/tui.sh"
command -v tmux >/dev/null || skip "tmux not installed"
need_local_bottles

RSS_MAX_KB=$((100 * 1024)) # bottle-tui's resident memory bound
KEY_DEADLINE=3             # seconds for a key to be answered mid-flood
MB=50

T=$(mktemp -d /tmp/bottle-tui-flood.XXXXXX)
SOCK="bottle-tui-flood-$$"
cleanup() {
  TM kill-server 2>/dev/null
  [[ -n ${SAMPLER:-} ]] && kill "$SAMPLER" 2>/dev/null
  wait 2>/dev/null
  [[ -n ${KEEP:-} ]] || rm -rf "$T"
}
trap cleanup EXIT
export XDG_STATE_HOME=$T/state HOME=$T/home
mkdir -p "$HOME" "$T/ws"
NAME=tuiflood
# In the workspace (the agent's cwd; the host's /tmp is not the sandbox's). It waits
# for the go file, so the dashboard is measured before and during the flood.
cat >"$T/ws/flood.sh" <<SH
while [ ! -e go ]; do sleep 0.1; done
echo flood-start
head -c $((MB * 1024 * 1024)) /dev/urandom | base64
echo flood-done
# The supervisor reports the lines it did not show with the next line it shows.
sleep 1.5
echo after-flood
exec sleep 1000
SH
cat >"$T/$NAME.yaml" <<YAML
name: $NAME
workspace: $T/ws
agent:
  command: [sh, flood.sh]
YAML

transcript=$XDG_STATE_HOME/bottle/$NAME/transcript
tsize() { stat -c %s "$transcript" 2>/dev/null || echo 0; }

TM new-session -d -s tui -x 120 -y 40 \
  "cd '$T' && env LC_ALL=C.UTF-8 TERM=tmux-256color '$TUI' '$T/$NAME.yaml'; echo EXITED:\$?; exec sleep 600"
TM set-option -t tui remain-on-exit on >/dev/null
expect 60 "the bottle runs" "│$NAME +(local +)?running"
tui=$(pgrep -f "^$TUI $T/$NAME.yaml" | head -1)
check "bottle-tui's pid" "[ -n '$tui' ]"
keys s
expect 5 "the session pane" "Session $NAME \[following\]"

# Sample VmRSS every 100 ms for the whole flood.
( while kill -0 "$tui" 2>/dev/null; do
    awk '/^VmRSS:/ {print $2}' "/proc/$tui/status" 2>/dev/null
    sleep 0.1
  done >"$T/rss" ) &
SAMPLER=$!
rss_before=$(awk '/^VmRSS:/ {print $2}' "/proc/$tui/status")
t0=$(date +%s.%N)
touch "$T/ws/go"
started() { head -c 64 "$transcript" 2>/dev/null | grep -aq flood-start; }
done_() { tail -c 256 "$transcript" 2>/dev/null | grep -aq flood-done; }
if wait_for 10 started; then ok "the flood starts"; else bad "the flood starts"; fi

# ---- keys while it floods: the help opens and closes, round after round ----------------------------
worst=0 rounds=0 during=0
while ! done_ && ((rounds < 200)); do
  rounds=$((rounds + 1))
  s=$(date +%s%N)
  keys '?'
  if ! wait_for $KEY_DEADLINE shows "Help: keys"; then bad "? answered mid-flood (round $rounds)"; break; fi
  keys x
  if ! wait_for $KEY_DEADLINE eval '! shows "Help: keys"'; then bad "help closed mid-flood (round $rounds)"; break; fi
  ms=$((($(date +%s%N) - s) / 1000000))
  ((ms > worst)) && worst=$ms
  done_ || during=$((during + 1))
done
echo "info: $during key rounds answered while the agent flooded (transcript at $(($(tsize) / 1048576)) MB); slowest open+close ${worst} ms"
check "keys were answered while the agent flooded" "((during > 0))"

# ---- after the flood ------------------------------------------------------------------------------
if wait_for 300 grep -aq flood-done "$transcript"; then ok "the transcript has all of it"; else bad "the transcript has all of it"; fi
t1=$(date +%s.%N)
size=$(tsize)
check "over $MB MB went through the pty" "[ $size -ge $((MB * 1024 * 1024)) ]"
# The note comes at the start of each second that dropped lines, so later
# lines may have scrolled it out of the pane: it is in the session's events.
noted() { grep -q 'lines of agent output not shown' "$XDG_STATE_HOME/bottle/$NAME/events.jsonl"; }
wait_for 10 noted
check "the session says what it did not show" noted
expect 5 "and shows what came after" "│after-flood"
kill "$SAMPLER" 2>/dev/null
wait "$SAMPLER" 2>/dev/null
SAMPLER=
peak=$(sort -n "$T/rss" | tail -1)
echo "info: $((size / 1048576)) MB of agent output in $(echo "$t1 - $t0" | bc) s; bottle-tui VmRSS ${rss_before} kB before, peak ${peak} kB ($(wc -l <"$T/rss") samples)"
check "bottle-tui's memory stayed bounded (peak VmRSS < $((RSS_MAX_KB / 1024)) MB)" "[ -n '$peak' ] && [ $peak -lt $RSS_MAX_KB ]"
keys s
expect 5 "the dashboard still answers: s back to requests" "Requests \["
keys q
expect 5 "quit asks" "Quit\?"
keys y
expect 60 "the dashboard exits 0" "^EXITED:0"

echo "$passes passed, $fails failed"
[[ $fails -eq 0 ]]
