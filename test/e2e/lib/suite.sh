# The life of one end-to-end script, sourced first by each (run.sh, proxy.sh, s3.sh, auth.sh,
# container.sh): loads the other lib files, makes the run's temporary directory, sets the traps
# that stop everything on exit or on a signal, installs or names missing tools, rebuilds dist/
# when stale, and prints the closing line `<suite>: N passed, M failed` that .ci/run reads.
# What a script checks, and the daemons only it needs, stay in the script.

E2E_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
HERE=$(dirname "$E2E_LIB")
ROOT=$(cd "$HERE/../.." && pwd)

source "$E2E_LIB/harness.sh"
source "$E2E_LIB/services.sh"
source "$E2E_LIB/clients.sh"
source "$E2E_LIB/images.sh"

# begin_suite NAME: NAME opens the closing line and names the directory /tmp/stowage-NAME.XXXXXX
# ($E2E_DIR, with logs/ in it). From here on, leaving for any reason runs cleanup.
begin_suite() {
  E2E_SUITE=$1
  E2E_STARTED=$SECONDS
  trap cleanup EXIT
  trap 'echo "interrupted" >&2; exit 130' INT TERM HUP
  # A reader that went away (`| head`) must not skip the cleanup.
  trap 'exit 141' PIPE
  E2E_DIR=$(mktemp -d "/tmp/stowage-$1.XXXXXX")
  mkdir -p "$E2E_DIR/logs"
}

# need_tools TOOL...: installs what is missing when running as root (CI), otherwise names it.
need_tools() {
  local missing=() tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
  done
  ((${#missing[@]} > 0)) || return 0
  if ((EUID == 0)); then
    bash "$ROOT/scripts/install-e2e-deps.sh" || true
  else
    echo "missing: ${missing[*]} (run scripts/install-e2e-deps.sh as root)" >&2
  fi
}

# Runs `npm run build` unless dist/ exists and is newer than every source file.
build_stowage() {
  local cli="$ROOT/dist/stowage.mjs"
  if [[ -f "$cli" ]] && [[ -z "$(find "$ROOT/server" "$ROOT/storage" "$ROOT/auth" "$ROOT/errors" "$ROOT/tsconfig.json" "$ROOT/tsconfig.build.json" "$ROOT/package.json" \
    -newer "$cli" \( -name '*.ts' -o -name '*.json' \) -print -quit 2>/dev/null)" ]]; then
    return 0
  fi
  echo "building stowage (npm run build)"
  setup "npm run build" npm --prefix "$ROOT" run build
}

# Stops everything, prints the closing line and exits, non-zero when anything failed.
finish() {
  echo "took $((SECONDS - E2E_STARTED)) s"
  cleanup
  echo "$E2E_SUITE: $E2E_PASSED passed, $E2E_FAILED failed"
  ((E2E_FAILED == 0))
  exit
}
