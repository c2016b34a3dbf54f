#!/bin/bash
# The dashboard under tmux fed events through its developer feed
# (BOTTLE_TUI_FEED, a FIFO) instead of real bottles, for what needs exact
# event streams: the mouse wheel scrolls the requests pane (pausing it) and
# clicks select bottles; the filter highlights its matches in colour and,
# on a monochrome terminal, with underline; a flood of events is drawn at
# most ~30 frames a second (BOTTLE_TUI_STATS) while keys are still answered
# and no event is lost. Every wait polls with a deadline.
set -uo pipefail
source "$(dirname "$0")/lib/common.sh"
source "$(dirname "$0")/lib/tui.sh"
command -v tmux >/dev/null || skip "tmux not installed"
command -v python3 >/dev/null || skip "python3 not installed"
[[ -x $TUI ]] || skip "bottle-tui not built"

T=$(mktemp -d /tmp/bottle-tui-feed.XXXXXX)
SOCK="bottle-tui-feed-$$"
TAILS=()
cleanup() {
  TM kill-server 2>/dev/null
  for p in "${TAILS[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  [[ -n ${KEEP:-} ]] || rm -rf "$T"
}
trap cleanup EXIT
export XDG_STATE_HOME=$T/state XDG_CONFIG_HOME=$T/config HOME=$T/home
mkdir -p "$HOME" "$XDG_CONFIG_HOME"

S=tui0
# mouse B Y X: an X10 mouse report (button code B) at screen row Y, column X (1-based).
mouse() {
  keys -l "$(printf '\033[M%b%b%b' "\\$(printf '%03o' $((32 + $1)))" "\\$(printf '%03o' $((32 + $3)))" "\\$(printf '%03o' $((32 + $2)))")"
}
n=0
start() { # start ENV...: the dashboard, fed from a new FIFO, in a new session
  local old=$S
  n=$((n + 1)) S=tui$n FEED=$T/feed$n STATS=$T/stats$n.jsonl
  mkfifo "$FEED"
  TM new-session -d -s "$S" -x 100 -y 30 \
    "cd '$T' && env BOTTLE_TUI_FEED='$FEED' BOTTLE_TUI_STATS='$STATS' $* '$TUI'; echo EXITED:\$?; exec sleep 600"
  TM kill-session -t "$old" 2>/dev/null
  # A writer that stays open for the session: lines appended to $T/in$n reach the FIFO.
  : >"$T/in$n"
  tail -f "$T/in$n" >"$FEED" &
  TAILS+=($!)
}
# ev BOTTLE TYPE JSON-FIELDS: one event line into the feed.
ev() { printf '{"ts":"2026-11-29T06:00:00.000Z","bottle":"%s","type":"%s",%s}\n' "$1" "$2" "$3" >>"$T/in$n"; }
requests() { # requests BOTTLE FROM TO: allowed GETs of /r/FROM../r/TO, every 7th blocked
  python3 - "$1" "$2" "$3" >>"$T/in$n" <<'PY'
import sys
b, lo, hi = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(lo, hi + 1):
    blk = i % 7 == 0
    print('{"ts":"2026-11-29T06:00:01.000Z","bottle":"%s","type":"request","hop":"egress","id":%d,'
          '"method":"GET","scheme":"https","host":"api.feed.test","port":443,"path":"/r/%d",'
          '"status":%d,"bytes_up":0,"bytes_down":10,"ms":1,"verdict":"%s"%s}'
          % (b, i, i, 403 if blk else 200, "block" if blk else "allow",
             ',"reason":"host not in allowlist"' if blk else ""))
PY
}
up() { # up BOTTLE: a fed bottle that provisioned and runs
  ev "$1" state '"state":"provisioning"'
  ev "$1" step '"step":"network","status":"ok","ms":5,"detail":"fed"'
  ev "$1" hop '"hop":"egress","listen":"127.0.0.1:40001","pid":4242,"status":"up"'
  ev "$1" state '"state":"running"'
}

# ---- mouse: click selects, the wheel scrolls and pauses ------------------------------------------
start LC_ALL=C.UTF-8 TERM=tmux-256color
expect 10 "the dashboard is up with no manifests" "no manifests"
up fedone
up fedtwo
requests fedone 0 199
expect 10 "fed bottles are listed" "│fedtwo +running"
expect 10 "the newest request is shown, following" "api\.feed\.test/r/199 "
check "following" "shows 'Requests \[following\]'"
# The requests pane's border is row 9 (1-based), its rows start at 11, from column 35; the wheel is button 64 (up) / 65 (down).
mouse 64 15 60
expect 5 "the wheel pauses the requests pane" "Requests \[paused\]"
if wait_for 5 eval '! shows "/r/199 "'; then ok "the wheel scrolled back"; else bad "the wheel scrolled back"; fi
requests fedone 200 220
expect 5 "new requests arrive while paused (the counters move)" "req 221"
check "a paused pane holds still" "! shows '/r/220 '"
mouse 65 15 60
mouse 65 15 60
keys f
expect 5 "f resumes following" "Requests \[following\]"
expect 5 "and shows the newest" "/r/220 "
# fedtwo is the second bottle row: screen row 5, 1-based.
mouse 0 5 4
mouse 3 5 4
expect 5 "a click selects the second bottle" "^ bottle-tui  fedtwo  running"
mouse 0 4 4
mouse 3 4 4
expect 5 "a click selects the first again" "^ bottle-tui  fedone  running"
# The wheel over the bottles pane moves the selection.
mouse 65 5 4
expect 5 "the wheel moves the bottle selection" "^ bottle-tui  fedtwo  running"
mouse 64 5 4
expect 5 "and back" "^ bottle-tui  fedone  running"

# ---- the filter highlights its matches ------------------------------------------------------------------
keys /
keys -l 'R/21'
keys Enter
expect 5 "the filter is applied" "filter: R/21"
row=$(TM capture-pane -p -e -t "$S" | grep -m1 'feed.test')
# The match (any case) is drawn black on yellow; the text around it is not.
check "a match is highlighted in colour" "[[ \$row == *$'\e[30m\e[43m'*r/21* || \$row == *$'\e[30;43m'*r/21* || \$row == *$'43m'r/21* ]]"
keys Escape
expect 5 "Esc clears the filter" "Requests \[following\] ─"

# ---- a flood: throttled frames, keys answered, nothing lost ------------------------------------------
python3 - "$T/in$n" <<'PY' &
import sys, time
f = open(sys.argv[1], "a")
t0 = time.monotonic()
i = 0
while time.monotonic() - t0 < 4:
    for _ in range(50):
        f.write('{"ts":"2026-11-29T06:00:02.000Z","bottle":"flood","type":"request","hop":"egress",'
                '"id":%d,"method":"GET","scheme":"https","host":"flood.test","port":443,'
                '"path":"/f/%d","status":200,"verdict":"allow"}\n' % (i, i))
        i += 1
    f.flush()
    time.sleep(0.01)
f.write('{"ts":"2026-11-29T06:00:03.000Z","bottle":"flood","type":"state","state":"running"}\n')
f.close()
print(i, file=open(sys.argv[1] + ".sent", "w"))
PY
flood=$!
expect 10 "the flood's bottle appears" "│flood "
keys '?'
expect 3 "a key is answered during the flood" "Help: keys"
keys Escape
wait $flood
sent=$(cat "$T/in$n.sent")
applied() { [[ $(tail -1 "$STATS" | python3 -c 'import json,sys; print(json.load(sys.stdin)["request"])') -ge $((sent + 221)) ]]; }
if wait_for 10 applied; then ok "every flooded request was applied ($sent)"; else bad "every flooded request was applied ($sent)"; fi
frames() {
  python3 - "$STATS" <<'PY'
import json, sys
st = [json.loads(l) for l in open(sys.argv[1])]
rates = [((b["draws"] - b["key_draws"]) - (a["draws"] - a["key_draws"])) * 1000 / (b["ms"] - a["ms"])
         for a, b in zip(st, st[1:]) if b["ms"] > a["ms"]]
print("event frames/s: max %.1f over %d s" % (max(rates), len(rates)))
sys.exit(0 if max(rates) <= 31 else 1)
PY
}
check "redraws are throttled to ~30 frames a second" frames
keys q y
expect 10 "quit" "^EXITED:0"

# ---- a monochrome terminal --------------------------------------------------------------------------------
start LC_ALL=C.UTF-8 TERM=xterm-mono
expect 10 "monochrome: up" "no manifests"
up mono
requests mono 0 20
expect 10 "monochrome: requests shown" "/r/20 "
keys /
keys -l r/1
keys Enter
expect 5 "monochrome: filtered" "filter: r/1"
esc=$(TM capture-pane -p -e -t "$S")
check "monochrome: no colour at all" "! grep -q $'\e\\[[0-9;]*3[0-7]m\|\e\\[[0-9;]*4[0-7]m\|\e\\[38;\|\e\\[48;' <<<\"\$esc\""
check "monochrome: the header bar is reversed" "grep -q $'^\e\\[[0-9;]*7m bottle-tui' <<<\"\$esc\""
check "monochrome: matches are underlined" "grep -q $'\e\\[[0-9;]*4m[^\e]*r/1' <<<\"\$esc\""
keys q y
expect 10 "monochrome: quit" "^EXITED:0"

echo "$passes passed, $fails failed"
[[ $fails -eq 0 ]]
