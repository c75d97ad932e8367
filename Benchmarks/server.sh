#!/usr/bin/env bash
# The tracking server against MLflow's, side by side in one run (Benchmarks/server.py, stdlib Python over REST):
#   1. both on SQLite (fresh files);
#   2. both on PostgreSQL (two fresh databases on one throwaway cluster, fsync on).
# RunLedger is a release build; MLflow comes from PyPI into .build/bench-venv (with psycopg2-binary for PostgreSQL).
# Usage: Benchmarks/server.sh [--sqlite-only]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.."
source Benchmarks/mlflow-venv.sh

python3 Benchmarks/server.py --runledger .build/release/runledger --mlflow "$venv/bin/mlflow" --label SQLite
[ "${1:-}" = "--sqlite-only" ] && exit 0

cluster=$(mktemp -d /tmp/runledger-bench-pg.XXXXXX)
trap 'scripts/pg-cluster stop "$cluster"' EXIT
url=$(scripts/pg-cluster start "$cluster")
psql "$url" -qAt -c "CREATE DATABASE runledger" -c "CREATE DATABASE mlflow"
base="${url%/postgres}"
python3 Benchmarks/server.py --runledger .build/release/runledger --mlflow "$venv/bin/mlflow" --label PostgreSQL \
    --database-url "$base/runledger" --mlflow-store "postgresql+psycopg2://${base#postgres://}/mlflow"
