#!/usr/bin/env bash
# End-to-end on S3 (`bash test/e2e/s3.sh`): two stowage replicas from dist/ on one bucket of a
# real S3 server (s3rver on 127.0.0.1, with the fixes in test/helpers/s3rver-fixes.cjs) and one
# PostgreSQL database (Debian's postgresql, initdb and the server in a temporary directory), as
# README.md's "Replicas" runs them; a private dockerd, and docker pushing and pulling a
# multi-layer image, through one replica and back through the other; a tag moved through one
# replica served by the other on its next request (the cache TTL is an hour, so only the
# database's announcement can make it so); and a third process with an SQLite database of its own
# refused at start-up. Ends with one line `e2e-s3: N passed, M failed`; non-zero exit on failure.
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

# The bucket's storage section, for the replicas and the third process.
s3_storage() {
  echo "storage:
  s3:
    regionendpoint: \"http://127.0.0.1:$S3_PORT\"
    region: us-east-1
    bucket: registry
    accesskey: S3RVER
    secretkey: S3RVER
    rootdirectory: /e2e
    chunksize: 5242880
  delete: { enabled: true }"
}

# Two stowage replicas on the bucket and the database, $REG and $REG2; the first one's log is
# $REGISTRY_LOG. Tags stay cached for an hour unless the database announces a change.
start_replicas() {
  local stowage="stowage: { database: { url: \"$DATABASE_URL\" }, cache: { ttl: 1h } }"
  REGISTRY_LOG="$E2E_DIR/logs/registry.log"
  start_stowage registry "${REG#*:}" "$(s3_storage)" "$stowage" &&
    start_stowage registry-2 "${REG2#*:}" "$(s3_storage)" "$stowage"
}

begin_suite e2e-s3
need_tools dockerd curl jq node /bin/busybox
build_stowage

S3_PORT=$(free_port)
setup "s3rver starts on 127.0.0.1:$S3_PORT" start_s3rver
PG_PORT=$(free_port)
setup "PostgreSQL starts on 127.0.0.1:$PG_PORT (initdb in $E2E_DIR/postgres)" start_postgres "$PG_PORT"
REG="127.0.0.1:$(free_port)"
REG2="127.0.0.1:$(free_port)"
setup "two stowage replicas start on the bucket and the database and answer GET /v2/" start_replicas
echo "stowage on $REG and $REG2, both on s3://registry/e2e at 127.0.0.1:$S3_PORT and $DATABASE_URL"

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

# HEAD of a tag on a replica: the digest it answers.
tag_digest() {
  curl -sS --max-time 10 -I -H "Accept: application/vnd.docker.distribution.manifest.v2+json" "http://$1/v2/layers/app/manifests/$2" \
    | tr -d '\r' | awk -F': ' 'tolower($1) == "docker-content-digest" { print $2 }'
}

# PUT of manifest bytes under a tag through a replica.
put_manifest() {
  curl -sS --max-time 10 -o /dev/null -w '%{http_code}' -X PUT -H "Content-Type: $3" --data-binary "@$4" "http://$1/v2/layers/app/manifests/$2"
}

tag_moved_through_one_replica_is_served_by_the_other() {
  local type=application/vnd.docker.distribution.manifest.v2+json first="$E2E_DIR/first.json" second="$E2E_DIR/second.json"
  curl -sS --max-time 10 -H "Accept: $type" "http://$REG/v2/layers/app/manifests/1" >"$first"
  # The same image with an annotation: another digest, the same blobs.
  jq -c '.annotations = {"e2e": "moved"}' "$first" >"$second"
  local old new attempts
  old="sha256:$(sha256sum <"$first" | cut -d' ' -f1)"
  new="sha256:$(sha256sum <"$second" | cut -d' ' -f1)"
  expect_eq "$(put_manifest "$REG" latest "$type" "$first")" 201 'PUT latest through the first replica'
  # The second replica reads the tag, and keeps it (the unit tests check that it does,
  # test/s3/replicas.test.ts; from here only its answers are seen).
  expect_eq "$(tag_digest "$REG2" latest)" "$old" 'latest on the second replica'
  expect_eq "$(tag_digest "$REG2" latest)" "$old" 'latest on the second replica, again'
  expect_eq "$(put_manifest "$REG" latest "$type" "$second")" 201 'PUT latest again through the first replica, moved'
  # The second replica's cache holds the old digest for an hour unless the announcement drops it;
  # it travels beside the PUT's answer, so a few requests at most may come before it.
  for ((attempts = 1; attempts <= 5; attempts++)); do
    [[ "$(tag_digest "$REG2" latest)" == "$new" ]] && break
  done
  echo "served by the second replica after $attempts request(s)"
  ((attempts <= 5)) || fail "the second replica still serves $old for latest"
  expect_eq "$(tag_digest "$REG" latest)" "$new" 'latest on the first replica'
}

# A third process on the bucket with an embedded SQLite database of its own: refused at start-up.
third_process_with_its_own_sqlite_is_refused() {
  local config="$E2E_DIR/third.yml" rc=0
  printf 'http: { addr: "127.0.0.1:%s" }\nlog: { level: info }\n%s\nstowage: { database: { url: "sqlite:%s" } }\n' \
    "$(free_port)" "$(s3_storage)" "$E2E_DIR/third/stowage.db" >"$config"
  run timeout 60 node "$STOWAGE_CLI" serve --config "$config" || rc=$?
  expect_eq "$rc" 1 'exit status'
  expect_contains "$OUT" 'stowage: cannot start: this s3 storage is in use by another stowage process' 'message'
  expect_contains "$OUT" 'give every one the same PostgreSQL database' 'what to do'
  # The replicas still serve.
  expect_eq "$(tag_digest "$REG2" 1)" "$(tag_digest "$REG" 1)" 'tag 1 on both replicas'
}

check "docker builds a three-layer image (busybox, 12 MiB random, small file)" builds_three_layer_image
check "docker push through the first replica" docker_pushes_to_first_replica
check "the blobs are in the bucket and no upload state is left" bytes_are_in_the_bucket
check "docker pull and run through the second replica" docker_pulls_from_second_replica
check "docker pull back through the first replica" docker_pulls_back_from_first_replica
check "_catalog and tags list agree on both replicas" catalog_and_tags_agree_on_both_replicas
check "a tag moved through one replica is served by the other on its next requests, not after the TTL" tag_moved_through_one_replica_is_served_by_the_other
check "a third process with an SQLite database of its own is refused at start-up, told to use PostgreSQL" third_process_with_its_own_sqlite_is_refused

finish
