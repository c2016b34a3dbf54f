#!/bin/bash
# The manifest corpus through the real `bottle-tui check`: every invalid
# manifest's exact file:line:col messages and exit 1, every valid one's plan
# (text and JSON) against its golden file, the shipped examples, usage errors.
# UPDATE_GOLDEN=1 rewrites the golden files instead of comparing.
set -uo pipefail
SRC=${BOTTLE_SRC:?} BUILD=${BOTTLE_BUILD:?}
TUI=$BUILD/bottle-tui
CORPUS=$SRC/tests/manifests
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export HOME=$work/home XDG_STATE_HOME=$work/state
mkdir -p "$HOME"
printf 'home-token\n' >"$HOME/token" && chmod 600 "$HOME/token"
chmod 600 "$CORPUS/fixtures/token-0600"
chmod 644 "$CORPUS/fixtures/token-0644"
export BOTTLE_TEST_TOKEN="sk-ant-oat01-TESTSECRET-must-never-be-printed"
unset BOTTLE_TEST_SURELY_UNSET_VAR
fail=0 pass=0

# Make machine paths stable in golden files.
norm() { sed -e "s#$CORPUS#<corpus>#g" -e "s#$HOME#<home>#g" -e "s#$XDG_STATE_HOME#<state>#g" -e "s#$SRC#<src>#g"; }

compare() { # name expected-file actual-file
  if [[ ${UPDATE_GOLDEN:-} == 1 ]]; then cp "$3" "$2"; return 0; fi
  if diff -u "$2" "$3" >"$work/diff"; then pass=$((pass + 1)); else
    echo "FAIL $1: output differs from $(basename "$2")"; cat "$work/diff"; fail=$((fail + 1)); fi
}

cd "$CORPUS/invalid" || exit 1
n_invalid=0
for f in *.yaml; do
  n_invalid=$((n_invalid + 1))
  "$TUI" check "$f" >"$work/out" 2>"$work/err.raw"; rc=$?
  norm <"$work/err.raw" >"$work/err"
  if [[ $rc -ne 1 ]]; then echo "FAIL $f: exit $rc, expected 1"; fail=$((fail + 1)); continue; fi
  if [[ -s $work/out ]]; then echo "FAIL $f: printed a plan for an invalid manifest"; fail=$((fail + 1)); fi
  compare "$f" "${f%.yaml}.err" "$work/err"
done
((n_invalid >= 30)) || { echo "FAIL: only $n_invalid invalid manifests in the corpus"; fail=$((fail + 1)); }

cd "$CORPUS/valid" || exit 1
for f in *.yaml; do
  "$TUI" check "$f" >"$work/plan.raw" 2>"$work/err.raw"; rc=$?
  [[ $rc -eq 0 ]] || { echo "FAIL $f: exit $rc"; cat "$work/err.raw"; fail=$((fail + 1)); continue; }
  norm <"$work/plan.raw" >"$work/plan"; compare "$f" "${f%.yaml}.plan" "$work/plan"
  norm <"$work/err.raw" >"$work/err"
  if [[ -f ${f%.yaml}.warn || -s $work/err ]]; then compare "$f(stderr)" "${f%.yaml}.warn" "$work/err"; fi
  "$TUI" check --json "$f" 2>/dev/null | norm >"$work/json"
  python3 -m json.tool "$work/json" >/dev/null || { echo "FAIL $f: --json is not one JSON object"; fail=$((fail + 1)); }
  compare "$f(json)" "${f%.yaml}.json" "$work/json"
  if grep -q TESTSECRET "$work/plan.raw" "$work/err.raw" "$work/json"; then
    echo "FAIL $f: the token appears in check output"; fail=$((fail + 1)); fi
done

# Several manifests at once: one plan each, exit 1 if any is invalid.
"$TUI" check --json v01-minimal.yaml v04-smolvm.yaml >"$work/two" 2>/dev/null
[[ $(wc -l <"$work/two") -eq 2 ]] && pass=$((pass + 1)) || { echo "FAIL: two manifests gave not two JSON lines"; fail=$((fail + 1)); }
"$TUI" check v01-minimal.yaml ../invalid/01-unknown-top-key.yaml >/dev/null 2>&1
[[ $? -eq 1 ]] && pass=$((pass + 1)) || { echo "FAIL: a mix of valid and invalid did not exit 1"; fail=$((fail + 1)); }

# The shipped examples are valid.
"$SRC/scripts/demo-certs" >/dev/null
chmod 600 "$SRC/assets/demo/demo.token"
for f in "$SRC"/assets/examples/*.yaml; do
  if CLAUDE_CODE_OAUTH_TOKEN=dummy-for-check "$TUI" check "$f" >/dev/null 2>"$work/err"; then
    pass=$((pass + 1))
    [[ -s $work/err ]] && { echo "FAIL $(basename "$f"): warnings"; cat "$work/err"; fail=$((fail + 1)); }
  else echo "FAIL example $(basename "$f") is invalid:"; cat "$work/err"; fail=$((fail + 1)); fi
done

# Usage.
"$TUI" check >/dev/null 2>&1; [[ $? -eq 2 ]] && pass=$((pass + 1)) || { echo "FAIL: check with no path did not exit 2"; fail=$((fail + 1)); }
"$TUI" check --bogus x >/dev/null 2>&1; [[ $? -eq 2 ]] && pass=$((pass + 1)) || { echo "FAIL: unknown option did not exit 2"; fail=$((fail + 1)); }
"$TUI" --help | grep -q 'bottle-tui check' && pass=$((pass + 1)) || { echo "FAIL: --help"; fail=$((fail + 1)); }
"$TUI" check /nonexistent.yaml 2>"$work/err" >/dev/null; [[ $? -eq 1 ]] && grep -q '^/nonexistent.yaml: error: cannot read: No such file' "$work/err" && pass=$((pass + 1)) || { echo "FAIL: missing file"; cat "$work/err"; fail=$((fail + 1)); }

echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]
