# Short names (issue 7): `stowage retag` links an image under a short name without copying a
# byte, and an alias reaches a proxied upstream's image with no retag at all. stowage only: the
# reference registry has neither. (The dockerd registry-mirror pull by bare name is in proxy.sh.)

short_name_by_retag() {
  run docker tag "$REG/busybox:latest" "$REG/team/base/busybox:1.36"
  run docker push "$REG/team/base/busybox:1.36"
  local before
  before=$(count_blob_files)
  run node "$STOWAGE_CLI" retag team/base/busybox:1.36 busybox:1.36 --config "$E2E_DIR/registry.yml"
  expect_contains "$OUT" 'no bytes copied'
  expect_eq "$(count_blob_files)" "$before" 'blob data files after the retag'
  expect_eq "$(registry_manifest_digest busybox 1.36)" "$(registry_manifest_digest team/base/busybox 1.36)" 'digest of busybox:1.36'
  run docker rmi "$REG/team/base/busybox:1.36"
  run docker pull "$REG/busybox:1.36"
  run docker run --rm "$REG/busybox:1.36" /bin/echo "Hello from a short name"
  expect_contains "$OUT" 'Hello from a short name'
}

alias_to_proxied_upstream() {
  local upstream_port stowage_port
  upstream_port=$(free_port)
  stowage_port=$(free_port)
  # Started inside the check: cleanup stops them as processes that name $E2E_DIR.
  start_distribution short-names-upstream "$upstream_port" "$(filesystem_storage "$E2E_DIR/short-names-upstream-data")" \
    || fail 'upstream docker-registry did not start'
  start_stowage short-names "$stowage_port" "$(filesystem_storage "$E2E_DIR/short-names-data")" \
    "stowage: { proxies: [ { prefix: hub, remoteurl: 'http://127.0.0.1:$upstream_port' } ], aliases: { busybox: hub/library/busybox } }" \
    || fail 'stowage with the alias did not start'
  # The image exists only upstream, as library/busybox.
  run docker tag "$REG/busybox:latest" "127.0.0.1:$upstream_port/library/busybox:latest"
  run docker push "127.0.0.1:$upstream_port/library/busybox:latest"
  run docker pull "127.0.0.1:$stowage_port/busybox:latest"
  run docker run --rm "127.0.0.1:$stowage_port/busybox:latest" /bin/echo "Hello through an alias"
  expect_contains "$OUT" 'Hello through an alias'
  run curl -sS --max-time 10 "http://127.0.0.1:$stowage_port/v2/_catalog"
  expect_contains "$OUT" '"busybox"' 'the catalog'
  expect_contains "$OUT" '"hub/library/busybox"' 'the catalog'
}

if [[ "$REGISTRY_KIND" == stowage ]]; then
  check "stowage retag links team/base/busybox as busybox; docker pulls and runs it" short_name_by_retag
  check "an alias to a proxied upstream: docker pull host/busybox with no retag" alias_to_proxied_upstream
fi
