#!/usr/bin/env bash
# Makes a local stand-in for the official node:20-slim image from this machine's own Node, for
# building deploy/Dockerfile where Docker Hub is out of reach:
#
#   scripts/make-node-base-image.sh [TAG]        (default TAG: stowage-node-base:local)
#   docker build --network host --build-arg NODE_IMAGE=TAG -f deploy/Dockerfile .
#
# Like node:20-slim it is a minimal Debian 12 (bookworm) with apt, so the Dockerfile installs the
# compiler better-sqlite3 is built with the same way on both. mmdebstrap makes the root filesystem
# from Debian's mirror ($DEBIAN_MIRROR, default http://deb.debian.org/debian); then, at the
# official image's paths: this machine's node at /usr/local/bin/node (and any shared library it
# loads that Debian's base lacks), its headers at /usr/local/include/node (node-gyp builds
# against them instead of downloading any), npm at /usr/local/lib/node_modules/npm; the machine's
# CA bundle, trusted through NODE_EXTRA_CA_CERTS (npm ci in a build reaches the registry through
# whatever TLS interception this machine trusts); and a `node` user, uid/gid 1000. The tarball is
# piped into `docker import`; the docker client is $DOCKER (default: docker), talking to
# $DOCKER_HOST. Needs mmdebstrap (apt-get install mmdebstrap), as root or with user namespaces.
set -euo pipefail

TAG=${1:-stowage-node-base:local}
DOCKER=${DOCKER:-docker}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

die() {
  echo "make-node-base-image: $*" >&2
  exit 1
}

command -v mmdebstrap >/dev/null || die "mmdebstrap is not installed (Debian: apt-get install mmdebstrap)"
node_bin=$(readlink -f "$(command -v node)") || die "node is not installed"
npm_dir=$(readlink -f "$(dirname "$(readlink -f "$(command -v npm)")")/..") || die "npm is not installed"
[[ -f "$npm_dir/package.json" && -f "$npm_dir/bin/npm-cli.js" ]] || die "cannot find npm's package under $npm_dir"
headers=$(readlink -f "$(dirname "$node_bin")/../include/node")
[[ -f "$headers/node.h" && -f "$headers/common.gypi" ]] || die "node's headers are not in $headers (node-gyp needs them)"
ca_bundle=/etc/ssl/certs/ca-certificates.crt
node_version=$("$node_bin" --version)
# The shared libraries node loads, copied only where Debian's base has none (it has libc and libstdc++).
libraries=$(ldd "$node_bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | sort -u | tr '\n' ' ')

work=$(mktemp -d /tmp/stowage-node-base.XXXXXX)
trap 'rm -rf "$work"' EXIT
# What the hooks copy in, gathered in one tree laid out as the image's /usr/local.
mkdir -p "$work/local/bin" "$work/local/lib/node_modules" "$work/local/include"
cp "$node_bin" "$work/local/bin/node"
cp -a "$npm_dir" "$work/local/lib/node_modules/npm"
cp -a "$headers" "$work/local/include/node"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$work/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$work/local/bin/npx"

ca_env=()
hooks=(
  --customize-hook="tar -C '$work/local' -cf - . | tar -C \"\$1/usr/local\" -xf -"
  # A library node needs and the base lacks, at the path the loader looks in.
  --customize-hook="for lib in $libraries; do [ -e \"\$1\$lib\" ] || { mkdir -p \"\$1\$(dirname \$lib)\"; cp -L \"\$lib\" \"\$1\$lib\"; }; done"
  --customize-hook='echo "node:x:1000:1000::/home/node:/bin/sh" >>"$1/etc/passwd"; echo "node:x:1000:" >>"$1/etc/group"; mkdir -p "$1/home/node"; chown 1000:1000 "$1/home/node"'
)
if [[ -f "$ca_bundle" ]]; then
  hooks+=(--customize-hook="mkdir -p \"\$1/etc/ssl/certs\" && cp '$ca_bundle' \"\$1$ca_bundle\"")
  ca_env=(-c "ENV NODE_EXTRA_CA_CERTS=$ca_bundle")
fi
# The image must run: node and npm inside the new root, before it is imported.
hooks+=(--customize-hook='chroot "$1" /usr/local/bin/node -e "process.exit(0)" && chroot "$1" /usr/local/bin/npm --version >/dev/null')

# To a file first: a failed run must not import half a tarball.
mmdebstrap --quiet --variant=minbase --format=tar "${hooks[@]}" bookworm "$work/rootfs.tar" "$MIRROR"
"$DOCKER" import \
    -c "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    -c "ENV NODE_VERSION=${node_version#v}" \
    "${ca_env[@]}" \
    -c 'CMD ["node"]' \
    -m "node $node_version from $(hostname) on Debian bookworm (scripts/make-node-base-image.sh)" \
    "$work/rootfs.tar" "$TAG" >/dev/null
echo "make-node-base-image: $TAG (node $node_version, $("$DOCKER" image inspect -f '{{.Size}}' "$TAG") bytes)"
