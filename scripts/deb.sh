#!/usr/bin/env bash
# `make deb`: builds the tokenfcgi Debian package from this checkout, never inside it.
#   1. stages the source tree (without .git, build directories and run/) into build-deb/tokenfcgi/;
#   2. copies packaging/debian/ to the staged debian/;
#   3. runs `dpkg-buildpackage -us -uc -b` there (two jobs unless JOBS says otherwise);
#   4. runs lintian on the .deb and fails if it reports an error (warnings are shown, not fatal);
#   5. prints the path of the .deb, which stays in build-deb/, as the last line of its output.
#
#   scripts/deb.sh [--version VERSION] [--reuse] [--ccache] [--no-lintian]
#     --version V   add a changelog entry for version V to the staged copy (the checkout is not changed), e.g. to
#                   build an upgrade of an installed package
#     --reuse       keep the existing staging's CMake object files (no pre-clean): only what changed is recompiled
#     --ccache      compile through ccache, with paths relative to the staging (CCACHE_BASEDIR, CCACHE_NOHASHDIR:
#                   the package's own -ffile-prefix-map already makes its debug paths relative), so a build in
#                   another directory reuses the objects of an earlier one; for tests, not for release builds
#     --no-lintian  skip step 4 (for a rebuild whose files lintian has already seen, e.g. only a new changelog entry)
# DEB_OUT overrides the output directory (default build-deb/ in the checkout).
# Needs: dpkg-dev, debhelper, lintian and the build dependencies in packaging/debian/control.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
out=${DEB_OUT:-$repo/build-deb}
version=""
reuse=0
ccache=0
lintian=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --version) [[ $# -ge 2 ]] || { echo "deb.sh: --version needs a value" >&2; exit 2; }; version=$2; shift 2 ;;
    --reuse) reuse=1; shift ;;
    --ccache) ccache=1; shift ;;
    --no-lintian) lintian=0; shift ;;
    *) echo "usage: $0 [--version VERSION] [--reuse] [--ccache] [--no-lintian]" >&2; exit 2 ;;
  esac
done

for tool in dpkg-buildpackage dh lintian; do
  if ! command -v "$tool" >/dev/null; then
    echo "deb.sh: $tool is missing: apt-get install dpkg-dev debhelper lintian" >&2
    exit 1
  fi
done

mkdir -p "$out"
out=$(cd "$out" && pwd)
stage=$out/tokenfcgi

if [[ $reuse -eq 0 || ! -d "$stage/debian" ]]; then
  reuse=0
  rm -rf "$stage"
  mkdir -p "$stage"
fi
# Everything but version control, build trees and local state (paths anchored at the checkout's top). On --reuse
# this refreshes the sources; tar keeps their modification times, so only what changed is rebuilt.
tar -C "$repo" -cf - \
    --exclude=./.git --exclude='./build*' --exclude=./run --exclude='__pycache__' --exclude='*.pyc' . |
  tar -C "$stage" -xf -
# The staged debian/ is exactly packaging/debian/ (plus an optional changelog entry below). On --reuse this also
# drops debhelper's logs and stamps, so every step runs again, while CMake's obj-*/ tree makes the compile incremental.
rm -rf "$stage/debian"
cp -a "$repo/packaging/debian" "$stage/debian"

if [[ -n "$version" ]]; then
  maintainer=$(sed -n 's/^Maintainer: //p' "$stage/debian/control")
  {
    echo "tokenfcgi ($version) unstable; urgency=medium"
    echo
    echo "  * Local build $version from $(cd "$repo" && git rev-parse --short HEAD 2>/dev/null || echo 'a checkout')."
    echo
    echo " -- $maintainer  $(date -R)"
    echo
    cat "$stage/debian/changelog"
  } >"$stage/debian/changelog.new"
  mv "$stage/debian/changelog.new" "$stage/debian/changelog"
fi
version=$(cd "$stage" && dpkg-parsechangelog -S Version)
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
deb=$out/tokenfcgi_${version}_${arch}.deb
rm -f "$deb"

echo "deb.sh: building tokenfcgi $version in $stage" >&2
build_args=(-us -uc -b)
[[ $reuse -eq 1 ]] && build_args+=(-nc)
launcher=(env)
if [[ $ccache -eq 1 ]] && command -v ccache >/dev/null; then
  # CMake reads these as the default compiler launchers; dpkg-buildpackage passes the environment through.
  # debhelper gives the build a HOME of its own, so the cache directory is named here.
  launcher=(env CMAKE_C_COMPILER_LAUNCHER=ccache CMAKE_CXX_COMPILER_LAUNCHER=ccache CCACHE_BASEDIR="$stage"
            CCACHE_NOHASHDIR=1 CCACHE_DIR="$(ccache -k cache_dir)")
fi
(cd "$stage" && "${launcher[@]}" DEB_BUILD_OPTIONS="parallel=${JOBS:-2} nocheck${DEB_BUILD_OPTIONS:+ $DEB_BUILD_OPTIONS}" \
   dpkg-buildpackage "${build_args[@]}")
[[ -f "$deb" ]] || { echo "deb.sh: dpkg-buildpackage did not produce $deb" >&2; exit 1; }

if [[ $lintian -eq 1 ]]; then
  echo "deb.sh: lintian $deb" >&2
  # Errors fail the build; warnings and info are printed for the record.
  lintian --fail-on error --display-info --tag-display-limit 0 "$deb" >&2
fi
echo "$deb"
