#!/usr/bin/env bash
# Installs what `npm run test:e2e` drives: a Docker engine and client (docker.io, which brings
# containerd, runc, tini and iptables), skopeo, podman (whose containers-common dependency ships
# /etc/containers/policy.json), Debian's registry:2 build (docker-registry, the reference the
# suite can also run against), busybox-static (the test image is made from /bin/busybox),
# mmdebstrap (the container suite's Debian base image, scripts/make-node-base-image.sh), curl and jq.
# Idempotent: when every package is already installed it does nothing and needs no network.
# Meant for a Debian 12 machine as root with no input (CI).
set -euo pipefail

PACKAGES=(docker.io skopeo podman docker-registry busybox-static mmdebstrap curl jq iptables uidmap ca-certificates)

missing=()
for package in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$package")
done

if ((${#missing[@]} == 0)); then
  echo "install-e2e-deps: all present (${PACKAGES[*]})"
  exit 0
fi

if ((EUID != 0)); then
  echo "install-e2e-deps: missing ${missing[*]}; run this script as root" >&2
  exit 1
fi

# Package scripts would start system-wide docker and registry services; the suite starts its own
# daemons, so keep the services from starting (the usual Debian policy-rc.d mechanism), unless
# the machine already has a policy of its own.
policy=/usr/sbin/policy-rc.d
own_policy=false
if [[ ! -e "$policy" ]]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  own_policy=true
fi
trap 'if $own_policy; then rm -f "$policy"; fi' EXIT

echo "install-e2e-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}" >/dev/null
echo "install-e2e-deps: done"
