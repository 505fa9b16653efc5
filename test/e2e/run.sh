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
source "$(dirname "${BASH_SOURCE[0]}")/lib/suite.sh"

REGISTRY_KIND=${E2E_REGISTRY:-stowage}

# The registry under test on $REGISTRY_PORT with an empty data dir; sets BLOBS_DIR, REGISTRY_LOG.
# Its config is $E2E_DIR/registry.yml (cases/ run `stowage retag` with it).
start_registry() {
  local data="$E2E_DIR/registry-data"
  REGISTRY_LOG="$E2E_DIR/logs/registry.log"
  case "$REGISTRY_KIND" in
    stowage)
      BLOBS_DIR="$data/blobs"
      # cases/95-immutable-tags.sh, 96-quotas.sh and 97-retention.sh: rules over names no other case uses.
      start_stowage registry "$REGISTRY_PORT" "$(filesystem_storage "$data" delete)" \
        'stowage: { immutable: [ { repositories: ["immutable/**"], tags: ["v*"] } ], quotas: [ { repositories: ["quota/**"], maxbytes: 5MB } ],' \
        '  gc: { grace: 1s }, retention: { policies: [ { repositories: ["retention/**"],' \
        '    keeptags: [ { patterns: ["^v[0-9]+"], mostrecentlypushedcount: 2 }, { patterns: [".*"], pulledwithin: 720h }, { patterns: ["^latest$"] } ] } ] } }'
      ;;
    distribution)
      BLOBS_DIR="$data/docker/registry/v2/blobs"
      start_distribution registry "$REGISTRY_PORT" "$(filesystem_storage "$data" delete)"
      ;;
    *)
      echo "unknown E2E_REGISTRY '$REGISTRY_KIND' (stowage or distribution)"
      return 1
      ;;
  esac
}

begin_suite e2e
need_tools dockerd skopeo podman buildah docker-registry curl jq node sqlite3 /bin/busybox
[[ "$REGISTRY_KIND" != stowage ]] || build_stowage

REGISTRY_PORT=$(free_port)
REG="127.0.0.1:$REGISTRY_PORT"
prepare_clients

setup "$REGISTRY_KIND starts and answers GET /v2/ on $REG" start_registry
echo "registry: $REGISTRY_KIND on $REG (data: $E2E_DIR/registry-data)"
setup "dockerd starts on $E2E_DIR/docker/sock" start_dockerd '{}' --storage-driver=vfs --bridge=none --insecure-registry "$REG"
echo "docker: $("$DOCKER_BIN" version --format 'client {{.Client.Version}}, engine {{.Server.Version}}') on $DOCKER_HOST"

for case_file in "$HERE"/cases/*.sh; do
  source "$case_file"
done

finish
