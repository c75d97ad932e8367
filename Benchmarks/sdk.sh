#!/usr/bin/env bash
# The SDK's benchmarks in a release build: log-call latency (writer running, store down), sustained ingestion vs the
# SQLite engine in the same run, simulation-loop overhead, and peak RSS for 10M points.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
swift build -c release --package-path "$here" --product SDKBenchmark
"$here/.build/release/SDKBenchmark" "$@"
