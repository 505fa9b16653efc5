# The real clients, each bounded by a timeout and kept off the machine's own state (sourced by
# suite.sh): docker talks to the script's dockerd (DOCKER_HOST, DOCKER_CONFIG set by
# start_dockerd), skopeo uses an accept-anything signature policy of ours, podman keeps its
# storage, run state and temporary files under $E2E_DIR, and so does buildah; ctr talks to the
# script's containerd. curl answers come from `registry_*`.
#   E2E_DOCKER=PATH   docker client to use (default: Debian's /usr/bin/docker)

CLIENT_TIMEOUT=${E2E_CLIENT_TIMEOUT:-180}
DOCKER_BIN=${E2E_DOCKER:-/usr/bin/docker}
[[ -x "$DOCKER_BIN" ]] || DOCKER_BIN=$(type -P docker || echo docker)
MANIFEST_TYPES='application/vnd.oci.image.index.v1+json,application/vnd.oci.image.manifest.v1+json,application/vnd.docker.distribution.manifest.list.v2+json,application/vnd.docker.distribution.manifest.v2+json'

docker() {
  timeout "$CLIENT_TIMEOUT" "$DOCKER_BIN" "$@"
}

skopeo() {
  timeout "$CLIENT_TIMEOUT" /usr/bin/skopeo --policy "$E2E_DIR/policy.json" "$@"
}

podman() {
  timeout "$CLIENT_TIMEOUT" /usr/bin/podman \
    --root "$E2E_DIR/podman/root" --runroot "$E2E_DIR/podman/run" --tmpdir "$E2E_DIR/podman/tmp" \
    --storage-driver vfs --cgroup-manager cgroupfs --events-backend none "$@"
}

buildah() {
  timeout "$CLIENT_TIMEOUT" /usr/bin/buildah \
    --root "$E2E_DIR/buildah/root" --runroot "$E2E_DIR/buildah/run" --storage-driver vfs "$@"
}

# ctr against the suite's own containerd (start_containerd in services.sh).
ctr() {
  timeout "$CLIENT_TIMEOUT" /usr/bin/ctr --address "$E2E_DIR/containerd/sock" "$@"
}

prepare_clients() {
  mkdir -p "$E2E_DIR/podman/root" "$E2E_DIR/podman/run" "$E2E_DIR/podman/tmp" "$E2E_DIR/buildah/root" "$E2E_DIR/buildah/run" "$E2E_DIR/tmp"
  echo '{"default":[{"type":"insecureAcceptAnything"}]}' >"$E2E_DIR/policy.json"
  echo '{}' >"$E2E_DIR/auth.json"
  # skopeo and podman: no credentials from the machine, big temporary files under $E2E_DIR.
  export REGISTRY_AUTH_FILE="$E2E_DIR/auth.json" TMPDIR="$E2E_DIR/tmp"
}

# The Docker-Content-Digest the registry answers for HEAD of a manifest (by tag or digest).
registry_manifest_digest() {
  local name=$1 reference=$2
  curl -sS --max-time 30 -I -H "Accept: $MANIFEST_TYPES" "http://$REG/v2/$name/manifests/$reference" \
    | tr -d '\r' | awk -F': ' 'tolower($1) == "docker-content-digest" { print $2 }'
}

# The HTTP status of a request to a registry path.
registry_status() {
  local method=$1 path=$2 how=(-X "$1")
  [[ "$method" == HEAD ]] && how=(-I)
  curl -sS --max-time 30 -o /dev/null -w '%{http_code}' "${how[@]}" -H "Accept: $MANIFEST_TYPES" "http://$REG$path"
}

# Number of blob data files in the registry's content store.
count_blob_files() {
  find "$BLOBS_DIR" -type f -name data | wc -l
}
