#!/bin/bash
# scripts/build-agent-image end to end: builds (or reuses) bottle-agent:latest
# offline, then checks what the docker backend relies on: the node user
# (1000:1000, /home/node, bash), curl/git/openssl, a slim rootfs, and that a CA
# copied in with `docker cp` and installed with `update-ca-certificates` as
# root reports "1 added" and is trusted afterwards. A second run must reuse the
# image quickly, and a missing tag must be imported from the rootfs cache.
# Needs root and a docker daemon (skips otherwise).
set -uo pipefail
SRC=${BOTTLE_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD_IMAGE=$SRC/scripts/build-agent-image
IMAGE=bottle-agent:latest
CACHE_DIR=${BOTTLE_CACHE_DIR:-/var/cache/bottle}

skip() { echo "skip: $*"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }

[[ $(id -u) -eq 0 ]] || skip "needs root (build-agent-image runs debootstrap and docker import)"
DOCKER=/usr/bin/docker
[[ -x $DOCKER ]] || DOCKER=$(command -v docker) || skip "no docker CLI"
"$DOCKER" info >/dev/null 2>&1 || skip "no docker daemon reachable with 'docker info'"
[[ -x $BUILD_IMAGE ]] || fail "$BUILD_IMAGE missing or not executable"

T=$(mktemp -d /tmp/bottle-agent-image.XXXXXX)
CTR=bottle-it-agent-image-$$
CACHE_TAG=bottle-agent-it-cache:$$
cleanup() {
  "$DOCKER" rm -f "$CTR" >/dev/null 2>&1
  "$DOCKER" rmi "$CACHE_TAG" >/dev/null 2>&1
  rm -rf "$T"
}
trap cleanup EXIT

# 1. Build or reuse (the first build runs debootstrap: a few minutes).
start=$SECONDS
"$BUILD_IMAGE" 2>&1 | tee "$T/build1.log"
rc=${PIPESTATUS[0]}
((rc == 0)) || fail "build-agent-image exited $rc"
echo "first run took $((SECONDS - start))s"
"$DOCKER" image inspect "$IMAGE" >/dev/null 2>&1 || fail "$IMAGE does not exist after build-agent-image"
size=$("$DOCKER" image inspect -f '{{.Size}}' "$IMAGE")
echo "image $IMAGE: $((size / 1024 / 1024)) MB"

# 2. Image contents (no network: nothing here needs it).
run() { "$DOCKER" run --rm --network none "$IMAGE" "$@"; }
out=$(run id node) || fail "id node failed: $out"
[[ $out == "uid=1000(node) gid=1000(node)"* ]] || fail "id node: $out"
out=$(run getent passwd node) || fail "getent passwd node failed"
[[ $out == "node:x:1000:1000:"*":/home/node:/bin/bash" ]] || fail "passwd entry: $out"
out=$(run stat -c '%u:%g' /home/node)
[[ $out == 1000:1000 ]] || fail "/home/node owned by $out, not 1000:1000"
out=$(run bash -c 'pwd; curl --version | head -1; git --version; openssl version') ||
  fail "curl/git/openssl missing: $out"
echo "$out"
[[ $(head -1 <<<"$out") == /home/node ]] || fail "WORKDIR is not /home/node: $out"
out=$(run sh -c 'ls -A /usr/share/doc /usr/share/man | grep -v : | grep -c .; ls /var/lib/apt/lists | grep -vc "^partial$"; ls /var/cache/apt/*.bin 2>/dev/null | wc -l')
[[ $(tr '\n' ' ' <<<"$out") == "0 0 0 " ]] || fail "image not slimmed (docs/man, apt lists, apt caches): $(tr '\n' ' ' <<<"$out")"

# 3. The CA step as the docker backend does it: docker cp as root, then
#    update-ca-certificates; it must report "1 added" and the CA be trusted.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/ca.key" -out "$T/ca.crt" -days 2 \
  -subj "/CN=bottle agent-image test CA $$" 2>/dev/null || fail "openssl req -x509 failed"
openssl req -newkey rsa:2048 -nodes -keyout "$T/leaf.key" -out "$T/leaf.csr" \
  -subj "/CN=leaf.test" 2>/dev/null || fail "openssl leaf csr failed"
openssl x509 -req -in "$T/leaf.csr" -CA "$T/ca.crt" -CAkey "$T/ca.key" -CAcreateserial \
  -days 2 -out "$T/leaf.pem" 2>/dev/null || fail "openssl leaf sign failed"
"$DOCKER" run -d --rm --name "$CTR" --network none "$IMAGE" sleep 300 >/dev/null ||
  fail "docker run -d $IMAGE failed"
"$DOCKER" cp "$T/ca.crt" "$CTR:/usr/local/share/ca-certificates/bottle.crt" || fail "docker cp of the CA failed"
"$DOCKER" cp "$T/leaf.pem" "$CTR:/tmp/leaf.pem" || fail "docker cp of the leaf failed"
out=$("$DOCKER" exec --user root "$CTR" sh -c \
  'chown root:root /usr/local/share/ca-certificates/bottle.crt && chmod 644 /usr/local/share/ca-certificates/bottle.crt && update-ca-certificates' 2>&1) ||
  fail "update-ca-certificates failed: $out"
echo "$out"
grep -q '1 added' <<<"$out" || fail "update-ca-certificates did not report '1 added': $out"
out=$("$DOCKER" exec --user node "$CTR" openssl verify -CAfile /etc/ssl/certs/ca-certificates.crt /tmp/leaf.pem 2>&1) ||
  fail "a leaf signed by the installed CA does not verify against the system bundle: $out"
# shellcheck disable=SC2016  # expands inside the container
out=$("$DOCKER" exec --user node "$CTR" sh -c 'cd && id -un && echo "$HOME" && touch ~/w && git init -q r && echo ok') ||
  fail "exec as node failed: $out"
[[ $(tr '\n' ' ' <<<"$out") == "node /home/node ok " ]] || fail "exec as node: $out"
"$DOCKER" rm -f "$CTR" >/dev/null 2>&1

# 4. A second run reuses the image and is quick.
start=$SECONDS
out=$("$BUILD_IMAGE" 2>&1) || fail "second build-agent-image failed: $out"
took=$((SECONDS - start))
echo "$out"
echo "second run took ${took}s"
grep -q reusing <<<"$out" || fail "second run did not reuse $IMAGE: $out"
((took < 20)) || fail "second run took ${took}s (>= 20s)"

# 5. A tag that is missing is imported from the rootfs cache, not rebuilt.
key=$("$DOCKER" image inspect -f '{{index .Config.Labels "org.bottle.rootfs-key"}}' "$IMAGE")
if [[ -n $key ]] && compgen -G "$CACHE_DIR/agent-rootfs-*-$key.tar" >/dev/null; then
  start=$SECONDS
  out=$("$BUILD_IMAGE" --tag "$CACHE_TAG" 2>&1) || fail "build-agent-image --tag $CACHE_TAG failed: $out"
  took=$((SECONDS - start))
  echo "$out"
  echo "import from cache took ${took}s"
  grep -q 'importing cached rootfs' <<<"$out" || fail "--tag $CACHE_TAG did not use the rootfs cache: $out"
  grep -q debootstrap <<<"$out" && fail "--tag $CACHE_TAG ran debootstrap despite the cache: $out"
  "$DOCKER" image inspect "$CACHE_TAG" >/dev/null 2>&1 || fail "$CACHE_TAG missing after import"
  out=$("$DOCKER" run --rm --network none "$CACHE_TAG" id -u node) || fail "$CACHE_TAG does not run"
  [[ $out == 1000 ]] || fail "$CACHE_TAG: id -u node = $out"
else
  echo "note: no rootfs cache for $IMAGE (key '${key}') in $CACHE_DIR; cache import not checked"
fi

echo "ok: agent image"
