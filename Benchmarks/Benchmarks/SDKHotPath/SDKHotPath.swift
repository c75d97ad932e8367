// package-benchmark suite for the SDK's hot path: `run.log` with the writer running and with the database down.
// Run from Benchmarks/: `swift package benchmark` (figures per 1000 calls: wall clock, throughput, mallocs).
import Benchmark
import Foundation
import GRDBSQLite
import LedgerCore
import LedgerSQLite
import RunLedger

/// One ledger per benchmark, set up before and torn down after its measurements.
final class Fixture: @unchecked Sendable {  // set up in `setup`, read by the measured closure, torn down in `teardown`
    var ledger: Ledger?
    var run: RunHandle?
    var writer: Task<Void, any Error>?
    var lock: OpaquePointer?
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("runledger-hotpath-\(UUID().uuidString)")

    func start(storeDown: Bool) async throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let path = folder.appendingPathComponent("db.sqlite").path
        let store = try await SQLiteStore.open(path: path, options: SQLiteOptions(busyTimeout: 0.05))
        if storeDown {
            sqlite3_open(path, &lock)
            sqlite3_exec(lock, "BEGIN EXCLUSIVE", nil, nil, nil)
        }
        let ledger = Ledger(store: store, configuration: LedgerConfiguration(spoolDirectory: folder.appendingPathComponent("spool")))
        writer = Task { try await ledger.run() }
        self.ledger = ledger
        run = ledger.startRun(experiment: "hot-path")
    }

    func stop() async throws {
        if let lock {
            sqlite3_exec(lock, "COMMIT", nil, nil, nil)
            sqlite3_close(lock)
        }
        await ledger?.close()
        try await writer?.value
        try? FileManager.default.removeItem(at: folder)
    }
}

let benchmarks: @Sendable () -> Void = {
    for storeDown in [false, true] {
        let fixture = Fixture()
        Benchmark(
            storeDown ? "run.log x1000, database down (spooling)" : "run.log x1000, writer running",
            configuration: .init(
                metrics: [.wallClock, .throughput, .mallocCountTotal],
                scalingFactor: .kilo,
                maxDuration: .seconds(5),
                maxIterations: 5_000,
                setup: { try await fixture.start(storeDown: storeDown) },
                teardown: { try await fixture.stop() }
            )
        ) { benchmark in
            guard let run = fixture.run else { return }
            for step in benchmark.scaledIterations {
                run.log("soc", Double(step), step: Int64(step))
            }
        }
    }
}
