#!/usr/bin/env bash
# The metric chunk codec against SQLite's one-row-per-point metrics table, side by side in one run (release build):
# bytes per point (codec, a SQLite table of chunks, the metrics table) and encode, decode and insert rates, for a
# regular sensor series, a simulation KPI with noise and random bits.
# Usage: Benchmarks/chunks.sh [--points N] [--chunk N] [--passes N]   (defaults 1,000,000 points a series, 1,000 a
# chunk, encode and decode rates the median of 9 passes)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
swift build -c release --package-path "$here" --product ChunkBenchmark >/dev/null
"$here/.build/release/ChunkBenchmark" "$@"
