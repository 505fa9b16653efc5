#!/usr/bin/env bash
# End-to-end checks of the pull-through proxy with real parts: Debian's docker-registry
# (CNCF Distribution 2.8.2) as the upstream, once anonymous and once behind its auth.token with a
# token issuer of ours (proxy-token-issuer.mjs) whose certificate it trusts; stowage in front of
# it in Distribution's form (the whole registry a cache, used as dockerd's registry-mirrors) and
# in the namespaced form (stowage.proxies); skopeo copy, docker pull and containerd's ctr (with the
# README's hosts.toml, so requests carry ?ns=docker.io) through stowage; then the upstream
# stopped, and the same pulls must still succeed from the cache.
# Ends with one line `e2e-proxy: N passed, M failed`; exits non-zero when anything failed.
# Everything it starts listens on 127.0.0.1, and is stopped and removed on exit.
#   E2E_KEEP=1   keep the temporary directory (logs, data) for inspection
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/suite.sh"

# --- the test image: busybox in one layer, as an OCI layout ---------------------------------
# $E2E_DIR/image, tag v1; sets MANIFEST_DIGEST and LAYER_DIGEST.
make_image() {
  local layout=$E2E_DIR/image rootfs=$E2E_DIR/rootfs descriptor
  make_busybox_rootfs "$rootfs"
  echo "pulled through stowage" >"$rootfs/hello"
  descriptor=$(oci_add_image "$layout" "$rootfs" linux "$(dpkg --print-architecture)")
  oci_tag "$layout" v1 "$descriptor"
  MANIFEST_DIGEST=$(jq -r .digest <<<"$descriptor")
  LAYER_DIGEST=$(jq -r '.layers[0].digest' "$layout/blobs/sha256/${MANIFEST_DIGEST#sha256:}")
}

# The token issuer for the auth.token upstream on $ISSUER, with a certificate made for it.
start_token_issuer() {
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$E2E_DIR/issuer-key.pem" -out "$E2E_DIR/issuer-cert.pem" \
    -days 2 -subj /CN=e2e-issuer || return 1
  launch issuer 10 node "$HERE/proxy-token-issuer.mjs" "${ISSUER#*:}" "$E2E_DIR/issuer-key.pem" "$E2E_DIR/issuer-cert.pem" \
    e2e-issuer e2e-registry robot s3cret
  wait_for 20 curl -sf "http://$ISSUER/issued"
}

# --- checks' helpers ------------------------------------------------------------------------
# Copies REF out with skopeo and checks the manifest digest is the one pushed upstream.
pull_with_skopeo() { # REF [extra skopeo flags]
  local ref=$1 out
  shift
  out=$(mktemp -d "$E2E_DIR/pulled.XXXX")
  skopeo copy --src-tls-verify=false "$@" "docker://$ref" "oci:$out:x"
  local got
  got=$(jq -r '.manifests[0].digest' "$out/index.json")
  echo "manifest digest: $got (pushed: $MANIFEST_DIGEST)"
  [[ "$got" == "$MANIFEST_DIGEST" ]]
}

# ctr image pull docker.io/library/NAME:TAG, in containerd namespace NS, with the README's
# hosts.toml pointing docker.io at ADDR: containerd sends ?ns=docker.io, which stowage routes to
# the upstream whose hosts name it. A namespace of its own fetches everything again.
ctr_pull_through() { # ADDR NAME:TAG NS
  local hosts="$E2E_DIR/certs.d" got
  mkdir -p "$hosts/docker.io"
  printf 'server = "https://registry-1.docker.io"\n\n[host."http://%s"]\n  capabilities = ["pull", "resolve"]\n' "$1" >"$hosts/docker.io/hosts.toml"
  ctr -n "$3" image pull --hosts-dir "$hosts" "docker.io/library/$2" || return 1
  got=$(ctr -n "$3" image ls | awk -v ref="docker.io/library/$2" '$1 == ref { print $3 }')
  echo "containerd holds docker.io/library/$2 at $got (pushed: $MANIFEST_DIGEST)"
  [[ "$got" == "$MANIFEST_DIGEST" ]]
}

# HEAD of a manifest with ?ns=docker.io answers OCI-Namespace: docker.io and Via.
ns_headers() { # ADDR NAME:TAG
  local headers
  headers=$(curl -sfI -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$1/v2/library/${2%%:*}/manifests/${2#*:}?ns=docker.io" | tr -d '\r')
  echo "$headers"
  grep -qi '^oci-namespace: docker.io$' <<<"$headers" && grep -qi '^via: 1.1 stowage$' <<<"$headers"
}

docker_pull() { # REF
  docker pull "$1" && docker image inspect --format '{{.Id}} {{.RepoDigests}}' "$1"
}

docker_pull_fresh() { # REF: drops every local image first, so the pull fetches everything again
  docker image rm -f $(docker image ls -q | sort -u) >/dev/null 2>&1 || true
  docker_pull "$1"
}

catalog_has() { # ADDR NAME
  curl -sf "http://$1/v2/_catalog" | tee /dev/stderr | jq -e --arg n "$2" '.repositories | index($n) != null'
}

push_is_refused() { # REF
  if skopeo copy --dest-tls-verify=false "oci:$E2E_DIR/image:v1" "docker://$1"; then
    echo "push succeeded but should have been refused"
    return 1
  fi
}

tags_are() { # REF "TAG TAG..." : skopeo list-tags through stowage answers exactly these tags
  local got
  got=$(skopeo list-tags --tls-verify=false "docker://$1" | jq -r '.Tags | join(" ")')
  echo "tags: $got (expected: $2)"
  [[ "$got" == "$2" ]]
}

log_has() { # FILE TEXT
  grep -F "$2" "$1"
}

upstream_blob_gets() {
  grep -c "\"GET /v2/library/e2e-proxy/blobs/$LAYER_DIGEST" "$E2E_DIR/logs/upstream.log" || true
}

# 16 clients GET the uncached layer at once; all must get the right bytes from one upstream GET.
concurrent_cold_pulls() { # ADDR NAME
  local url="http://$1/v2/$2/blobs/$LAYER_DIGEST" i before after
  before=$(upstream_blob_gets)
  local pids=()
  for i in $(seq 1 16); do
    curl -sf -o "$E2E_DIR/cold.$i" "$url" &
    pids+=($!)
  done
  wait "${pids[@]}"
  for i in $(seq 1 16); do
    [[ "sha256:$(sha256sum "$E2E_DIR/cold.$i" | cut -d' ' -f1)" == "$LAYER_DIGEST" ]] || { echo "client $i got other bytes"; return 1; }
  done
  sleep 0.5
  after=$(upstream_blob_gets)
  echo "upstream blob GETs: $((after - before))"
  [[ $((after - before)) -eq 1 ]]
}

# --- run ------------------------------------------------------------------------------------
begin_suite e2e-proxy
need_tools docker-registry skopeo dockerd containerd ctr curl jq node openssl /bin/busybox
build_stowage
prepare_clients

# --- anonymous upstream ---------------------------------------------------------------------
setup "make a busybox image (OCI layout)" make_image
UP=127.0.0.1:$(free_port)
setup "docker-registry (anonymous upstream) on $UP" \
  start_distribution upstream "${UP#*:}" "$(filesystem_storage "$E2E_DIR/upstream-data")"
setup "push the image to the upstream with skopeo" skopeo copy --dest-tls-verify=false "oci:$E2E_DIR/image:v1" "docker://$UP/library/e2e-proxy:v1"
setup "tag it v2 on the upstream too" skopeo copy --dest-tls-verify=false "oci:$E2E_DIR/image:v1" "docker://$UP/library/e2e-proxy:v2"

MIRROR=127.0.0.1:$(free_port)
NS=127.0.0.1:$(free_port)
setup "stowage in Distribution's form (proxy.remoteurl) on $MIRROR" \
  start_stowage mirror "${MIRROR#*:}" "$(filesystem_storage "$E2E_DIR/mirror-data")" \
  "proxy: { remoteurl: \"http://$UP\", ttl: 1s }"
setup "stowage with a namespaced upstream (stowage.proxies, prefix up/) on $NS" \
  start_stowage namespaced "${NS#*:}" "$(filesystem_storage "$E2E_DIR/namespaced-data")" \
  "stowage: { proxies: [ { prefix: up, remoteurl: \"http://$UP\", ttl: 1s, hosts: [ upstream.example, docker.io ] } ] }"
setup "containerd of our own, for ctr" start_containerd
setup "dockerd with registry-mirrors = http://$MIRROR" \
  start_dockerd "$(jq -n --arg m "http://$MIRROR" '{"registry-mirrors": [$m]}')" --storage-driver=vfs --bridge=none

echo "-- upstream up"
check "skopeo list-tags through stowage lists upstream's tags before any pull" tags_are "$NS/up/library/e2e-proxy" "v1 v2"
check "16 concurrent cold pulls of a layer: all get its bytes, upstream sees one GET" concurrent_cold_pulls "$NS" up/library/e2e-proxy
check "docker pull e2e-proxy:v1 goes through the registry mirror (Docker Hub is unreachable here)" docker_pull e2e-proxy:v1
check "the mirror cached library/e2e-proxy (shows in _catalog)" catalog_has "$MIRROR" library/e2e-proxy
check "skopeo copy through Distribution's form keeps the manifest digest" pull_with_skopeo "$MIRROR/library/e2e-proxy:v1"
check "skopeo copy through the namespaced form (up/library/e2e-proxy)" pull_with_skopeo "$NS/up/library/e2e-proxy:v1"
check "docker pull through the namespaced form" docker_pull_fresh "$NS/up/library/e2e-proxy:v1"
check "containerd-style ?ns=upstream.example routes to that upstream" \
  bash -c "curl -sf -o /dev/null -H 'Accept: application/vnd.oci.image.manifest.v1+json' 'http://$NS/v2/library/e2e-proxy/manifests/v1?ns=upstream.example'"
check "ctr image pull --hosts-dir (the README's hosts.toml) pulls docker.io/library/e2e-proxy through stowage" ctr_pull_through "$NS" e2e-proxy:v1 e2e
check "containerd's ?ns=docker.io is answered with OCI-Namespace and Via" ns_headers "$NS" e2e-proxy:v1
check "the namespaced cache shows in _catalog" catalog_has "$NS" up/library/e2e-proxy
check "a push to a proxied name is refused" push_is_refused "$NS/up/library/e2e-proxy:pushed"
check "a push to a local name beside it works" skopeo copy --dest-tls-verify=false "oci:$E2E_DIR/image:v1" "docker://$NS/local/e2e:v1"

echo "-- upstream stopped"
stop_pid "${STARTED[upstream]}"
sleep 2 # past the 1 s TTL: tags would be revalidated now, and upstream is gone
check "skopeo copy by tag through the namespaced form still works" pull_with_skopeo "$NS/up/library/e2e-proxy:v1"
check "skopeo copy by digest through the namespaced form still works" pull_with_skopeo "$NS/up/library/e2e-proxy@$MANIFEST_DIGEST"
check "skopeo copy through Distribution's form still works" pull_with_skopeo "$MIRROR/library/e2e-proxy:v1"
check "docker pull through the namespaced form still works" docker_pull_fresh "$NS/up/library/e2e-proxy:v1"
check "ctr pulls docker.io/library/e2e-proxy through stowage into a fresh namespace" ctr_pull_through "$NS" e2e-proxy:v1 e2e-offline
check "docker pull e2e-proxy:v1 through the registry mirror still works" docker_pull_fresh e2e-proxy:v1
check "stowage logged that it served the last known tag" log_has "$E2E_DIR/logs/namespaced.log" "proxy serving the last known tag"
check "skopeo list-tags lists the cached tag (v2 was never pulled)" tags_are "$NS/up/library/e2e-proxy" "v1"

# --- upstream behind auth.token -------------------------------------------------------------
echo "-- upstream behind auth.token"
ISSUER=127.0.0.1:$(free_port)
setup "a token issuer with its own certificate answers on $ISSUER" start_token_issuer
AUTHUP=127.0.0.1:$(free_port)
setup "docker-registry with auth.token on $AUTHUP" \
  start_distribution authupstream "${AUTHUP#*:}" "$(filesystem_storage "$E2E_DIR/authupstream-data")" \
  "auth: { token: { realm: \"http://$ISSUER/token\", service: e2e-registry, issuer: e2e-issuer, rootcertbundle: \"$E2E_DIR/issuer-cert.pem\" } }"
check "the upstream refuses anonymous pulls" \
  bash -c "[ \$(curl -s -o /dev/null -w '%{http_code}' 'http://$AUTHUP/v2/library/e2e-proxy/manifests/v1') = 401 ]"
setup "push to the token-protected upstream with skopeo" \
  skopeo copy --dest-tls-verify=false --dest-creds robot:s3cret "oci:$E2E_DIR/image:v1" "docker://$AUTHUP/library/e2e-proxy:v1"
AUTHED=127.0.0.1:$(free_port)
setup "stowage proxying the token-protected upstream with credentials on $AUTHED" \
  start_stowage authed "${AUTHED#*:}" "$(filesystem_storage "$E2E_DIR/authed-data")" \
  "proxy: { remoteurl: \"http://$AUTHUP\", username: robot, password: s3cret, ttl: 1s }"
NOCREDS=127.0.0.1:$(free_port)
setup "stowage proxying it without credentials on $NOCREDS" \
  start_stowage nocreds "${NOCREDS#*:}" "$(filesystem_storage "$E2E_DIR/nocreds-data")" \
  "proxy: { remoteurl: \"http://$AUTHUP\", ttl: 1s }"
check "skopeo copy through stowage, which runs the Bearer flow upstream" pull_with_skopeo "$AUTHED/library/e2e-proxy:v1"
check "docker pull through stowage from the token-protected upstream" docker_pull_fresh "$AUTHED/library/e2e-proxy:v1"
check "skopeo list-tags through stowage, Bearer flow upstream" tags_are "$AUTHED/library/e2e-proxy" "v1"
check "the issuer issued tokens to stowage" bash -c "[ \$(curl -sf 'http://$ISSUER/issued') -ge 2 ]"
check "without credentials stowage cannot get the image" bash -c "! skopeo --insecure-policy inspect --tls-verify=false 'docker://$NOCREDS/library/e2e-proxy:v1'"
stop_pid "${STARTED[authupstream]}"
stop_pid "${STARTED[issuer]}"
sleep 2
check "with upstream and issuer stopped, skopeo copy still works" pull_with_skopeo "$AUTHED/library/e2e-proxy:v1"
check "with upstream and issuer stopped, docker pull still works" docker_pull_fresh "$AUTHED/library/e2e-proxy:v1"

finish
