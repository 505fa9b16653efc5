#!/usr/bin/env bash
# End-to-end check of the container image (deploy/Dockerfile) and how deploy/README.md runs it:
# makes a Node base image from this machine's node (scripts/make-node-base-image.sh, as Docker
# Hub is out of reach), builds the image on it (better-sqlite3 compiled in the build stage),
# runs it unprivileged (--cap-drop ALL --read-only --security-opt no-new-privileges, data in a
# named volume, /tmp on tmpfs) published on 127.0.0.1, pushes and pulls busybox through the
# published port, checks the metadata database is in the volume and lists the push, restarts it
# and lists and pulls again, runs a second one with -P on the same volume, and checks `docker
# stop` ends each with exit 0 well inside its grace period. Ends with exactly one line
# `e2e-container: N passed, M failed`.
#
# It starts its own dockerd under a temporary directory with its own bridge (ports are published
# by docker-proxy on 127.0.0.1 only; no iptables rules), and removes all of it on exit.
#   E2E_KEEP=1          keep the temporary directory (logs) for inspection
#   E2E_DOCKER=PATH     docker client to use (default: Debian's /usr/bin/docker)
#   E2E_STORAGE_DRIVER  dockerd storage driver (default: overlay2, falling back to vfs)
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/suite.sh"

IMAGE=stowage:e2e
BASE_IMAGE=stowage-node-base:e2e
VOLUME=stowage-e2e-data
FIRST=stowage-e2e-first
SECOND=stowage-e2e-second
STOP_GRACE=10
BRIDGE=
HARDENING=(--cap-drop ALL --read-only --security-opt no-new-privileges
  --tmpfs /tmp:rw,nosuid,nodev,size=64m -v "$VOLUME:/var/lib/registry")

# A bridge of our own for the containers (name and /24 unused on this machine), so the -p and -P
# mappings work without touching docker0 or any firewall rule.
make_bridge() {
  local name="stwe2e$((RANDOM % 10000))" octet tries
  for ((tries = 0; tries < 20; tries++)); do
    octet=$((RANDOM % 200 + 20))
    ip -4 route show | grep -q "^10\.213\.$octet\." || break
  done
  ip link add name "$name" type bridge || return 1
  BRIDGE=$name
  ip addr add "10.213.$octet.1/24" dev "$name" && ip link set "$name" up
}

# The bridge goes once dockerd, which needs it, has stopped.
delete_bridge() {
  [[ -n "$BRIDGE" ]] || return 0
  ip link delete "$BRIDGE" 2>/dev/null || true
  BRIDGE=
}

# Containers go while dockerd still runs, so docker-proxy and the shims go with them.
remove_containers() {
  [[ -n "${STARTED[dockerd]:-}" ]] && kill -0 "${STARTED[dockerd]}" 2>/dev/null || return 0
  timeout 60 "$DOCKER_BIN" rm -f "$FIRST" "$SECOND" >/dev/null 2>&1 || true
}

# dockerd with that bridge; ports published without an address bind to 127.0.0.1 (--ip). Tries
# overlay2 and falls back to vfs, unless E2E_STORAGE_DRIVER names the driver.
start_bridged_dockerd() {
  local flags=(--bridge="$BRIDGE" --ip=127.0.0.1)
  start_dockerd '{}' --storage-driver="${E2E_STORAGE_DRIVER:-overlay2}" "${flags[@]}" && return 0
  [[ -z "${E2E_STORAGE_DRIVER:-}" ]] || return 1
  echo "dockerd did not start with overlay2; trying vfs"
  stop_pid "${STARTED[dockerd]}"
  rm -rf "$E2E_DIR/docker/root"
  start_dockerd '{}' --storage-driver=vfs "${flags[@]}"
}

# A busybox image from /bin/busybox, e2e-busybox:1; sets BUSYBOX_ID.
import_busybox() {
  make_busybox_rootfs "$E2E_DIR/busybox"
  reproducible_tar "$E2E_DIR/busybox" | "$DOCKER_BIN" import -c 'CMD ["/bin/sh"]' - e2e-busybox:1 || return 1
  rm -rf "$E2E_DIR/busybox"
  BUSYBOX_ID=$("$DOCKER_BIN" image inspect -f '{{.Id}}' e2e-busybox:1)
}

# The 127.0.0.1:PORT a container's 5000/tcp is published on; fails if it is published elsewhere.
published_address() {
  local bindings
  bindings=$(docker port "$1" 5000/tcp)
  echo "$bindings" >&2
  [[ -n "$bindings" ]] || return 1
  if grep -qv '^127\.0\.0\.1:' <<<"$bindings"; then
    echo "published on more than 127.0.0.1" >&2
    return 1
  fi
  head -n 1 <<<"$bindings"
}

# Stops a container and checks it exits 0, on its own, well before docker would send SIGKILL.
stops_within_grace() {
  local name=$1 started elapsed
  started=$(now_ms)
  run docker stop -t "$STOP_GRACE" "$name"
  elapsed=$(($(now_ms) - started))
  echo "docker stop took $elapsed ms (grace $STOP_GRACE s)"
  ((elapsed < STOP_GRACE * 1000 - 2000)) || fail "$name took $elapsed ms to stop, grace period is ${STOP_GRACE}s"
  expect_eq "$(docker inspect -f '{{.State.ExitCode}} {{.State.OOMKilled}}' "$name")" '0 false' "$name exit code, OOM-killed"
  run docker logs --tail 5 "$name"
  expect_contains "$OUT" '"msg":"stopped"' "$name log"
}

# Removes every local copy of busybox, so nothing is left to reuse, then pulls it through ADDR,
# checks it is the image that was pushed, and runs it.
pull_and_run_busybox() {
  local addr=$1 ref="$1/e2e/busybox:1" local_refs
  local_refs=$(docker image ls --format '{{.Repository}}:{{.Tag}}' | grep -E '(^e2e-busybox|/e2e/busybox):1$' || true)
  [[ -z "$local_refs" ]] || run docker rmi $local_refs
  if docker image inspect "$BUSYBOX_ID" >/dev/null 2>&1; then fail "busybox is still here before the pull"; fi
  run docker pull "$ref"
  expect_eq "$(docker image inspect -f '{{.Id}}' "$ref")" "$BUSYBOX_ID" 'pulled image id'
  run docker run --rm --network none "$ref" /bin/echo "busybox from $addr"
  expect_eq "$OUT" "busybox from $addr" 'container output'
}

# ---------------------------------------------------------------------------------------------

base_image_is_made_from_this_machines_node() {
  run bash "$ROOT/scripts/make-node-base-image.sh" "$BASE_IMAGE"
  run docker run --rm --network none "$BASE_IMAGE" node -p 'process.version'
  expect_eq "$OUT" "$(node -p 'process.version')" 'node version in the base image'
  # As in node:20-slim: Debian's apt (the build installs a compiler with it) and node's headers.
  run docker run --rm --network none "$BASE_IMAGE" sh -c '. /etc/os-release && echo "$VERSION_CODENAME" && command -v apt-get && ls /usr/local/include/node/node.h'
  expect_eq "$(tr '\n' ' ' <<<"$OUT")" 'bookworm /usr/bin/apt-get /usr/local/include/node/node.h ' 'Debian release, apt, node headers'
}

image_builds_from_the_local_base() {
  # The build stages run npm ci against the npm registry: with the host's network, since this
  # dockerd's bridge has no route out.
  echo "\$ docker build --network host -f deploy/Dockerfile --build-arg NODE_IMAGE=$BASE_IMAGE -t $IMAGE ."
  timeout 1500 "$DOCKER_BIN" build --network host -f "$ROOT/deploy/Dockerfile" \
    --build-arg "NODE_IMAGE=$BASE_IMAGE" -t "$IMAGE" "$ROOT" 2>&1 | grep -v -e '^ ---> ' -e '^Removing intermediate'
  local size
  size=$(docker image inspect -f '{{.Size}}' "$IMAGE")
  echo "image size: $size bytes"
  ((size > 0))
}

image_runs_as_non_root_with_a_volume_port_and_healthcheck() {
  local config
  config=$(docker image inspect -f '{{json .Config}}' "$IMAGE")
  echo "$config"
  expect_eq "$(docker image inspect -f '{{.Config.User}}' "$IMAGE")" '1000:1000' 'USER'
  expect_contains "$(docker image inspect -f '{{json .Config.ExposedPorts}}' "$IMAGE")" '"5000/tcp"' 'EXPOSE'
  expect_contains "$(docker image inspect -f '{{json .Config.Volumes}}' "$IMAGE")" '"/var/lib/registry"' 'VOLUME'
  expect_contains "$(docker image inspect -f '{{json .Config.Healthcheck.Test}}' "$IMAGE")" '/healthz' 'HEALTHCHECK'
}

unprivileged_container_serves_on_the_published_port() {
  run docker volume create "$VOLUME"
  run docker run -d --name "$FIRST" -p "127.0.0.1:$FIRST_PORT:5000" --health-interval 1s "${HARDENING[@]}" "$IMAGE"
  wait_for 30 v2_answers "127.0.0.1:$FIRST_PORT" 200 || { docker logs "$FIRST"; fail "nothing answers GET /v2/ on 127.0.0.1:$FIRST_PORT"; }
  expect_eq "$(published_address "$FIRST")" "127.0.0.1:$FIRST_PORT" 'published address'
  expect_eq "$(docker inspect -f '{{.HostConfig.Privileged}} {{.HostConfig.ReadonlyRootfs}} {{.HostConfig.CapDrop}} {{.HostConfig.SecurityOpt}} {{.HostConfig.NetworkMode}} {{.HostConfig.PidMode}}' "$FIRST")" \
    'false true [ALL] [no-new-privileges] default ' 'host config'
  # What the registry process itself holds: uid 1000, no capabilities, no way to gain any.
  run docker exec "$FIRST" node -e "
    const s = require('node:fs').readFileSync('/proc/1/status', 'utf8');
    const f = (k) => s.match(new RegExp('^' + k + ':\\\\s*(.*)$', 'm'))[1];
    console.log([f('Uid').split(/\\s+/)[0], f('CapEff'), f('CapBnd'), f('NoNewPrivs')].join(' '));"
  expect_eq "$OUT" '1000 0000000000000000 0000000000000000 1' 'uid, effective and bounding capabilities, no_new_privs of PID 1'
  # The root filesystem is read-only; the volume and /tmp are writable.
  run docker exec "$FIRST" node -e "
    const fs = require('node:fs');
    for (const dir of ['/app', '/etc/stowage', '/var/lib/registry', '/tmp']) {
      try { fs.writeFileSync(dir + '/.probe', 'x'); fs.unlinkSync(dir + '/.probe'); console.log(dir, 'writable'); }
      catch (err) { console.log(dir, err.code); }
    }"
  expect_eq "$(tr '\n' ' ' <<<"$OUT")" '/app EROFS /etc/stowage EROFS /var/lib/registry writable /tmp writable ' 'writable paths'
  # Relative paths (the default ./data, with storage.s3 the default database) resolve in the volume.
  run docker exec "$FIRST" node -p 'process.cwd()'
  expect_eq "$OUT" /var/lib/registry 'working directory'
}

healthcheck_reports_healthy() {
  local deadline=$((SECONDS + 30)) status=
  while ((SECONDS < deadline)); do
    status=$(docker inspect -f '{{.State.Health.Status}}' "$FIRST")
    [[ "$status" == healthy ]] && break
    sleep 0.5
  done
  docker inspect -f '{{json .State.Health}}' "$FIRST" | head -c 600
  echo
  expect_eq "$status" healthy 'health status'
  expect_eq "$(http_status "127.0.0.1:$FIRST_PORT" /readyz)" 200 'GET /readyz'
}

docker_pushes_and_pulls_busybox_through_the_published_port() {
  local ref="127.0.0.1:$FIRST_PORT/e2e/busybox:1"
  run docker tag e2e-busybox:1 "$ref"
  run docker push "$ref"
  expect_match "$OUT" 'digest: sha256:[0-9a-f]{64}' 'push output'
  pull_and_run_busybox "127.0.0.1:$FIRST_PORT"
}

# The metadata database (sqlite:/var/lib/registry/stowage.db, beside the data) and what it lists.
lists_from_the_database_in_the_volume() {
  local addr=$1
  run docker exec "$FIRST" node -e "console.log(require('node:fs').statSync('/var/lib/registry/stowage.db').isFile())"
  expect_eq "$OUT" true 'stowage.db in the volume'
  run curl -sS --max-time 10 "http://$addr/v2/_catalog"
  expect_eq "$OUT" '{"repositories":["e2e/busybox"]}' 'catalog'
  run curl -sS --max-time 10 "http://$addr/v2/e2e/busybox/tags/list"
  expect_eq "$OUT" '{"name":"e2e/busybox","tags":["1"]}' 'tags'
}

database_in_the_volume_lists_the_push() {
  lists_from_the_database_in_the_volume "127.0.0.1:$FIRST_PORT"
}

restarted_container_keeps_its_data() {
  run docker restart -t "$STOP_GRACE" "$FIRST"
  wait_for 30 v2_answers "127.0.0.1:$FIRST_PORT" 200 || { docker logs --tail 20 "$FIRST"; fail "no answer after restart"; }
  expect_eq "$(docker inspect -f '{{.RestartCount}} {{.State.Running}}' "$FIRST")" '0 true' 'restart count, running'
  run docker logs "$FIRST"
  expect_contains "$OUT" '"signal":"SIGTERM"' 'log of the first run'
  lists_from_the_database_in_the_volume "127.0.0.1:$FIRST_PORT"
  pull_and_run_busybox "127.0.0.1:$FIRST_PORT"
}

second_container_with_P_serves_the_same_volume() {
  run docker run -d --name "$SECOND" -P --init "${HARDENING[@]}" "$IMAGE"
  local addr
  addr=$(published_address "$SECOND")
  expect_match "$addr" '^127\.0\.0\.1:[0-9]+$' 'docker port'
  [[ "$addr" != "127.0.0.1:$FIRST_PORT" ]] || fail "both containers on $addr"
  wait_for 30 v2_answers "$addr" 200 || { docker logs "$SECOND"; fail "nothing answers GET /v2/ on $addr"; }
  run curl -sS --max-time 10 "http://$addr/v2/e2e/busybox/tags/list"
  expect_eq "$OUT" '{"name":"e2e/busybox","tags":["1"]}' 'tags of the second container'
  pull_and_run_busybox "$addr"
}

docker_stop_ends_the_first_container_cleanly() {
  stops_within_grace "$FIRST"
}

docker_stop_ends_the_second_container_cleanly() {
  stops_within_grace "$SECOND"
}

# ---------------------------------------------------------------------------------------------

# Checks and, when one fails, what the containers logged.
container_check() {
  local failed_before=$E2E_FAILED name
  check "$@"
  if ((E2E_FAILED > failed_before)); then
    for name in "$FIRST" "$SECOND"; do
      if "$DOCKER_BIN" inspect "$name" >/dev/null 2>&1; then
        echo "      $name logged (last 20 lines):"
        timeout 30 "$DOCKER_BIN" logs --tail 20 "$name" 2>&1 | sed 's/^/      > /'
      fi
    done
  fi
}

begin_suite e2e-container
need_tools dockerd curl ip node /bin/busybox mmdebstrap
before_stopping remove_containers
after_stopping delete_bridge

setup "a bridge for the containers (ip link add ... type bridge; needs root)" make_bridge
setup "dockerd starts on $E2E_DIR/docker/sock" start_bridged_dockerd
echo "docker: $("$DOCKER_BIN" version --format 'client {{.Client.Version}}, engine {{.Server.Version}}') on $DOCKER_HOST," \
  "bridge $BRIDGE, storage $("$DOCKER_BIN" info --format '{{.Driver}}')"
setup "busybox image from /bin/busybox (docker import)" import_busybox
FIRST_PORT=$(free_port)

container_check "base image is made from this machine's node (scripts/make-node-base-image.sh)" base_image_is_made_from_this_machines_node
container_check "deploy/Dockerfile builds on the local base (NODE_IMAGE build argument)" image_builds_from_the_local_base
if ! "$DOCKER_BIN" image inspect "$IMAGE" >/dev/null 2>&1; then
  finish
fi
echo "image: $IMAGE is $("$DOCKER_BIN" image inspect -f '{{.Size}}' "$IMAGE") bytes" \
  "($("$DOCKER_BIN" image inspect -f '{{.Size}}' "$BASE_IMAGE") of them the base)"
container_check "image runs as uid 1000, exposes 5000, keeps data in a volume, has a HEALTHCHECK" image_runs_as_non_root_with_a_volume_port_and_healthcheck
container_check "container runs with --cap-drop ALL --read-only no-new-privileges on 127.0.0.1:$FIRST_PORT" unprivileged_container_serves_on_the_published_port
container_check "the image's HEALTHCHECK reports healthy, /readyz answers 200" healthcheck_reports_healthy
container_check "docker pushes busybox through the published port and pulls it back" docker_pushes_and_pulls_busybox_through_the_published_port
container_check "the metadata database is in the volume and lists the push" database_in_the_volume_lists_the_push
container_check "after docker restart the data and the database are still in the volume, list and pull" restarted_container_keeps_its_data
container_check "a second container with -P (port from docker port) serves the same volume" second_container_with_P_serves_the_same_volume
container_check "docker stop ends the first container (node as PID 1) with exit 0 within ${STOP_GRACE}s" docker_stop_ends_the_first_container_cleanly
container_check "docker stop ends the second container (--init) with exit 0 within ${STOP_GRACE}s" docker_stop_ends_the_second_container_cleanly

finish
