#!/bin/bash
# A short libFuzzer run (tens of seconds) of every fuzz target, when clang-14
# and libFuzzer are installed. The corpora also replay in the normal build.
set -uo pipefail
SRC=${BOTTLE_SRC:?} BUILD=${BOTTLE_BUILD:?}
command -v clang-14 >/dev/null || { echo "skip: clang-14 not installed"; exit 77; }
[[ -e /usr/lib/llvm-14/lib/clang/14.0.6/lib/linux/libclang_rt.fuzzer-x86_64.a ]] ||
  ls /usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer-*.a >/dev/null 2>&1 ||
  { echo "skip: libfuzzer-14-dev not installed"; exit 77; }
FB=$BUILD/fuzz
CC=clang-14 cmake -S "$SRC" -B "$FB" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBOTTLE_FUZZ=ON \
  -DBOTTLE_ASAN_TESTS=OFF >"$FB.log" 2>&1 || { cat "$FB.log"; exit 1; }
targets=()
for f in "$SRC"/fuzz/fuzz-*.c; do targets+=(--target "$(basename "$f" .c)"); done
cmake --build "$FB" -j "$(nproc)" "${targets[@]}" >>"$FB.log" 2>&1 || { tail -50 "$FB.log"; exit 1; }
secs=${FUZZ_SECONDS:-10}
rc=0
for t in "$FB"/fuzz-*; do
  [[ -x $t && ! -d $t ]] || continue
  name=$(basename "$t")
  corpus=$SRC/fuzz/corpus/$name
  tmpc=$(mktemp -d)   # new inputs land here, not in the source tree
  echo "== $name for ${secs}s"
  if ! (cd "$tmpc" && "$t" -max_total_time="$secs" -max_len=65536 -timeout=10 \
        -rss_limit_mb=2048 "$tmpc" "$corpus" >"$tmpc/log" 2>&1); then
    echo "FAIL $name"; tail -40 "$tmpc/log"; rc=1
  else tail -2 "$tmpc/log"; fi
  if ls "$tmpc"/crash-* "$tmpc"/leak-* "$tmpc"/timeout-* >/dev/null 2>&1; then
    echo "FAIL $name: found a crashing input"; rc=1
  fi
  rm -rf "$tmpc"
done
exit $rc
