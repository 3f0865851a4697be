#!/usr/bin/env bash
# `make bench` (not part of `make test`): builds a Release tree in build-bench/ and runs bench/bench.py, which puts
# nginx on a loopback port in front of (a) a static body, (b) the bare FastCGI program fcgi_echo, (b') the same
# closing connections as tokenfcgi does, and (c) tokenfcgi
# issuing client_credentials tokens signed with ES256, EdDSA and RS256, and (d) the same during a flood of wrong
# passwords (goal: p99 under 10 ms), and (e) client_credentials ES256 and refresh_token rotation on the LMDB store and
# on a PostgreSQL store (a private PostgreSQL 15 cluster in a temporary directory, filled by `tokenctl copy`) side by
# side, drives each with wrk for a fixed time and
# prints a markdown table: requests/s, p50/p99 latency, and server CPU time per request (nginx + FastCGI workers,
# + the PostgreSQL server in its rows, from /proc), each also as a ratio to (b).
#   bench/run.sh [--duration SECONDS] [--connections N] [--workers N] [--repeat N] [--no-postgresql]
# --repeat N (default 3) measures (b), (b') and (c) N times in interleaved rounds and reports medians, because one
# round moves by 10-15% with the machine's load; --repeat 1 --duration 2 is a quick smoke run.
# Then bench/write_path.py prints the write-path table (client_credentials, refresh rotation, code redemption,
# revocation, password, for each lmdb_sync setting, with syncs per request from strace), as medians of 3 interleaved
# rounds, then the precise ratios: code redemption, refresh rotation and revocation in 5 runs each, every one right
# next to a client_credentials run (--pairs 5); its options go in $WRITE_PATH_ARGS (e.g. WRITE_PATH_ARGS="--duration 3
# --strace-seconds 1 --rounds 1 --pairs 0", or "--live-grants 0" to leave out the refresh rotation on a database of a
# million live grants).
# docs/write-path-benchmarks.md has results.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh --bench
build=${BENCH_BUILD_DIR:-build-bench}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
cmake --build "$build" -j "${JOBS:-2}" --target tokenfcgi tokenctl fcgi_echo fill_grants >/dev/null
/usr/bin/python3 bench/bench.py --build "$build" "$@"
# shellcheck disable=SC2086  # WRITE_PATH_ARGS is a list of options
exec /usr/bin/python3 bench/write_path.py --build "$build" --rounds 3 --pairs 5 ${WRITE_PATH_ARGS:-}
