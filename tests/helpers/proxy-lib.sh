# proxy-lib: shared setup for the bottle-proxy integration tests (sourced, not run).
# Gives: a work dir, a test upstream CA and HTTPS origin on 127.0.0.1, hop
# start/stop with the port read from the hop event, polling with deadlines,
# ok/fail bookkeeping, and cleanup of every process started (trap EXIT).
set -uo pipefail
SRC=${BOTTLE_SRC:?} BUILD=${BOTTLE_BUILD:?}
# BOTTLE_PROXY runs the tests against another build of it (e.g. ASan).
PROXY=${BOTTLE_PROXY:-$BUILD/bottle-proxy}
for tool in curl openssl python3; do
  command -v $tool >/dev/null || { echo "skip: $tool not installed"; exit 77; }
done
[[ -x $PROXY ]] || { echo "FAIL: $PROXY not built"; exit 1; }
# The interpreter itself: a version-manager shim costs ~0.5 s per start.
PY=$(python3 -c 'import sys; print(sys.executable)')
CLIENT="$PY $SRC/tests/helpers/proxy-client.py"

W=$(mktemp -d)
PIDS=()
pass=0 fail=0
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
  if [[ $fail -ne 0 || -n ${KEEP_WORK:-} ]]; then echo "work dir kept: $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT
export HOME=$W/home
mkdir -p "$HOME"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy no_proxy NO_PROXY

ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
check() { # description command...
  local d=$1; shift
  if "$@"; then ok "$d"; else bad "$d"; fi
}
finish() {
  echo "$pass passed, $fail failed"
  [[ $fail -eq 0 ]]
  exit $?
}

# wait_for SECONDS command...: poll until the command succeeds.
wait_for() {
  local t=$1; shift
  local end=$((SECONDS + t))
  while ((SECONDS < end)); do
    "$@" 2>/dev/null && return 0
    sleep 0.05
  done
  "$@"
}

# The upstream's CA and a server certificate for the test names and 127.0.0.1.
make_upstream_pki() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj "/CN=bottle test upstream CA" -keyout "$W/up-ca.key" -out "$W/up-ca.pem" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=api.example.test" \
    -keyout "$W/up.key" -out "$W/up.csr" 2>/dev/null
  printf 'subjectAltName=DNS:api.example.test,DNS:other.example.test,DNS:pass.example.test,DNS:api.x.test,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$W/up.ext"
  openssl x509 -req -in "$W/up.csr" -CA "$W/up-ca.pem" -CAkey "$W/up-ca.key" -CAcreateserial \
    -days 2 -extfile "$W/up.ext" -out "$W/up.pem" 2>/dev/null
}

# start_upstream NAME [--plain]: sets UP_PORT (or PLAIN_PORT with --plain).
start_upstream() {
  local name=$1; shift
  "$PY" "$SRC/tests/helpers/proxy-upstream.py" --cert "$W/up.pem" --key "$W/up.key" "$@" \
    >"$W/$name.out" 2>"$W/$name.err" &
  PIDS+=($!)
  wait_for 20 grep -q '^listening ' "$W/$name.out" || { echo "upstream did not start"; cat "$W/$name.err"; exit 1; }
  local port
  port=$(awk '/^listening /{print $2; exit}' "$W/$name.out")
  if [[ " $* " == *" --plain "* ]]; then PLAIN_PORT=$port; else UP_PORT=$port; fi
}

# start_hop NAME ROLE [args...]: runs bottle-proxy ROLE --listen 127.0.0.1:0,
# waits for its hop "up" event; sets HOP_PORT and <NAME>_PID.
start_hop() {
  local name=$1 role=$2; shift 2
  "$PROXY" "$role" --listen 127.0.0.1:0 --ca-dir "$W/ca-$name" "$@" \
    >"$W/$name.out" 2>"$W/$name.err" &
  local pid=$!
  PIDS+=($pid)
  printf -v "${name}_PID" '%s' "$pid"
  if ! wait_for 20 grep -q '"type":"hop".*"status":"up"' "$W/$name.out"; then
    echo "hop $name did not come up:"; cat "$W/$name.err"; exit 1
  fi
  HOP_PORT=$(grep -m1 '"status":"up"' "$W/$name.out" | sed -E 's/.*"listen":"[^"]*:([0-9]+)".*/\1/')
}

# count_events NAME PATTERN: how many stdout lines of hop NAME match.
count_events() { grep -c -- "$2" "$W/$1.out" 2>/dev/null || true; }
