#!/usr/bin/env bash
# `runledger copy` SQLite → PostgreSQL against psql's COPY of the same rows, side by side in one run on a throwaway
# cluster (default settings, fsync on), then `backup` of the SQLite file and `restore` of the archive into PostgreSQL.
#   1. a study of RUNS runs x POINTS points (one key), 2 params per run and latest values, written into SQLite by SQL
#      one row per point, as RunLedger stored history before chunks, then converted to chunks by `runledger migrate up`
#      (timed: the conversion an older database goes through once);
#   2. the same rows as COPY text files (not timed), loaded with `psql \copy` into an empty migrated database;
#   3. `runledger copy` into another empty database (release build; the time includes its verification, which
#      PostgreSQL computes in one scan per table);
#   4. `runledger backup` of the SQLite file and `runledger restore` of the archive into a third database.
# Usage: Benchmarks/copy.sh [RUNS] [POINTS]   (defaults 100000 x 200: 20M points)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.."
runs="${1:-100000}"
points="${2:-200}"
bin=${RUNLEDGER_BIN_DIR:-.build/release}
[ -n "${RUNLEDGER_BIN_DIR:-}" ] || swift build -c release --product runledger >/dev/null
command -v sqlite3 >/dev/null || { echo "copy.sh needs the sqlite3 command (apt-get install sqlite3)" >&2; exit 1; }
work=$(mktemp -d /tmp/runledger-bench-copy.XXXXXX)
chmod 755 "$work"
trap 'scripts/pg-cluster stop "$work/pg" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
url=$(scripts/pg-cluster start "$work/pg")
base="${url%/postgres}"
now() { date +%s.%N; }
seconds() { python3 -c "print(f'{$2 - $1:.2f}')"; }

echo "== 1. study: $runs runs x $points points =="
db="$work/study.sqlite"
"$bin/runledger" migrate up --database "$db" >/dev/null
start=$(now)
sqlite3 "$db" <<SQL
PRAGMA journal_mode = WAL;
PRAGMA synchronous = OFF;
BEGIN;
CREATE TABLE metrics (run_id INTEGER NOT NULL, key TEXT NOT NULL, step INTEGER NOT NULL, timestamp INTEGER NOT NULL, value REAL NOT NULL,
    is_nan INTEGER NOT NULL, PRIMARY KEY (run_id, key, step, timestamp, value, is_nan)) WITHOUT ROWID;
CREATE TABLE metric_spans (run_id INTEGER NOT NULL, key TEXT NOT NULL, first_step INTEGER NOT NULL, last_step INTEGER NOT NULL,
    min_timestamp INTEGER NOT NULL, max_timestamp INTEGER NOT NULL);
INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time)
    VALUES (1, 'copy-bench', 'mlflow-artifacts:/1', 'active', 0, 0);
WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < $runs)
INSERT INTO runs (id, run_uuid, experiment_id, name, status, start_time, end_time, artifact_uri)
    SELECT i, printf('%032x', i), 1, 'design-' || i, 'FINISHED', 1700000000000 + i, 1700000001000 + i,
        'mlflow-artifacts:/1/' || printf('%032x', i) || '/artifacts' FROM r;
INSERT INTO params SELECT id, 'solver_type', CASE id % 3 WHEN 0 THEN 'milp' WHEN 1 THEN 'hybrid' ELSE 'heuristic' END FROM runs;
INSERT INTO params SELECT id, 'battery_kwh', CAST(id % 500 AS TEXT) FROM runs;
WITH RECURSIVE s(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM s WHERE k < $points - 1)
INSERT INTO metrics (run_id, key, step, timestamp, value, is_nan)
    SELECT runs.id, 'soc', s.k, 1700000000000 + s.k * 1000, ((runs.id * 7919 + s.k * 104729) % 100003) / 100003.0, 0 FROM runs, s;
INSERT INTO latest_metrics (run_id, experiment_id, key, step, timestamp, value, is_nan)
    SELECT run_id, 1, key, step, timestamp, value, is_nan FROM metrics WHERE step = $points - 1;
INSERT INTO metric_spans (run_id, key, first_step, last_step, min_timestamp, max_timestamp)
    SELECT id, 'soc', 0, $points - 1, 1700000000000, 1700000000000 + ($points - 1) * 1000 FROM runs;
COMMIT;
PRAGMA wal_checkpoint(TRUNCATE);
SQL
echo "written in $(seconds "$start" "$(now)") s: $(du -m "$db" | cut -f1) MiB one row per point"
start=$(now)
"$bin/runledger" migrate up --database "$db" >/dev/null
convert_seconds=$(seconds "$start" "$(now)")
sqlite3 "$db" "VACUUM"
rows=$(sqlite3 "$db" "SELECT (SELECT count(*) FROM experiments) + (SELECT count(*) FROM runs) + (SELECT count(*) FROM params)
    + (SELECT count(*) FROM metric_chunks) + (SELECT count(*) FROM latest_metrics)")
echo "converted to chunks in $convert_seconds s: $rows rows, $(du -m "$db" | cut -f1) MiB after VACUUM"

echo "== 2. psql \\copy of the same rows =="
psql "$url" -qAtc "CREATE DATABASE baseline" -c "CREATE DATABASE copied" -c "CREATE DATABASE restored"
"$bin/runledger" migrate up --database "$base/baseline" >/dev/null
psql "$base/baseline" -qAtc "DELETE FROM experiments WHERE experiment_id = 0"
tables="experiments runs params metric_chunks latest_metrics"
declare -A columns=(
    [experiments]="experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time"
    [runs]="id, run_uuid, experiment_id, name, status, start_time, end_time, lifecycle_stage, user_id, artifact_uri, heartbeat_time, deleted_time"
    [params]="run_id, key, value"
    [metric_chunks]="chunk_id, run_id, key, first_step, first_timestamp, last_step, last_timestamp, min_timestamp, max_timestamp, point_count, nan_count, value_min, value_max, value_sum, last_value, data"
    [latest_metrics]="run_id, experiment_id, key, step, timestamp, value, is_nan"
)
for table in $tables; do
    # Bytes go as bytea's hex form, its backslash escaped for COPY's text format.
    fields=${columns[$table]}
    [ "$table" = metric_chunks ] && fields="${fields%, data}, '\\\\x' || lower(hex(data))"
    sqlite3 -separator $'\t' -nullvalue '\N' "$db" "SELECT $fields FROM $table" > "$work/$table.tsv"
done
start=$(now)
for table in $tables; do psql "$base/baseline" -qAtc "\\copy $table (${columns[$table]}) FROM '$work/$table.tsv'"; done
psql_seconds=$(seconds "$start" "$(now)")
echo "psql \\copy: $psql_seconds s"

echo "== 3. runledger copy =="
start=$(now)
/usr/bin/time -f "%M" -o "$work/copy.rss" "$bin/runledger" copy --from "$db" --to "$base/copied" --no-artifacts > "$work/copy.json"
copy_seconds=$(seconds "$start" "$(now)")
cat "$work/copy.json"
echo "runledger copy: $copy_seconds s, peak RSS $(($(cat "$work/copy.rss") / 1024)) MiB"
for table in $tables; do
    a=$(psql "$base/baseline" -qAtc "SELECT count(*) FROM $table")
    b=$(psql "$base/copied" -qAtc "SELECT count(*) FROM $table")
    [ "$a" = "$b" ] || { echo "row counts differ in $table: psql $a, runledger $b" >&2; exit 1; }
done

echo "== 4. backup and restore =="
start=$(now)
"$bin/runledger" backup --database "$db" --output "$work/study.rlarchive" > /dev/null
backup_seconds=$(seconds "$start" "$(now)")
start=$(now)
"$bin/runledger" restore "$work/study.rlarchive" --database "$base/restored" > /dev/null
restore_seconds=$(seconds "$start" "$(now)")
echo "backup: $backup_seconds s ($(du -m "$work/study.rlarchive" | cut -f1) MiB archive), restore into PostgreSQL: $restore_seconds s"

python3 - "$rows" "$psql_seconds" "$copy_seconds" "$backup_seconds" "$restore_seconds" "$convert_seconds" <<'PY'
import sys
rows, psql, copy, backup, restore, convert = int(sys.argv[1]), *map(float, sys.argv[2:])
print()
print("| what | seconds | rows/s | against psql \\copy |")
print("|---|---|---|---|")
print(f"| conversion of the one-row-per-point history to chunks (`migrate up`) | {convert:.1f} | | |")
print(f"| psql \\copy of the rows | {psql:.1f} | {rows / psql:,.0f} | 1.00 |")
print(f"| runledger copy SQLite → PostgreSQL (with verification) | {copy:.1f} | {rows / copy:,.0f} | {psql / copy:.2f} |")
print(f"| runledger backup (SQLite) | {backup:.1f} | {rows / backup:,.0f} | |")
print(f"| runledger restore into PostgreSQL (with verification) | {restore:.1f} | {rows / restore:,.0f} | {psql / restore:.2f} |")
PY
