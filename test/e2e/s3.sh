#!/usr/bin/env bash
# End-to-end on S3 (`bash test/e2e/s3.sh`): two stowage processes from dist/ on one bucket of a
# real S3 server (s3rver on 127.0.0.1, with the fixes in test/helpers/s3rver-fixes.cjs), a private
# dockerd, and docker pushing and pulling a multi-layer image, through one replica and back
# through the other. Ends with one line `e2e-s3: N passed, M failed`; non-zero exit on failure.
# Reuses the main suite's helpers (test/e2e/lib); everything it starts is stopped on exit.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
REGISTRY_LOG=/dev/null
RUN_STARTED=$SECONDS

source "$HERE/lib/harness.sh"
source "$HERE/lib/services.sh"
source "$HERE/lib/clients.sh"
source "$HERE/lib/images.sh"

S3_PID=
SECOND_PID=

stop_all() {
  stop_pid "$SECOND_PID" 10
  SECOND_PID=
  stop_pid "$S3_PID" 10
  S3_PID=
  cleanup
}

finish() {
  stop_all
  echo "e2e-s3: $E2E_PASSED passed, $E2E_FAILED failed"
  ((E2E_FAILED == 0))
  exit
}
trap 'stop_all' EXIT
trap 'echo "interrupted" >&2; exit 130' INT TERM

for tool in dockerd curl node; do
  command -v "$tool" >/dev/null 2>&1 || { ((EUID == 0)) && bash "$ROOT/scripts/install-e2e-deps.sh" >/dev/null 2>&1; break; }
done
DOCKER_BIN=${E2E_DOCKER:-/usr/bin/docker}
[[ -x "$DOCKER_BIN" ]] || DOCKER_BIN=$(command -v docker || echo docker)

E2E_DIR=$(mktemp -d /tmp/stowage-e2e-s3.XXXXXX)
mkdir -p "$E2E_DIR/logs"

cli="$ROOT/dist/server/cli.js"
if [[ ! -f "$cli" ]] || [[ -n "$(find "$ROOT/server" "$ROOT/storage" "$ROOT/auth" "$ROOT/tsconfig.json" "$ROOT/package.json" \
  -newer "$cli" \( -name '*.ts' -o -name '*.json' \) -print -quit 2>/dev/null)" ]]; then
  echo "building stowage (npm run build)"
  if ! (cd "$ROOT" && npm run build) >"$E2E_DIR/build.log" 2>&1; then
    setup_failed "npm run build" "$E2E_DIR/build.log"
    finish
  fi
fi

# The S3 server, with the bucket "registry".
S3_PORT=$(free_port)
S3_DIR="$E2E_DIR/s3"
S3_LOG="$E2E_DIR/s3rver.log"
mkdir -p "$S3_DIR"
(cd "$ROOT" && exec node -e "
const { S3rver } = require('./test/helpers/s3rver-fixes.cjs');
new S3rver({ address: '127.0.0.1', port: $S3_PORT, directory: '$S3_DIR', silent: true, configureBuckets: [{ name: 'registry' }] })
  .run().then(() => console.log('s3rver on $S3_PORT'), (err) => { console.error(err); process.exit(1); });
") >"$S3_LOG" 2>&1 &
S3_PID=$!
s3_answers() { curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$S3_PORT/"; }
if ! wait_for 20 s3_answers; then
  setup_failed "s3rver starts on 127.0.0.1:$S3_PORT" "$S3_LOG"
  finish
fi

# A stowage replica on the bucket: start_replica PORT LOG; prints its pid.
start_replica() {
  local port=$1 log=$2 config="$E2E_DIR/stowage-$1.yml" unset_env=() variable
  for variable in $(compgen -e | grep '^REGISTRY_'); do unset_env+=(-u "$variable"); done
  cat >"$config" <<EOF
http: { addr: "127.0.0.1:$port" }
storage:
  s3:
    regionendpoint: "http://127.0.0.1:$S3_PORT"
    region: us-east-1
    bucket: registry
    accesskey: S3RVER
    secretkey: S3RVER
    rootdirectory: /e2e
    chunksize: 5242880
  delete: { enabled: true }
log: { level: info }
stowage: { cache: { ttl: 1s } }
EOF
  env "${unset_env[@]}" node "$cli" serve --config "$config" >"$log" 2>&1 &
  echo $!
}

REGISTRY_PORT=$(free_port)
REG="127.0.0.1:$REGISTRY_PORT"
REGISTRY_LOG="$E2E_DIR/registry.log"
REGISTRY_PID=$(start_replica "$REGISTRY_PORT" "$REGISTRY_LOG")
SECOND_PORT=$(free_port)
REG2="127.0.0.1:$SECOND_PORT"
SECOND_PID=$(start_replica "$SECOND_PORT" "$E2E_DIR/registry-2.log")
second_answers() { [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://$REG2/v2/")" == 200 ]]; }
if ! wait_for 20 registry_answers || ! wait_for 20 second_answers; then
  setup_failed "two stowage replicas start on the bucket and answer GET /v2/" "$REGISTRY_LOG"
  finish
fi
echo "stowage on $REG and $REG2, both on s3://registry/e2e at 127.0.0.1:$S3_PORT"

prepare_clients
if ! start_dockerd; then
  setup_failed "dockerd starts on $DOCKER_HOST" "$DOCKERD_LOG"
  finish
fi
# start_dockerd trusts $REG only; the second replica is on loopback too, which Docker trusts.

# Three layers: busybox, 12 MiB of random bytes (three multipart parts of 5 MiB), a small file.
builds_three_layer_image() {
  local rootfs="$E2E_DIR/rootfs" context="$E2E_DIR/context"
  make_busybox_rootfs "$rootfs"
  reproducible_tar "$rootfs" | docker import - s3base:latest
  mkdir -p "$context"
  head -c $((12 * 1024 * 1024)) /dev/urandom >"$context/random.bin"
  echo "hello from S3" >"$context/hello.txt"
  sha256sum <"$context/random.bin" | cut -d' ' -f1 >"$E2E_DIR/random.sha256"
  printf 'FROM s3base:latest\nCOPY random.bin /data/random.bin\nCOPY hello.txt /data/hello.txt\n' >"$context/Dockerfile"
  DOCKER_BUILDKIT=0 run docker build --network none -t "$REG/layers/app:1" "$context"
  run docker image inspect --format '{{len .RootFS.Layers}}' "$REG/layers/app:1"
  expect_eq "$OUT" 3 'layers in the image'
}

docker_pushes_to_first_replica() {
  run docker push "$REG/layers/app:1"
  expect_match "$OUT" '1: digest: sha256:[0-9a-f]{64}' 'push output'
}

bytes_are_in_the_bucket() {
  local blobs
  blobs=$(find "$S3_DIR/registry/e2e/blobs" -name 'data._S3rver_object' | wc -l)
  # three layers, the image config and the manifest
  ((blobs == 5)) || fail "expected 5 blobs in the bucket, found $blobs"
  if find "$S3_DIR/registry/e2e" -path '*_uploads*' -name '*._S3rver_object' | grep -q .; then
    fail "upload state left in the bucket: $(find "$S3_DIR/registry/e2e" -path '*_uploads*' -name '*._S3rver_object')"
  fi
}

docker_pulls_from_second_replica() {
  run docker pull "$REG2/layers/app:1"
  expect_contains "$OUT" "Downloaded newer image for $REG2/layers/app:1" 'pull output'
  run docker run --rm --network none "$REG2/layers/app:1" /bin/sha256sum /data/random.bin
  expect_eq "${OUT%% *}" "$(cat "$E2E_DIR/random.sha256")" 'sha256 of /data/random.bin in the pulled image'
  run docker run --rm --network none "$REG2/layers/app:1" /bin/cat /data/hello.txt
  expect_eq "$OUT" "hello from S3" '/data/hello.txt in the pulled image'
}

docker_pulls_back_from_first_replica() {
  run docker rmi "$REG/layers/app:1"
  run docker pull "$REG/layers/app:1"
  expect_contains "$OUT" "Downloaded newer image for $REG/layers/app:1" 'pull output'
  run docker run --rm --network none "$REG/layers/app:1" /bin/cat /data/hello.txt
  expect_eq "$OUT" "hello from S3" '/data/hello.txt in the pulled image'
}

catalog_and_tags_agree_on_both_replicas() {
  local replica
  for replica in "$REG" "$REG2"; do
    run curl -sS --max-time 10 "http://$replica/v2/_catalog"
    expect_eq "$(jq -c .repositories <<<"$OUT")" '["layers/app"]' "catalog on $replica"
    run curl -sS --max-time 10 "http://$replica/v2/layers/app/tags/list"
    expect_eq "$(jq -c .tags <<<"$OUT")" '["1"]' "tags on $replica"
  done
}

check "docker builds a three-layer image (busybox, 12 MiB random, small file)" builds_three_layer_image
check "docker push through the first replica" docker_pushes_to_first_replica
check "the blobs are in the bucket and no upload state is left" bytes_are_in_the_bucket
check "docker pull and run through the second replica" docker_pulls_from_second_replica
check "docker pull back through the first replica" docker_pulls_back_from_first_replica
check "_catalog and tags list agree on both replicas" catalog_and_tags_agree_on_both_replicas

echo "took $((SECONDS - RUN_STARTED)) s"
finish
