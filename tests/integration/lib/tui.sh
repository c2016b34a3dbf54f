# tui: helpers for the dashboard tests under tmux (sourced after common.sh).
# The test sets SOCK (its own tmux server) and T (its temp dir); the session
# driven is "$S" when the test sets S, else "tui". Screens captured are kept
# in $T/screens.txt (the token check greps them).
TM() { tmux -L "$SOCK" "$@"; }
fails=0 passes=0
ok() { echo "ok   $1"; passes=$((passes + 1)); }
bad() { echo "FAIL $1"; fails=$((fails + 1)); echo "--- screen"; screen; echo "---"; }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }
screen() { TM capture-pane -p -t "${S:-tui}" | tee -a "$T/screens.txt"; }
shows() { screen | grep -qE -- "$1"; }
# expect SECONDS NAME REGEX: wait until the screen shows REGEX.
expect() { if wait_for "$1" shows "$3"; then ok "$2"; else bad "$2 (no /$3/ within $1 s)"; fi; }
keys() { TM send-keys -t "${S:-tui}" "$@"; }
