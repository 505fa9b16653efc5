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

source "$(dirname "$0")/lib/apt-install.sh"
APT_OPTIONS=--no-install-recommends apt_install_missing install-test-deps "${missing[@]}"
