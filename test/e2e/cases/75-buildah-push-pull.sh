# buildah against the registry: pull what docker pushed, build an image on it (a file added, a
# label and a command set, no container run), push it, pull it back after removing everything,
# and docker runs what buildah built.

buildah_pulls_docker_pushed_image() {
  run buildah pull --tls-verify=false "$REG/busybox:latest"
  local digest
  digest=$(buildah inspect --type image --format '{{.FromImageDigest}}' "$REG/busybox:latest")
  expect_eq "$digest" "$(registry_manifest_digest busybox latest)" 'digest buildah pulled'
}

buildah_builds_and_pushes() {
  local container
  echo "built by buildah" >"$E2E_DIR/buildah/hello.txt"
  run buildah from --quiet --tls-verify=false "$REG/busybox:latest"
  container=$(tail -n 1 <<<"$OUT")
  run buildah copy "$container" "$E2E_DIR/buildah/hello.txt" /hello.txt
  run buildah config --label org.example.built-by=buildah --cmd '/bin/cat /hello.txt' "$container"
  run buildah commit "$container" "$REG/buildah/hello:1"
  run buildah push --tls-verify=false --digestfile "$E2E_DIR/buildah/pushed.digest" "$REG/buildah/hello:1"
  expect_eq "$(registry_manifest_digest buildah/hello 1)" "$(cat "$E2E_DIR/buildah/pushed.digest")" 'digest of buildah/hello:1'
}

buildah_pulls_own_push_back() {
  run buildah rm --all
  run buildah rmi --all --force
  expect_eq "$(buildah images --quiet | wc -l)" 0 'images left after rmi --all'
  run buildah pull --tls-verify=false "$REG/buildah/hello:1"
  local digest label
  digest=$(buildah inspect --type image --format '{{.FromImageDigest}}' "$REG/buildah/hello:1")
  expect_eq "$digest" "$(cat "$E2E_DIR/buildah/pushed.digest")" 'digest buildah pulled'
  label=$(buildah inspect --type image --format '{{index .OCIv1.Config.Labels "org.example.built-by"}}' "$REG/buildah/hello:1")
  expect_eq "$label" buildah 'label of the pulled image'
}

docker_runs_buildah_built_image() {
  run docker pull "$REG/buildah/hello:1"
  run docker run --rm --network none "$REG/buildah/hello:1"
  expect_eq "$OUT" "built by buildah" 'container output'
}

check "buildah pull --tls-verify=false of the image docker pushed" buildah_pulls_docker_pushed_image
check "buildah from + copy + config + commit, then buildah push" buildah_builds_and_pushes
check "buildah pull of what buildah pushed, after buildah rmi --all" buildah_pulls_own_push_back
check "docker runs the image buildah built" docker_runs_buildah_built_image
