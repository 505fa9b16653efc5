# Retention (issue 16): on retention/app, with tags of known ages (push and pull times set in the
# metadata database with sqlite3: the test clock, since nobody waits 50 days), `stowage retention
# run --dry-run` lists exactly the tags the policy does not keep, with reasons, and deletes
# nothing; the run deletes exactly those, garbage collection frees their blobs, and every kept
# tag still pulls with docker. stowage only: run.sh's config keeps, in retention/**, the two most
# recently pushed v* tags, anything pulled within 720h, and latest (and sets stowage.gc.grace: 1s).

retention_db() { sqlite3 -cmd '.timeout 10000' "$E2E_DIR/registry-data/stowage.db" "$@"; }

# An image of its own under $REG/retention/app:TAG: busybox plus one file.
retention_image() {
  local tag=$1
  docker rm -f retention-e2e >/dev/null 2>&1 || true
  run docker run --name retention-e2e --network none "$REG/busybox:latest" /bin/sh -c "echo $tag > /$tag"
  run docker commit retention-e2e "$REG/retention/app:$tag"
  run docker rm retention-e2e
  run docker push "$REG/retention/app:$tag"
}

# The digests a manifest names (config and layers), one a line.
retention_blobs_of() {
  curl -sS --max-time 30 -H "Accept: $MANIFEST_TYPES" "http://$REG/v2/retention/app/manifests/$1" | jq -r '.config.digest, .layers[].digest'
}

blob_file() {
  local hex=${1#sha256:}
  echo "$BLOBS_DIR/sha256/${hex:0:2}/$hex/data"
}

retention_pushes_tags_of_known_ages() {
  for tag in v1 v2 v3 stale old-pulled; do retention_image "$tag"; done
  run docker tag "$REG/retention/app:v3" "$REG/retention/app:latest"
  run docker push "$REG/retention/app:latest"
  # A real pull of old-pulled, counted in the database once the server writes its batch (5 s).
  # docker resolves the tag with a HEAD (no pull) and GETs the manifest by digest: the manifest's
  # pull is what counts for its tags.
  run docker rmi "$REG/retention/app:old-pulled"
  run docker pull "$REG/retention/app:old-pulled"
  local i
  for ((i = 0; i < 100; i++)); do
    [[ "$(retention_db "select count(*) from tags t join manifests m on m.id = t.manifest_id join repositories r on r.id = t.repository_id
      where r.name = 'retention/app' and t.name = 'old-pulled' and m.last_pulled_at is not null")" == 1 ]] && break
    sleep 0.2
  done
  ((i < 100)) || fail 'the pull of old-pulled was not recorded'
  # Ages in days: v1 50, v2 40, v3 and latest 30, stale and old-pulled 60; every manifest 90.
  local now day=86400000
  now=$(now_ms)
  local repo="(select id from repositories where name = 'retention/app')"
  retention_db "update manifests set pushed_at = $now - 90 * $day where repository_id = $repo;
    update tags set pushed_at = $now - 50 * $day where repository_id = $repo and name = 'v1';
    update tags set pushed_at = $now - 40 * $day where repository_id = $repo and name = 'v2';
    update tags set pushed_at = $now - 30 * $day where repository_id = $repo and name in ('v3', 'latest');
    update tags set pushed_at = $now - 60 * $day where repository_id = $repo and name in ('stale', 'old-pulled');"
}

retention_dry_run_lists_what_goes() {
  run node "$STOWAGE_CLI" retention run --dry-run --json --config "$E2E_DIR/registry.yml"
  local plan
  plan=$(jq -c '[.repositories[] | select(.repository == "retention/app")][0]' <<<"$OUT")
  expect_eq "$(jq -c '[.tagsDeleted[].tag] | sort' <<<"$plan")" '["stale","v1"]' 'tags to delete'
  expect_eq "$(jq -c '[.tagsKept[].tag] | sort' <<<"$plan")" '["latest","old-pulled","v2","v3"]' 'tags to keep'
  expect_eq "$(jq -r '.tagsDeleted[] | select(.tag == "v1") | .reason' <<<"$plan")" \
    'policy 1: rule 1: not among the 2 most recently pushed; rule 2: not pulled within 720h' 'why v1 goes'
  expect_eq "$(jq -r '.tagsKept[] | select(.tag == "old-pulled") | .reason' <<<"$plan")" 'policy 1 rule 2: pulled within 720h' 'why old-pulled stays'
  expect_eq "$(jq '.manifestsDeleted | length' <<<"$plan")" 2 'manifests to delete'
  run node "$STOWAGE_CLI" retention run --dry-run --config "$E2E_DIR/registry.yml"
  expect_contains "$OUT" 'its tags were deleted (stale)' 'the table'
  # Nothing went.
  expect_eq "$(registry_status HEAD /v2/retention/app/manifests/v1)" 200 'HEAD v1 after the dry run'
  expect_eq "$(registry_status HEAD /v2/retention/app/manifests/stale)" 200 'HEAD stale after the dry run'
}

retention_run_deletes_exactly_that_and_frees_blobs() {
  local doomed=() digest kept_blobs=()
  for tag in v1 stale; do
    # Their own layer (the last) and config: no kept image shares them.
    mapfile -t blobs < <(retention_blobs_of "$tag")
    doomed+=("${blobs[0]}" "${blobs[-1]}" "$(registry_manifest_digest retention/app "$tag")")
  done
  for tag in v2 v3 old-pulled; do mapfile -t -O "${#kept_blobs[@]}" kept_blobs < <(retention_blobs_of "$tag"); done
  for digest in "${doomed[@]}"; do [[ -f "$(blob_file "$digest")" ]] || fail "$digest is not stored before the run"; done
  run node "$STOWAGE_CLI" retention run --json --config "$E2E_DIR/registry.yml"
  expect_eq "$(jq -c '[.repositories[] | select(.repository == "retention/app") | .tagsDeleted[].tag] | sort' <<<"$OUT")" '["stale","v1"]' 'tags deleted'
  expect_eq "$(jq -c '.skipped' <<<"$OUT")" '[]' 'skipped'
  local freed
  freed=$(jq '.gc.blobsDeleted' <<<"$OUT")
  ((freed >= ${#doomed[@]})) || fail "garbage collection freed $freed blobs, expected at least ${#doomed[@]}"
  for digest in "${doomed[@]}"; do [[ ! -e "$(blob_file "$digest")" ]] || fail "$digest is still stored after the run"; done
  for digest in "${kept_blobs[@]}"; do [[ -f "$(blob_file "$digest")" ]] || fail "kept blob $digest is gone"; done
  expect_eq "$(curl -sS "http://$REG/v2/retention/app/tags/list" | jq -c '.tags | sort')" '["latest","old-pulled","v2","v3"]' 'tags left'
  # The server beside the CLI serves its deletions from the next request on.
  expect_eq "$(registry_status HEAD /v2/retention/app/manifests/v1)" 404 'HEAD v1 after the run'
  expect_eq "$(registry_status HEAD /v2/retention/app/manifests/stale)" 404 'HEAD stale after the run'
}

retention_deletions_are_in_the_audit_log() {
  run node "$STOWAGE_CLI" audit --action retention-delete --repository retention/app --json --config "$E2E_DIR/registry.yml"
  expect_eq "$(jq -c '[.[] | select(.reference != null) | .reference] | sort' <<<"$OUT")" '["stale","v1"]' 'tags the audit log says were deleted'
  expect_eq "$(jq -r '[.[] | .userKind] | unique | join(",")' <<<"$OUT")" cli 'who the audit log names'
  expect_eq "$(jq -r '.[] | select(.reference == "v1") | .detail' <<<"$OUT")" \
    'policy 1: rule 1: not among the 2 most recently pushed; rule 2: not pulled within 720h' 'why, in the audit log'
}

retention_kept_tags_still_pull() {
  for tag in v2 v3 latest old-pulled; do
    docker rmi "$REG/retention/app:$tag" >/dev/null 2>&1 || true
    run docker pull "$REG/retention/app:$tag"
    run docker run --rm --network none "$REG/retention/app:$tag" /bin/cat "/$([[ $tag == latest ]] && echo v3 || echo "$tag")"
  done
}

if [[ "$REGISTRY_KIND" == stowage ]]; then
  check "retention: docker pushes tags whose ages are then set in the database" retention_pushes_tags_of_known_ages
  check "retention: the dry run lists exactly the tags no rule keeps, with reasons, deleting nothing" retention_dry_run_lists_what_goes
  check "retention: the run deletes exactly those and garbage collection frees their blobs" retention_run_deletes_exactly_that_and_frees_blobs
  check "retention: the audit log holds each deletion, by the command's user, with the rule" retention_deletions_are_in_the_audit_log
  check "retention: every kept tag still pulls and runs" retention_kept_tags_still_pull
fi
