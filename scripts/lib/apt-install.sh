# Sourced by the install-*-deps.sh scripts: installs Debian packages without starting their
# services (the suites start their own daemons and servers in temporary directories).
# Usage: [APT_OPTIONS=--no-install-recommends] apt_install_missing NAME PACKAGE...
# (nothing missing: returns at once, no network)

apt_install_missing() {
  local name=$1
  shift
  (($# == 0)) && return 0
  if ((EUID != 0)); then
    echo "$name: missing $*; install Debian's packages as root:" >&2
    echo "  apt-get update && apt-get install -y ${APT_OPTIONS:+$APT_OPTIONS }$*" >&2
    return 1
  fi
  # Package scripts would start system-wide services (docker, a PostgreSQL cluster, a registry);
  # keep them from starting (Debian's policy-rc.d mechanism), unless the machine has a policy.
  local policy=/usr/sbin/policy-rc.d own_policy=false
  if [[ ! -e "$policy" ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    own_policy=true
  fi
  echo "$name: installing $*"
  export DEBIAN_FRONTEND=noninteractive
  local status=0
  {
    apt-get update -qq &&
      apt-get install -y -qq ${APT_OPTIONS:-} -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@" >/dev/null
  } || status=$?
  if $own_policy; then rm -f "$policy"; fi
  ((status == 0)) && echo "$name: done"
  return $status
}
