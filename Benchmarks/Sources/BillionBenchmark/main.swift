// One billion metric points in one SQLite file through the SDK (Benchmarks/billion.sh): 10,000 runs × 10 keys ×
// 10,000 steps of 1 s telemetry, then the file's size and how fast it was written, and the two reads a user makes
// most (the cheapest-hybrid search and a 10,000-point history) against the same reads on an archive of 100,000 runs
// without histories, built in the same run.
//
// Usage: BillionBenchmark [--runs 10000] [--keys 10] [--steps 10000] [--reference-runs 100000] [--folder DIR]
import EnergySimulation
import Foundation
import LedgerCore
import LedgerSQLite
import RunLedger

func option(_ name: String, _ fallback: Int) -> Int {
    guard let index = CommandLine.arguments.firstIndex(of: name), index + 1 < CommandLine.arguments.count,
        let value = Int(CommandLine.arguments[index + 1])
    else { return fallback }
    return value
}

func seconds(_ body: () async throws -> Void) async rethrows -> Double {
    let start = ContinuousClock.now
    try await body()
    let elapsed = ContinuousClock.now - start
    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
}

func median(_ samples: [Double]) -> Double { samples.sorted()[samples.count / 2] }

func fileBytes(_ path: String) -> Int { ((try? FileManager.default.attributesOfItem(atPath: path)[.size]) as? Int) ?? 0 }

let runCount = option("--runs", 10_000)
let keyCount = option("--keys", 10)
let stepCount = option("--steps", 10_000)
let referenceRuns = option("--reference-runs", 100_000)
let folder: URL = {
    if let index = CommandLine.arguments.firstIndex(of: "--folder"), index + 1 < CommandLine.arguments.count {
        return URL(fileURLWithPath: CommandLine.arguments[index + 1])
    }
    return FileManager.default.temporaryDirectory.appendingPathComponent("runledger-billion-\(ProcessInfo.processInfo.processIdentifier)")
}()
try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
let solvers = ["hybrid", "milp", "heuristic"]
let search = RunQuery(
    experimentIDs: [], filter: try Filter.parse("metrics.total_cost < 4000 and params.solver_type = 'hybrid'"),
    orderBy: [OrderKey(.metric("total_cost"))], maxResults: 5)

/// The p50 of the cheapest-hybrid search and of a 10,000-point history (or the whole one, if shorter) on `store`.
func reads(_ store: SQLiteStore, experiment: ExperimentID, run: RunID, key: String) async throws -> (search: Double, history: Double, points: Int) {
    var query = search
    query.experimentIDs = [experiment]
    _ = try await store.searchRuns(query)
    var searches: [Double] = []
    for _ in 0..<200 { searches.append(try await seconds { _ = try await store.searchRuns(query) } * 1000) }
    var points = 0
    var histories: [Double] = []
    for _ in 0..<50 {
        histories.append(
            try await seconds { points = try await store.metricHistory(runID: run, key: key, after: nil, limit: 10_000, order: .step).count } * 1000)
    }
    return (median(searches), median(histories), points)
}

// MARK: The billion

let total = runCount * keyCount * stepCount
print("== \(runCount) runs × \(keyCount) keys × \(stepCount) steps = \(total) points through the SDK into one SQLite file ==")
let path = folder.appendingPathComponent("billion.sqlite").path
let store = try await SQLiteStore.open(path: path)
let start = Date().timeIntervalSince1970
let writeStart = ContinuousClock.now
let (firstRun, statistics) = try await Ledger.withLedger(store: store) { ledger -> (RunID?, LedgerStatistics) in
    var first: RunID?
    let keys = (0..<keyCount).map { ledger.metricKey("sensor_\($0)") }
    var values = [Double](repeating: 0, count: keyCount)
    var generator = SeededGenerator(seed: 1)
    for index in 0..<runCount {
        let run = ledger.startRun(
            experiment: "billion", name: "design-\(index)",
            params: ["solver_type": solvers[index % 3], "battery_kwh": String(index % 400)])
        if first == nil { first = run.id }
        let origin = Int64(start * 1000) + Int64(index) * 86_400_000
        // Sensors read to 0.1, drifting slowly: a random walk per key.
        for key in 0..<keyCount { values[key] = Double(Int.random(in: 0...1000, using: &generator)) / 10 }
        for step in 0..<stepCount {
            for key in 0..<keyCount where Int.random(in: 0..<8, using: &generator) == 0 {
                values[key] = ((values[key] * 10).rounded() + Double(Int.random(in: -1...1, using: &generator))) / 10
            }
            run.log(keys, values, step: Int64(step), timestamp: origin + Int64(step) * 1000)
        }
        run.setKPIs(["total_cost": Double.random(in: 500...9000, using: &generator)])
        run.end()
        // The simulation waits for its points to be stored after each run: the rate measured is what the store
        // absorbs, with nothing dropped at the buffer's bound.
        await ledger.flush()
    }
    return (first, ledger.statistics)
}
let writeElapsed = ContinuousClock.now - writeStart
let writeSeconds = Double(writeElapsed.components.seconds) + Double(writeElapsed.components.attoseconds) / 1e18
try await store.close()
let bytes = fileBytes(path)
print(String(format: "written in %.1f s: %.2f M points/s", writeSeconds, Double(total) / writeSeconds / 1e6))
print("\(statistics.written) points written, \(statistics.dropped) dropped, \(statistics.spooled) spooled")
print(String(format: "file: %.2f GB, %.2f bytes a point", Double(bytes) / 1e9, Double(bytes) / Double(total)))

let billion = try await SQLiteStore.open(path: path)
let billionExperiment = try await billion.experiment(named: "billion")?.id ?? .defaultExperiment
let big = try await reads(billion, experiment: billionExperiment, run: firstRun ?? RunID.random(), key: "sensor_0")
try await billion.close()

// MARK: The reference: an archive of runs without histories, and one 10,000-point history

print("\n== reference: \(referenceRuns) runs with KPIs and no histories, one run with a \(stepCount)-point history ==")
let referencePath = folder.appendingPathComponent("reference.sqlite").path
let reference = try await SQLiteStore.open(path: referencePath)
let experiment = try await reference.createExperiment(name: "reference", artifactLocation: nil, tags: [])
var generator = SeededGenerator(seed: 2)
var operations: [WriteOperation] = []
for index in 0..<referenceRuns {
    let run = NewRun(experimentID: experiment.id, name: "design-\(index)", status: .finished, startTime: Int64(index))
    operations += [
        .createRun(run),
        .logParams(run.runID, [KeyValue("solver_type", solvers[index % 3]), KeyValue("battery_kwh", String(index % 400))]),
        .logMetrics(run.runID, [Metric(key: "total_cost", value: Double.random(in: 500...9000, using: &generator), timestamp: 1)]),
    ]
    if operations.count >= 3000 {
        _ = try await reference.write(WriteBatch(operations))
        operations = []
    }
}
let historyRun = NewRun(experimentID: experiment.id, name: "history", status: .finished, startTime: 0)
operations += [.createRun(historyRun)]
_ = try await reference.write(WriteBatch(operations))
for part in stride(from: 0, to: stepCount, by: 1000) {
    let metrics = (part..<min(part + 1000, stepCount)).map {
        Metric(key: "sensor_0", value: Double($0 % 1000) / 10, timestamp: Int64($0) * 1000, step: Int64($0))
    }
    _ = try await reference.write(WriteBatch([.logMetrics(historyRun.runID, metrics)]))
}
let small = try await reads(reference, experiment: experiment.id, run: historyRun.runID, key: "sensor_0")
try await reference.close()

print("\n| what | \(total) points, \(runCount) runs | \(referenceRuns) runs, no histories | ratio |")
print("|---|---:|---:|---:|")
print(String(format: "| search p50 (ms) | %.2f | %.2f | %.2f |", big.search, small.search, big.search / small.search))
print(String(format: "| %d-point history p50 (ms) | %.2f | %.2f | %.2f |", big.points, big.history, small.history, big.history / small.history))
try? FileManager.default.removeItem(at: folder)
