#!/usr/bin/env bash
# Installs the Debian packages tokenfcgi needs to build, run, test (and, with --bench, benchmark), if missing.
# Idempotent and quiet when everything is there: checks with dpkg-query, runs `apt-get update` at most once and only
# when something is missing, and uses sudo when not root.
#
#   scripts/deps.sh           build + run + test dependencies
#   scripts/deps.sh --bench   also wrk (for `make bench`)
set -euo pipefail

packages=(
  build-essential cmake pkg-config            # toolchain
  libfcgi-dev liblmdb-dev lmdb-utils libssl-dev libcjson-dev   # libraries (and mdb_stat/mdb_copy)
  libargon2-dev                               # password hashing (users)
  libpq-dev                                   # the PostgreSQL store (libpq)
  postgresql-15                               # tests: private PostgreSQL clusters (initdb, pg_ctl), never a service
  libgtest-dev googletest                     # unit tests
  nginx spawn-fcgi curl                       # running it for real: make run, integration tests
  python3 python3-jwt python3-cryptography    # integration tests: independent JWT verification
  python3-jose                                # integration tests: independent id_token validation (at_hash)
  clang libclang-rt-14-dev                    # ASan/UBSan build and libFuzzer targets
  ccache time                                 # make test: compiler cache; CPU seconds of each step
  dpkg-dev debhelper lintian fakeroot        # make deb, and the package test
  apache2 libapache2-mod-fcgid systemd       # the Apache test; systemd-analyze verify for the units
  libapache2-mod-auth-openidc libapache2-mod-oauth2 python3-authlib python3-requests  # relying-party recipes' tests
  golang-go golang-github-coreos-go-oidc-dev golang-golang-x-oauth2-dev                # ... and the go-oidc one
)
for arg in "$@"; do
  case "$arg" in
    --bench) packages+=(wrk) ;;
    *) echo "usage: $0 [--bench]" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [[ "$status" == installed ]] || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if ! command -v apt-get >/dev/null; then
  echo "deps.sh: missing packages (${missing[*]}) and no apt-get: install them by hand" >&2
  exit 1
fi
sudo=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "deps.sh: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo=(sudo)
fi
echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
