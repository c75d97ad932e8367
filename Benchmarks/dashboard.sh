#!/usr/bin/env bash
# The Results Explorer at scale, measured in Debian's headless Chromium (Benchmarks/dashboard.py, selenium):
# 100k runs from `runledger demo --runs 100000 --steps 24`, then the time to the first rows of the runs table and to
# apply a filter, and the run page of a 1M-point-per-metric history (`energy-study --runs 1 --steps 1000000`).
# Figures are reported, not asserted. Release builds; selenium comes from PyPI into .build/bench-browser-venv.
# Usage: Benchmarks/dashboard.sh [RUNS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.."
swift build -c release --product runledger >/dev/null
swift build -c release --product energy-study >/dev/null
command -v chromium >/dev/null && command -v chromedriver >/dev/null || {
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
}
venv=.build/bench-browser-venv
"$venv/bin/python" -c "import selenium" >/dev/null 2>&1 || {
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check selenium
}
"$venv/bin/python" Benchmarks/dashboard.py --bin .build/release --runs "${1:-100000}"
