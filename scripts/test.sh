#!/usr/bin/env bash
# `make test` (and .ci/run): installs what the tests need, then runs the whole CTest suite twice:
#   1. build/       the normal RelWithDebInfo build: unit + integration tests (real nginx, real workers, real LMDB)
#   2. build-asan/  clang with ASan+UBSan (-DTF_SANITIZE=ON) and libFuzzer targets (-DTF_FUZZ=ON): unit tests,
#                   integration tests against the sanitized workers (those that can run on either store against a
#                   private PostgreSQL cluster: -DTF_INTEGRATION_STORE=postgresql), and every fuzz target for 15 s
# Exits non-zero if any build or test fails (and, when CI=true, if any test was skipped).
# JOBS sets the parallelism (default 2); BUILD_DIR and ASAN_BUILD_DIR move the two build trees.
# Compiles go through ccache (CCACHE_DISABLE=1 turns it off), so a second run recompiles only what changed. The
# sanitizer build is -O1 with line tables only: what ASan/UBSan need for their reports, in a fifth less compile time.
# The summary gives wall-clock and CPU seconds (user+sys) of every build and test step.
set -uo pipefail
cd "$(dirname "$0")/.."
jobs=${JOBS:-2}
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

# Said before anything starts: how long it takes, and what it does to this machine when run as root.
echo "make test: builds and runs every test twice (build/, then build-asan/ under ASan/UBSan with the fuzz targets);"
echo "make test: about 15 minutes on a quiet two-core machine the first time, about 5 once ccache holds the objects."
if [[ $(id -u) -eq 0 ]]; then
  echo "make test: running as root, so the package test (tests/integration/test_deb.py) builds the Debian package and"
  echo "make test: installs, upgrades, removes and purges it on this machine (user tokenfcgi, /var/lib/tokenfcgi,"
  echo "make test: /etc/tokenfcgi); it skips itself if a tokenfcgi package is installed already."
else
  echo "make test: not root, so the package test (which installs the Debian package on this machine) is skipped."
fi
scripts/deps.sh || exit 1

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

declare -a summary timings
failed=0

# timed LABEL CMD...: runs CMD, records its wall-clock and CPU seconds (itself and its children) for the summary.
timed() {
  local label=$1 rc
  shift
  /usr/bin/time -f '%e %U %S' -o "$logs/time" "$@"
  rc=$?
  timings+=("$(tail -n 1 "$logs/time" | awk -v l="$label" '{printf "%-14s %7.1f s wall %8.1f s CPU", l, $1, $2 + $3}')")
  return $rc
}

launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  # Paths relative to the checkout, so another clone of the same commit (CI clones afresh) hits the cache too.
  export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD} CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-1}
fi

# phase NAME BUILD_DIR [cmake args...]: configure, build, ctest; records one summary line.
phase() {
  local name=$1 dir=$2
  shift 2
  echo "==== $name: configure and build in $dir"
  if ! cmake -S . -B "$dir" "${launcher[@]}" "$@" >"$logs/$name.cmake" 2>&1; then
    cat "$logs/$name.cmake"
    summary+=("$name: FAILED to configure")
    failed=1
    return
  fi
  if ! timed "$name build" cmake --build "$dir" -j "$jobs"; then
    summary+=("$name: FAILED to build")
    failed=1
    return
  fi
  echo "==== $name: ctest in $dir"
  (cd "$dir" || exit 1
   timed "$name ctest" ctest --output-on-failure --no-tests=error -j "$jobs"
   rc=$?
   printf '%s\n' "${timings[-1]}" >"$logs/$name.ctest-time"
   exit $rc) 2>&1 | tee "$logs/$name.ctest"
  local rc=${PIPESTATUS[0]}
  timings+=("$(cat "$logs/$name.ctest-time")")
  local line skipped
  line=$(grep -E '^[0-9]+% tests passed' "$logs/$name.ctest" | tail -n 1)
  skipped=$(grep -E '\((Skipped|Not Run|Disabled)\)' "$logs/$name.ctest" | sed -E 's/^[[:space:]]*[0-9]+ - //')
  if [[ $rc -ne 0 ]]; then
    failed=1
    summary+=("$name: FAILED: ${line:-ctest exited $rc}")
    summary+=("$(grep -E '\((Failed|Timeout|SEGFAULT|Subprocess aborted|Exception|Child aborted)\)' \
                 "$logs/$name.ctest" | sed 's/^/    /')")
  else
    summary+=("$name: ok: ${line:-ctest passed}")
  fi
  if [[ -n "$skipped" ]]; then
    summary+=("$name: skipped: $(echo "$skipped" | tr '\n' ' ')")
    if [[ "${CI:-}" == true ]]; then
      summary+=("$name: FAILED: tests were skipped under CI (a tool is missing)")
      failed=1
    fi
  fi
}

phase normal "${BUILD_DIR:-build}" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTF_WERROR=ON
CC=clang CXX=clang++ phase asan "${ASAN_BUILD_DIR:-build-asan}" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTF_SANITIZE=ON -DTF_FUZZ=ON -DTF_WERROR=ON -DTF_INTEGRATION_STORE=postgresql \
  "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O1 -gline-tables-only -DNDEBUG" \
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -gline-tables-only -DNDEBUG"

echo
echo "==== make test summary"
printf '%s\n' "${summary[@]}" | sed '/^$/d'
printf '%s\n' "${timings[@]}"
if [[ $failed -ne 0 ]]; then
  echo "==== make test: FAILED"
  exit 1
fi
echo "==== make test: all passed"
