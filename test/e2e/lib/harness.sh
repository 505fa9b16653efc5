# Named checks, setup steps and assertions for the end-to-end scripts (sourced by suite.sh).
# `check NAME FUNCTION [ARGS...]` runs the function in a subshell with errexit, its output
# captured; a pass prints one line, a failure prints the output (each `run` command with what it
# printed, and where the check stopped) and what $REGISTRY_LOG got meanwhile. `setup` runs a step
# the checks depend on. The counters feed the closing `<suite>: N passed, M failed`.

declare -i E2E_PASSED=0 E2E_FAILED=0 E2E_SETUPS=0
E2E_CHECK_PID=
REGISTRY_LOG=/dev/null

# Milliseconds since the epoch.
now_ms() {
  local t=${EPOCHREALTIME/./}
  echo $((t / 1000))
}

check() {
  local name=$1
  shift
  local n=$((E2E_PASSED + E2E_FAILED + 1))
  local log
  log="$E2E_DIR/logs/$(printf '%02d' "$n")-${name//[^A-Za-z0-9]/-}.log"
  local registry_lines_before
  registry_lines_before=$(wc -l <"$REGISTRY_LOG" 2>/dev/null || echo 0)
  local started
  started=$(now_ms)
  # In the background and waited for, so a signal is handled at once (cleanup stops the check).
  (
    set -Eeuo pipefail
    E2E_CHECK_SUBSHELL=$BASH_SUBSHELL
    trap 'trace_failure $?' ERR
    "$@"
  ) >"$log" 2>&1 </dev/null &
  E2E_CHECK_PID=$!
  wait "$E2E_CHECK_PID"
  local rc=$?
  E2E_CHECK_PID=
  local elapsed=$(($(now_ms) - started))
  if ((rc == 0)); then
    E2E_PASSED+=1
    printf 'ok    %s (%d ms)\n' "$name" "$elapsed"
  else
    E2E_FAILED+=1
    printf 'FAIL  %s (exit %d, %d ms)\n' "$name" "$rc" "$elapsed"
    sed 's/^/      | /' "$log"
    local registry_lines
    registry_lines=$(tail -n +"$((registry_lines_before + 1))" "$REGISTRY_LOG" 2>/dev/null | tail -n 30)
    if [[ -n "$registry_lines" ]]; then
      echo "      registry log during this check (last 30 lines):"
      sed 's/^/      > /' <<<"$registry_lines"
    fi
  fi
}

# Where a check stopped: the command that failed and the calls that led to it. Reported once,
# by the check's own shell (errtrace also runs the trap in command substitutions).
trace_failure() {
  local rc=$1 i where=
  ((BASH_SUBSHELL == E2E_CHECK_SUBSHELL)) || return 0
  for ((i = 1; i < ${#FUNCNAME[@]}; i++)); do
    [[ "${FUNCNAME[$i]}" == check ]] && break
    where+=$'\n'"  in ${FUNCNAME[$i]} (${BASH_SOURCE[$i]##*/e2e/}:${BASH_LINENO[$i - 1]})"
  done
  echo "stopped (exit $rc) at: $BASH_COMMAND$where" >&2
}

# Runs a command with its output in the check's log and in $OUT, keeping its exit status.
run() {
  echo "\$ $*"
  local rc=0
  OUT=$("$@" 2>&1) || rc=$?
  [[ -n "$OUT" ]] && printf '%s\n' "$OUT"
  ((rc == 0)) || echo "(exit $rc)"
  return "$rc"
}

# A setup step that failed: counted as a failed check, with its log shown.
setup_failed() {
  local name=$1 log=${2:-}
  E2E_FAILED+=1
  printf 'FAIL  %s\n' "$name"
  [[ -n "$log" && -s "$log" ]] && tail -n 60 "$log" | sed 's/^/      | /'
  return 0
}

# try_setup NAME COMMAND...: a setup step, run in this shell (what it sets stays set) with its
# output in a log. When it fails it counts as a failed check, shows the end of that output and
# returns 1.
try_setup() {
  local name=$1 log
  shift
  E2E_SETUPS+=1
  log="$E2E_DIR/logs/setup-$E2E_SETUPS.log"
  "$@" >"$log" 2>&1 </dev/null && return 0
  setup_failed "$name" "$log"
  return 1
}

# setup NAME COMMAND...: a setup step the rest of the run depends on; when it fails, the run ends.
setup() {
  try_setup "$@" || finish
}

fail() {
  echo "ASSERTION FAILED: $*" >&2
  return 1
}

expect_eq() {
  local actual=$1 expected=$2 what=${3:-value}
  [[ "$actual" == "$expected" ]] || fail "$what: expected '$expected', got '$actual'"
}

expect_contains() {
  local haystack=$1 needle=$2 what=${3:-output}
  [[ "$haystack" == *"$needle"* ]] || fail "$what does not contain '$needle'"
}

expect_match() {
  local value=$1 pattern=$2 what=${3:-value}
  [[ "$value" =~ $pattern ]] || fail "$what '$value' does not match /$pattern/"
}
