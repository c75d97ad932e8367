#!/usr/bin/env bash
# Events across runs (release build): 10 million events in 10,000 runs, then the p50 of "every failed health check in
# the last hour" and of a 24-hour summary in 1 h buckets, through the store and straight on SQLite
# (Benchmarks/Sources/EventsBenchmark). With --postgres, the store part also runs on a throwaway PostgreSQL cluster.
# Usage: Benchmarks/events.sh [--runs N] [--events PER_RUN] [--folder DIR] [--postgres]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
args=()
postgres=0
for arg in "$@"; do
    if [ "$arg" = "--postgres" ]; then postgres=1; else args+=("$arg"); fi
done
swift build -c release --package-path "$here" --product EventsBenchmark
if [ "$postgres" -eq 1 ]; then
    cluster="$(mktemp -d /tmp/runledger-events-pg.XXXXXX)"
    trap '"$here/../scripts/pg-cluster" stop "$cluster"' EXIT
    args+=(--postgres "$("$here/../scripts/pg-cluster" start "$cluster")")
fi
"$here/.build/release/EventsBenchmark" "${args[@]}"
