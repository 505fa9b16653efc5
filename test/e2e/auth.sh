#!/usr/bin/env bash
# End-to-end checks of authentication with real clients: stowage with auth.htpasswd, then with
# auth.token and its built-in token endpoint, both with access rules (alice may do everything,
# reader may only pull, everyone may pull public/*). docker login then push and pull, a wrong
# password refused, a pull-only user denied on push with Docker's "denied" message, anonymous
# pull of public/*, skopeo --creds, podman login, no password in the registry's log, and a robot
# account (stowage robot create/rm) logging in with docker, and the audit log holding all of it.
# Uses test/e2e/lib (the private dockerd, the clients, the busybox image) without the main
# suite's registry. Ends with one line `e2e-auth: N passed, M failed`; exits non-zero when
# anything failed. Everything listens on 127.0.0.1 and is stopped and removed on exit.
#   E2E_KEEP=1   keep the temporary directory (logs, data) for inspection
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/suite.sh"

ALICE_PASSWORD="alice-$RANDOM-$RANDOM-pw"
READER_PASSWORD="reader-$RANDOM-$RANDOM-pw"
HTPASSWD=

# The users, bcrypt-hashed with the bcryptjs stowage itself uses (no htpasswd tool needed).
write_htpasswd() {
  HTPASSWD="$E2E_DIR/users.htpasswd"
  node -e "
    const bcrypt = require('$ROOT/node_modules/bcryptjs');
    const [file, ...pairs] = process.argv.slice(1);
    const lines = [];
    for (let i = 0; i < pairs.length; i += 2) lines.push(pairs[i] + ':' + bcrypt.hashSync(pairs[i + 1], 10).replace(/^\\\$2b\\\$/, '\$2y\$'));
    require('node:fs').writeFileSync(file, lines.join('\n') + '\n');
  " "$HTPASSWD" alice "$ALICE_PASSWORD" reader "$READER_PASSWORD"
}

# Every client here logs in from 127.0.0.1, and the checks' wrong passwords add up there: a
# higher limit than the default 5, so the last checks (the audit log's delete) are not locked out.
ACCESS_RULES='
    loginlimit: { attempts: 50 }
    access:
      - { repositories: ["public/**"], anonymous: true, actions: [pull] }
      - { repositories: ["**"], users: [alice], actions: [pull, push, delete] }
      - { repositories: ["**"], users: [reader], actions: [pull] }'

# Starts stowage on a free port with the given auth section (@REG@ stands for its host:port) and
# stowage.auth settings, and waits until GET /v2/ challenges; sets REG and REGISTRY_LOG.
start_auth_registry() {
  local kind=$1 auth=$2 stowage_auth=$3 port
  port=$(free_port)
  REG="127.0.0.1:$port"
  REGISTRY_LOG="$E2E_DIR/logs/registry-$kind.log"
  start_stowage "registry-$kind" "$port" "$(filesystem_storage "$E2E_DIR/data-$kind" delete)" \
    "${auth//@REG@/$REG}" "stowage:" "  auth:$stowage_auth" "  audit: { path: \"$E2E_DIR/audit-$kind.jsonl\" }" &&
    await_registry "registry-$kind" "$REG" 401
}

# The WWW-Authenticate header of an anonymous GET of a path.
challenge_of() {
  curl -sS --max-time 10 -o /dev/null -D - "http://$REG$1" | tr -d '\r' | awk -F': ' 'tolower($1) == "www-authenticate" { print $2 }'
}

# --- checks shared by both kinds of auth ----------------------------------------------------

docker_imports_busybox() {
  make_busybox_rootfs "$E2E_DIR/rootfs-busybox"
  reproducible_tar "$E2E_DIR/rootfs-busybox" | docker import - busybox:latest
}

docker_login_refuses_wrong_password() {
  if run docker login --username alice --password-stdin "$REG" <<<"not-the-password"; then fail 'docker login succeeded with a wrong password'; fi
  expect_match "$OUT" '(401 Unauthorized|unauthorized)' 'docker login output'
}

docker_pull_refused_without_login() {
  run docker logout "$REG"
  if run docker pull "$REG/team/busybox:1"; then fail 'pulled a private repository without logging in'; fi
  expect_match "$OUT" "(no basic auth credentials|may require 'docker login')" 'docker pull output'
}

docker_login_push_pull_as_alice() {
  run docker login --username alice --password-stdin "$REG" <<<"$ALICE_PASSWORD"
  expect_contains "$OUT" 'Login Succeeded' 'docker login output'
  run docker tag busybox:latest "$REG/team/busybox:1"
  run docker push "$REG/team/busybox:1"
  expect_match "$OUT" '1: digest: sha256:[0-9a-f]{64}' 'docker push output'
  run docker tag busybox:latest "$REG/public/busybox:1"
  run docker push "$REG/public/busybox:1"
  run docker rmi "$REG/team/busybox:1" "$REG/public/busybox:1"
  run docker pull "$REG/team/busybox:1"
  expect_contains "$OUT" "Downloaded newer image for $REG/team/busybox:1" 'docker pull output'
  run docker run --rm --network none "$REG/team/busybox:1" /bin/echo "Hello world"
  expect_eq "$OUT" 'Hello world' 'container output'
}

docker_pull_only_user_is_denied_push() {
  run docker logout "$REG"
  run docker login --username reader --password-stdin "$REG" <<<"$READER_PASSWORD"
  run docker rmi "$REG/team/busybox:1"
  run docker pull "$REG/team/busybox:1"
  run docker tag busybox:latest "$REG/team/busybox:by-reader"
  if run docker push "$REG/team/busybox:by-reader"; then fail 'a pull-only user pushed'; fi
  expect_contains "$OUT" 'denied: requested access to the resource is denied' 'docker push output'
  run docker logout "$REG"
}

# With Basic auth the docker CLI will not send a request without credentials once /v2/ has
# challenged ("no basic auth credentials"): anonymous pulls there are for skopeo, podman, curl.
skopeo_and_curl_pull_public_anonymously() {
  run skopeo inspect --tls-verify=false "docker://$REG/public/busybox:1"
  expect_eq "$(jq -r .Name <<<"$OUT")" "$REG/public/busybox" 'anonymous skopeo inspect'
  expect_eq "$(registry_status GET /v2/public/busybox/manifests/1)" 200 'anonymous GET of public/busybox:1'
  expect_eq "$(registry_status GET /v2/team/busybox/manifests/1)" 401 'anonymous GET of team/busybox:1'
}

docker_pulls_public_anonymously() {
  run docker logout "$REG"
  run docker rmi "$REG/public/busybox:1" || true
  run docker pull "$REG/public/busybox:1"
  expect_contains "$OUT" "Downloaded newer image for $REG/public/busybox:1" 'anonymous docker pull output'
}

skopeo_uses_creds() {
  run skopeo inspect --tls-verify=false --creds "alice:$ALICE_PASSWORD" "docker://$REG/team/busybox:1"
  expect_eq "$(jq -r .Name <<<"$OUT")" "$REG/team/busybox" 'skopeo inspect name'
  if run skopeo inspect --tls-verify=false "docker://$REG/team/busybox:1"; then fail 'skopeo inspected a private repository without credentials'; fi
  if run skopeo inspect --tls-verify=false --creds "alice:wrong" "docker://$REG/team/busybox:1"; then fail 'skopeo inspected with a wrong password'; fi
  run skopeo copy --src-tls-verify=false --dest-tls-verify=false --src-creds "reader:$READER_PASSWORD" --dest-creds "alice:$ALICE_PASSWORD" \
    "docker://$REG/team/busybox:1" "docker://$REG/team/skopeo-copy:1"
  if run skopeo copy --src-tls-verify=false --dest-tls-verify=false --src-creds "reader:$READER_PASSWORD" --dest-creds "reader:$READER_PASSWORD" \
    "docker://$REG/team/busybox:1" "docker://$REG/team/by-reader:1"; then fail 'skopeo pushed as a pull-only user'; fi
}

podman_login_push_pull() {
  if run podman login --tls-verify=false --username alice --password "wrong" "$REG"; then fail 'podman login succeeded with a wrong password'; fi
  run podman login --tls-verify=false --username alice --password-stdin "$REG" <<<"$ALICE_PASSWORD"
  expect_contains "$OUT" 'Login Succeeded' 'podman login output'
  run podman pull --tls-verify=false "$REG/team/busybox:1"
  run podman tag "$REG/team/busybox:1" "$REG/team/podman:1"
  run podman push --tls-verify=false "$REG/team/podman:1"
  run podman rmi --all --force
  run podman pull --tls-verify=false "$REG/team/podman:1"
  run podman logout "$REG"
  if run podman pull --tls-verify=false "$REG/team/podman:1"; then fail 'podman pulled a private repository after logout'; fi
}

registry_never_logged_passwords() {
  if grep -qF -e "$ALICE_PASSWORD" -e "$READER_PASSWORD" "$REGISTRY_LOG"; then fail "a password appears in $REGISTRY_LOG"; fi
  if grep -qF -e "$(printf 'alice:%s' "$ALICE_PASSWORD" | base64 -w0)" "$REGISTRY_LOG"; then fail "credentials appear in $REGISTRY_LOG"; fi
  grep -q '"msg":"request"' "$REGISTRY_LOG" || fail 'the registry logged no requests at all'
}

# A robot account made with `stowage robot create` on the registry's own config (its metadata
# database): docker login as robot$ci, a push within its grants, 'denied' outside them, and after
# `stowage robot rm` both its logins and further pushes refused (within the 2 s the registry
# may trust its cached row: polled, not slept).
robot_login_push_denied_and_revoked() {
  local kind=$1 config="$E2E_DIR/registry-$1.yml" secret i
  run node "$STOWAGE_CLI" robot create ci --repositories 'team/**' --actions pull,push --json --config "$config"
  secret=$(jq -r .secret <<<"$OUT")
  run docker logout "$REG"
  run docker login --username 'robot$ci' --password-stdin "$REG" <<<"$secret"
  expect_contains "$OUT" 'Login Succeeded' 'docker login output of robot$ci'
  run docker tag busybox:latest "$REG/team/robot:1"
  run docker push "$REG/team/robot:1"
  expect_match "$OUT" '1: digest: sha256:[0-9a-f]{64}' 'docker push output of robot$ci'
  run docker tag busybox:latest "$REG/other/robot:1"
  if run docker push "$REG/other/robot:1"; then fail 'a robot pushed outside its grants'; fi
  expect_contains "$OUT" 'denied: requested access to the resource is denied' 'docker push output outside the grants'
  run node "$STOWAGE_CLI" robot rm ci --config "$config"
  # Basic logins are checked at /v2/ (htpasswd) or at /token (token): poll whichever checks them.
  local login_url="http://$REG/v2/"
  [[ $kind == token ]] && login_url="http://$REG/token?service=stowage-e2e"
  for ((i = 0; i < 50; i++)); do
    [[ "$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' -u "robot\$ci:$secret" "$login_url")" == 401 ]] && break
    sleep 0.1
  done
  run docker tag busybox:latest "$REG/team/robot:2"
  if run docker push "$REG/team/robot:2"; then fail 'a removed robot pushed'; fi
  if run docker login --username 'robot$ci' --password-stdin "$REG" <<<"$secret"; then fail 'a removed robot logged in'; fi
  if grep -qF -e "$secret" "$REGISTRY_LOG"; then fail "a robot's secret appears in $REGISTRY_LOG"; fi
  run docker logout "$REG"
}

# The audit log after all of the above (stowage audit --json on the registry's own database, and
# the JSON lines file): the logins and the failed one, pushes by alice and by the robot, refused
# pushes by reader and by the robot outside its grants, the robot's creation and removal by the
# CLI, and a delete (by curl: docker has none), each with its actor; no password in either.
audit_log_holds_the_actions() {
  local kind=$1 config="$E2E_DIR/registry-$1.yml" file="$E2E_DIR/audit-$1.jsonl" digest auth=() events user_kind=user i
  if [[ $kind == token ]]; then
    user_kind=token
    run curl -sS --max-time 10 -u "alice:$ALICE_PASSWORD" "http://$REG/token?service=stowage-e2e&scope=repository:team/busybox:pull,delete"
    auth=(-H "Authorization: Bearer $(jq -r .token <<<"$OUT")")
  else
    auth=(-u "alice:$ALICE_PASSWORD")
  fi
  digest=$(curl -sS --max-time 10 -I "${auth[@]}" -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
    "http://$REG/v2/team/busybox/manifests/1" | tr -d '\r' | awk -F': ' 'tolower($1) == "docker-content-digest" { print $2 }')
  expect_match "$digest" '^sha256:[0-9a-f]{64}$' 'digest of team/busybox:1'
  expect_eq "$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' -X DELETE "${auth[@]}" "http://$REG/v2/team/busybox/manifests/$digest")" 202 'DELETE of team/busybox:1'
  count() { jq "[.[] | select($1)] | length" <<<"$events"; }
  # Events reach the database within a second of the request: polled, not slept.
  for ((i = 0; i < 50; i++)); do
    run node "$STOWAGE_CLI" audit --json --limit 1000 --config "$config"
    events=$OUT
    [[ "$(count '.action == "delete"')" == 1 ]] && break
    sleep 0.1
  done
  expect_match "$(count '.action == "login" and .user == "alice" and .userKind == "user" and .result == "ok"')" '^[1-9]' 'alice logged in'
  expect_match "$(count '.action == "login" and .user == "alice" and .result == "unauthorized"')" '^[1-9]' "alice's wrong password"
  expect_match "$(count ".action == \"push\" and .user == \"alice\" and .userKind == \"$user_kind\" and .repository == \"team/busybox\" and .reference == \"1\" and .result == \"ok\"")" '^[1-9]' 'alice pushed team/busybox:1'
  expect_match "$(count '.action == "push" and .user == "reader" and .result == "denied" and .status == 403')" '^[1-9]' "reader's refused push"
  expect_match "$(count '.action == "push" and .user == "robot$ci" and .userKind == "robot" and .repository == "team/robot" and .result == "ok"')" '^[1-9]' 'robot$ci pushed team/robot:1'
  expect_match "$(count '.action == "push" and .user == "robot$ci" and .repository == "other/robot" and .result == "denied"')" '^[1-9]' 'robot$ci refused on other/robot'
  expect_match "$(count '(.action == "robot-create" or .action == "robot-rm") and .userKind == "cli"')" '^2$' 'robot create and rm by the CLI'
  expect_match "$(count ".action == \"delete\" and .user == \"alice\" and .digest == \"$digest\" and .result == \"ok\"")" '^1$' 'the delete by alice'
  expect_match "$(count '.client == "127.0.0.1"')" '^[1-9]' 'events with the client address'
  expect_eq "$(wc -l <"$file" | tr -d ' ')" "$(jq length <<<"$events")" 'lines in the audit file'
  if grep -qF -e "$ALICE_PASSWORD" -e "$READER_PASSWORD" -e 'Basic ' -e 'Bearer ' "$file" <(printf '%s' "$events"); then fail 'a secret appears in the audit log'; fi
}

run_client_checks() {
  local kind=$1
  check "$kind: docker login refuses a wrong password" docker_login_refuses_wrong_password
  check "$kind: docker pull without login is refused" docker_pull_refused_without_login
  check "$kind: docker login, push, pull and run as alice" docker_login_push_pull_as_alice
  check "$kind: a pull-only user gets 'denied' on docker push" docker_pull_only_user_is_denied_push
  if [[ "$kind" == token ]]; then
    check "$kind: docker pulls public/* anonymously" docker_pulls_public_anonymously
  else
    check "$kind: skopeo and curl pull public/* anonymously" skopeo_and_curl_pull_public_anonymously
  fi
  check "$kind: skopeo --creds inspects and copies, refuses without" skopeo_uses_creds
  check "$kind: podman login, push and pull" podman_login_push_pull
  check "$kind: no password in the registry log" registry_never_logged_passwords
  check "$kind: a robot logs in, pushes within its grants only, and is refused after robot rm" robot_login_push_denied_and_revoked "$kind"
  check "$kind: the audit log holds the logins, pushes, refusals, robot changes and a delete, with their actors" audit_log_holds_the_actions "$kind"
}

# --- htpasswd -------------------------------------------------------------------------------

htpasswd_challenges_with_basic() {
  expect_eq "$(challenge_of /v2/)" 'Basic realm="stowage-e2e"' 'challenge of /v2/'
}

# --- token ----------------------------------------------------------------------------------

token_challenges_with_bearer() {
  expect_eq "$(challenge_of /v2/)" "Bearer realm=\"http://$REG/token\",service=\"stowage-e2e\"" 'challenge of /v2/'
  expect_eq "$(challenge_of /v2/team/busybox/manifests/1)" \
    "Bearer realm=\"http://$REG/token\",service=\"stowage-e2e\",scope=\"repository:team/busybox:pull\"" 'challenge of a pull'
}

token_endpoint_answers() {
  run curl -sS --max-time 10 -u "alice:$ALICE_PASSWORD" "http://$REG/token?service=stowage-e2e&scope=repository:team/busybox:pull,push"
  expect_match "$(jq -r '.token | split(".") | length' <<<"$OUT")" '^3$' 'parts of the JWT'
  expect_eq "$(jq -r '.access_token == .token' <<<"$OUT")" true 'access_token equals token'
  expect_eq "$(jq -r .expires_in <<<"$OUT")" 300 'expires_in'
  local claims
  claims=$(node -e "console.log(Buffer.from(process.argv[1].split('.')[1], 'base64url').toString())" "$(jq -r .token <<<"$OUT")")
  expect_eq "$(jq -c .access <<<"$claims")" '[{"type":"repository","name":"team/busybox","actions":["pull","push"]}]' 'access claim'
  expect_eq "$(jq -r .sub <<<"$claims")" alice 'subject'
}

# --- run ------------------------------------------------------------------------------------

begin_suite e2e-auth
need_tools dockerd skopeo podman curl jq node /bin/busybox
build_stowage
setup "bcrypt the users' passwords into an htpasswd file" write_htpasswd

prepare_clients
# dockerd names no insecure registry: 127.0.0.0/8 registries are insecure (plain HTTP,
# credentials sent) by default, which is what these checks rely on.
setup "dockerd starts on $E2E_DIR/docker/sock" start_dockerd '{}' --storage-driver=vfs --bridge=none
check "docker imports a busybox image made from busybox-static" docker_imports_busybox

if try_setup "stowage with auth.htpasswd starts and challenges GET /v2/" \
  start_auth_registry htpasswd 'auth: { htpasswd: { realm: stowage-e2e, path: "'"$HTPASSWD"'" } }' "$ACCESS_RULES"; then
  echo "registry: stowage with auth.htpasswd on $REG"
  check "htpasswd: /v2/ challenges with Basic realm" htpasswd_challenges_with_basic
  run_client_checks htpasswd
fi
stop_pid "${STARTED[registry-htpasswd]:-}"

if try_setup "stowage with auth.token starts and challenges GET /v2/" \
  start_auth_registry token 'auth: { token: { realm: "http://@REG@/token", service: stowage-e2e, issuer: stowage-e2e-issuer } }' \
  "$(printf '\n    issuer: { htpasswd: "%s" }%s' "$HTPASSWD" "$ACCESS_RULES")"; then
  echo "registry: stowage with auth.token and the built-in issuer on $REG"
  check "token: /v2/ challenges with Bearer realm, service and scope" token_challenges_with_bearer
  check "token: GET /token answers a JWT with the granted access" token_endpoint_answers
  run_client_checks token
fi

finish
