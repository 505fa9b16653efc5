# end-1: GET /v2/ answers 200 with `{}` and the API version header every client looks for.

base_endpoint_answers_version_check() {
  local headers="$E2E_DIR/base.headers" body
  body=$(curl -sS --max-time 10 -D "$headers" "http://$REG/v2/")
  cat "$headers"
  echo "$body"
  expect_match "$(head -n1 "$headers")" '^HTTP/1\.[01] 200' 'status line'
  expect_eq "$body" '{}' 'body'
  # Header names are case-insensitive (Go's registry:2 sends Docker-Distribution-Api-Version).
  local version
  version=$(tr -d '\r' <"$headers" | awk -F': ' 'tolower($1) == "docker-distribution-api-version" { print $2 }')
  expect_eq "$version" 'registry/2.0' 'Docker-Distribution-API-Version header'
}

check "GET /v2/ answers {} with Docker-Distribution-API-Version: registry/2.0" base_endpoint_answers_version_check
