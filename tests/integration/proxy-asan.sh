#!/bin/bash
# The proxy integration tests again, against an ASan+UBSan build of
# bottle-proxy ($BOTTLE_BUILD/bottle-proxy-asan, or $BOTTLE_PROXY_ASAN); a
# sanitizer report in any hop's stderr fails. Skips when no such build exists.
set -uo pipefail
SRC=${BOTTLE_SRC:?} BUILD=${BOTTLE_BUILD:?}
BIN=${BOTTLE_PROXY_ASAN:-$BUILD/bottle-proxy-asan}
[[ -x $BIN ]] || { echo "skip: no sanitized bottle-proxy at $BIN"; exit 77; }
export BOTTLE_PROXY=$BIN KEEP_WORK=1
export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
rc=0
for t in proxy-cli proxy-flows proxy-blocks proxy-robust proxy-reload; do
  out=$(bash "$SRC/tests/integration/$t.sh" 2>&1); r=$?
  echo "$out" | grep -v '^ok'
  work=$(echo "$out" | sed -n 's/^work dir kept: //p' | tail -1)
  if [[ -n $work ]] && grep -l 'ERROR: AddressSanitizer\|ERROR: LeakSanitizer\|runtime error:' "$work"/*.err 2>/dev/null; then
    echo "FAIL $t: sanitizer report above"; rc=1
  fi
  [[ $r -eq 0 ]] || { echo "FAIL $t (exit $r)"; rc=1; }
  [[ -n $work ]] && rm -rf "$work"
done
exit $rc
