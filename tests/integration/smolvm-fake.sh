#!/bin/bash
# The fake smolvm CLI (tests/fakes/smolvm) against the smolvm 1.9.x contract
# the backend relies on: messages and exit codes of create/start/stop/delete/
# status/ls/exec/cp, the delete prompt with stdin at EOF, exec and cp on a
# machine that is not running, cp's split on the first ':' (SRC is the
# machine side if it has a ':', as in smolvm's CpCmd), the guest's exit
# code (128+signal, 124 on --timeout), buffered versus --stream output, no
# --user and no -n, the warm-up race and an unreachable machine.
set -uo pipefail
source "$(dirname "$0")/lib/common.sh"
[[ $(id -u) -eq 0 ]] || skip "needs root (the fake smolvm runs guests as root in bubblewrap)"
command -v bwrap >/dev/null || skip "bubblewrap not installed"
bwrap --ro-bind / / --unshare-pid true 2>/dev/null || skip "bwrap cannot create namespaces here"
[[ -x /usr/bin/python3 ]] || skip "the fake smolvm needs /usr/bin/python3"
IMAGE=$(ls -t "${BOTTLE_CACHE_DIR:-/var/cache/bottle}"/agent-rootfs-bookworm-*.tar 2>/dev/null | head -1)
if [[ -z $IMAGE ]]; then
  "$SRC/scripts/build-agent-image" >/dev/null 2>&1
  IMAGE=$(ls -t "${BOTTLE_CACHE_DIR:-/var/cache/bottle}"/agent-rootfs-bookworm-*.tar 2>/dev/null | head -1)
fi
[[ -n $IMAGE ]] || skip "no agent rootfs tarball (scripts/build-agent-image makes it; it needs docker once)"

T=$(mktemp -d /tmp/bottle-smolvm-fake.XXXXXX)
export SMOLVM_DATA_DIR=$T/data
SMOLVM=$SRC/tests/fakes/smolvm
# No race unless a test asks for it.
export SMOLVM_FAKE_WARMUP_MS=0 SMOLVM_FAKE_STOP_DELAY_MS=300
cleanup() {
  local m
  for m in $(ls "$SMOLVM_DATA_DIR/machines" 2>/dev/null); do
    "$SMOLVM" machine delete -f --name "$m" >/dev/null 2>&1
  done
  wait 2>/dev/null
  [[ -n ${KEEP:-} ]] || rm -rf "$T"
}
trap cleanup EXIT
mkdir -p "$T/shared"

fails=0 passes=0
check() { if eval "$2"; then echo "ok   $1"; passes=$((passes + 1)); else echo "FAIL $1"; fails=$((fails + 1)); fi; }
# sv ARGS...: run the fake, keeping stdout, stderr and the exit code.
sv() { "$SMOLVM" "$@" >"$T/out" 2>"$T/err"; RC=$?; }
out_is() { [[ $(cat "$T/out") == "$1" ]]; }
err_is() { [[ $(cat "$T/err") == "$1" ]]; }
state_of() { "$SMOLVM" machine status --name "$1" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])'; }
is_state() { [[ $(state_of "$1") == "$2" ]]; }
# alive PID: the process exists and is not a zombie (PID 1 here may never reap
# the orphaned VM process, and kill -0 succeeds on a zombie).
alive() { local st; st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) && [[ -n $st && $st != Z ]]; }

sv --version
check "--version" "[ $RC -eq 0 ] && grep -q '^smolvm 1\.9' $T/out"

# ---- create ----------------------------------------------------------------------------
sv machine create --name reg --image bottle-agent:latest -- sleep infinity
check "registry image without --net: exact error, exit 1" "[ $RC -eq 1 ] && err_is \"Error: image 'bottle-agent:latest' must be pulled from a registry, but this machine has no network\""
sv machine create --name m1 --image "$IMAGE" --net -v "$T/shared:/workspace" -e FROM_CREATE=yes -- sleep infinity
check "create from a local tarball works offline" "[ $RC -eq 0 ] && out_is 'Created machine: m1'"
sv machine create --name m1 --image "$IMAGE"
check "create twice: error" "[ $RC -eq 1 ] && err_is \"Error: machine 'm1' already exists\""
check "created: state created" "is_state m1 created"

# ---- exec and cp before start ------------------------------------------------------------
NOT_RUNNING="Error: agent operation failed: connect: machine 'm1' is not running. Start it with: smolvm machine start --name m1"
sv machine exec --name m1 -- true
check "exec on a created machine: not running error, exit 1" "[ $RC -eq 1 ] && err_is \"$NOT_RUNNING\""
echo data >"$T/file"
sv machine cp "$T/file" m1:/root/file
check "cp on a created machine: not running error, exit 1" "[ $RC -eq 1 ] && err_is \"$NOT_RUNNING\""

# ---- start, status, ls -------------------------------------------------------------------------
sv machine start --name m1
pid=$(sed -n "s/^Machine 'm1' running (PID: \([0-9]*\))$/\1/p" "$T/out")
check "start: Machine 'N' running (PID: P)" "[ $RC -eq 0 ] && [ -n '$pid' ] && alive ${pid:-0}"
check "status --json: name, state running, pid" "\"$SMOLVM\" machine status --name m1 --json | python3 -c 'import json,sys; o=json.load(sys.stdin); sys.exit(not (o[\"name\"]==\"m1\" and o[\"state\"]==\"running\" and o[\"pid\"]==${pid:-0}))'"
check "ls --json lists the machine objects" "\"$SMOLVM\" machine ls --json | python3 -c 'import json,sys; l=json.load(sys.stdin); sys.exit(not (len(l)==1 and l[0][\"name\"]==\"m1\" and l[0][\"state\"]==\"running\"))'"
sv machine start --name m1
check "start while running: error" "[ $RC -eq 1 ] && grep -q \"^Error: machine 'm1' is already running\" $T/err"
sv machine status --name nosuch
check "status of an unknown machine: error, exit 1" "[ $RC -eq 1 ] && err_is \"Error: machine 'nosuch' not found\""

# ---- exec ----------------------------------------------------------------------------------------
sv machine exec --name m1 -e A=1 -w /workspace -- sh -c 'echo "$A $FROM_CREATE $(pwd) $(id -u)"; echo err >&2; exit 3'
check "exec: env, workdir, root, guest exit code" "[ $RC -eq 3 ] && out_is '1 yes /workspace 0' && err_is err"
sv machine exec --name m1 -- sh -c 'kill -TERM $$'
check "a guest killed by SIGTERM: exit 143" "[ $RC -eq 143 ]"
sv machine exec --name m1 -- sh -c 'echo before; kill -KILL $$'
check "a guest killed by SIGKILL: exit 137, its output kept" "[ $RC -eq 137 ] && out_is before"
t0=$SECONDS
sv machine exec --name m1 --timeout 1s -- sh -c 'echo started; sleep 30'
check "--timeout: exit 124, output so far, no waiting it out" "[ $RC -eq 124 ] && out_is started && [ $((SECONDS - t0)) -lt 10 ]"
sv machine exec -n m1 -- true
check "exec -n: rejected (no short form)" "[ $RC -eq 2 ] && grep -q \"unexpected argument '-n' found\" $T/err"
sv machine exec --name m1 --user node -- true
check "exec --user: rejected (no such flag)" "[ $RC -eq 2 ] && grep -q \"unexpected argument '--user' found\" $T/err"
sv machine exec --name m1 -- cat /etc/hostname /nonexistent
check "exec: smolvm's own output is not mixed in" "[ $RC -eq 1 ] && ! grep -q '^Error:' $T/err"
echo 'from stdin' | "$SMOLVM" machine exec --name m1 -i -- cat >"$T/out"
check "exec -i passes stdin" "out_is 'from stdin'"
make_test_ca "$T/up" up.test.example
start_upstream "$T/up"
sv machine exec --name m1 -- curl -sk -m 5 "https://127.0.0.1:$UPSTREAM_PORT/"
check "--net: the guest's 127.0.0.1 is host loopback (TSI)" "[ $RC -eq 0 ] && out_is ok"
kill "$UPSTREAM_PID"; wait "$UPSTREAM_PID" 2>/dev/null

# Buffered unless --stream: the guest prints, then waits for the host.
buffered_test() { # MODE(stream|buffered)
  rm -f "$T/shared/m1" "$T/shared/go"
  local flag=()
  [[ $1 == stream ]] && flag=(--stream)
  "$SMOLVM" machine exec --name m1 "${flag[@]}" -- sh -c 'echo first; touch /workspace/m1; while [ ! -e /workspace/go ]; do sleep 0.05; done; echo second' >"$T/out.$1" &
  local p=$!
  wait_for 20 test -e "$T/shared/m1"
  if [[ $1 == stream ]]; then wait_for 10 grep -q first "$T/out.$1"; fi
  cp "$T/out.$1" "$T/mid.$1"
  touch "$T/shared/go"
  wait "$p"
}
buffered_test buffered
check "exec: output only when the command ends" "[ ! -s $T/mid.buffered ] && [ \"\$(cat $T/out.buffered | tr '\n' ' ')\" = 'first second ' ]"
buffered_test stream
check "exec --stream: output as it comes" "grep -q first $T/mid.stream && ! grep -q second $T/mid.stream && grep -q second $T/out.stream"

# ---- cp ------------------------------------------------------------------------------------------
sv machine cp --mode 0600 --uid 1000 --gid 1000 "$T/file" m1:/home/node/file
check "cp upload with --mode/--uid/--gid" "[ $RC -eq 0 ] && [ \"\$(\"$SMOLVM\" machine exec --name m1 -- stat -c '%U:%G %a' /home/node/file)\" = 'node:node 600' ]"
sv machine cp m1:/home/node/file "$T/back"
check "cp download" "[ $RC -eq 0 ] && [ \"\$(cat $T/back)\" = data ]"
echo colon >"$T/with:colon"
sv machine cp "$T/with:colon" m1:/root/x
check "cp: a host path with a colon is split on the first ':' (taken for a machine)" "[ $RC -eq 1 ] && [ \"\$(cat $T/err)\" = \"Error: machine '$T/with' not found\" ] && [ ! -e '$T/m1' ]"
sv machine cp m1:/home/node/file "$T/back:colon"
check "cp: SRC wins the split, so DST keeps its colon (a download)" "[ $RC -eq 0 ] && [ \"\$(cat '$T/back:colon')\" = data ]"
sv machine cp "$T/file" "$T/file2"
check "cp: neither side machine:path: error" "[ $RC -eq 1 ] && err_is 'Error: config operation failed: cp: one of SRC or DST must use machine:path syntax (e.g., myvm:/workspace/file)'"
sv machine cp "$T/shared" m1:/root/dir
check "cp: files only" "[ $RC -eq 1 ] && grep -q 'copies files only' $T/err"
sv machine cp "$T/file" m1:/no/such/dir/file
check "cp: a missing guest directory is an agent error" "[ $RC -eq 1 ] && grep -q '^Error: agent operation failed: copy /no/such/dir/file' $T/err"

# ---- the warm-up race ------------------------------------------------------------------------------
"$SMOLVM" machine create --name race --image "$IMAGE" >/dev/null
export SMOLVM_FAKE_WARMUP_MS=30000 SMOLVM_FAKE_BACKTOBACK_MS=2000
"$SMOLVM" machine start --name race >/dev/null
sv machine exec --name race -- sh -c 'echo one; echo two'
check "race: the first exec after start is fine" "[ $RC -eq 0 ] && [ \"\$(cat $T/out | tr '\n' ' ')\" = 'one two ' ]"
sv machine exec --name race -- sh -c 'echo one; echo two; touch /root/finished'
check "race: a back-to-back exec is SIGKILLed after its first line (137, silent)" "[ $RC -eq 137 ] && out_is one && [ ! -s $T/err ]"
sv machine cp "$T/file" race:/root/file
sv machine exec --name race -- true
check "race: an exec right after a cp is killed too" "[ $RC -eq 137 ]"
export SMOLVM_FAKE_WARMUP_MS=0
sv machine exec --name race -- sh -c 'echo one; echo two'
check "race: after the warm-up, back-to-back execs are fine" "[ $RC -eq 0 ] && [ \"\$(cat $T/out | tr '\n' ' ')\" = 'one two ' ]"

# ---- stop: asynchronous; exec on a stopped machine; guests die with the VM --------------------------
"$SMOLVM" machine exec --name m1 --stream -- sleep 600 >/dev/null 2>&1 &
guest_exec=$!
wait_for 10 pgrep -f "bwrap .*m1.* sleep 600"
sv machine stop --name m1
check "stop: Stopped machine: N" "[ $RC -eq 0 ] && out_is 'Stopped machine: m1'"
check "stop returns before the VM is down (status still running)" "is_state m1 running"
wait_for 10 is_state m1 stopped
check "status says stopped once the VM is down" "is_state m1 stopped && ! alive $pid"
wait "$guest_exec"; rc=$?
check "a running exec ends with its guest (137)" "[ $rc -eq 137 ] && ! pgrep -f 'bwrap .*m1.* sleep 600'"
sv machine exec --name m1 -- true
check "exec on a stopped machine: not running error, exit 1" "[ $RC -eq 1 ] && err_is \"$NOT_RUNNING\""
sv machine cp m1:/home/node/file "$T/back2"
check "cp on a stopped machine: not running error, exit 1" "[ $RC -eq 1 ] && err_is \"$NOT_RUNNING\""
sv machine stop --name m1
check "stop on a stopped machine: error" "[ $RC -eq 1 ] && err_is \"Error: machine 'm1' is not running\""
"$SMOLVM" machine start --name m1 >/dev/null
check "the disk survives stop/start" "[ \"\$(\"$SMOLVM\" machine exec --name m1 -- cat /home/node/file)\" = data ]"

# ---- delete: the prompt, -f ----------------------------------------------------------------------------
sv machine delete --name m1 </dev/null
check "delete without -f, stdin at EOF: prompt, Cancelled, exit 0" "[ $RC -eq 0 ] && grep -q \"^Delete machine 'm1'? \[y/N\]\" $T/out && grep -q '^Cancelled$' $T/out"
check "delete cancelled: the machine is still there and running" "is_state m1 running"
echo y | "$SMOLVM" machine delete --name m1 >"$T/out" 2>"$T/err"; RC=$?
check "delete y on a running machine: refused without -f" "[ $RC -eq 1 ] && grep -q 'is running' $T/err && is_state m1 running"
pid=$("$SMOLVM" machine status --name m1 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
sv machine delete -f --name m1
check "delete -f on a running machine: stopped and removed" "[ $RC -eq 0 ] && out_is 'Deleted machine: m1' && ! alive $pid && [ ! -e $SMOLVM_DATA_DIR/machines/m1 ]"
sv machine delete -f --name m1
check "delete of an unknown machine: error" "[ $RC -eq 1 ] && err_is \"Error: machine 'm1' not found\""
"$SMOLVM" machine stop --name race >/dev/null
wait_for 10 is_state race stopped
echo y | "$SMOLVM" machine delete --name race >"$T/out"; RC=$?
check "delete y on a stopped machine: deleted" "[ $RC -eq 0 ] && grep -q 'Deleted machine: race' $T/out && ! \"$SMOLVM\" machine status --name race >/dev/null 2>&1"

# ---- unreachable ------------------------------------------------------------------------------------------
"$SMOLVM" machine create --name unr --image "$IMAGE" >/dev/null
SMOLVM_FAKE_UNREACHABLE_STARTS=1 "$SMOLVM" machine start --name unr >/dev/null
check "unreachable: status says so" "is_state unr unreachable"
sv machine exec --name unr -- true
check "unreachable: exec fails with an agent error" "[ $RC -eq 1 ] && grep -q \"^Error: agent operation failed: connect: machine 'unr' is unreachable\" $T/err"
"$SMOLVM" machine stop --name unr >/dev/null
wait_for 10 is_state unr stopped
SMOLVM_FAKE_UNREACHABLE_STARTS=1 "$SMOLVM" machine start --name unr >/dev/null
check "unreachable: a restart brings it back" "is_state unr running && \"$SMOLVM\" machine exec --name unr -- true"
check "machines from one image do not share their disks" "\"$SMOLVM\" machine exec --name unr -- test ! -e /home/node/file"
"$SMOLVM" machine delete -f --name unr >/dev/null
check "nothing left: no machines, no VM processes" "[ \"\$(\"$SMOLVM\" machine ls --json)\" = '[]' ] && ! pgrep -f \"smolvm __vm (m1|race|unr)\$\""

echo "$passes passed, $fails failed"
[[ $fails -eq 0 ]]
