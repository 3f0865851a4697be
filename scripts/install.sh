#!/usr/bin/env bash
# `make install`: installs tokenfcgi, tokenctl, the sample config and the nginx example.
#   PREFIX=/usr DESTDIR=/tmp/stage scripts/install.sh
# The build is configured with CMAKE_INSTALL_PREFIX=$PREFIX so that GNUInstallDirs puts the config under /etc when
# PREFIX is /usr (and under $PREFIX/etc otherwise); DESTDIR stages everything below another root.
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=${PREFIX:-/usr/local}
build_dir=${BUILD_DIR:-build}
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" -DCMAKE_INSTALL_PREFIX="$prefix" >/dev/null
cmake --build "$build_dir" -j "${JOBS:-2}" --target tokenfcgi tokenctl
DESTDIR="${DESTDIR:-}" cmake --install "$build_dir" --prefix "$prefix"
