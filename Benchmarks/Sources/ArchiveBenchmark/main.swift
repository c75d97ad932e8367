// Measures the embedded archive against the SQLite engine on the same machine, in the same run:
//  1. bulk metric-history writes through the store API vs the engine's own INSERT … SELECT into the same table;
//  2. the two KPI searches over 100k runs (p50 / p90 / p99 latency), on SQLite and, given `--postgres URL`, on PostgreSQL.
import Foundation
import GRDB
import LedgerCore
import LedgerPostgres
import LedgerSQLite

let arguments = CommandLine.arguments
func option(_ name: String, _ fallback: Int) -> Int {
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count, let value = Int(arguments[index + 1]) else { return fallback }
    return value
}
let points = option("--points", 2_000_000)
let runCount = option("--runs", 100_000)
let folder = FileManager.default.temporaryDirectory.appendingPathComponent("runledger-bench-\(UUID().uuidString)")
try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(at: folder) }

func seconds(_ body: () async throws -> Void) async rethrows -> Double {
    let start = ContinuousClock.now
    try await body()
    let elapsed = ContinuousClock.now - start
    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
}

func percentile(_ sorted: [Double], _ p: Double) -> Double { sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] }

// MARK: 1. Bulk metric history

/// Store API batches against the engine's own INSERT … SELECT of the same rows into the same table.
func measureBulkWrites() async throws {
    print("== Bulk metric history write: \(points) points ==")
    let storePath = folder.appendingPathComponent("store.sqlite").path
    let store = try await SQLiteStore.open(path: storePath)
    let runs = (0..<10).map { _ in NewRun(experimentID: .defaultExperiment, startTime: 0) }
    for run in runs { try await store.createRun(run) }
    let perBatch = option("--batch", 10_000)
    let storeSeconds = try await seconds {
        var written = 0
        var batchIndex = 0
        while written < points {
            let run = runs[batchIndex % runs.count]
            let metrics = (0..<perBatch).map { i in
                Metric(key: "soc", value: Double(written + i) * 0.5, timestamp: Int64(written + i), step: Int64(written + i))
            }
            _ = try await store.write(WriteBatch([.logMetrics(run.runID, metrics)]))
            written += perBatch
            batchIndex += 1
        }
    }
    try await store.close()
    let storeRate = Double(points) / storeSeconds

    // The engine's own rate for one row per point (RunLedger's layout before chunks): one INSERT … SELECT of the same
    // number of rows into a keyed table, in a fresh file.
    let enginePath = folder.appendingPathComponent("engine.sqlite").path
    var configuration = Configuration()
    configuration.prepareDatabase { try $0.execute(sql: "PRAGMA synchronous = NORMAL") }
    let engine = try DatabasePool(path: enginePath, configuration: configuration)
    try await engine.write { db in
        try db.execute(
            sql: """
                CREATE TABLE metrics (run_id INTEGER NOT NULL, key TEXT NOT NULL, step INTEGER NOT NULL, timestamp INTEGER NOT NULL,
                    value REAL NOT NULL, is_nan INTEGER NOT NULL, PRIMARY KEY (run_id, key, step, timestamp, value, is_nan)) WITHOUT ROWID
                """)
    }
    let hasSeries = (try? await engine.read { try Int.fetchOne($0, sql: "SELECT value FROM generate_series(1, 1)") }) != nil
    let source =
        hasSeries
        ? "SELECT value AS i FROM generate_series(1, \(points))"
        : "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < \(points)) SELECT i FROM s"
    let engineSeconds = try await seconds {
        try await engine.write { db in
            try db.execute(
                sql: "INSERT INTO metrics (run_id, key, step, timestamp, value, is_nan) SELECT 1, 'soc', i, i, i * 0.5, 0 FROM (\(source))"
            )
        }
    }
    try await engine.close()
    let engineRate = Double(points) / engineSeconds
    print(String(format: "store API (batches of %d, one transaction each): %10.0f points/s  (%.2f s)", perBatch, storeRate, storeSeconds))
    print(
        String(
            format: "SQLite engine INSERT … SELECT (%@):        %10.0f rows/s    (%.2f s)", hasSeries ? "generate_series" : "recursive CTE",
            engineRate, engineSeconds))
    print(String(format: "ratio store / engine: %.0f %%", storeRate / engineRate * 100))
}

if points > 0 { try await measureBulkWrites() }

// MARK: 2. Search over many runs

/// Loads `runCount` design runs through the store API, then times each KPI search 200 times after one warm-up.
func measureSearches(on searchStore: any TrackingStore, backend: String) async throws {
    print("\n== Search over \(runCount) runs: \(backend) ==")
    let study = try await searchStore.createExperiment(name: "study", artifactLocation: nil, tags: []).id
    var generator = SystemRandomNumberGenerator()
    let solvers = ["hybrid", "milp", "heuristic"]
    let loadSeconds = try await seconds {
        var operations: [WriteOperation] = []
        for index in 0..<runCount {
            let run = NewRun(experimentID: study, name: "design-\(index)", status: .finished, startTime: Int64(index))
            let cost = Double.random(in: 500...9000, using: &generator)
            operations += [
                .createRun(run),
                .logParams(
                    run.runID,
                    [
                        KeyValue("solver_type", solvers[index % 3]), KeyValue("battery_kwh", String(index % 400)),
                        KeyValue("pv_kw", String(index % 300)),
                    ]),
                .logMetrics(
                    run.runID,
                    [
                        Metric(key: "total_cost", value: cost, timestamp: 1), Metric(key: "total_co2", value: cost / 3, timestamp: 1),
                        Metric(key: "renewable_fraction", value: Double.random(in: 0...1, using: &generator), timestamp: 1),
                        Metric(key: "self_sufficiency_rate", value: Double.random(in: 0...1, using: &generator), timestamp: 1),
                    ]
                ),
                .setTags(run.runID, [KeyValue("site", ["north", "south"][index % 2])]),
            ]
            if operations.count >= 2000 {
                _ = try await searchStore.write(WriteBatch(operations))
                operations = []
            }
        }
        if !operations.isEmpty { _ = try await searchStore.write(WriteBatch(operations)) }
    }
    print(String(format: "loaded %d runs in %.1f s", runCount, loadSeconds))

    let queries: [(String, RunQuery)] = [
        (
            "metrics.total_cost < 4000 and params.solver_type = 'hybrid' ORDER BY total_cost LIMIT 5",
            RunQuery(
                experimentIDs: [study], filter: try Filter.parse("metrics.total_cost < 4000 and params.solver_type = 'hybrid'"),
                orderBy: [OrderKey(.metric("total_cost"))], maxResults: 5
            )
        ),
        (
            "metrics.renewable_fraction > 0.8 LIMIT 100",
            RunQuery(experimentIDs: [study], filter: try Filter.parse("metrics.renewable_fraction > 0.8"), maxResults: 100)
        ),
        (
            "metrics.renewable_fraction > 0.8 ORDER BY renewable_fraction DESC LIMIT 100",
            RunQuery(
                experimentIDs: [study], filter: try Filter.parse("metrics.renewable_fraction > 0.8"),
                orderBy: [OrderKey(.metric("renewable_fraction"), ascending: false)], maxResults: 100
            )
        ),
    ]
    for (label, query) in queries {
        _ = try await searchStore.searchRuns(query)  // warm the caches
        var samples: [Double] = []
        var found = 0
        for _ in 0..<200 {
            samples.append(try await seconds { found = try await searchStore.searchRuns(query).runs.count } * 1000)
        }
        samples.sort()
        print(
            String(
                format: "%@\n    %d results  p50 %.2f ms  p90 %.2f ms  p99 %.2f ms", label, found, percentile(samples, 0.5), percentile(samples, 0.9),
                percentile(samples, 0.99)))
    }

    // Statistics by solver over every run: the store reads only the values and their groups; the way it used to
    // (and the generic default still does) loads every matching run whole.
    let all = RunQuery(experimentIDs: [study])
    var groups = 0
    var direct: [Double] = []
    for _ in 0..<10 {
        direct.append(
            try await seconds { groups = try await searchStore.statistics(all, metric: "total_cost", groupBy: .param("solver_type")).count } * 1000)
    }
    var loading: [Double] = []
    for _ in 0..<3 {
        loading.append(
            try await seconds {
                let runs = try await searchStore.allRuns(all)
                _ = GroupSummary.grouped(runs.compactMap { run in run.latestMetrics["total_cost"].map { (run.params["solver_type"], $0.value) } })
            } * 1000)
    }
    direct.sort()
    loading.sort()
    print(
        String(
            format:
                "statistics of total_cost by solver_type over every run (%d groups)\n    store p50 %.1f ms  loading every run p50 %.1f ms  (%.1fx)",
            groups,
            percentile(direct, 0.5), percentile(loading, 0.5), percentile(loading, 0.5) / percentile(direct, 0.5)))
}

let searchStore = try await SQLiteStore.open(path: folder.appendingPathComponent("search.sqlite").path)
try await measureSearches(on: searchStore, backend: "SQLite")
try await searchStore.close()

// With `--postgres URL` (an empty database: Benchmarks/postgres.sh passes its throwaway cluster) the same load and
// searches run on PostgreSQL, in the same process, for a side-by-side reading.
if let index = arguments.firstIndex(of: "--postgres"), index + 1 < arguments.count {
    try await PostgresStore.withStore(try PostgresLocation(url: arguments[index + 1])) { postgres in
        try await measureSearches(on: postgres, backend: "PostgreSQL")
    }
}
