#!/usr/bin/env bash
# The embedded archive's benchmarks, in release builds, all figures printed side by side:
# store API vs the SQLite engine, search latency over 100k runs, and `runledger demo` (500 runs x 168 steps).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.."
swift build -c release --product runledger
swift build -c release --package-path "$here" --product ArchiveBenchmark
"$here/.build/release/ArchiveBenchmark" "$@"
echo
echo "== runledger demo --runs 500 --steps 168 (release) =="
db=$(mktemp -d)/demo.sqlite
trap 'rm -rf "$(dirname "$db")"' EXIT
TIMEFORMAT='demo wall time: %R s'
time .build/release/runledger demo --database "$db" --runs 500 --steps 168 > /dev/null
