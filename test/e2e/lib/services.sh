# The daemons the suite starts and stops itself (sourced by run.sh): the registry under test
# (stowage from dist/, or Debian's docker-registry as the reference when E2E_REGISTRY=distribution)
# and a private dockerd with its own socket, data, exec root and no bridge or iptables rules, so
# it clashes with no other Docker engine on the machine. Everything lives under $E2E_DIR.

REGISTRY_PID=
DOCKERD_PID=

free_port() {
  node -e "const s = require('node:net').createServer().listen(0, '127.0.0.1', () => { console.log(s.address().port); s.close(); });"
}

wait_for() {
  local seconds=$1
  shift
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

registry_answers() {
  [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://$REG/v2/")" == 200 ]]
}

# Starts the registry on $REGISTRY_PORT with an empty data dir; sets BLOBS_DIR, REGISTRY_LOG.
# Both registries read REGISTRY_* variables as config overrides, and skopeo's REGISTRY_AUTH_FILE
# would become auth.file, so the registry runs without any of them.
start_registry() {
  local kind=$1 config="$E2E_DIR/registry.yml" unset_env=() variable
  for variable in $(compgen -e | grep '^REGISTRY_'); do unset_env+=(-u "$variable"); done
  REGISTRY_DATA="$E2E_DIR/registry-data"
  REGISTRY_LOG="$E2E_DIR/registry.log"
  mkdir -p "$REGISTRY_DATA"
  case "$kind" in
    stowage)
      cat >"$config" <<EOF
http: { addr: "127.0.0.1:$REGISTRY_PORT" }
storage: { filesystem: { rootdirectory: "$REGISTRY_DATA" }, delete: { enabled: true } }
log: { level: info }
EOF
      BLOBS_DIR="$REGISTRY_DATA/blobs"
      env "${unset_env[@]}" node "$ROOT/dist/server/cli.js" serve --config "$config" >"$REGISTRY_LOG" 2>&1 &
      ;;
    distribution)
      cat >"$config" <<EOF
version: 0.1
log:
  level: info
http:
  addr: 127.0.0.1:$REGISTRY_PORT
storage:
  filesystem:
    rootdirectory: $REGISTRY_DATA
  delete:
    enabled: true
EOF
      BLOBS_DIR="$REGISTRY_DATA/docker/registry/v2/blobs"
      env "${unset_env[@]}" docker-registry serve "$config" >"$REGISTRY_LOG" 2>&1 &
      ;;
    *)
      echo "unknown E2E_REGISTRY '$kind' (stowage or distribution)" >"$REGISTRY_LOG"
      return 1
      ;;
  esac
  REGISTRY_PID=$!
  wait_for 20 registry_answers
}

docker_answers() {
  timeout 5 "$DOCKER_BIN" version
}

# Starts dockerd on $E2E_DIR/docker/sock; DOCKER_HOST and DOCKER_CONFIG point every docker call there.
start_dockerd() {
  local dir="$E2E_DIR/docker"
  mkdir -p "$dir/root" "$dir/exec" "$dir/config"
  echo '{}' >"$dir/daemon.json"
  export DOCKER_HOST="unix://$dir/sock" DOCKER_CONFIG="$dir/config"
  DOCKERD_LOG="$dir/dockerd.log"
  dockerd \
    --config-file "$dir/daemon.json" \
    --storage-driver=vfs \
    --data-root "$dir/root" \
    --exec-root "$dir/exec" \
    --pidfile "$dir/pid" \
    -H "$DOCKER_HOST" \
    --bridge=none \
    --iptables=false \
    --ip6tables=false \
    --insecure-registry "$REG" \
    >"$DOCKERD_LOG" 2>&1 &
  DOCKERD_PID=$!
  wait_for 60 docker_answers
}

# Sends SIGTERM, waits up to the given seconds, then SIGKILL.
stop_pid() {
  local pid=$1 seconds=$2
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + seconds))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# Stops everything started under $E2E_DIR, unmounts what is mounted there and removes it.
# Safe to call twice (once at the end of the run, once more from the EXIT trap).
cleanup() {
  [[ -n "${E2E_DIR:-}" && -d "$E2E_DIR" ]] || return 0
  stop_pid "$DOCKERD_PID" 30
  DOCKERD_PID=
  stop_pid "$REGISTRY_PID" 10
  REGISTRY_PID=
  # Processes dockerd left behind (its containerd, container shims) name our directory.
  local proc pid
  for proc in /proc/[0-9]*; do
    pid=${proc#/proc/}
    [[ "$pid" != "$$" ]] && tr '\0' ' ' 2>/dev/null <"$proc/cmdline" | grep -qF "$E2E_DIR" && kill -KILL "$pid" 2>/dev/null
  done
  local mountpoint
  awk -v dir="$E2E_DIR" 'index($2, dir) == 1 { print $2 }' /proc/mounts | sort -r | while read -r mountpoint; do
    umount -l "$mountpoint" 2>/dev/null || true
  done
  if [[ "${E2E_KEEP:-}" == 1 ]]; then
    echo "kept $E2E_DIR" >&2
  else
    rm -rf "$E2E_DIR"
  fi
  E2E_DIR=
}
