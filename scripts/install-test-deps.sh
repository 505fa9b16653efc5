#!/usr/bin/env bash
# Installs what `npm test` needs beyond node_modules: PostgreSQL from Debian's `postgresql` package,
# and CNCF Distribution 2.8.2 from Debian's `docker-registry` (what `registry:2` runs: the import
# tests read a directory it writes, test/storage/registry2-import.test.ts). The tests start their
# own servers from these binaries (initdb, pg_ctl under /usr/lib/postgresql/<version>/bin;
# /usr/bin/docker-registry) in temporary directories; nothing here configures or starts one.
# Idempotent: when both are there it does nothing and needs no network. Installing needs root
# (CI); without root it says what to install and exits 1.
set -euo pipefail

# Where test/helpers/postgres-server.ts looks: Debian's directories, else pg_config's bindir.
have_initdb() {
  compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null && return 0
  command -v pg_config >/dev/null && [[ -x "$(pg_config --bindir)/initdb" ]]
}

missing=()
have_initdb || missing+=(postgresql)
[[ -x /usr/bin/docker-registry ]] || missing+=(docker-registry)

if ((${#missing[@]} == 0)); then
  echo "install-test-deps: PostgreSQL and docker-registry present"
  exit 0
fi

if ((EUID != 0)); then
  echo "install-test-deps: missing ${missing[*]}; install Debian's packages as root:" >&2
  echo "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi

# The packages would create and start a system-wide cluster and registry; the tests start their
# own servers, so keep the services from starting (the usual Debian policy-rc.d mechanism, as install-e2e-deps.sh
# does), unless the machine already has a policy of its own.
policy=/usr/sbin/policy-rc.d
own_policy=false
if [[ ! -e "$policy" ]]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  own_policy=true
fi
trap 'if $own_policy; then rm -f "$policy"; fi' EXIT

echo "install-test-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}" >/dev/null
echo "install-test-deps: done"
