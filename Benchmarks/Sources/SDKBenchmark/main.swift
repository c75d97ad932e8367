// The SDK's promises, measured: log-call latency (each call timed) with the writer running and with the store down,
// sustained ingestion against the SQLite engine in the same run, the cost of logging inside a simulation loop, and
// peak memory while 10M points are logged as fast as possible.
import Foundation
import GRDB
import GRDBSQLite
import LedgerCore
import LedgerSQLite
import RunLedger

#if canImport(Glibc)
    import Glibc
#endif

let arguments = CommandLine.arguments
let folder = FileManager.default.temporaryDirectory.appendingPathComponent("runledger-sdkbench-\(UUID().uuidString)")
try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(at: folder) }

/// The size of a SQLite file (its WAL checkpointed into it on close).
func fileBytes(_ path: String) -> Int {
    ((try? FileManager.default.attributesOfItem(atPath: path)[.size]) as? Int) ?? 0
}

@inline(__always) func monotonicNanoseconds() -> UInt64 {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
}

/// The process's peak resident memory (VmHWM). Not getrusage's ru_maxrss: Linux carries that across exec, so a child
/// started by this benchmark would report the parent's peak.
func peakResidentMiB() -> Double {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
        let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
        let kib = line.split(separator: " ").dropFirst().first.flatMap({ Double($0) })
    else { return 0 }
    return kib / 1024
}

/// The process's resident memory now, from /proc/self/statm.
func residentMiB() -> Double {
    guard let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8),
        let pages = statm.split(separator: " ").dropFirst().first.flatMap({ Double($0) })
    else { return 0 }
    return pages * Double(sysconf(Int32(_SC_PAGESIZE))) / 1_048_576
}

func percentiles(_ samples: inout [UInt64]) -> String {
    samples.sort()
    func at(_ p: Double) -> Double { Double(samples[min(samples.count - 1, Int(Double(samples.count) * p))]) / 1000 }
    return String(format: "p50 %.3f µs  p99 %.3f µs  p99.9 %.3f µs  max %.1f µs", at(0.5), at(0.99), at(0.999), Double(samples.last!) / 1000)
}

func configuration(_ name: String) -> LedgerConfiguration {
    LedgerConfiguration(
        spoolDirectory: folder.appendingPathComponent("spool-\(name)"), initialRetryDelay: .milliseconds(50), maximumRetryDelay: .seconds(1))
}

/// A second connection that holds SQLite's write lock: to the store, the database is down.
func holdWriteLock(_ path: String) -> OpaquePointer? {
    var handle: OpaquePointer?
    sqlite3_open(path, &handle)
    sqlite3_exec(handle, "BEGIN EXCLUSIVE", nil, nil, nil)
    return handle
}

// Peak RSS runs in a process of its own (`SDKBenchmark rss`), so earlier work does not inflate the figure.
if arguments.count > 1 && arguments[1] == "rss" {
    let path = folder.appendingPathComponent("rss.sqlite").path
    let store = try await SQLiteStore.open(path: path)
    let points = 10_000_000
    // `rss PACE`: spend about PACE nanoseconds between points (0: a loop that does nothing but log).
    let pace = arguments.count > 2 ? Int(arguments[2]) ?? 0 : 0
    // What the process holds before the first point (runtime, SQLite, the store's connections): the bound is about
    // the ledger's memory on top of this.
    let baseline = residentMiB()
    let started = ContinuousClock.now
    var dropped = 0
    try await Ledger.withLedger(store: store, configuration: configuration("rss")) { ledger in
        let run = ledger.startRun(experiment: "rss")
        for step in 0..<points {
            if pace > 0 {
                let until = monotonicNanoseconds() + UInt64(pace)
                while monotonicNanoseconds() < until {}
            }
            run.log("x", Double(step), step: Int64(step))
        }
        run.end()
        await ledger.flush()
        dropped = ledger.statistics.dropped
    }
    let elapsed = ContinuousClock.now - started
    let rows = try DatabaseQueue(path: path).read { try Int.fetchOne($0, sql: "SELECT COALESCE(SUM(point_count), 0) FROM metric_chunks") ?? 0 }
    let rate = pace == 0 ? "as fast as possible" : "with ~\(pace) ns between points"
    let peak = peakResidentMiB()
    print(
        String(
            format:
                "10M points logged %@: peak RSS %.0f MiB = %.0f MiB before logging + %.0f MiB (buffer bound 64 MiB); %d rows stored, %d dropped, %.1f s",
            rate, peak, baseline, peak - baseline, rows, dropped, elapsed.seconds
        )
    )
    exit(0)
}

// `SDKBenchmark spill`: how fast the writer absorbs points into the spool while the store is down.
if arguments.count > 1 && arguments[1] == "spill" {
    let path = folder.appendingPathComponent("spill.sqlite").path
    let store = try await SQLiteStore.open(path: path, options: SQLiteOptions(busyTimeout: 0.05))
    let lock = holdWriteLock(path)
    let points = 10_000_000
    let ledger = Ledger(store: store, configuration: configuration("spill"))
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await ledger.run() }
        let run = ledger.startRun(experiment: "spill")
        let start = ContinuousClock.now
        for step in 0..<points { run.log("x", Double(step), step: Int64(step)) }
        let logged = (ContinuousClock.now - start).seconds
        await ledger.flush()
        let spooled = (ContinuousClock.now - start).seconds
        print(
            String(
                format: "10M points: logged in %.2f s (%.1fM/s); all durable in the spool after %.2f s (%.1fM points/s); %d dropped",
                logged, Double(points) / logged / 1e6, spooled, Double(points) / spooled / 1e6, ledger.statistics.dropped
            )
        )
        sqlite3_exec(lock, "COMMIT", nil, nil, nil)
        await ledger.close()
        try await group.waitForAll()
    }
    print(String(format: "peak RSS %.0f MiB", peakResidentMiB()))
    exit(0)
}

// MARK: Hot path

print("== run.log(key, value, step:) latency, each call timed ==")
for storeDown in [false, true] {
    let path = folder.appendingPathComponent("hot-\(storeDown).sqlite").path
    let store = try await SQLiteStore.open(path: path, options: SQLiteOptions(busyTimeout: 0.2))
    let lock = storeDown ? holdWriteLock(path) : nil
    var samples = [UInt64](repeating: 0, count: 2_000_000)
    try await Ledger.withLedger(store: store, configuration: configuration("hot-\(storeDown)")) { ledger in
        let run = ledger.startRun(experiment: "hot")
        for step in 0..<samples.count {
            let start = monotonicNanoseconds()
            run.log("soc", Double(step), step: Int64(step))
            samples[step] = monotonicNanoseconds() - start
        }
        run.end()
        if let lock {
            sqlite3_exec(lock, "COMMIT", nil, nil, nil)
            sqlite3_close(lock)
        }
    }
    print((storeDown ? "store down (spooling):  " : "writer running:         ") + percentiles(&samples))
}

// MARK: Sustained ingestion

print("\n== Sustained ingestion through the SDK into SQLite ==")
let points = 5_000_000
let ingestPath = folder.appendingPathComponent("ingest.sqlite").path
let ingestStore = try await SQLiteStore.open(path: ingestPath)
let ingestStart = ContinuousClock.now
let ingestStatistics = try await Ledger.withLedger(store: ingestStore, configuration: configuration("ingest")) { ledger in
    let runs = (0..<4).map { ledger.startRun(experiment: "ingest", name: "r\($0)") }
    for step in 0..<(points / 4) {
        for run in runs { run.log("x", Double(step), step: Int64(step)) }
    }
    for run in runs { run.end() }
    await ledger.flush()
    return ledger.statistics
}
let ingestSeconds = (ContinuousClock.now - ingestStart).seconds
try await ingestStore.close()
let ingestStored = try DatabaseQueue(path: ingestPath).read {
    try Int.fetchOne($0, sql: "SELECT COALESCE(SUM(point_count), 0) FROM metric_chunks") ?? 0
}
// The engine's own rate for one row per point, the layout RunLedger had before chunks: a keyed table filled by SQL.
let enginePath = folder.appendingPathComponent("engine.sqlite").path
let engine = try DatabasePool(path: enginePath)
try await engine.write { db in
    try db.execute(
        sql: """
            CREATE TABLE metrics (run_id INTEGER NOT NULL, key TEXT NOT NULL, step INTEGER NOT NULL, timestamp INTEGER NOT NULL,
                value REAL NOT NULL, is_nan INTEGER NOT NULL, PRIMARY KEY (run_id, key, step, timestamp, value, is_nan)) WITHOUT ROWID
            """)
}
let engineStart = ContinuousClock.now
try await engine.write { db in
    try db.execute(
        sql: """
            INSERT INTO metrics (run_id, key, step, timestamp, value, is_nan)
            WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < \(points)) SELECT 1, 'x', i, i, i * 0.5, 0 FROM s
            """
    )
}
let engineSeconds = (ContinuousClock.now - engineStart).seconds
try await engine.close()
print(String(format: "SDK (log calls until flushed and closed): %9.0f points/s (%.2f s)", Double(points) / ingestSeconds, ingestSeconds))
print(String(format: "SQLite engine INSERT … SELECT, a row a point: %9.0f rows/s (%.2f s)", Double(points) / engineSeconds, engineSeconds))
print(String(format: "file: %.2f bytes a point", Double(fileBytes(ingestPath)) / Double(points)))
print(
    "stored \(ingestStored) of \(points) points; \(ingestStatistics.dropped) dropped, \(ingestStatistics.spooled) spooled (a rate with points dropped is void)"
)
print(String(format: "ratio SDK / engine: %.0f %%", Double(points) / ingestSeconds / (Double(points) / engineSeconds) * 100))

// MARK: Simulation loop overhead

print("\n== A simulation loop (~10 µs of work per step) with and without logging 8 metrics per step ==")
func work(_ seed: Double) -> Double {
    // ~10 µs of floating-point work, the stand-in for one step of a model.
    var x = seed
    for _ in 0..<6_200 { x = x * 1.000_000_1 + 0.000_001 }
    return x
}
let steps = 200_000
var sink = 0.0
let plainStart = ContinuousClock.now
for step in 0..<steps { sink += work(Double(step)) }
let plain = (ContinuousClock.now - plainStart).seconds
/// Accepts every batch and keeps nothing: isolates the SDK's own cost from the database's.
struct DiscardingStore: TrackingStore {
    var identity: String { "discard" }
    func createExperiment(name: String, artifactLocation: String?, tags: [KeyValue]) async throws -> Experiment {
        throw LedgerError(.internal, "unused")
    }
    func experiment(id: ExperimentID) async throws -> Experiment { throw LedgerError(.internal, "unused") }
    func experiment(named name: String) async throws -> Experiment? { nil }
    func experiments(view: ViewType) async throws -> [ExperimentSummary] { [] }
    func updateExperiment(id: ExperimentID, _ change: ExperimentChange) async throws {}
    func write(_ batch: WriteBatch) async throws -> WriteOutcome { .applied }
    func setRunLifecycle(_ runID: RunID, _ stage: LifecycleStage) async throws {}
    func run(_ runID: RunID) async throws -> Run { throw LedgerError(.internal, "unused") }
    func searchRuns(_ query: RunQuery) async throws -> RunPage { RunPage(runs: [], nextPageToken: nil) }
    func metricHistory(runID: RunID, key: String) async throws -> [MetricPoint] { [] }
    func reapRuns(heartbeatBefore: Int64, endTime: Int64) async throws -> [RunID] { [] }
    func metricWindow(_ window: MetricWindow) async throws -> [MetricSample] { [] }
    func runEvents(_ query: EventQuery) async throws -> [StoredEvent] { [] }
    func retentionPolicies() async throws -> [RetentionPolicy] { [] }
    func addRetentionPolicy(_ policy: RetentionPolicy) async throws -> RetentionPolicy { policy }
    func removeRetentionPolicy(id: Int64) async throws {}
    func prune(_ policy: RetentionPolicy, now: Int64, budget: Int, dryRun: Bool, resume: String?) async throws -> PruneCount { PruneCount() }
    func projects() async throws -> [Project] { [] }
    func changeProject(_ name: String, _ change: ProjectChange) async throws {}
    func stateDocument(project: String, namespace: String) async throws -> StateDocument? { nil }
    func putStateDocument(project: String, namespace: String, document: String, expectedVersion: Int64?) async throws -> StateDocument {
        throw LedgerError(.internal, "unused")
    }
    func deletedRuns(before cutoff: Int64) async throws -> [DeletedRun] { [] }
    func createLoggedModel(_ model: NewLoggedModel) async throws -> LoggedModel { throw LedgerError(.internal, "unused") }
    func loggedModel(id: String, allowDeleted: Bool) async throws -> LoggedModel { throw LedgerError(.internal, "unused") }
    func updateLoggedModel(id: String, _ change: LoggedModelChange) async throws -> LoggedModel { throw LedgerError(.internal, "unused") }
    func loggedModels(experimentIDs: [ExperimentID]) async throws -> [LoggedModel] { [] }
    func logOutputs(runID: RunID, _ outputs: [RunModelOutput]) async throws {}
    func logInputs(runID: RunID, datasets: [DatasetInput], models: [String]) async throws {}
    func runIO(runID: RunID) async throws -> RunIO { RunIO() }
    func healthCheck() async -> LedgerError? { nil }
    func close() async throws {}
}

func loggedLoop(into store: any TrackingStore, name: String, internedKeys: Bool, timestampPerStep: Bool = false, onePerStep: Bool = false)
    async throws -> Double
{
    try await Ledger.withLedger(store: store, configuration: configuration(name)) { ledger in
        let run = ledger.startRun(experiment: "loop")
        let names = ["soc", "pv_kw", "wind_kw", "demand_kw", "grid_import_kw", "battery_kw", "price", "cost"]
        let keys = names.map(ledger.metricKey)
        var sink = 0.0
        var values = [Double](repeating: 0, count: 8)
        let start = ContinuousClock.now
        for step in 0..<steps {
            let value = work(Double(step))
            sink += value
            let s = Int64(step)
            if onePerStep {
                for index in 0..<8 { values[index] = value * Double(index + 1) }
                run.log(keys, values, step: s)
            } else if timestampPerStep {
                let now = Ledger.timestamp()
                for index in 0..<8 { run.log(keys[index], value * Double(index + 1), step: s, timestamp: now) }
            } else if internedKeys {
                for index in 0..<8 { run.log(keys[index], value * Double(index + 1), step: s) }
            } else {
                for index in 0..<8 { run.log(names[index], value * Double(index + 1), step: s) }
            }
        }
        let elapsed = (ContinuousClock.now - start).seconds
        run.end()
        return elapsed + (sink == 42 ? 1e-9 : 0)  // keeps the work observable
    }
}
print(
    String(
        format: "without logging: %.3f s (%.2f µs/step)  (sink %.1f)", plain, plain / Double(steps) * 1e6, sink.truncatingRemainder(dividingBy: 10)))
func plainLoop() -> Double {
    var local = 0.0
    let start = ContinuousClock.now
    for step in 0..<steps { local += work(Double(step)) }
    return (ContinuousClock.now - start).seconds + (local == 42 ? 1e-9 : 0)
}
// Each variant runs five times, each time against a fresh plain loop measured just before it; the median
// overhead is reported, because a shared 2-vCPU machine moves single samples by a few percent.
for (label, interned, perStep, onePerStep, discard) in [
    ("string keys, into SQLite:                        ", false, false, false, false),
    ("metricKey keys, into SQLite:                     ", true, false, false, false),
    ("metricKey keys + one timestamp/step, into SQLite:", true, true, false, false),
    ("run.log(keys, values): one call/step, into SQLite:", true, true, true, false),
    ("string keys, discarding store:                   ", false, false, false, true),
    ("metricKey keys, discarding store:                ", true, false, false, true),
    ("run.log(keys, values), discarding store:         ", true, true, true, true),
] {
    var overheads: [Double] = []
    for attempt in 0..<5 {
        let baseline = plainLoop()
        let path = folder.appendingPathComponent("loop-\(interned)-\(perStep)-\(onePerStep)-\(attempt).sqlite").path
        let store: any TrackingStore = discard ? DiscardingStore() : try await SQLiteStore.open(path: path)
        let seconds = try await loggedLoop(
            into: store, name: "loop-\(interned)-\(perStep)-\(onePerStep)-\(discard)-\(attempt)", internedKeys: interned, timestampPerStep: perStep,
            onePerStep: onePerStep
        )
        overheads.append((seconds / baseline - 1) * 100)
    }
    overheads.sort()
    print(
        String(
            format: "%@ overhead median %.1f %%  (runs: %@)", label, overheads[2],
            overheads.map { String(format: "%.1f", $0) }.joined(separator: ", ")))
}
print("(a discarding store shows the SDK's own cost, without the database's CPU)")

// MARK: Peak memory

print("\n== Peak memory ==")
fflush(nil)  // the children print on the same stdout
for mode in [["rss"], ["rss", "400"], ["spill"]] {
    let child = Process()
    child.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
    child.arguments = mode
    try child.run()
    child.waitUntilExit()
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
