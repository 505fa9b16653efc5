# docker pull name@sha256:... after the image is gone locally, then run it by digest.

docker_pulls_by_digest() {
  local digest
  digest=$(registry_manifest_digest busybox latest)
  expect_match "$digest" '^sha256:[0-9a-f]{64}$' 'digest of busybox:latest'
  run docker rmi -f "$(docker image inspect --format '{{.Id}}' "$REG/busybox")"
  run docker pull "$REG/busybox@$digest"
  expect_contains "$OUT" "Digest: $digest" 'pull output'
  run docker run --rm --network none "$REG/busybox@$digest" /bin/echo "Hello world"
  expect_eq "$OUT" "Hello world" 'container output'
  # Later cases push from the tag again.
  run docker tag "$REG/busybox@$digest" "$REG/busybox:latest"
}

check "docker pull 127.0.0.1:PORT/busybox@sha256:... and run it" docker_pulls_by_digest
