#!/usr/bin/env bash
# Installs the Debian packages a make target needs, if missing. Idempotent and quiet when everything is there:
# checks with dpkg-query, says which packages it is about to install and for what, runs `apt-get update` at most once
# and only when something is missing, and uses sudo when not root.
#
#   scripts/deps.sh --run     building and serving (`make run`): compiler, CMake, libraries, nginx, spawn-fcgi, curl.
#                             Never Apache: on a systemd host its package starts a server on port 80.
#   scripts/deps.sh --deb     building the Debian package (`make deb`): --run's build tools + dpkg-dev, debhelper,
#                             lintian
#   scripts/deps.sh [--test]  everything `make test` needs (the default): --run, --deb, and the test tools
#                             (GoogleTest, clang, Apache and its modules, Python and Go libraries, systemd)
#   scripts/deps.sh --bench   `make bench`: --run + wrk and strace
set -euo pipefail

run_packages=(
  build-essential cmake pkg-config            # toolchain
  libfcgi-dev liblmdb-dev lmdb-utils libssl-dev libcjson-dev   # libraries (and mdb_stat/mdb_copy)
  libargon2-dev                               # password hashing (users)
  libpq-dev                                   # the PostgreSQL store (libpq)
  nginx spawn-fcgi curl openssl               # running it for real: make run (openssl: the README's assertion)
)
deb_packages=(
  dpkg-dev debhelper lintian fakeroot        # make deb, and the package test
)
test_packages=(
  postgresql-15                               # the PostgreSQL store's tests: private clusters (initdb, pg_ctl)
  libgtest-dev googletest                     # unit tests
  python3 python3-jwt python3-cryptography    # integration tests: independent JWT verification
  python3-jose                                # integration tests: independent id_token validation (at_hash)
  clang libclang-rt-14-dev                    # ASan/UBSan build and libFuzzer targets
  ccache time                                 # make test: compiler cache; CPU seconds of each step
  apache2 libapache2-mod-fcgid systemd       # the Apache test; systemd-analyze verify for the units
  libapache2-mod-auth-openidc libapache2-mod-oauth2 python3-authlib python3-requests  # relying-party recipes' tests
  golang-go golang-github-coreos-go-oidc-dev golang-golang-x-oauth2-dev                # ... and the go-oidc one
)
bench_packages=(
  wrk python3                                 # make bench: load generator; bench/bench.py
  strace                                      # make bench: syncs per request in the write-path table
)

profile=test
for arg in "$@"; do
  case "$arg" in
    --run) profile=run ;;
    --deb) profile=deb ;;
    --test) profile=test ;;
    --bench) profile=bench ;;
    *) echo "usage: $0 [--run | --deb | --test | --bench]" >&2; exit 2 ;;
  esac
done
case "$profile" in
  run) packages=("${run_packages[@]}"); purpose="building and serving (make run)" ;;
  deb) packages=("${run_packages[@]}" "${deb_packages[@]}"); purpose="building the Debian package (make deb)" ;;
  test) packages=("${run_packages[@]}" "${deb_packages[@]}" "${test_packages[@]}")
        purpose="building, packaging and testing (make test)" ;;
  bench) packages=("${run_packages[@]}" "${bench_packages[@]}"); purpose="benchmarking (make bench)" ;;
esac

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
echo "deps.sh: $purpose needs these Debian packages, which are missing: ${missing[*]}" >&2
echo "deps.sh: installing them: ${sudo[*]:+sudo }apt-get update, then apt-get install --no-install-recommends" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
