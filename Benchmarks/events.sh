#!/usr/bin/env bash
# Events across runs (release build): 10 million events in 10,000 runs, then the p50 of "every failed health check in
# the last hour" and of a 24-hour summary in 1 h buckets, through the store and straight on SQLite
# (Benchmarks/Sources/EventsBenchmark). With --postgres, the store part also runs on a throwaway PostgreSQL cluster.
# Usage: Benchmarks/events.sh [--runs N] [--events PER_RUN] [--folder DIR] [--postgres]
exec "$(dirname "$0")/store-benchmark.sh" EventsBenchmark "$@"
