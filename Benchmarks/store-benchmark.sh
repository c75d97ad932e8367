#!/usr/bin/env bash
# Builds one of the store benchmarks (release) and runs it; with --postgres, on a throwaway PostgreSQL cluster too,
# whose URL it passes as `--postgres URL`. Usage: Benchmarks/store-benchmark.sh PRODUCT [--postgres] [ARGS…]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
product=$1
shift
args=()
postgres=0
for arg in "$@"; do
    if [ "$arg" = "--postgres" ]; then postgres=1; else args+=("$arg"); fi
done
swift build -c release --package-path "$here" --product "$product"
if [ "$postgres" -eq 1 ]; then
    cluster="$(mktemp -d /tmp/runledger-bench-pg.XXXXXX)"
    trap '"$here/../scripts/pg-cluster" stop "$cluster"' EXIT
    args+=(--postgres "$("$here/../scripts/pg-cluster" start "$cluster")")
fi
"$here/.build/release/$product" "${args[@]}"
