#!/usr/bin/env bash
# Makes a local stand-in for the official node:20-slim image from this machine's own Node, for
# building deploy/Dockerfile where Docker Hub is out of reach:
#
#   scripts/make-node-base-image.sh [TAG]        (default TAG: stowage-node-base:local)
#   docker build --build-arg NODE_IMAGE=TAG -f deploy/Dockerfile .
#
# The root filesystem holds node and the shared libraries `ldd` lists, npm, a static busybox as
# /bin/sh (npm runs scripts with it), CA certificates, and a passwd/group with root and a `node`
# user (uid/gid 1000, as in the official image). Paths follow the official image (/usr/local/bin/
# node, /usr/local/lib/node_modules/npm) and Debian's merged /usr. It is piped as a tarball into
# `docker import`; the docker client is $DOCKER (default: docker), talking to $DOCKER_HOST.
set -euo pipefail

TAG=${1:-stowage-node-base:local}
DOCKER=${DOCKER:-docker}

die() {
  echo "make-node-base-image: $*" >&2
  exit 1
}

node_bin=$(readlink -f "$(command -v node)") || die "node is not installed"
npm_dir=$(readlink -f "$(dirname "$(readlink -f "$(command -v npm)")")/..") || die "npm is not installed"
[[ -f "$npm_dir/package.json" && -f "$npm_dir/bin/npm-cli.js" ]] || die "cannot find npm's package under $npm_dir"
busybox_bin=$(command -v busybox || echo /bin/busybox)
[[ "$(ldd "$busybox_bin" 2>&1 || true)" == *"not a dynamic executable"* ]] \
  || die "a static busybox is needed for /bin/sh (Debian: apt-get install busybox-static)"

rootfs=$(mktemp -d /tmp/stowage-node-base.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT
# mktemp makes the directory 0700; as the image's / it would lock uid 1000 out of everything.
chmod 755 "$rootfs"

# Debian's merged /usr: /bin, /lib and friends are links into /usr.
mkdir -p "$rootfs"/usr/{bin,sbin,lib,lib64,local/bin,local/lib/node_modules} "$rootfs"/{etc/ssl/certs,tmp,root,home/node}
for dir in bin sbin lib lib64; do ln -s "usr/$dir" "$rootfs/$dir"; done
chmod 1777 "$rootfs/tmp"
chmod 700 "$rootfs/root"

# node and every shared library it loads, at the paths the loader looks in.
cp "$node_bin" "$rootfs/usr/local/bin/node"
while read -r lib; do
  [[ -n "$lib" ]] || continue
  mkdir -p "$rootfs$(dirname "$lib")"
  cp -L "$lib" "$rootfs$lib"
done < <(ldd "$node_bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | sort -u)

# npm, as the official image installs it.
cp -a "$npm_dir" "$rootfs/usr/local/lib/node_modules/npm"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"

# /bin/sh and the usual small tools, from one static busybox.
cp "$busybox_bin" "$rootfs/usr/bin/busybox"
for applet in $("$busybox_bin" --list); do
  [[ -e "$rootfs/usr/bin/$applet" ]] || ln -s busybox "$rootfs/usr/bin/$applet"
done

# The machine's CA bundle, trusted by node besides its own (npm ci in a build reaches the registry
# through whatever TLS interception this machine trusts), users, and what glibc's resolver reads.
ca_env=()
if [[ -f /etc/ssl/certs/ca-certificates.crt ]]; then
  cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
  ca_env=(-c "ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt")
fi
cat >"$rootfs/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
node:x:1000:1000::/home/node:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
EOF
cat >"$rootfs/etc/group" <<'EOF'
root:x:0:
node:x:1000:
nogroup:x:65534:
EOF
printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$rootfs/etc/nsswitch.conf"
chown 1000:1000 "$rootfs/home/node"

# The image must run: check node and npm inside the tree before importing it.
chroot "$rootfs" /usr/local/bin/node -e 'process.exit(0)' 2>/dev/null \
  || die "node does not start inside the new root filesystem (missing library?)"

node_version=$("$node_bin" --version)
tar --sort=name --mtime=@0 --numeric-owner --format=posix \
  --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime -C "$rootfs" -cf - . \
  | "$DOCKER" import \
    -c "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    -c "ENV NODE_VERSION=${node_version#v}" \
    "${ca_env[@]}" \
    -c 'CMD ["node"]' \
    -m "node $node_version from $(hostname) (scripts/make-node-base-image.sh)" \
    - "$TAG" >/dev/null
echo "make-node-base-image: $TAG (node $node_version, $("$DOCKER" image inspect -f '{{.Size}}' "$TAG") bytes)"
