#!/usr/bin/env bash
# Ingestion while retention prunes beside it, in one run: energy-study (SDK -> server -> SQLite) alone, then while
# the server's pruner runs beside it (a policy keeping 100 points per run and key over every experiment, on a
# database pre-filled with as much history): ingestion's share kept, and what the pruner removed meanwhile.
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

echo "== ingestion through runledger serve, alone and while its pruner runs (--prune-every 1s) =="
# In one server the pruner's passes and the ingestion batches share SQLite's one writer, as in production; each pass
# removes at most 5000 points in its own transaction and the pruner rests 4x as long as a pass took (its default).
serve() {  # DATABASE PRUNE-EVERY LOG -> prints the port
    "$bin/runledger" serve --port 0 --database "$1" --prune-every "$2" > "$3.out" 2> "$3" &
    echo $! > "$3.pid"
    for _ in $(seq 100); do grep -qo 'http://[0-9.]*:[0-9]*' "$3.out" 2>/dev/null && break; sleep 0.1; done
    grep -o 'http://[0-9.]*:[0-9]*' "$3.out" | head -1
}
for name in alone pruned; do study "$work/$name.sqlite" 2 history > "$work/$name-history.json"; done
"$bin/runledger" retention set --all --max-points 100 --database "$work/pruned.sqlite" >/dev/null
for name in alone pruned; do
    every=$([ $name = pruned ] && echo 1s || echo 0)
    url=$(serve "$work/$name.sqlite" "$every" "$work/$name.log")
    study "$url" 3 study > "$work/$name.json"
    kill "$(cat "$work/$name.log.pid")"; wait "$(cat "$work/$name.log.pid")" 2>/dev/null || true
done
python3 - "$work" <<'PY'
import json, sqlite3, sys
work = sys.argv[1]
result = {name: json.load(open(f"{work}/{name}.json")) for name in ("alone", "pruned")}
# What the pruner removed while the study ran: every point logged (both studies, all distinct) minus what is left.
logged = json.load(open(f"{work}/pruned-history.json"))["points_logged"] + result["pruned"]["points_logged"]
removed = logged - sqlite3.connect(f"{work}/pruned.sqlite").execute("SELECT COALESCE(SUM(point_count), 0) FROM metric_chunks").fetchone()[0]
for name, value in result.items():
    print(f"{name}: {value['points_per_second']:,.0f} points/s (spooled {value['spooled']}, replayed {value['replayed']})")
print(f"ingestion beside the pruner: {result['pruned']['points_per_second'] / result['alone']['points_per_second']:.0%} of alone; "
      f"the pruner removed {removed:,} points meanwhile ({removed / result['pruned']['seconds']:,.0f}/s)")
PY
