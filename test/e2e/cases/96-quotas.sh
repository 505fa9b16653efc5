# Quotas (issue 16): docker pushes beyond a quota are refused with a readable "denied" message
# giving the used and allowed bytes; after deleting an image and GC, the push fits. stowage only:
# run.sh's config limits quota/** to 5MB (no other case uses that name); registry:2 has no quotas.

# An image of one layer holding `bytes` random bytes (they do not compress), imported as name.
import_random_image() {
  local name=$1 bytes=$2 dir
  dir=$(mktemp -d "$E2E_DIR/quota-image.XXXX")
  head -c "$bytes" /dev/urandom >"$dir/random"
  reproducible_tar "$dir" | docker import - "$name" >/dev/null
  rm -rf "$dir"
}

docker_push_beyond_quota_is_denied() {
  import_random_image "$REG/quota/one:v1" 3000000
  import_random_image "$REG/quota/two:v1" 3000000
  run docker push "$REG/quota/one:v1"
  # 3 MB more would take quota/** past 5MB: refused at the manifest, nothing tagged.
  if run docker push "$REG/quota/two:v1"; then fail 'docker push beyond the quota succeeded'; fi
  expect_match "$OUT" 'denied: quota exceeded for quota/two: the push adds [0-9]+ bytes; [0-9]+ of 5000000 bytes allowed are used \(stowage.quotas rule 1: quota/\*\*\)' 'push output'
  expect_eq "$(registry_status HEAD /v2/quota/two/manifests/v1)" 404 'HEAD quota/two:v1 after the refused push'
  run curl -sS --max-time 30 "http://$REG/api/v1/quotas"
  expect_match "$OUT" '"repositories":\["quota/\*\*"\],"usedBytes":30[0-9]{5},"maxBytes":5000000' 'GET /api/v1/quotas'
  # The refusal is in the audit log, with the quota's message.
  run node "$STOWAGE_CLI" audit --repository quota/two --action push --json --config "$E2E_DIR/registry.yml"
  expect_match "$(jq -r '[.[] | select(.result == "denied")][0] | "\(.status) \(.detail)"' <<<"$OUT")" '^403 .*quota exceeded for quota/two' 'the refused push in the audit log'
}

# Whether quota/two answers 404 for every blob digest given (GC took them).
quota_two_lacks() {
  local digest
  for digest in "$@"; do
    [[ "$(registry_status HEAD "/v2/quota/two/blobs/$digest")" == 404 ]] || return 1
  done
}

push_fits_after_delete_and_gc() {
  local digest
  digest=$(registry_manifest_digest quota/one v1)
  expect_match "$digest" '^sha256:[0-9a-f]{64}$' 'digest of quota/one:v1'
  expect_eq "$(registry_status DELETE "/v2/quota/one/manifests/$digest")" 202 'DELETE quota/one by digest'
  # The deleted image counts no more at once.
  run curl -sS --max-time 30 "http://$REG/api/v1/quotas"
  expect_contains "$OUT" '"usedBytes":0,' 'GET /api/v1/quotas after the delete'
  # GC (another process) frees its blobs and those the refused push left. The server may say a
  # collected blob is still there for stowage.cache.ttl (2s): docker would skip it and its push
  # fail, so wait until the registry says they are gone.
  run node "$STOWAGE_CLI" gc --grace 0s --config "$E2E_DIR/registry.yml"
  local deleted
  mapfile -t deleted < <(sed -n 's/^blob deleted: //p' <<<"$OUT")
  ((${#deleted[@]} >= 4)) || fail "gc deleted ${#deleted[@]} blobs, expected both images' layers and configs"
  wait_for 10 quota_two_lacks "${deleted[@]}"
  run docker push "$REG/quota/two:v1"
  expect_match "$(registry_manifest_digest quota/two v1)" '^sha256:[0-9a-f]{64}$' 'digest of quota/two:v1'
  run node "$STOWAGE_CLI" du --url "http://$REG"
  expect_match "$OUT" 'QUOTA +USED +MAX +USE% +REPOSITORIES' 'stowage du'
  expect_match "$OUT" '1 +2\.[0-9] MiB +4\.8 MiB +[0-9.]+% +quota/\*\*' 'stowage du'
  run docker rmi "$REG/quota/one:v1" "$REG/quota/two:v1"
}

if [[ "$REGISTRY_KIND" == stowage ]]; then
  check "docker push beyond a quota is denied with the used and allowed bytes" docker_push_beyond_quota_is_denied
  check "after deleting an image and GC, the push fits the quota" push_fits_after_delete_and_gc
fi
