#!/bin/bash
# Re-records the stream-json fixtures from the real Claude Code CLI (when it is installed under
# /var/cache/bottle/claude-code) against the loopback Messages API mock, and checks the fresh
# recording still renders as the timeline the checked-in fixtures do: a CLI update that changes
# the format fails here rather than in front of an operator.
set -uo pipefail
source "$(dirname "$0")/lib/common.sh"
PREFIX=${CLAUDE_CODE_PREFIX:-/var/cache/bottle/claude-code}
[[ -x $PREFIX/node_modules/.bin/claude ]] ||
  skip "Claude Code not installed under $PREFIX (scripts/record-stream-json --install)"
command -v python3 >/dev/null || skip "no python3"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
TMPDIR=$work "$SRC/scripts/record-stream-json" --out "$work/out" >"$work/log" 2>&1 ||
  { cat "$work/log"; fail "recording failed"; }
for f in ok-tools failed-tool unknown-event; do
  [[ -s $work/out/$f.jsonl ]] || fail "no $f.jsonl recorded"
done
# Nothing but the two hand-added lines may come out raw.
STREAMJSON_FIXTURES=$work/out "$BUILD/test-streamjson" fixtures_content >"$work/t" 2>&1 ||
  { cat "$work/t"; fail "the fresh recording does not render as expected"; }
STREAMJSON_FIXTURES=$work/out "$BUILD/test-streamjson" widths >"$work/t" 2>&1 ||
  { cat "$work/t"; fail "the fresh recording does not fit its widths"; }
raw=$(python3 - "$work/out" <<'PY'
import json, sys, glob
n = 0
for f in glob.glob(sys.argv[1] + "/*.jsonl"):
    for line in open(f, encoding="utf-8"):
        try:
            o = json.loads(line)
        except ValueError:
            n += 1
            continue
        if o.get("type") not in ("system", "assistant", "user", "result"):
            n += 1
print(n)
PY
)
[[ $raw == 2 ]] || fail "expected the 2 hand-added raw lines, found $raw lines of unknown shape"
echo "ok: $(grep 'recorded with' "$work/log")"
