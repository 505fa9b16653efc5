#!/usr/bin/env bash
# End-to-end checks of the pull-through proxy with real parts: Debian's docker-registry
# (CNCF Distribution 2.8.2) as the upstream, once anonymous and once behind its auth.token with a
# token issuer of ours (proxy-token-issuer.mjs) whose certificate it trusts; stowage in front of
# it in Distribution's form (the whole registry a cache, used as dockerd's registry-mirrors) and
# in the namespaced form (stowage.proxies); skopeo copy and docker pull through stowage; then the
# upstream stopped, and the same pulls must still succeed from the cache.
# Ends with one line `e2e-proxy: N passed, M failed`; exits non-zero when anything failed.
# Everything it starts listens on 127.0.0.1, and is stopped and removed on exit.
#   E2E_KEEP=1   keep the temporary directory (logs, data) for inspection
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PASSED=0
FAILED=0
PIDS=()
WORK=
DOCKER_BIN=/usr/bin/docker
[[ -x "$DOCKER_BIN" ]] || DOCKER_BIN=$(command -v docker || echo docker)

free_port() {
  node -e "const s = require('node:net').createServer().listen(0, '127.0.0.1', () => { console.log(s.address().port); s.close(); });"
}

wait_for() {
  local seconds=$1 deadline
  shift
  deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

answers() {
  [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://$1/v2/")" =~ ^(200|401)$ ]]
}

stop_pid() {
  local pid=$1 deadline
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$((SECONDS + 15))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  [[ -n "$WORK" && -d "$WORK" ]] || return 0
  local pid proc mountpoint
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${PIDS[$i]}"; done
  PIDS=()
  # What dockerd left behind (its containerd) names our directory on its command line.
  for proc in /proc/[0-9]*; do
    pid=${proc#/proc/}
    [[ "$pid" != "$$" ]] && tr '\0' ' ' 2>/dev/null <"$proc/cmdline" | grep -qF "$WORK" && kill -KILL "$pid" 2>/dev/null
  done
  awk -v dir="$WORK" 'index($2, dir) == 1 { print $2 }' /proc/mounts | sort -r | while read -r mountpoint; do
    umount -l "$mountpoint" 2>/dev/null || true
  done
  if [[ "${E2E_KEEP:-}" == 1 ]]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
  WORK=
}

finish() {
  cleanup
  echo "e2e-proxy: $PASSED passed, $FAILED failed"
  ((FAILED == 0))
  exit
}
trap cleanup EXIT
trap 'echo "interrupted" >&2; exit 130' INT TERM

# check NAME COMMAND...: runs one check, its output kept in a log shown on failure.
check() {
  local name=$1 log
  shift
  log="$WORK/logs/check-$((PASSED + FAILED + 1)).log"
  if "$@" >"$log" 2>&1; then
    echo "ok   $name"
    PASSED=$((PASSED + 1))
  else
    echo "FAIL $name"
    sed 's/^/     | /' "$log" | tail -n 25
    FAILED=$((FAILED + 1))
  fi
}

# A setup step that must work for the checks after it to mean anything.
setup() {
  local name=$1
  shift
  if ! "$@" >"$WORK/logs/setup.log" 2>&1; then
    echo "FAIL setup: $name"
    sed 's/^/     | /' "$WORK/logs/setup.log" | tail -n 25
    FAILED=$((FAILED + 1))
    finish
  fi
}

skopeo_() { skopeo --insecure-policy "$@"; }

# --- tools, build ---------------------------------------------------------------------------
missing=()
for tool in docker-registry skopeo dockerd curl jq node openssl /bin/busybox; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if ((${#missing[@]} > 0)) && ((EUID == 0)); then bash "$ROOT/scripts/install-e2e-deps.sh" || true; fi

WORK=$(mktemp -d /tmp/stowage-e2e-proxy.XXXXXX)
mkdir -p "$WORK/logs"

cli="$ROOT/dist/server/cli.js"
if [[ ! -f "$cli" ]] || [[ -n "$(find "$ROOT/server" "$ROOT/storage" "$ROOT/tsconfig.json" -newer "$cli" -name '*.ts' -print -quit 2>/dev/null)" ]]; then
  setup "npm run build" bash -c "cd '$ROOT' && npm run build"
fi

# Registries read REGISTRY_* variables as configuration; run them without any.
clean_env=()
for variable in $(compgen -e | grep '^REGISTRY_'); do clean_env+=(-u "$variable"); done

start_distribution() { # NAME PORT [extra YAML appended to the config]
  local name=$1 port=$2 extra=${3:-}
  mkdir -p "$WORK/$name"
  printf 'version: 0.1\nlog: { level: info }\nhttp: { addr: "127.0.0.1:%s" }\nstorage: { filesystem: { rootdirectory: "%s" } }\n%s\n' \
    "$port" "$WORK/$name/data" "$extra" >"$WORK/$name/config.yml"
  env "${clean_env[@]}" docker-registry serve "$WORK/$name/config.yml" >"$WORK/logs/$name.log" 2>&1 &
  PIDS+=($!)
  eval "PID_$name=$!"
  wait_for 20 answers "127.0.0.1:$port"
}

start_stowage() { # NAME PORT YAML-FRAGMENT
  local name=$1 port=$2 fragment=$3
  mkdir -p "$WORK/$name"
  printf 'http: { addr: "127.0.0.1:%s" }\nstorage: { filesystem: { rootdirectory: "%s" } }\nlog: { level: info }\n%s\n' \
    "$port" "$WORK/$name/data" "$fragment" >"$WORK/$name/config.yml"
  env "${clean_env[@]}" node "$cli" serve --config "$WORK/$name/config.yml" >"$WORK/logs/$name.log" 2>&1 &
  PIDS+=($!)
  wait_for 20 answers "127.0.0.1:$port"
}

docker_answers() { timeout 5 "$DOCKER_BIN" version; }

start_dockerd() { # MIRROR-URL
  local dir="$WORK/docker"
  mkdir -p "$dir/root" "$dir/exec" "$dir/config"
  jq -n --arg m "$1" '{"registry-mirrors": [$m]}' >"$dir/daemon.json"
  export DOCKER_HOST="unix://$dir/sock" DOCKER_CONFIG="$dir/config"
  dockerd --config-file "$dir/daemon.json" --storage-driver=vfs --data-root "$dir/root" --exec-root "$dir/exec" \
    --pidfile "$dir/pid" -H "$DOCKER_HOST" --bridge=none --iptables=false --ip6tables=false \
    >"$WORK/logs/dockerd.log" 2>&1 &
  PIDS+=($!)
  wait_for 60 docker_answers
}

# --- the test image: busybox in one layer, as an OCI layout ---------------------------------
make_image() {
  local layout=$WORK/image rootfs=$WORK/rootfs hex
  mkdir -p "$rootfs/bin" "$layout/blobs/sha256"
  cp /bin/busybox "$rootfs/bin/busybox"
  ln -s busybox "$rootfs/bin/sh"
  echo "pulled through stowage" >"$rootfs/hello"
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$rootfs" -cf "$WORK/layer.tar" .
  gzip -n -c "$WORK/layer.tar" >"$WORK/layer.tar.gz"
  local diff="sha256:$(sha256sum "$WORK/layer.tar" | cut -d' ' -f1)"
  local layer="sha256:$(sha256sum "$WORK/layer.tar.gz" | cut -d' ' -f1)" layer_size
  layer_size=$(stat -c %s "$WORK/layer.tar.gz")
  LAYER_DIGEST=$layer
  cp "$WORK/layer.tar.gz" "$layout/blobs/sha256/${layer#sha256:}"
  jq -cn --arg diff "$diff" --arg arch "$(dpkg --print-architecture)" \
    '{architecture: $arch, os: "linux", config: {Cmd: ["/bin/sh"]}, rootfs: {type: "layers", diff_ids: [$diff]}}' | tr -d '\n' >"$WORK/config.json"
  local config="sha256:$(sha256sum "$WORK/config.json" | cut -d' ' -f1)" config_size
  config_size=$(stat -c %s "$WORK/config.json")
  cp "$WORK/config.json" "$layout/blobs/sha256/${config#sha256:}"
  jq -n --arg c "$config" --argjson cs "$config_size" --arg l "$layer" --argjson ls "$layer_size" \
    '{schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $c, size: $cs},
      layers: [{mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: $l, size: $ls}]}' >"$WORK/manifest.json"
  MANIFEST_DIGEST="sha256:$(sha256sum "$WORK/manifest.json" | cut -d' ' -f1)"
  cp "$WORK/manifest.json" "$layout/blobs/sha256/${MANIFEST_DIGEST#sha256:}"
  jq -n --arg d "$MANIFEST_DIGEST" --argjson s "$(stat -c %s "$WORK/manifest.json")" \
    '{schemaVersion: 2, manifests: [{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $d, size: $s,
      annotations: {"org.opencontainers.image.ref.name": "v1"}}]}' >"$layout/index.json"
  echo '{"imageLayoutVersion":"1.0.0"}' >"$layout/oci-layout"
}

# --- checks' helpers ------------------------------------------------------------------------
# Copies REF out with skopeo and checks the manifest digest is the one pushed upstream.
pull_with_skopeo() { # REF [extra skopeo flags]
  local ref=$1 out
  shift
  out=$(mktemp -d "$WORK/pulled.XXXX")
  skopeo_ copy --src-tls-verify=false "$@" "docker://$ref" "oci:$out:x"
  local got
  got=$(jq -r '.manifests[0].digest' "$out/index.json")
  echo "manifest digest: $got (pushed: $MANIFEST_DIGEST)"
  [[ "$got" == "$MANIFEST_DIGEST" ]]
}

docker_pull() { # REF
  "$DOCKER_BIN" pull "$1" && "$DOCKER_BIN" image inspect --format '{{.Id}} {{.RepoDigests}}' "$1"
}

docker_pull_fresh() { # REF: drops every local image first, so the pull fetches everything again
  "$DOCKER_BIN" image rm -f $("$DOCKER_BIN" image ls -q | sort -u) >/dev/null 2>&1 || true
  docker_pull "$1"
}

catalog_has() { # ADDR NAME
  curl -sf "http://$1/v2/_catalog" | tee /dev/stderr | jq -e --arg n "$2" '.repositories | index($n) != null'
}

push_is_refused() { # REF
  if skopeo_ copy --dest-tls-verify=false "oci:$WORK/image:v1" "docker://$1"; then
    echo "push succeeded but should have been refused"
    return 1
  fi
}

log_has() { # FILE TEXT
  grep -F "$2" "$1"
}

# 16 clients GET the uncached layer at once; all must get the right bytes from one upstream GET.
concurrent_cold_pulls() { # ADDR NAME
  local url="http://$1/v2/$2/blobs/$LAYER_DIGEST" i before after
  before=$(grep -c "\"GET /v2/library/e2e-proxy/blobs/$LAYER_DIGEST" "$WORK/logs/upstream.log")
  local pids=()
  for i in $(seq 1 16); do
    curl -sf -o "$WORK/cold.$i" "$url" &
    pids+=($!)
  done
  wait "${pids[@]}"
  for i in $(seq 1 16); do
    [[ "sha256:$(sha256sum "$WORK/cold.$i" | cut -d' ' -f1)" == "$LAYER_DIGEST" ]] || { echo "client $i got other bytes"; return 1; }
  done
  sleep 0.5
  after=$(grep -c "\"GET /v2/library/e2e-proxy/blobs/$LAYER_DIGEST" "$WORK/logs/upstream.log")
  echo "upstream blob GETs: $((after - before))"
  [[ $((after - before)) -eq 1 ]]
}

# --- anonymous upstream ---------------------------------------------------------------------
setup "make a busybox image (OCI layout)" make_image
UP=127.0.0.1:$(free_port)
setup "docker-registry (anonymous upstream) on $UP" start_distribution upstream "${UP#*:}"
setup "push the image to the upstream with skopeo" skopeo_ copy --dest-tls-verify=false "oci:$WORK/image:v1" "docker://$UP/library/e2e-proxy:v1"

MIRROR=127.0.0.1:$(free_port)
NS=127.0.0.1:$(free_port)
setup "stowage in Distribution's form (proxy.remoteurl) on $MIRROR" \
  start_stowage mirror "${MIRROR#*:}" "proxy: { remoteurl: \"http://$UP\", ttl: 1s }"
setup "stowage with a namespaced upstream (stowage.proxies, prefix up/) on $NS" \
  start_stowage namespaced "${NS#*:}" "stowage: { proxies: [ { prefix: up, remoteurl: \"http://$UP\", ttl: 1s, hosts: [ upstream.example ] } ] }"
setup "dockerd with registry-mirrors = http://$MIRROR" start_dockerd "http://$MIRROR"

echo "-- upstream up"
check "16 concurrent cold pulls of a layer: all get its bytes, upstream sees one GET" concurrent_cold_pulls "$NS" up/library/e2e-proxy
check "docker pull e2e-proxy:v1 goes through the registry mirror (Docker Hub is unreachable here)" docker_pull e2e-proxy:v1
check "the mirror cached library/e2e-proxy (shows in _catalog)" catalog_has "$MIRROR" library/e2e-proxy
check "skopeo copy through Distribution's form keeps the manifest digest" pull_with_skopeo "$MIRROR/library/e2e-proxy:v1"
check "skopeo copy through the namespaced form (up/library/e2e-proxy)" pull_with_skopeo "$NS/up/library/e2e-proxy:v1"
check "docker pull through the namespaced form" docker_pull_fresh "$NS/up/library/e2e-proxy:v1"
check "containerd-style ?ns=upstream.example routes to that upstream" \
  bash -c "curl -sf -o /dev/null -H 'Accept: application/vnd.oci.image.manifest.v1+json' 'http://$NS/v2/library/e2e-proxy/manifests/v1?ns=upstream.example'"
check "the namespaced cache shows in _catalog" catalog_has "$NS" up/library/e2e-proxy
check "a push to a proxied name is refused" push_is_refused "$NS/up/library/e2e-proxy:pushed"
check "a push to a local name beside it works" skopeo_ copy --dest-tls-verify=false "oci:$WORK/image:v1" "docker://$NS/local/e2e:v1"

echo "-- upstream stopped"
stop_pid "$PID_upstream"
sleep 2 # past the 1 s TTL: tags would be revalidated now, and upstream is gone
check "skopeo copy by tag through the namespaced form still works" pull_with_skopeo "$NS/up/library/e2e-proxy:v1"
check "skopeo copy by digest through the namespaced form still works" pull_with_skopeo "$NS/up/library/e2e-proxy@$MANIFEST_DIGEST"
check "skopeo copy through Distribution's form still works" pull_with_skopeo "$MIRROR/library/e2e-proxy:v1"
check "docker pull through the namespaced form still works" docker_pull_fresh "$NS/up/library/e2e-proxy:v1"
check "docker pull e2e-proxy:v1 through the registry mirror still works" docker_pull_fresh e2e-proxy:v1
check "stowage logged that it served the last known tag" log_has "$WORK/logs/namespaced.log" "proxy serving the last known tag"

# --- upstream behind auth.token -------------------------------------------------------------
echo "-- upstream behind auth.token"
ISSUER=127.0.0.1:$(free_port)
setup "a certificate for the token issuer" \
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/issuer-key.pem" -out "$WORK/issuer-cert.pem" -days 2 -subj /CN=e2e-issuer
node "$HERE/proxy-token-issuer.mjs" "${ISSUER#*:}" "$WORK/issuer-key.pem" "$WORK/issuer-cert.pem" e2e-issuer e2e-registry robot s3cret \
  >"$WORK/logs/issuer.log" 2>&1 &
PIDS+=($!)
PID_issuer=$!
setup "the token issuer answers on $ISSUER" wait_for 20 curl -sf "http://$ISSUER/issued"
AUTHUP=127.0.0.1:$(free_port)
setup "docker-registry with auth.token on $AUTHUP" start_distribution authupstream "${AUTHUP#*:}" \
  "auth: { token: { realm: \"http://$ISSUER/token\", service: e2e-registry, issuer: e2e-issuer, rootcertbundle: \"$WORK/issuer-cert.pem\" } }"
check "the upstream refuses anonymous pulls" \
  bash -c "[ \$(curl -s -o /dev/null -w '%{http_code}' 'http://$AUTHUP/v2/library/e2e-proxy/manifests/v1') = 401 ]"
setup "push to the token-protected upstream with skopeo" \
  skopeo_ copy --dest-tls-verify=false --dest-creds robot:s3cret "oci:$WORK/image:v1" "docker://$AUTHUP/library/e2e-proxy:v1"
AUTHED=127.0.0.1:$(free_port)
setup "stowage proxying the token-protected upstream with credentials on $AUTHED" start_stowage authed "${AUTHED#*:}" \
  "proxy: { remoteurl: \"http://$AUTHUP\", username: robot, password: s3cret, ttl: 1s }"
NOCREDS=127.0.0.1:$(free_port)
setup "stowage proxying it without credentials on $NOCREDS" start_stowage nocreds "${NOCREDS#*:}" \
  "proxy: { remoteurl: \"http://$AUTHUP\", ttl: 1s }"
check "skopeo copy through stowage, which runs the Bearer flow upstream" pull_with_skopeo "$AUTHED/library/e2e-proxy:v1"
check "docker pull through stowage from the token-protected upstream" docker_pull_fresh "$AUTHED/library/e2e-proxy:v1"
check "the issuer issued tokens to stowage" bash -c "[ \$(curl -sf 'http://$ISSUER/issued') -ge 2 ]"
check "without credentials stowage cannot get the image" bash -c "! skopeo --insecure-policy inspect --tls-verify=false 'docker://$NOCREDS/library/e2e-proxy:v1'"
stop_pid "$PID_authupstream"
stop_pid "$PID_issuer"
sleep 2
check "with upstream and issuer stopped, skopeo copy still works" pull_with_skopeo "$AUTHED/library/e2e-proxy:v1"
check "with upstream and issuer stopped, docker pull still works" docker_pull_fresh "$AUTHED/library/e2e-proxy:v1"

finish
