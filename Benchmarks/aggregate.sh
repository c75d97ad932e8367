#!/usr/bin/env bash
# Aggregation across runs (release build): 100,000 runs × 168 hourly points (16.8 million), one metric, four solvers;
# the p50 of hourly count, sum, mean, min, max, p50, p90, p99 per solver through the store, beside hand-written SQL
# over a one-row-per-point copy (Benchmarks/Sources/AggregateBenchmark). With --postgres, PostgreSQL runs too, on a
# throwaway cluster.
# Usage: Benchmarks/aggregate.sh [--runs N] [--points PER_RUN] [--folder DIR] [--postgres]
exec "$(dirname "$0")/store-benchmark.sh" AggregateBenchmark "$@"
