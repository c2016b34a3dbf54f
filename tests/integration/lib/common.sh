# common: shared helpers for the integration tests (sourced, not run).
SRC=${BOTTLE_SRC:?set BOTTLE_SRC to the source dir}
BUILD=${BOTTLE_BUILD:?set BOTTLE_BUILD to the build dir}
TUI=$BUILD/bottle-tui
PROXY=$BUILD/bottle-proxy

skip() { echo "skip: $*"; exit 77; }
# need_local_bottles: skip unless a local (bubblewrap) bottle can run here.
need_local_bottles() {
  command -v bwrap >/dev/null || skip "bubblewrap not installed"
  bwrap --ro-bind / / --unshare-net true 2>/dev/null || skip "bwrap cannot create namespaces here"
  [[ -x $PROXY ]] && "$PROXY" --help >/dev/null 2>&1 || skip "bottle-proxy not built"
}
fail() { echo "FAIL: $*"; exit 1; }

# wait_for SECONDS CMD...: poll CMD until it succeeds or the deadline passes.
wait_for() {
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.05
  done
}

# make_test_ca DIR HOST...: a test CA and a server cert for HOSTs (and 127.0.0.1).
make_test_ca() {
  local dir=$1; shift
  local san="IP:127.0.0.1" h
  for h in "$@"; do san="$san,DNS:$h"; done
  mkdir -p "$dir"
  openssl ecparam -name prime256v1 -genkey -noout -out "$dir/ca-key.pem" 2>/dev/null
  openssl req -x509 -new -key "$dir/ca-key.pem" -sha256 -days 2 -subj "/CN=bottle test CA" \
    -out "$dir/ca.pem" 2>/dev/null
  openssl ecparam -name prime256v1 -genkey -noout -out "$dir/server-key.pem" 2>/dev/null
  openssl req -new -key "$dir/server-key.pem" -subj "/CN=$1" -out "$dir/server.csr" 2>/dev/null
  printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$san" >"$dir/ext.cnf"
  openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca-key.pem" \
    -CAcreateserial -days 2 -sha256 -extfile "$dir/ext.cnf" -out "$dir/server.pem" 2>/dev/null
}

# start_upstream DIR: the python HTTPS upstream with DIR's server cert; sets UPSTREAM_PORT.
start_upstream() {
  local dir=$1
  python3 "$SRC/tests/integration/lib/upstream.py" "$dir/server.pem" "$dir/server-key.pem" \
    "$dir/port" "$dir/requests.jsonl" 2>"$dir/upstream.err" &
  UPSTREAM_PID=$!
  wait_for 10 test -s "$dir/port" || fail "the test upstream did not start: $(cat "$dir/upstream.err")"
  UPSTREAM_PORT=$(cat "$dir/port")
}
