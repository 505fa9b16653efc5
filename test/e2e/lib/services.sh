# The daemons the end-to-end scripts start and stop themselves (sourced by suite.sh): stowage from
# dist/, Debian's docker-registry (CNCF Distribution), and a private dockerd with its own socket,
# data and exec root and no iptables rules, so it clashes with no other Docker engine here. Each
# listens on 127.0.0.1 only and logs to $E2E_DIR/logs/NAME.log; cleanup stops them all, then
# whatever else names $E2E_DIR, and removes the directory.

STOWAGE_CLI="$ROOT/dist/stowage.mjs"
declare -A STARTED=() E2E_GRACE=()
E2E_PIDS=()
E2E_BEFORE_STOPPING=()
E2E_AFTER_STOPPING=()

# A port nobody listens on at 127.0.0.1 now.
free_port() {
  node -e "const s = require('node:net').createServer().listen(0, '127.0.0.1', () => { console.log(s.address().port); s.close(); });"
}

# wait_for SECONDS COMMAND...: retries COMMAND every 0.2 s until it succeeds or time is up.
wait_for() {
  local seconds=$1
  shift
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

# The HTTP status of GET http://ADDR/PATH (000 when nothing answers).
http_status() {
  curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://$1$2" || true
}

# v2_answers ADDR [STATUS]: GET /v2/ on ADDR answers STATUS (a regex; default 200 or 401).
v2_answers() {
  [[ "$(http_status "$1" /v2/)" =~ ^(${2:-200|401})$ ]]
}

# launch NAME GRACE COMMAND...: starts COMMAND in the background, its output in
# $E2E_DIR/logs/NAME.log, its pid in STARTED[NAME]; cleanup gives it GRACE seconds after SIGTERM.
# Registries read REGISTRY_* variables as config overrides (skopeo's REGISTRY_AUTH_FILE would be
# one), so the command runs without any of them.
launch() {
  local name=$1 grace=$2 unset_env=() variable
  shift 2
  for variable in $(compgen -e | grep '^REGISTRY_'); do unset_env+=(-u "$variable"); done
  env "${unset_env[@]}" "$@" >>"$E2E_DIR/logs/$name.log" 2>&1 &
  STARTED[$name]=$!
  E2E_PIDS+=("$!")
  E2E_GRACE[$!]=$grace
}

# await_registry NAME ADDR [STATUS]: waits up to 20 s, while NAME runs, for GET /v2/ on ADDR to
# answer STATUS (default 200 or 401); if it does not, prints why and the end of NAME's log.
await_registry() {
  local name=$1 addr=$2 deadline=$((SECONDS + 20)) why=
  until v2_answers "$addr" "${3:-}"; do
    kill -0 "${STARTED[$name]}" 2>/dev/null || why="$name exited"
    ((SECONDS < deadline)) || why="20 s passed"
    [[ -z "$why" ]] || break
    sleep 0.2
  done
  [[ -n "$why" ]] || return 0
  echo "$why before GET http://$addr/v2/ answered ${3:-200 or 401}; the end of logs/$name.log:"
  tail -n 40 "$E2E_DIR/logs/$name.log"
  return 1
}

# A storage section for a filesystem root; `filesystem_storage DIR delete` also allows deletes.
filesystem_storage() {
  local delete=
  [[ "${2:-}" == delete ]] && delete=', delete: { enabled: true }'
  printf 'storage: { filesystem: { rootdirectory: "%s" }%s }' "$1" "$delete"
}

# start_stowage NAME PORT YAML...: stowage from dist/ on 127.0.0.1:PORT with the config
# $E2E_DIR/NAME.yml: the http and log sections, then each YAML argument as lines (storage and the
# rest). Waits until it answers.
start_stowage() {
  local name=$1 port=$2 config="$E2E_DIR/$1.yml"
  printf 'http: { addr: "127.0.0.1:%s" }\nlog: { level: info }\n' "$port" >"$config"
  printf '%s\n' "${@:3}" >>"$config"
  launch "$name" 10 node "$STOWAGE_CLI" serve --config "$config"
  await_registry "$name" "127.0.0.1:$port"
}

# start_distribution NAME PORT YAML...: Debian's docker-registry the same way.
start_distribution() {
  local name=$1 port=$2 config="$E2E_DIR/$1.yml"
  printf 'version: 0.1\nlog: { level: info }\nhttp: { addr: "127.0.0.1:%s" }\n' "$port" >"$config"
  printf '%s\n' "${@:3}" >>"$config"
  launch "$name" 10 docker-registry serve "$config"
  await_registry "$name" "127.0.0.1:$port"
}

# start_postgres PORT: PostgreSQL from Debian's postgresql package (the newest under
# /usr/lib/postgresql, else pg_config's bindir) on 127.0.0.1:PORT, its data, socket and nothing
# else in $E2E_DIR/postgres, with a database "stowage"; sets DATABASE_URL. initdb and the server
# run as the postgres user when this runs as root (PostgreSQL refuses root), through setpriv so
# the pid launch records is the server's. trust authentication and fsync off: test data only.
start_postgres() {
  local port=$1 dir="$E2E_DIR/postgres" bin as=()
  bin=$(find /usr/lib/postgresql -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1)
  [[ -x "$bin/initdb" ]] || bin=$(pg_config --bindir 2>/dev/null) || true
  [[ -x "$bin/initdb" ]] || {
    echo "PostgreSQL not found: run scripts/install-test-deps.sh (Debian: apt-get install postgresql)"
    return 1
  }
  mkdir -p "$dir"
  if ((EUID == 0)); then
    # The postgres user reaches its directory through $E2E_DIR (traverse only) and owns it.
    chmod 711 "$E2E_DIR"
    chown postgres: "$dir"
    as=(setpriv --reuid=postgres --regid=postgres --init-groups)
  fi
  "${as[@]}" "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C --no-sync >"$E2E_DIR/logs/initdb.log" 2>&1 || {
    tail -n 20 "$E2E_DIR/logs/initdb.log"
    return 1
  }
  launch postgres 30 "${as[@]}" "$bin/postgres" -D "$dir/data" -h 127.0.0.1 -p "$port" -k "$dir" -c fsync=off -c full_page_writes=off
  wait_for 30 "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" || {
    echo "PostgreSQL did not answer on 127.0.0.1:$port within 30 s; the end of logs/postgres.log:"
    tail -n 20 "$E2E_DIR/logs/postgres.log"
    return 1
  }
  "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres stowage
  DATABASE_URL="postgres://postgres@127.0.0.1:$port/stowage"
}

docker_answers() {
  timeout 5 "$DOCKER_BIN" version
}

# start_dockerd DAEMON_JSON DOCKERD_FLAGS...: dockerd on $E2E_DIR/docker/sock; the flags choose
# its storage driver, bridge and registries. DOCKER_HOST and DOCKER_CONFIG point every docker
# call there; sets DOCKERD_LOG.
# A containerd of the script's own (root, state and socket under $E2E_DIR/containerd; the CRI
# plugin off), for ctr (clients.sh).
start_containerd() {
  local dir="$E2E_DIR/containerd"
  mkdir -p "$dir/root" "$dir/state"
  printf 'version = 2\ndisabled_plugins = ["io.containerd.grpc.v1.cri"]\n' >"$dir/config.toml"
  launch containerd 10 containerd --config "$dir/config.toml" --root "$dir/root" --state "$dir/state" --address "$dir/sock"
  wait_for 30 ctr version && return 0
  echo "containerd did not answer within 30 s; the end of logs/containerd.log:"
  tail -n 40 "$E2E_DIR/logs/containerd.log"
  return 1
}

start_dockerd() {
  local dir="$E2E_DIR/docker"
  mkdir -p "$dir/root" "$dir/exec" "$dir/config"
  echo "$1" >"$dir/daemon.json"
  shift
  export DOCKER_HOST="unix://$dir/sock" DOCKER_CONFIG="$dir/config"
  DOCKERD_LOG="$E2E_DIR/logs/dockerd.log"
  launch dockerd 30 dockerd --config-file "$dir/daemon.json" --data-root "$dir/root" --exec-root "$dir/exec" \
    --pidfile "$dir/pid" -H "$DOCKER_HOST" --iptables=false --ip6tables=false "$@"
  wait_for 60 docker_answers && return 0
  echo "dockerd did not answer within 60 s; the end of logs/dockerd.log:"
  tail -n 40 "$DOCKERD_LOG"
  return 1
}

# stop_pid PID [SECONDS]: SIGTERM, up to SECONDS (default: its grace from launch, else 10) to
# exit, then SIGKILL. A stopped pid is forgotten, so cleanup never signals a reused one.
stop_pid() {
  local pid=$1
  [[ -n "$pid" ]] || return 0
  local seconds=${2:-${E2E_GRACE[$pid]:-10}} kept=() other
  for other in "${E2E_PIDS[@]}"; do [[ "$other" == "$pid" ]] || kept+=("$other"); done
  E2E_PIDS=("${kept[@]}")
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + seconds))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# SIGKILL for a process and everything below it (a check interrupted by a signal).
kill_tree() {
  local pid=$1 child
  kill -STOP "$pid" 2>/dev/null || return 0
  for child in $(pgrep -P "$pid"); do kill_tree "$child"; done
  kill -KILL "$pid" 2>/dev/null || true
}

# Steps of a script's own for cleanup: before_stopping FUNCTION runs while the daemons still run
# (removing containers), after_stopping FUNCTION once they are gone (a bridge dockerd used).
before_stopping() { E2E_BEFORE_STOPPING+=("$1"); }
after_stopping() { E2E_AFTER_STOPPING+=("$1"); }

# Stops everything started under $E2E_DIR, newest first, unmounts what is mounted there and
# removes it. Safe to call twice (once from finish, once more from the EXIT trap).
cleanup() {
  [[ -n "${E2E_DIR:-}" && -d "$E2E_DIR" ]] || return 0
  if [[ -n "$E2E_CHECK_PID" ]]; then
    disown "$E2E_CHECK_PID" 2>/dev/null # no "Killed" notice for it
    kill_tree "$E2E_CHECK_PID"
    E2E_CHECK_PID=
  fi
  local step i pids=("${E2E_PIDS[@]}")
  for step in "${E2E_BEFORE_STOPPING[@]}"; do "$step"; done
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do stop_pid "${pids[i]}"; done
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
  for step in "${E2E_AFTER_STOPPING[@]}"; do "$step"; done
  if [[ "${E2E_KEEP:-}" == 1 ]]; then
    echo "kept $E2E_DIR" >&2
  else
    rm -rf "$E2E_DIR"
  fi
  E2E_DIR=
}
