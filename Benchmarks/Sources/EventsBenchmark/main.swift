// Events across runs (Benchmarks/events.sh): 10,000 runs × 1,000 events (10 million) spread over 30 days in one
// experiment, then the p50 of "every failed health check in the last hour" (kind + level + time) and of a 24-hour
// summary in 1 h buckets, through the store, beside the same SQL run straight on the engine (GRDB, no store). With
// --postgres URL (an empty database) the store part runs on PostgreSQL too.
//
// Usage: EventsBenchmark [--runs 10000] [--events 1000] [--folder DIR] [--postgres URL]
import BenchmarkSupport
import Foundation
import GRDB
import LedgerCore
import LedgerPostgres
import LedgerSQLite

let runCount = option("--runs").flatMap { Int($0) } ?? 10_000
let eventsPerRun = option("--events").flatMap { Int($0) } ?? 1_000
let folder = URL(
    fileURLWithPath: option("--folder")
        ?? FileManager.default.temporaryDirectory.appendingPathComponent("runledger-events-\(ProcessInfo.processInfo.processIdentifier)").path)
try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
let now: Int64 = 1_800_000_000_000
let kinds = ["health_check", "tool_call", "llm_call", "retry", "checkpoint", "message", "timeout", "deploy"]

/// Fills `store` with the events, the same on every backend (a fixed generator).
func fill(_ store: any TrackingStore) async throws -> (ExperimentID, Double) {
    let experiment = try await store.createExperiment(name: "agents", artifactLocation: nil, tags: []).id
    var state: UInt64 = 42
    func next() -> UInt64 {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return state >> 11
    }
    let elapsed = try await seconds {
        for index in 0..<runCount {
            let run = NewRun(experimentID: experiment, name: "agent-\(index)", startTime: now - 30 * 86_400_000)
            let events = (0..<eventsPerRun).map { _ in
                let roll = next() % 100
                return RunEvent(
                    timestamp: now - Int64(next() % (30 * 86_400_000)), level: roll < 2 ? .error : roll < 10 ? .warning : .info,
                    kind: kinds[Int(next() % UInt64(kinds.count))], message: "agent \(index)")
            }
            _ = try await store.write(WriteBatch([.createRun(run), .logEvents(run.runID, events)]))
        }
    }
    return (experiment, elapsed)
}

let failedHealthChecks = { (experiment: ExperimentID) in
    EventSearch(runs: RunQuery(experimentIDs: [experiment]), kinds: ["health_check"], minimumLevel: .error, from: now - 3_600_000, to: now + 1)
}
let lastDay = { (experiment: ExperimentID) in EventSearch(runs: RunQuery(experimentIDs: [experiment]), from: now - 86_400_000, to: now + 1) }

func measure(_ store: any TrackingStore, experiment: ExperimentID) async throws -> (search: Double, found: Int, summary: Double, rows: Int) {
    var found = 0
    let search = try await p50(100) { found = try await store.searchEvents(failedHealthChecks(experiment)).count }
    var rows = 0
    let summary = try await p50(10) { rows = try await store.eventSummary(lastDay(experiment), width: 3_600_000).count }
    return (search, found, summary, rows)
}

let path = folder.appendingPathComponent("events.sqlite").path
let sqlite = try await SQLiteStore.open(path: path)
let (experiment, writeSeconds) = try await fill(sqlite)
let total = runCount * eventsPerRun
let onSQLite = try await measure(sqlite, experiment: experiment)
try await sqlite.close()

// The engine alone: the statements the store runs, prepared once, on a plain connection.
let queue = try DatabaseQueue(path: path)
let searchSQL = StoreSQL.searchEvents(failedHealthChecks(experiment)).statement(.sqlite)
let summarySQL = StoreSQL.eventSummary(lastDay(experiment), width: 3_600_000, limit: Limits.summaryRows + 1).statement(.sqlite)
func arguments(_ statement: SQLStatement) -> StatementArguments {
    StatementArguments(
        statement.bindings.map { value -> (any DatabaseValueConvertible)? in
            switch value {
            case .integer(let number): number
            case .real(let number): number
            case .text(let text): text
            case .blob(let bytes): Data(bytes)
            case .null: nil
            }
        })
}
let rawSearch = try await p50(100) { _ = try await queue.read { try Row.fetchAll($0, sql: searchSQL.sql, arguments: arguments(searchSQL)).count } }
let rawSummary = try await p50(10) { _ = try await queue.read { try Row.fetchAll($0, sql: summarySQL.sql, arguments: arguments(summarySQL)).count } }
let bytes = ((try? FileManager.default.attributesOfItem(atPath: path)[.size]) as? Int) ?? 0
try queue.close()

print("\(total) events in \(runCount) runs (SQLite file \(bytes / 1_048_576) MiB), written in \(String(format: "%.1f", writeSeconds)) s")
print("| query | store p50 (ms) | engine alone p50 (ms) | store / engine | rows |")
print("|---|---:|---:|---:|---:|")
print(
    String(
        format: "| SQLite: failed health checks, last hour | %.2f | %.2f | %.2f | %d |", onSQLite.search, rawSearch, onSQLite.search / rawSearch,
        onSQLite.found))
print(
    String(
        format: "| SQLite: 24 h summary, 1 h buckets | %.1f | %.1f | %.2f | %d |", onSQLite.summary, rawSummary, onSQLite.summary / rawSummary,
        onSQLite.rows))

if let url = option("--postgres") {
    try await PostgresStore.withStore(try PostgresLocation(url: url)) { store in
        let (experiment, writeSeconds) = try await fill(store)
        let onPostgres = try await measure(store, experiment: experiment)
        print(String(format: "| PostgreSQL: failed health checks, last hour | %.2f | | | %d |", onPostgres.search, onPostgres.found))
        print(String(format: "| PostgreSQL: 24 h summary, 1 h buckets | %.1f | | | %d |", onPostgres.summary, onPostgres.rows))
        print(String(format: "PostgreSQL: written in %.1f s", writeSeconds))
    }
}
try? FileManager.default.removeItem(at: folder)
