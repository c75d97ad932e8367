#!/usr/bin/env bash
# One billion points in one SQLite file (release build): 10,000 runs × 10 keys × 10,000 steps through the SDK, the
# file's size and the write time, and search and 10k-point history p50 against an archive of 100,000 runs without
# histories (Benchmarks/Sources/BillionBenchmark). Needs about 2 GB of free disk in $TMPDIR (or --folder DIR).
# Usage: Benchmarks/billion.sh [--runs N] [--keys K] [--steps S] [--reference-runs R] [--folder DIR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
swift build -c release --package-path "$here" --product BillionBenchmark
"$here/.build/release/BillionBenchmark" "$@"
