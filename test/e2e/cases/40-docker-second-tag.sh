# A second tag of an image already pushed: no blob goes up again, both tags name one manifest.

docker_pushes_second_tag() {
  run docker tag "$REG/busybox:latest" "$REG/busybox:v2"
  run docker push "$REG/busybox:v2"
  expect_contains "$OUT" 'Layer already exists' 'push output'
  local latest v2
  latest=$(registry_manifest_digest busybox latest)
  v2=$(registry_manifest_digest busybox v2)
  expect_eq "$v2" "$latest" 'digest of busybox:v2'
  expect_contains "$OUT" "v2: digest: $latest" 'push output'
  local tags
  tags=$(curl -sS --max-time 10 "http://$REG/v2/busybox/tags/list" | jq -c '.tags | sort')
  expect_eq "$tags" '["latest","v2"]' 'tags of busybox'
}

check "docker push of a second tag of the same image" docker_pushes_second_tag
