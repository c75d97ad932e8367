// The metric chunk codec (docs/chunk-format.md) against the one-row-per-point table it is to replace, on the same
// series in the same run: bytes per point of the codec alone, of a SQLite table of chunks and of SQLite's `metrics`
// table (each file after its writes, vacuumed), and the rates of encoding, decoding and inserting either way.
// Usage: Benchmarks/chunks.sh [--points N] [--chunk N] [--passes N]
import Foundation
import GRDB
import LedgerCore

let arguments = CommandLine.arguments
func option(_ name: String, _ fallback: Int) -> Int {
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count, let value = Int(arguments[index + 1]) else { return fallback }
    return value
}
let total = option("--points", 1_000_000)
let chunkPoints = option("--chunk", 1_000)
/// Encoding and decoding take tens of milliseconds a pass: the median of several passes steadies them.
let passes = option("--passes", 9)
let runs = 10
let folder = FileManager.default.temporaryDirectory.appendingPathComponent("runledger-chunks-\(UUID().uuidString)")
try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(at: folder) }

/// SplitMix64, so that every run measures the same series.
struct Seeded: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}

/// One run's points of each series (every run has `total / runs`).
func series(_ name: String, run: Int) -> [MetricPoint] {
    var random = Seeded(state: UInt64(run) &* 7919 &+ UInt64(name.utf8.count))
    let count = total / runs
    let start: Int64 = 1_700_000_000_000
    switch name {
    case "sensor":
        // Read once a second at 0.1 resolution; the reading changes about every tenth sample.
        var reading = 20.0
        return (0..<count).map { index in
            if Int.random(in: 0..<10, using: &random) == 0 { reading = (reading * 10 + Double(Int.random(in: -1...1, using: &random))) / 10 }
            return MetricPoint(value: reading, timestamp: start + Int64(index) * 1_000, step: Int64(index))
        }
    case "kpi":
        // A simulation's KPI per step: a decaying value with noise, logged about once a second with jitter.
        var time = start
        return (0..<count).map { index in
            time += 1_000 + Int64.random(in: -50...50, using: &random)
            let value = 100 * exp(-Double(index) / 20_000) + Double.random(in: -0.5...0.5, using: &random)
            return MetricPoint(value: value, timestamp: time, step: Int64(index))
        }
    default:
        // Every bit random: the codec's worst case.
        return (0..<count).map { index in
            MetricPoint(value: Double(bitPattern: random.next()), timestamp: start + Int64(index), step: Int64(index))
        }
    }
}

/// The median time of `passes` runs of `body`.
func median(_ body: () throws -> Void) rethrows -> Double {
    var times: [Double] = []
    for _ in 0..<passes { times.append(try seconds(body)) }
    return times.sorted()[times.count / 2]
}

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = ContinuousClock.now
    try body()
    let elapsed = ContinuousClock.now - start
    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
}

func fileBytes(_ queue: DatabaseQueue, _ path: String) throws -> Int {
    try queue.vacuum()
    return (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
}

print("== Metric chunks: \(total) points a series (\(runs) runs), \(chunkPoints) points a chunk ==")
print(
    "| series | codec B/pt | chunk table B/pt | metrics table B/pt | disk ratio | encode Mpt/s | decode Mpt/s | chunks encoded+inserted Mpt/s | rows inserted Mpt/s |"
)
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for name in ["sensor", "kpi", "random"] {
    let histories = (0..<runs).map { series(name, run: $0) }
    var chunks: [[UInt8]] = []
    let encode = median {
        chunks.removeAll(keepingCapacity: true)
        for history in histories {
            for start in stride(from: 0, to: history.count, by: chunkPoints) {
                chunks.append(MetricChunk.encode(Array(history[start..<min(start + chunkPoints, history.count)])))
            }
        }
    }
    var decoded = 0
    let decode = try median {
        decoded = 0
        for chunk in chunks { decoded += try MetricChunk.decode(chunk).count }
    }
    guard decoded == total else {
        print("decoded \(decoded) of \(total) points")
        exit(1)
    }
    let codecBytes = chunks.reduce(0) { $0 + $1.count }

    // The engine as RunLedger used it before chunks: one row per point in the old metrics table's shape.
    let rowsPath = folder.appendingPathComponent("\(name)-rows.sqlite").path
    let rowsQueue = try DatabaseQueue(path: rowsPath)
    try rowsQueue.write { db in
        try db.execute(
            sql: """
                CREATE TABLE metrics (run_id INTEGER NOT NULL, key TEXT NOT NULL, step INTEGER NOT NULL, timestamp INTEGER NOT NULL,
                    value REAL NOT NULL, is_nan INTEGER NOT NULL, PRIMARY KEY (run_id, key, step, timestamp, value, is_nan)) WITHOUT ROWID
                """)
    }
    let rowInsert = try seconds {
        try rowsQueue.write { db in
            let statement = try db.makeStatement(sql: "INSERT INTO metrics VALUES (?, 'x', ?, ?, ?, ?)")
            for (run, history) in histories.enumerated() {
                for point in history {
                    try statement.execute(arguments: [run, point.step, point.timestamp, point.storedValue, point.value.isNaN ? 1 : 0])
                }
            }
        }
    }
    let rowBytes = try fileBytes(rowsQueue, rowsPath)

    // A table of chunks with their summaries, as issue 22 describes it.
    let chunksPath = folder.appendingPathComponent("\(name)-chunks.sqlite").path
    let chunksQueue = try DatabaseQueue(path: chunksPath)
    try chunksQueue.write { db in
        try db.execute(
            sql: """
                CREATE TABLE metric_chunks (run_id INTEGER NOT NULL, key TEXT NOT NULL, first_step INTEGER NOT NULL, last_step INTEGER NOT NULL,
                    min_timestamp INTEGER NOT NULL, max_timestamp INTEGER NOT NULL, count INTEGER NOT NULL, min REAL, max REAL, sum REAL NOT NULL,
                    nan_count INTEGER NOT NULL, points BLOB NOT NULL, PRIMARY KEY (run_id, key, first_step)) WITHOUT ROWID
                """)
    }
    let chunkInsert = try seconds {
        try chunksQueue.write { db in
            let statement = try db.makeStatement(sql: "INSERT INTO metric_chunks VALUES (?, 'x', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
            for (run, history) in histories.enumerated() {
                for start in stride(from: 0, to: history.count, by: chunkPoints) {
                    let points = Array(history[start..<min(start + chunkPoints, history.count)])
                    let summary = ChunkSummary(points)
                    let arguments: StatementArguments = [
                        run, summary.minStep, summary.maxStep, summary.minTimestamp, summary.maxTimestamp, summary.count, summary.min, summary.max,
                        summary.sum, summary.nanCount, Data(MetricChunk.encode(points)),
                    ]
                    try statement.execute(arguments: arguments)
                }
            }
        }
    }
    let chunkBytes = try fileBytes(chunksQueue, chunksPath)
    let perPoint = { (bytes: Int) in String(format: "%.2f", Double(bytes) / Double(total)) }
    let rate = { (seconds: Double) in String(format: "%.1f", Double(total) / seconds / 1e6) }
    print(
        "| \(name) | \(perPoint(codecBytes)) | \(perPoint(chunkBytes)) | \(perPoint(rowBytes)) | \(String(format: "%.1f×", Double(rowBytes) / Double(chunkBytes))) | \(rate(encode)) | \(rate(decode)) | \(rate(chunkInsert)) | \(rate(rowInsert)) |"
    )
}
