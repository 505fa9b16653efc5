#!/usr/bin/env bash
# End-to-end suite with real clients (`npm run test:e2e`): builds stowage if dist/ is missing or
# stale, starts it on a free 127.0.0.1 port with an empty data dir, starts a private dockerd,
# then runs the named checks in cases/ in order (docker, skopeo, podman, curl) and ends with
# exactly one line `e2e: N passed, M failed`; the exit code is non-zero when anything failed.
# Everything it starts is stopped and its temporary directory removed on exit.
#
#   E2E_REGISTRY=distribution  run the same checks against Debian's docker-registry (registry:2),
#                              the reference implementation, to check the checks
#   E2E_KEEP=1                 keep the temporary directory (logs, data) for inspection
#   E2E_DOCKER=PATH            docker client to use (default: Debian's /usr/bin/docker)
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
REGISTRY_KIND=${E2E_REGISTRY:-stowage}
REGISTRY_LOG=/dev/null
RUN_STARTED=$SECONDS

source "$HERE/lib/harness.sh"
source "$HERE/lib/services.sh"
source "$HERE/lib/clients.sh"
source "$HERE/lib/images.sh"

finish() {
  cleanup
  echo "e2e: $E2E_PASSED passed, $E2E_FAILED failed"
  ((E2E_FAILED == 0))
  exit
}
trap 'cleanup' EXIT
trap 'echo "interrupted" >&2; exit 130' INT TERM

# Tools: install them when running as root (CI), otherwise say what is missing.
missing=()
for tool in dockerd skopeo podman docker-registry curl jq node /bin/busybox; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if ((${#missing[@]} > 0)); then
  if ((EUID == 0)); then
    bash "$ROOT/scripts/install-e2e-deps.sh" || true
  else
    echo "missing: ${missing[*]} (run scripts/install-e2e-deps.sh as root)" >&2
  fi
fi
DOCKER_BIN=${E2E_DOCKER:-/usr/bin/docker}
[[ -x "$DOCKER_BIN" ]] || DOCKER_BIN=$(command -v docker || echo docker)

E2E_DIR=$(mktemp -d /tmp/stowage-e2e.XXXXXX)
mkdir -p "$E2E_DIR/logs"

# Build: dist/ must exist and be newer than every source file.
if [[ "$REGISTRY_KIND" == stowage ]]; then
  cli="$ROOT/dist/server/cli.js"
  if [[ ! -f "$cli" ]] || [[ -n "$(find "$ROOT/server" "$ROOT/storage" "$ROOT/auth" "$ROOT/tsconfig.json" "$ROOT/package.json" \
    -newer "$cli" \( -name '*.ts' -o -name '*.json' \) -print -quit 2>/dev/null)" ]]; then
    echo "building stowage (npm run build)"
    if ! (cd "$ROOT" && npm run build) >"$E2E_DIR/build.log" 2>&1; then
      setup_failed "npm run build" "$E2E_DIR/build.log"
      finish
    fi
  fi
fi

REGISTRY_PORT=$(free_port)
REG="127.0.0.1:$REGISTRY_PORT"
prepare_clients

if ! start_registry "$REGISTRY_KIND"; then
  setup_failed "$REGISTRY_KIND starts and answers GET /v2/ on $REG" "$REGISTRY_LOG"
  finish
fi
echo "registry: $REGISTRY_KIND on $REG (data: $REGISTRY_DATA)"
if ! start_dockerd; then
  setup_failed "dockerd starts on $DOCKER_HOST" "$DOCKERD_LOG"
  finish
fi
echo "docker: $("$DOCKER_BIN" version --format 'client {{.Client.Version}}, engine {{.Server.Version}}') on $DOCKER_HOST"

for case_file in "$HERE"/cases/*.sh; do
  source "$case_file"
done

echo "took $((SECONDS - RUN_STARTED)) s"
finish
