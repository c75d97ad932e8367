#!/usr/bin/env bash
# `runledger import mlflow` against MLflow's own read rate (Benchmarks/import.py). RunLedger is a release build; MLflow
# comes from PyPI into .build/bench-venv.
# Usage: Benchmarks/import.sh [RUNS] [POINTS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.."
source Benchmarks/mlflow-venv.sh
"$venv/bin/python" Benchmarks/import.py --runledger .build/release/runledger --mlflow "$venv/bin/mlflow" --runs "${1:-100}" --points "${2:-2000}"
