# Immutable tags (issue 16): `docker push` over a protected tag is refused with a readable
# "denied" message naming the rule, the tag keeps its digest, pushing the same image again
# succeeds, and `stowage retag` onto the tag is refused too. stowage only: run.sh's config for it
# protects v* tags of immutable/** (no other case uses that name); registry:2 has no such rule.

docker_push_over_immutable_tag_is_denied() {
  run docker tag "$REG/busybox:latest" "$REG/immutable/app:v1"
  run docker push "$REG/immutable/app:v1"
  local kept
  kept=$(registry_manifest_digest immutable/app v1)
  expect_match "$kept" '^sha256:[0-9a-f]{64}$' 'digest of immutable/app:v1'
  # Clients re-push: the same digest again is accepted.
  run docker push "$REG/immutable/app:v1"
  # Another image under the same tag: one more layer on top of busybox.
  docker rm -f immutable-e2e >/dev/null 2>&1 || true
  run docker run --name immutable-e2e --network none "$REG/busybox:latest" /bin/sh -c 'echo changed > /changed'
  run docker commit immutable-e2e "$REG/immutable/app:v1"
  run docker rm immutable-e2e
  if run docker push "$REG/immutable/app:v1"; then fail 'docker push over the immutable tag succeeded'; fi
  expect_contains "$OUT" 'denied: tag v1 of immutable/app is immutable (stowage.immutable rule 1: immutable/** v*)' 'push output'
  expect_eq "$(registry_manifest_digest immutable/app v1)" "$kept" 'digest of immutable/app:v1 after the refused push'
  # A tag no rule protects takes the new image.
  run docker tag "$REG/immutable/app:v1" "$REG/immutable/app:latest"
  run docker push "$REG/immutable/app:latest"
}

retag_onto_immutable_tag_is_denied() {
  local kept
  kept=$(registry_manifest_digest immutable/app v1)
  if run node "$STOWAGE_CLI" retag immutable/app:latest immutable/app:v1 --config "$E2E_DIR/registry.yml"; then
    fail 'stowage retag onto the immutable tag succeeded'
  fi
  expect_contains "$OUT" 'is immutable' 'retag output'
  expect_eq "$(registry_manifest_digest immutable/app v1)" "$kept" 'digest of immutable/app:v1 after the refused retag'
  expect_eq "$(registry_status DELETE "/v2/immutable/app/manifests/v1")" 403 'DELETE immutable/app:v1'
}

# The audit log (stowage audit on the registry's database) holds the refusals: docker's push over
# the tag and the DELETE (anonymous: this registry has no auth) and the CLI's retag.
audit_log_holds_the_immutable_refusals() {
  local events i
  count() { jq "[.[] | select($1)] | length" <<<"$events"; }
  for ((i = 0; i < 50; i++)); do
    run node "$STOWAGE_CLI" audit --json --repository immutable/app --config "$E2E_DIR/registry.yml"
    events=$OUT
    [[ "$(count '.action == "delete" and .result == "denied"')" -ge 1 ]] && break
    sleep 0.1
  done
  expect_match "$(count '.action == "push" and .reference == "v1" and .result == "denied" and .status == 403 and .userKind == "anonymous" and (.detail | contains("is immutable"))')" '^[1-9]' 'the refused push'
  expect_match "$(count '.action == "push" and .reference == "v1" and .result == "ok"')" '^[1-9]' 'the pushes of v1'
  expect_match "$(count '.action == "delete" and .reference == "v1" and .result == "denied" and .status == 403')" '^1$' 'the refused DELETE'
  expect_match "$(count '.action == "retag" and .reference == "v1" and .result == "denied" and .userKind == "cli"')" '^1$' 'the refused retag'
}

if [[ "$REGISTRY_KIND" == stowage ]]; then
  check "docker push over an immutable tag is denied with the rule named" docker_push_over_immutable_tag_is_denied
  check "stowage retag and DELETE of an immutable tag are refused" retag_onto_immutable_tag_is_denied
  check "the audit log holds the refused push, DELETE and retag" audit_log_holds_the_immutable_refusals
fi
