#!/usr/bin/env bash
# Installs what `npm run test:e2e` drives: a Docker engine and client (docker.io, which brings
# containerd, runc, tini and iptables), skopeo, podman and buildah (whose containers-common dependency ships
# /etc/containers/policy.json), Debian's registry:2 build (docker-registry, the reference the
# suite can also run against), busybox-static (the test image is made from /bin/busybox),
# mmdebstrap (the container suite's Debian base image, scripts/make-node-base-image.sh), curl, jq and
# sqlite3 (the retention case sets push and pull times in the database),
# and chromium with a font (the web UI's browser tests, test/e2e/ui.sh).
# Idempotent: when every package is already installed it does nothing and needs no network.
# Meant for a Debian 12 machine as root with no input (CI).
set -euo pipefail

PACKAGES=(docker.io containerd skopeo podman buildah docker-registry busybox-static mmdebstrap curl jq sqlite3 iptables uidmap ca-certificates chromium fonts-dejavu-core)

missing=()
for package in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$package")
done

if ((${#missing[@]} == 0)); then
  echo "install-e2e-deps: all present (${PACKAGES[*]})"
  exit 0
fi

source "$(dirname "$0")/lib/apt-install.sh"
apt_install_missing install-e2e-deps "${missing[@]}"
