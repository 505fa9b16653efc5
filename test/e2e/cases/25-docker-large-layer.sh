# A layer of 32 MiB of random bytes (incompressible, so it crosses the wire at full size in one
# streamed PATCH) goes up with docker push and comes back intact with docker pull.

docker_round_trips_large_layer() {
  local rootfs="$E2E_DIR/rootfs-large" expected
  make_busybox_rootfs "$rootfs"
  mkdir -p "$rootfs/data"
  head -c $((32 * 1024 * 1024)) /dev/urandom >"$rootfs/data/random.bin"
  expected=$(sha256sum <"$rootfs/data/random.bin" | cut -d' ' -f1)
  reproducible_tar "$rootfs" | docker import - "$REG/large:1"
  rm -rf "$rootfs"
  run docker push "$REG/large:1"
  expect_match "$OUT" '1: digest: sha256:[0-9a-f]{64}' 'push output'
  run docker rmi "$REG/large:1"
  run docker pull "$REG/large:1"
  run docker run --rm --network none "$REG/large:1" /bin/sha256sum /data/random.bin
  expect_eq "${OUT%% *}" "$expected" 'sha256 of /data/random.bin in the pulled image'
  run docker rmi "$REG/large:1"
}

check "docker push and pull round-trip a 32 MiB incompressible layer" docker_round_trips_large_layer
