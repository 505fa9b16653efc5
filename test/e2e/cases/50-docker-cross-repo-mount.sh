# A push to a second repository mounts the layer from the first (end-11) and the content store
# keeps one copy of each blob.

docker_push_mounts_layers() {
  local layer before after
  layer=$(curl -sS --max-time 10 -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
    "http://$REG/v2/busybox/manifests/latest" | jq -r '.layers[0].digest')
  expect_match "$layer" '^sha256:[0-9a-f]{64}$' 'layer digest'
  before=$(count_blob_files)
  run docker tag "$REG/busybox:latest" "$REG/mirror/busybox:latest"
  run docker push "$REG/mirror/busybox:latest"
  [[ "$OUT" == *'Mounted from busybox'* || "$OUT" == *'Layer already exists'* ]] \
    || fail 'push output says neither "Mounted from busybox" nor "Layer already exists"'
  after=$(count_blob_files)
  expect_eq "$after" "$before" 'blob data files after the second push'
  local copies
  copies=$(find "$BLOBS_DIR" -type f -path "*/${layer#sha256:}/data" | wc -l)
  expect_eq "$copies" 1 "copies of layer $layer"
  expect_eq "$(registry_manifest_digest mirror/busybox latest)" "$(registry_manifest_digest busybox latest)" 'digest of mirror/busybox:latest'
  expect_eq "$(registry_status HEAD "/v2/mirror/busybox/blobs/$layer")" 200 'HEAD of the mounted layer'
}

check "docker push to a second repository mounts the layer; one copy in blobs/" docker_push_mounts_layers
