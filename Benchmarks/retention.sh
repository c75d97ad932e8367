#!/usr/bin/env bash
# Ingestion while retention prunes beside it, and what the windowed-read index costs ingestion, in one run:
#   1. energy-study (SDK -> SQLite) into a database whose (run, key, timestamp) index was dropped, then into one that
#      has it: the index's cost;
#   2. the same study alone, then while `runledger prune` runs in a loop beside it (a policy keeping 100 points per
#      run and key over every experiment, on a database pre-filled with as much history): ingestion's share kept.
# Release builds (RUNLEDGER_BIN_DIR to use others). Usage: Benchmarks/retention.sh [RUNS] [STEPS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.."
bin=${RUNLEDGER_BIN_DIR:-.build/release}
if [ -z "${RUNLEDGER_BIN_DIR:-}" ]; then
    swift build -c release --product runledger >/dev/null
    swift build -c release --product energy-study >/dev/null
fi
runs=${1:-100}
steps=${2:-8760}
work=$(mktemp -d /tmp/runledger-retention-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
study() { "$bin/energy-study" --database "$1" --runs "$runs" --steps "$steps" --workers 4 --seed "$2" --experiment "$3" --spool "$work/spool-$RANDOM"; }
rate() { python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["points_per_second"]))' "$1"; }

echo "== 1. the (run, key, timestamp) index: $runs runs x $steps steps x 5 metrics =="
"$bin/runledger" migrate up --database "$work/no-index.sqlite" >/dev/null
python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute("DROP INDEX metrics_by_run_key_time"); c.commit()' "$work/no-index.sqlite"
study "$work/no-index.sqlite" 1 study > "$work/no-index.json"
study "$work/index.sqlite" 1 study > "$work/index.json"
echo "without the index: $(rate "$work/no-index.json") points/s; with it: $(rate "$work/index.json") points/s"

echo "== 2. ingestion while pruning =="
for name in alone pruned; do study "$work/$name.sqlite" 2 history >/dev/null; done
study "$work/alone.sqlite" 3 study > "$work/alone.json"
"$bin/runledger" retention set --all --max-points 100 --database "$work/pruned.sqlite" >/dev/null
( while [ ! -f "$work/done" ]; do "$bin/runledger" prune --batch 5000 --format json --database "$work/pruned.sqlite" >> "$work/prune.jsonl" 2>> "$work/prune.err" || true; done ) &
pruner=$!
study "$work/pruned.sqlite" 3 study > "$work/pruned.json"
touch "$work/done"
wait "$pruner"
python3 - "$work" <<'PY'
import json, sys
work = sys.argv[1]
alone = json.load(open(f"{work}/alone.json"))["points_per_second"]
pruned = json.load(open(f"{work}/pruned.json"))["points_per_second"]
removed = sum(item["points"] for line in open(f"{work}/prune.jsonl") if line.strip() for item in json.loads(line))
print(f"alone: {alone:,.0f} points/s; beside the pruner: {pruned:,.0f} points/s = {pruned / alone:.0%} kept; pruner removed {removed:,} points meanwhile")
PY
