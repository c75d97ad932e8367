#!/usr/bin/env bash
# A 1 GiB artifact up and down: RunLedger's server against `mlflow server --serve-artifacts` and against `cp` on the
# same disk, with each server's memory growth (Benchmarks/artifacts.py). RunLedger is a release build; MLflow comes
# from PyPI into .build/bench-venv.
# Usage: Benchmarks/artifacts.sh [SIZE_MIB]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.."
source Benchmarks/mlflow-venv.sh
python3 Benchmarks/artifacts.py --runledger .build/release/runledger --mlflow "$venv/bin/mlflow" --size-mib "${1:-1024}"
