# podman against the registry: pull what docker pushed, push to a new repository, pull that
# back after removing everything, and docker runs what podman pushed, in Docker's manifest
# format and in OCI's.

podman_pulls_docker_pushed_image() {
  run podman pull --tls-verify=false "$REG/busybox:latest"
  local digest
  digest=$(podman image inspect --format '{{.Digest}}' "$REG/busybox:latest")
  expect_eq "$digest" "$(registry_manifest_digest busybox latest)" 'digest podman pulled'
}

podman_pushes_new_repository() {
  run podman tag "$REG/busybox:latest" "$REG/podman/busybox:1"
  run podman push --tls-verify=false --digestfile "$E2E_DIR/podman/pushed.digest" "$REG/podman/busybox:1"
  expect_eq "$(registry_manifest_digest podman/busybox 1)" "$(cat "$E2E_DIR/podman/pushed.digest")" 'digest of podman/busybox:1'
}

podman_pulls_own_push_back() {
  run podman rmi --all --force
  expect_eq "$(podman images --quiet | wc -l)" 0 'images left after rmi --all'
  run podman pull --tls-verify=false "$REG/podman/busybox:1"
  local digest
  digest=$(podman image inspect --format '{{.Digest}}' "$REG/podman/busybox:1")
  expect_eq "$digest" "$(cat "$E2E_DIR/podman/pushed.digest")" 'digest podman pulled'
}

docker_runs_podman_pushed_image() {
  run docker pull "$REG/podman/busybox:1"
  run docker run --rm --network none "$REG/podman/busybox:1" /bin/echo "Hello world"
  expect_eq "$OUT" "Hello world" 'container output'
}

podman_pushes_oci_manifest_docker_runs() {
  run podman tag "$REG/podman/busybox:1" "$REG/podman/busybox:oci"
  run podman push --tls-verify=false --format oci "$REG/podman/busybox:oci"
  local content_type
  content_type=$(curl -sS --max-time 10 -o /dev/null -w '%{content_type}' -H "Accept: $MANIFEST_TYPES" "http://$REG/v2/podman/busybox/manifests/oci")
  expect_eq "$content_type" 'application/vnd.oci.image.manifest.v1+json' 'Content-Type of podman/busybox:oci'
  run docker pull "$REG/podman/busybox:oci"
  run docker run --rm --network none "$REG/podman/busybox:oci" /bin/echo "Hello world"
  expect_eq "$OUT" "Hello world" 'container output'
}

check "podman pull --tls-verify=false of the image docker pushed" podman_pulls_docker_pushed_image
check "podman push to a new repository" podman_pushes_new_repository
check "podman pull of what podman pushed, after podman rmi --all" podman_pulls_own_push_back
check "docker runs the image podman pushed" docker_runs_podman_pushed_image
check "podman push --format oci, then docker pulls and runs it" podman_pushes_oci_manifest_docker_runs
