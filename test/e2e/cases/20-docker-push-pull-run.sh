# The Docker workflow from the issue: tag, push, remove, pull back and run.

docker_imports_busybox() {
  local rootfs="$E2E_DIR/rootfs-busybox"
  make_busybox_rootfs "$rootfs"
  reproducible_tar "$rootfs" | docker import - busybox:latest
  run docker run --rm --network none busybox:latest /bin/echo "Hello world"
  expect_eq "$OUT" "Hello world" 'local busybox output'
}

docker_pushes_busybox() {
  run docker tag busybox:latest "$REG/busybox"
  run docker push "$REG/busybox"
  expect_match "$OUT" 'latest: digest: sha256:[0-9a-f]{64}' 'push output'
  expect_match "$(registry_manifest_digest busybox latest)" '^sha256:[0-9a-f]{64}$' 'digest of busybox:latest'
}

docker_pulls_busybox_back() {
  run docker rmi "$REG/busybox" busybox:latest
  if docker image inspect "$REG/busybox" >/dev/null 2>&1; then fail 'the image is still present after rmi'; fi
  run docker pull "$REG/busybox"
  expect_contains "$OUT" "Downloaded newer image for $REG/busybox:latest" 'pull output'
}

docker_runs_pulled_busybox() {
  run docker run --rm "$REG/busybox" /bin/echo "Hello world"
  expect_eq "$OUT" "Hello world" 'container output'
}

check "docker imports a busybox image made from busybox-static" docker_imports_busybox
check "docker push 127.0.0.1:PORT/busybox" docker_pushes_busybox
check "docker rmi, then docker pull 127.0.0.1:PORT/busybox" docker_pulls_busybox_back
check "docker run 127.0.0.1:PORT/busybox /bin/echo prints Hello world" docker_runs_pulled_busybox
