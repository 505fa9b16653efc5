# Deleting a manifest by digest (end-9): skopeo delete and a plain curl DELETE, after which the
# manifest is 404 MANIFEST_UNKNOWN by digest and by tag.

expect_manifest_gone() {
  local name=$1 digest=$2 tag=$3 body
  expect_eq "$(registry_status GET "/v2/$name/manifests/$digest")" 404 "GET $name@$digest"
  expect_eq "$(registry_status HEAD "/v2/$name/manifests/$digest")" 404 "HEAD $name@$digest"
  expect_eq "$(registry_status GET "/v2/$name/manifests/$tag")" 404 "GET $name:$tag"
  body=$(curl -sS --max-time 10 "http://$REG/v2/$name/manifests/$digest")
  expect_eq "$(jq -r '.errors[0].code' <<<"$body")" MANIFEST_UNKNOWN "error code for $name@$digest"
}

skopeo_deletes_by_digest() {
  run skopeo copy --src-tls-verify=false --dest-tls-verify=false "docker://$REG/busybox:latest" "docker://$REG/doomed/skopeo:1"
  local digest
  digest=$(registry_manifest_digest doomed/skopeo 1)
  expect_match "$digest" '^sha256:[0-9a-f]{64}$' 'digest of doomed/skopeo:1'
  run skopeo delete --tls-verify=false "docker://$REG/doomed/skopeo@$digest"
  expect_manifest_gone doomed/skopeo "$digest" 1
  expect_eq "$(registry_status HEAD "/v2/busybox/manifests/$digest")" 200 'the same manifest in busybox after the delete'
}

curl_deletes_by_digest() {
  run docker tag "$REG/busybox:latest" "$REG/doomed/curl:1"
  run docker push "$REG/doomed/curl:1"
  local digest
  digest=$(registry_manifest_digest doomed/curl 1)
  expect_eq "$(registry_status DELETE "/v2/doomed/curl/manifests/$digest")" 202 "DELETE doomed/curl@$digest"
  expect_manifest_gone doomed/curl "$digest" 1
  run docker rmi "$REG/doomed/curl:1"
  if docker pull "$REG/doomed/curl:1"; then fail 'docker pull of the deleted manifest succeeded'; fi
}

check "skopeo delete by digest, then the manifest is 404" skopeo_deletes_by_digest
check "curl DELETE by digest answers 202, then docker pull of the tag fails" curl_deletes_by_digest
