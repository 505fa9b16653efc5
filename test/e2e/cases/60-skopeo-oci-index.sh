# A two-platform OCI image index pushed by skopeo comes back byte for byte: the index, each
# manifest, config and layer, and `skopeo inspect --raw` gives the exact index bytes. Docker
# pulls the index and runs this machine's platform.

OCI_SOURCE="$E2E_DIR/oci-source"
OCI_COPY="$E2E_DIR/oci-copy"

# The digest of the index the layout's tag "1" points at.
layout_index_digest() {
  jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "1") | .digest' "$1/index.json"
}

skopeo_pushes_oci_index() {
  make_oci_index_layout "$OCI_SOURCE" 1
  run skopeo copy --all --preserve-digests --dest-tls-verify=false "oci:$OCI_SOURCE:1" "docker://$REG/multi:1"
  expect_eq "$(registry_manifest_digest multi 1)" "$(layout_index_digest "$OCI_SOURCE")" 'digest of multi:1'
}

skopeo_reads_oci_index_back() {
  run skopeo copy --all --preserve-digests --src-tls-verify=false "docker://$REG/multi:1" "oci:$OCI_COPY:1"
  expect_eq "$(layout_index_digest "$OCI_COPY")" "$(layout_index_digest "$OCI_SOURCE")" 'index digest read back'
  local source_blobs copy_blobs hex
  source_blobs=$(ls "$OCI_SOURCE/blobs/sha256")
  copy_blobs=$(ls "$OCI_COPY/blobs/sha256")
  expect_eq "$copy_blobs" "$source_blobs" 'blobs read back (index, manifests, configs, layers)'
  for hex in $copy_blobs; do
    cmp "$OCI_SOURCE/blobs/sha256/$hex" "$OCI_COPY/blobs/sha256/$hex"
    expect_eq "$(sha256sum <"$OCI_COPY/blobs/sha256/$hex" | cut -d' ' -f1)" "$hex" "digest of blob $hex"
  done
}

skopeo_inspect_raw_gives_index_bytes() {
  local digest
  digest=$(layout_index_digest "$OCI_SOURCE")
  skopeo inspect --raw --tls-verify=false "docker://$REG/multi:1" >"$E2E_DIR/multi.raw"
  cmp "$E2E_DIR/multi.raw" "$OCI_SOURCE/blobs/sha256/${digest#sha256:}"
  local content_type
  content_type=$(curl -sS --max-time 10 -o /dev/null -w '%{content_type}' -H "Accept: $MANIFEST_TYPES" "http://$REG/v2/multi/manifests/1")
  expect_eq "$content_type" 'application/vnd.oci.image.index.v1+json' 'Content-Type of multi:1'
}

docker_runs_native_platform_of_index() {
  run docker pull "$REG/multi:1"
  run docker run --rm --network none "$REG/multi:1" /bin/cat /etc/platform
  expect_eq "$OUT" "linux/$(dpkg --print-architecture)" 'platform file of the image docker chose'
}

check "skopeo copy --all of a two-platform OCI index to 127.0.0.1:PORT/multi:1" skopeo_pushes_oci_index
check "skopeo copy --all reads the index back byte for byte (every manifest and blob)" skopeo_reads_oci_index_back
check "skopeo inspect --raw returns the exact index bytes" skopeo_inspect_raw_gives_index_bytes
check "docker pulls the index and runs this machine's platform" docker_runs_native_platform_of_index
