#!/usr/bin/env bash
# PostgreSQL ingestion, side by side in one run on a throwaway cluster (fsync on, default settings):
#   1. the SDK and PostgresStore (`energy-study`, release): batches of 10 000 points as unnest() inserts;
#   2. psql COPY of exactly the rows step 1 stored, into a table with the same definition and indexes;
#   3. deleting the oldest 10 % of points by time, with the BRIN index on metrics(timestamp) and without it;
#   4. the two KPI searches over 100k runs, on SQLite and on PostgreSQL (ArchiveBenchmark, release, one process).
# Step 1 also ingests the same study into a database with an index on metrics (run_id, key, timestamp), the alternative
# to metric_spans that was measured and not shipped, to show what it would cost. RUNLEDGER_BIN_DIR=DIR uses binaries built elsewhere; SKIP_SEARCH=1 leaves out step 4.
# Usage: Benchmarks/postgres.sh [RUNS] [STEPS]   (defaults 40 x 5000: about 2M points)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.."
runs="${1:-40}"
steps="${2:-5000}"
bin=${RUNLEDGER_BIN_DIR:-.build/release}
if [ -z "${RUNLEDGER_BIN_DIR:-}" ]; then swift build -c release --product energy-study >/dev/null; swift build -c release --product runledger >/dev/null; fi
[ -n "${SKIP_SEARCH:-}" ] || swift build -c release --package-path Benchmarks --product ArchiveBenchmark >/dev/null
cluster=$(mktemp -d /tmp/runledger-bench-pg.XXXXXX)
trap 'scripts/pg-cluster stop "$cluster"' EXIT
url=$(scripts/pg-cluster start "$cluster")
work=$(mktemp -d)
chmod 777 "$work"

echo "== SDK + PostgresStore ingestion: $runs runs x $steps steps =="
psql "$url" -qAtc "CREATE DATABASE timeindex"
timeindex="${url%/postgres}/timeindex"
"$bin/runledger" migrate up --database "$timeindex" >/dev/null
psql "$timeindex" -qAtc "CREATE INDEX metrics_by_run_key_time ON metrics (run_id, key, timestamp)"
"$bin/energy-study" --database "$timeindex" --runs "$runs" --steps "$steps" --spool "$work/spool-timeindex" --workers 2 > "$work/timeindex.json"
"$bin/energy-study" --database "$url" --runs "$runs" --steps "$steps" --spool "$work/spool" --workers 2 | tee "$work/result.json"
python3 -c "import json; a=json.load(open('$work/result.json'))['points_per_second']; b=json.load(open('$work/timeindex.json'))['points_per_second']; print(f'as shipped (metric_spans): {a:,.0f} points/s; with an index on every point timestamp instead: {b:,.0f} points/s ({b / a:.0%})')"
points=$(psql "$url" -qAtc "SELECT count(*) FROM metrics")
store_rate=$(python3 -c "import json;print(json.load(open('$work/result.json'))['points_per_second'])")

echo
echo "== psql COPY of the same $points rows =="
psql "$url" -qAtc "COPY metrics TO '$work/metrics.copy'"
psql "$url" -qAtc "CREATE TABLE metrics_copy (LIKE metrics INCLUDING ALL)"
start=$(date +%s.%N)
psql "$url" -qAtc "COPY metrics_copy FROM '$work/metrics.copy'"
end=$(date +%s.%N)
copy_rate=$(python3 -c "print(round($points / ($end - $start)))")
python3 - <<PY
store=float("$store_rate"); copy=float("$copy_rate")
print(f"store API (SDK, unnest inserts): {store:12,.0f} points/s")
print(f"psql COPY, same rows and indexes: {copy:12,.0f} rows/s")
print(f"ratio store / COPY: {store / copy * 100:.0f} %")
PY

echo
echo "== deleting the oldest 10 % of points by time =="
cutoff=$(psql "$url" -qAtc "SELECT percentile_disc(0.1) WITHIN GROUP (ORDER BY timestamp) FROM metrics")
psql "$url" -qAt -c "CREATE TABLE metrics_nobrin (LIKE metrics INCLUDING DEFAULTS INCLUDING CONSTRAINTS)" \
    -c "ALTER TABLE metrics_nobrin ADD PRIMARY KEY (run_id, key, step, timestamp, value, is_nan)" \
    -c "INSERT INTO metrics_nobrin SELECT * FROM metrics" -c "VACUUM ANALYZE metrics" -c "VACUUM ANALYZE metrics_nobrin"
for table in metrics metrics_nobrin; do
    plan=$(psql "$url" -qAtc "EXPLAIN (ANALYZE, COSTS OFF) DELETE FROM $table WHERE timestamp < $cutoff" | grep -E "Execution Time|Scan on" | sed 's/^ *//' | tr '\n' ' ')
    echo "$table ($([ $table = metrics ] && echo 'BRIN on timestamp' || echo 'no BRIN')): $plan"
done
rm -rf "$work"

echo
[ -n "${SKIP_SEARCH:-}" ] && exit 0
psql "$url" -qAtc "CREATE DATABASE search"
Benchmarks/.build/release/ArchiveBenchmark --points 0 --postgres "${url%/postgres}/search"
