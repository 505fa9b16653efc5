# Test images made offline from files on this machine (sourced by suite.sh): a busybox root
# filesystem from Debian's busybox-static, and a two-platform OCI image layout written by hand.
# Tarballs are made reproducibly (sorted, fixed owner and mtime, gzip -n), so digests are stable.

reproducible_tar() {
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=posix \
    --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime -C "$1" -cf - .
}

# A root filesystem with /bin/busybox and a symlink for each of its applets (sh, echo, cat ...).
make_busybox_rootfs() {
  local dir=$1 applet
  mkdir -p "$dir/bin" "$dir/etc" "$dir/tmp"
  cp /bin/busybox "$dir/bin/busybox"
  for applet in $(/bin/busybox --list); do
    [[ -e "$dir/bin/$applet" ]] || ln -s busybox "$dir/bin/$applet"
  done
}

# Prints "<digest> <size>" of a file after storing it under the layout's blobs/sha256/.
oci_add_blob() {
  local layout=$1 file=$2 hex
  hex=$(sha256sum "$file" | cut -d' ' -f1)
  mkdir -p "$layout/blobs/sha256"
  cp "$file" "$layout/blobs/sha256/$hex"
  echo "sha256:$hex $(stat -c %s "$file")"
}

# Writes one single-layer OCI image for os/arch from a root filesystem dir; prints the descriptor
# JSON of its manifest with the platform set, for the index.
oci_add_image() {
  local layout=$1 rootfs=$2 os=$3 arch=$4 work
  work=$(mktemp -d "$E2E_DIR/oci-image.XXXX")
  reproducible_tar "$rootfs" >"$work/layer.tar"
  local diff_id
  diff_id="sha256:$(sha256sum "$work/layer.tar" | cut -d' ' -f1)"
  gzip -n -c "$work/layer.tar" >"$work/layer.tar.gz"
  local layer_digest layer_size
  read -r layer_digest layer_size < <(oci_add_blob "$layout" "$work/layer.tar.gz")
  jq -cn --arg os "$os" --arg arch "$arch" --arg diff "$diff_id" \
    '{architecture: $arch, os: $os, config: {Cmd: ["/bin/sh"]}, rootfs: {type: "layers", diff_ids: [$diff]}}' \
    | tr -d '\n' >"$work/config.json"
  local config_digest config_size
  read -r config_digest config_size < <(oci_add_blob "$layout" "$work/config.json")
  jq -cn --arg cd "$config_digest" --argjson cs "$config_size" --arg ld "$layer_digest" --argjson ls "$layer_size" \
    '{schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $cd, size: $cs},
      layers: [{mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: $ld, size: $ls}]}' \
    | tr -d '\n' >"$work/manifest.json"
  local manifest_digest manifest_size
  read -r manifest_digest manifest_size < <(oci_add_blob "$layout" "$work/manifest.json")
  jq -cn --arg d "$manifest_digest" --argjson s "$manifest_size" --arg os "$os" --arg arch "$arch" \
    '{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $d, size: $s, platform: {architecture: $arch, os: $os}}'
  rm -rf "$work"
}

# An OCI layout whose tag points at an image index of two platforms: this machine's (busybox
# plus /etc/platform, so it runs) and a foreign one (only /etc/platform). The index is written
# pretty-printed with a trailing newline, so a registry that re-serialises it changes its digest.
make_oci_index_layout() {
  local layout=$1 tag=$2 native_arch foreign_arch
  native_arch=$(dpkg --print-architecture)
  if [[ "$native_arch" == amd64 ]]; then foreign_arch=arm64; else foreign_arch=amd64; fi
  mkdir -p "$layout"
  local native_root="$E2E_DIR/rootfs-native" foreign_root="$E2E_DIR/rootfs-foreign"
  make_busybox_rootfs "$native_root"
  echo "linux/$native_arch" >"$native_root/etc/platform"
  mkdir -p "$foreign_root/etc"
  echo "linux/$foreign_arch" >"$foreign_root/etc/platform"
  local native foreign
  native=$(oci_add_image "$layout" "$native_root" linux "$native_arch")
  foreign=$(oci_add_image "$layout" "$foreign_root" linux "$foreign_arch")
  jq -n --argjson a "$native" --argjson b "$foreign" \
    '{schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests: [$a, $b]}' >"$E2E_DIR/index.json"
  local index_digest index_size
  read -r index_digest index_size < <(oci_add_blob "$layout" "$E2E_DIR/index.json")
  oci_tag "$layout" "$tag" "$(jq -cn --arg d "$index_digest" --argjson s "$index_size" \
    '{mediaType: "application/vnd.oci.image.index.v1+json", digest: $d, size: $s}')"
  rm -rf "$native_root" "$foreign_root" "$E2E_DIR/index.json"
}

# Makes the layout's tag name the descriptor (JSON, as oci_add_image prints it): its index.json
# lists just that, and oci-layout marks the directory as a layout.
oci_tag() {
  local layout=$1 tag=$2 descriptor=$3
  jq -cn --argjson d "$descriptor" --arg tag "$tag" \
    '{schemaVersion: 2, manifests: [$d + {annotations: {"org.opencontainers.image.ref.name": $tag}}]}' >"$layout/index.json"
  echo '{"imageLayoutVersion":"1.0.0"}' >"$layout/oci-layout"
}
