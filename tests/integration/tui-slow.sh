#!/bin/bash
# One slow bottle never stalls the others: two real bottles launched at once
# under tmux, one whose pipelock hop takes 25 s to start (a wrapper around
# bottle-proxy); the other reaches running and streams its agent's output,
# and keys are answered while the slow step is pending; a kill of the slow
# one cuts its step short and stops it at once. Every wait polls with a deadline.
set -uo pipefail
source "$(dirname "$0")/lib/common.sh"
source "$(dirname "$0")/lib/tui.sh"
command -v tmux >/dev/null || skip "tmux not installed"
need_local_bottles

T=$(mktemp -d /tmp/bottle-tui-slow.XXXXXX)
SOCK="bottle-tui-slow-$$"
cleanup() {
  TM kill-server 2>/dev/null
  [[ -s $T/slow.pid ]] && kill "$(cat "$T/slow.pid")" 2>/dev/null
  [[ -n ${KEEP:-} ]] || rm -rf "$T"
}
trap cleanup EXIT
export XDG_STATE_HOME=$T/state HOME=$T/home
mkdir -p "$HOME" "$T/ws"
for b in slow fast; do
  cat >"$T/$b.yaml" <<YAML
name: tui$b
workspace: ws
agent:
  command: [sh, -c, "echo $b-agent-up; exec sleep 1000"]
YAML
done
# (The backend column gives way when "provisioning" widens the state column.)
# The slow bottle's hop sleeps before it starts (its stdio detached, so a
# kill of the wrapper leaves no pipe open).
cat >"$T/slowproxy" <<SH
#!/bin/sh
case " \$* " in *" --bottle tuislow "*)
  sleep 25 </dev/null >/dev/null 2>&1 & echo \$! >"$T/slow.pid"; wait \$! ;;
esac
exec "$PROXY" "\$@"
SH
chmod +x "$T/slowproxy"

procs_left() { pgrep -f "bottle-proxy .*$T/" >/dev/null || pgrep -f "bwrap .*$T/ws" >/dev/null; }

TM new-session -d -s tui -x 120 -y 40 \
  "cd '$T' && env LC_ALL=C.UTF-8 TERM=tmux-256color BOTTLE_PROXY='$T/slowproxy' '$TUI' slow.yaml fast.yaml; echo EXITED:\$?; exec sleep 600"
t0=$SECONDS
expect 10 "the slow bottle is stuck starting its hops" "│tuislow +(local +)?(creating|provisioning)"
expect 20 "the fast bottle runs meanwhile" "│tuifast +(local +)?running"
check "...well before the slow hop starts" "(( SECONDS - t0 < 20 ))"
check "the slow bottle is still provisioning" "shows '│tuislow +(local +)?provisioning'"
keys '?'
expect 3 "keys are answered meanwhile" "Help: keys"
keys Escape Down Tab End Enter
expect 10 "the fast bottle's agent output streams" "    fast-agent-up"
keys BTab Up k
expect 5 "kill the slow bottle mid-step: asks" "Kill bottle 'tuislow'\?"
t1=$SECONDS
keys y
# The supervisor cuts the step in flight short (the slow hop gets SIGTERM) and
# tears down: the kill lands long before the hop would have listened.
expect 10 "the slow bottle stops at once, mid-step" "│tuislow +(local +)?stopped"
check "...well before its hop would have started" "(( SECONDS - t1 < 15 ))"
check "the fast bottle is untouched" "shows '│tuifast +(local +)?running'"
check "the fast bottle still runs" "shows '│tuifast +(local +)?running'"
keys q
expect 5 "quit names the one running bottle" "Quit\? 1 running bottle will be killed"
keys y
expect 60 "quit: exits 0" "^EXITED:0"
if wait_for 15 eval '! procs_left'; then ok "nothing left behind"; else bad "nothing left behind"; pgrep -af "$T/"; fi

echo "$passes passed, $fails failed"
[[ $fails -eq 0 ]]
