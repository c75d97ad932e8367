// Aggregation across runs (Benchmarks/aggregate.sh): 100,000 runs × 168 hourly points (16.8 million) of one metric,
// each run with one of four solvers, then the p50 of "every hour's count, sum, mean, min, max, p50, p90, p99 per
// solver" through the store (chunks decoded in Swift), beside the best hand-written SQL over a one-row-per-point copy
// of the same points with the solver beside each (SQLite: GROUP BY, and window functions for the percentiles;
// PostgreSQL: GROUP BY with percentile_cont). With --postgres URL (an empty database) PostgreSQL runs too.
//
// Usage: AggregateBenchmark [--runs 100000] [--points 168] [--folder DIR] [--postgres URL] [--store-only]
import BenchmarkSupport
import Foundation
import GRDB
import LedgerCore
import LedgerPostgres
import LedgerSQLite

let runCount = option("--runs").flatMap { Int($0) } ?? 100_000
let pointCount = option("--points").flatMap { Int($0) } ?? 168
let folder = URL(
    fileURLWithPath: option("--folder")
        ?? FileManager.default.temporaryDirectory.appendingPathComponent("runledger-aggregate-\(ProcessInfo.processInfo.processIdentifier)").path)
try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
let base: Int64 = 1_800_000_000_000
let hour: Int64 = 3_600_000
let solvers = ["heuristic", "hybrid", "milp", "rolling"]

// Integer arithmetic, so that SQL can compute the same points (PostgreSQL's copy is made by generate_series).
func solver(_ run: Int) -> String { solvers[run % solvers.count] }
func timestamp(_ run: Int, _ step: Int) -> Int64 { base + Int64(step) * hour + Int64(run % 60) * 1000 }
func value(_ run: Int, _ step: Int) -> Double { Double((run * 7919 + step * 104_729) % 10_007) / 10 }

func fill(_ store: any TrackingStore) async throws -> (ExperimentID, Double) {
    let experiment = try await store.createExperiment(name: "study", artifactLocation: nil, tags: []).id
    let elapsed = try await seconds {
        var operations: [WriteOperation] = []
        for index in 0..<runCount {
            let run = NewRun(experimentID: experiment, name: "design-\(index)", startTime: base)
            operations.append(.createRun(run))
            operations.append(.logParams(run.runID, [KeyValue("solver", solver(index))]))
            operations.append(
                .logMetrics(
                    run.runID, (0..<pointCount).map { Metric(key: "load", value: value(index, $0), timestamp: timestamp(index, $0), step: Int64($0)) }
                ))
            if operations.count >= 750 || index == runCount - 1 {
                _ = try await store.write(WriteBatch(operations))
                operations = []
            }
        }
    }
    return (experiment, elapsed)
}

let aggregation = { (experiment: ExperimentID) in
    MetricAggregation(runs: RunQuery(experimentIDs: [experiment]), metrics: ["load"], bucketing: .time(hour), groupBy: .param("solver"))
}

/// p50 of the store's aggregation, and its rows.
func measureStore(_ store: any TrackingStore, _ experiment: ExperimentID) async throws -> (Double, [AggregateRow]) {
    var rows: [AggregateRow] = []
    let time = try await p50(9) { rows = try await store.aggregate(aggregation(experiment)) }
    return (time, rows)
}

/// numpy's linear percentile written in SQL over ranked rows: `k` (0-based rank) and `n` per group.
func percentileColumns(_ fraction: String, _ name: String) -> (inner: String, outer: String) {
    let floor = "CAST((n - 1) * \(fraction) AS INTEGER)"
    return (
        "max(CASE WHEN k = \(floor) THEN value END) AS a_\(name), max(CASE WHEN k = min(\(floor) + 1, n - 1) THEN value END) AS b_\(name)",
        "a_\(name) + (b_\(name) - a_\(name)) * ((n - 1) * \(fraction) - \(floor)) AS \(name)"
    )
}
let percentiles = [("0.5", "p50"), ("0.9", "p90"), ("0.99", "p99")].map(percentileColumns)
let sqliteStatistics =
    "SELECT solver, ts - ts % \(hour) AS bucket, count(*), sum(value), avg(value), min(value), max(value) FROM points GROUP BY 1, 2 ORDER BY 1, 2"
let sqlitePercentiles = """
    WITH ranked AS (
        SELECT solver, ts - ts % \(hour) AS bucket, value,
               row_number() OVER (PARTITION BY solver, ts - ts % \(hour) ORDER BY value) - 1 AS k,
               count(*) OVER (PARTITION BY solver, ts - ts % \(hour)) AS n
        FROM points),
    grouped AS (
        SELECT solver, bucket, n, sum(value) AS total, min(value) AS low, max(value) AS high, \(percentiles.map(\.inner).joined(separator: ", "))
        FROM ranked GROUP BY solver, bucket)
    SELECT solver, bucket, n, total, total / n, low, high, \(percentiles.map(\.outer).joined(separator: ", ")) FROM grouped ORDER BY solver, bucket
    """

// SQLite: the store, then the copy.
let path = folder.appendingPathComponent("store.sqlite").path
let sqlite = try await SQLiteStore.open(path: path)
let (experiment, writeSeconds) = try await fill(sqlite)
let (storeTime, storeRows) = try await measureStore(sqlite, experiment)
try await sqlite.close()
if CommandLine.arguments.contains("--store-only") {  // for profiling the store's part alone
    print(String(format: "SQLite store p50 %.0f ms", storeTime))
    exit(0)
}
let storeBytes = ((try? FileManager.default.attributesOfItem(atPath: path)[.size]) as? Int) ?? 0

let copyPath = folder.appendingPathComponent("copy.sqlite").path
let copy = try DatabaseQueue(path: copyPath)
let copySeconds = try await seconds {
    try await copy.write { db in
        try db.execute(sql: "CREATE TABLE points (solver TEXT NOT NULL, ts INTEGER NOT NULL, step INTEGER NOT NULL, value REAL NOT NULL)")
        let insert = try db.makeStatement(sql: "INSERT INTO points VALUES (?, ?, ?, ?)")
        for run in 0..<runCount {
            for step in 0..<pointCount { try insert.execute(arguments: [solver(run), timestamp(run, step), step, value(run, step)]) }
        }
    }
}
var statisticsRows: [Row] = []
let sqlStatistics = try await p50(3) { statisticsRows = try await copy.read { try Row.fetchAll($0, sql: sqliteStatistics) } }
var percentileRows: [Row] = []
let sqlPercentiles = try await p50(3) { percentileRows = try await copy.read { try Row.fetchAll($0, sql: sqlitePercentiles) } }
let copyBytes = ((try? FileManager.default.attributesOfItem(atPath: copyPath)[.size]) as? Int) ?? 0
try copy.close()

/// Whether the SQL's rows carry the store's figures (counts and percentiles equal, sums within rounding).
func agree(_ rows: [AggregateRow], _ sql: [(count: Int64, p50: Double, p99: Double)]) -> String {
    guard rows.count == sql.count else { return "no: \(rows.count) rows against \(sql.count)" }
    for (row, other) in zip(rows, sql) where row.count != other.count || abs(row.p50 - other.p50) > 1e-9 || abs(row.p99 - other.p99) > 1e-9 {
        return "no: \(row.json) against \(other)"
    }
    return "yes, \(rows.count) rows"
}

let points = runCount * pointCount
print("\(points) points in \(runCount) runs; store file \(storeBytes / 1_048_576) MiB (written in \(String(format: "%.1f", writeSeconds)) s),")
print("one-row-per-point copy \(copyBytes / 1_048_576) MiB (written in \(String(format: "%.1f", copySeconds)) s)")
print("SQLite: store and SQL agree: \(agree(storeRows, percentileRows.map { ($0[2] as Int64, $0[7] as Double, $0[9] as Double) }))")
print("| backend | store p50 (ms) | SQL: count, sum, mean, min, max (ms) | SQL: with p50, p90, p99 (ms) | SQL with percentiles / store |")
print("|---|---:|---:|---:|---:|")
print(String(format: "| SQLite | %.0f | %.0f | %.0f | %.1f× |", storeTime, sqlStatistics, sqlPercentiles, sqlPercentiles / storeTime))
_ = statisticsRows

/// The same on PostgreSQL: the store, then the copy made by generate_series and the same question in SQL.
func measurePostgres(_ url: String) async throws {
    var options = PostgresOptions()
    options.statementTimeout = .seconds(1800)
    try await PostgresStore.withStore(try PostgresLocation(url: url), options: options) { store in
        let (experiment, writeSeconds) = try await fill(store)
        let (storeTime, storeRows) = try await measureStore(store, experiment)
        let copySeconds = try await seconds {
            _ = try await store.write(
                [
                    .run(
                        """
                        CREATE TABLE points AS SELECT (ARRAY[\(raw: solvers.map { "'\($0)'" }.joined(separator: ","))])[r % \(raw: String(solvers.count)) + 1] AS solver,
                            \(raw: String(base)) + s * \(raw: String(hour)) + (r % 60) * 1000 AS ts, s AS step, ((r * 7919 + s * 104729) % 10007) / 10.0::float8 AS value
                        FROM generate_series(0, \(raw: String(runCount - 1))) r, generate_series(0, \(raw: String(pointCount - 1))) s
                        """),
                    .run("ANALYZE points"),
                ], idempotent: false)
        }
        var statistics: [SQLRow] = []
        let sqlStatistics = try await p50(3) {
            statistics = try await store.read([
                "SELECT solver, ts - ts % \(raw: String(hour)) AS bucket, count(*), sum(value), avg(value), min(value), max(value) FROM points GROUP BY 1, 2 ORDER BY 1, 2"
            ])[0]
        }
        var percentileRows: [SQLRow] = []
        let sqlPercentiles = try await p50(3) {
            percentileRows = try await store.read([
                """
                SELECT solver, ts - ts % \(raw: String(hour)) AS bucket, count(*), sum(value), avg(value), min(value), max(value),
                       percentile_cont(ARRAY[0.5, 0.9, 0.99]) WITHIN GROUP (ORDER BY value)
                FROM points GROUP BY 1, 2 ORDER BY 1, 2
                """
            ])[0]
        }
        _ = statistics
        // percentile_cont's array comes back as text here; the counts and the median from a second query suffice to compare.
        let medians = try await store.read([
            """
            SELECT count(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY value), percentile_cont(0.99) WITHIN GROUP (ORDER BY value)
            FROM points GROUP BY solver, ts - ts % \(raw: String(hour)) ORDER BY solver, ts - ts % \(raw: String(hour))
            """
        ])[0].map { (try $0.int64(0), try $0.double(1), try $0.double(2)) }
        _ = percentileRows
        print("PostgreSQL: written in \(String(format: "%.1f", writeSeconds)) s, copy made in \(String(format: "%.1f", copySeconds)) s")
        print("PostgreSQL: store and SQL agree: \(agree(storeRows, medians))")
        print(String(format: "| PostgreSQL | %.0f | %.0f | %.0f | %.1f× |", storeTime, sqlStatistics, sqlPercentiles, sqlPercentiles / storeTime))
    }
}

if let url = option("--postgres") { try await measurePostgres(url) }
try? FileManager.default.removeItem(at: folder)
