#!/usr/bin/env bash
# End-to-end on S3 (`bash test/e2e/s3.sh`): two stowage processes from dist/ on one bucket of a
# real S3 server (s3rver on 127.0.0.1, with the fixes in test/helpers/s3rver-fixes.cjs), a private
# dockerd, and docker pushing and pulling a multi-layer image, through one replica and back
# through the other. Ends with one line `e2e-s3: N passed, M failed`; non-zero exit on failure.
# Everything it starts (test/e2e/lib/services.sh) is stopped and removed on exit.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/suite.sh"

# s3rver with the bucket "registry", its files in $E2E_DIR/s3.
start_s3rver() {
  S3_DIR="$E2E_DIR/s3"
  mkdir -p "$S3_DIR"
  launch s3rver 10 node -e "
    const { S3rver } = require('$ROOT/test/helpers/s3rver-fixes.cjs');
    new S3rver({ address: '127.0.0.1', port: $S3_PORT, directory: '$S3_DIR', silent: true, configureBuckets: [{ name: 'registry' }] })
      .run().then(() => console.log('s3rver on $S3_PORT'), (err) => { console.error(err); process.exit(1); });"
  wait_for 20 curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$S3_PORT/"
}

# Two stowage replicas on the bucket, $REG and $REG2; the first one's log is $REGISTRY_LOG.
start_replicas() {
  local storage="storage:
  s3:
    regionendpoint: \"http://127.0.0.1:$S3_PORT\"
    region: us-east-1
    bucket: registry
    accesskey: S3RVER
    secretkey: S3RVER
    rootdirectory: /e2e
    chunksize: 5242880
  delete: { enabled: true }"
  REGISTRY_LOG="$E2E_DIR/logs/registry.log"
  start_stowage registry "${REG#*:}" "$storage" 'stowage: { cache: { ttl: 1s } }' &&
    start_stowage registry-2 "${REG2#*:}" "$storage" 'stowage: { cache: { ttl: 1s } }'
}

begin_suite e2e-s3
need_tools dockerd curl jq node /bin/busybox
build_stowage

S3_PORT=$(free_port)
setup "s3rver starts on 127.0.0.1:$S3_PORT" start_s3rver
REG="127.0.0.1:$(free_port)"
REG2="127.0.0.1:$(free_port)"
setup "two stowage replicas start on the bucket and answer GET /v2/" start_replicas
echo "stowage on $REG and $REG2, both on s3://registry/e2e at 127.0.0.1:$S3_PORT"

prepare_clients
# Only $REG is named insecure; the second replica is on loopback too, which Docker trusts.
setup "dockerd starts on $E2E_DIR/docker/sock" start_dockerd '{}' --storage-driver=vfs --bridge=none --insecure-registry "$REG"

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

finish
