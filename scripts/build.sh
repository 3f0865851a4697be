#!/usr/bin/env bash
# Configures and builds the tree in build/ (RelWithDebInfo), two jobs at a time.
#   scripts/build.sh [extra cmake -D options...]
# BUILD_DIR overrides the directory; JOBS the parallelism.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build}
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" "$@" >/dev/null
cmake --build "$build_dir" -j "${JOBS:-2}"
