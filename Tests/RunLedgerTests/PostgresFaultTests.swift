import Foundation
import LedgerCore
import Synchronization
import TestSupport
import Testing

@testable import LedgerPostgres
@testable import RunLedger

/// A PostgreSQL cluster of the test's own (fsync on: this is a durability test), through `scripts/pg-cluster`.
struct ThrowawayCluster {
    let folder: String
    let url: String

    static var available: Bool {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []).contains {
            FileManager.default.isExecutableFile(atPath: "/usr/lib/postgresql/\($0)/bin/initdb")
        }
    }

    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("scripts/pg-cluster").path

    init() async throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("runledger-pg-\(UUID().uuidString)").path
        url = try await Self.command(["start", folder])
    }

    func pause() async throws { try await Self.command(["pause", folder]) }
    func resume() async throws { try await Self.command(["resume", folder]) }

    /// Stops and removes the cluster; a `defer` cannot await, and the test is over by then, so this one may block.
    func remove() {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.script)
        process.arguments = ["stop", folder]
        process.standardOutput = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return }
        process.waitUntilExit()
    }

    func psql(_ sql: String) async throws -> String { try await Self.run(URL(fileURLWithPath: "/usr/bin/env"), ["psql", url, "-qAtc", sql]) }

    @discardableResult
    static func command(_ arguments: [String]) async throws -> String { try await run(URL(fileURLWithPath: script), arguments) }

    /// Output goes through a file (ChildProcess), not a pipe: the server that `start` leaves running inherits the
    /// descriptor, and a pipe would then never reach end-of-file.
    static func run(_ executable: URL, _ arguments: [String]) async throws -> String {
        let output = try await ChildProcess.run(executable, arguments)
        guard output.status == 0 else { throw LedgerError(.internal, "\(executable.path) \(arguments) failed: \(output.stderr)") }
        return output.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

@Suite("Faults on PostgreSQL", .serialized, .enabled(if: ThrowawayCluster.available))
struct PostgresFaultTests {
    @Test("PostgreSQL stopped (immediate) mid-ingest of 1M points and started 10 s later: every point once, and the log calls' latencies printed")
    func serverStoppedDuringIngest() async throws {
        let cluster = try await ThrowawayCluster()
        defer { cluster.remove() }
        var options = PostgresOptions()
        // Generous enough for the first connection to a cluster started moments ago on a loaded machine (a full suite
        // run measured more than 4 s once); the 10 s outage still outlasts it.
        options.acquireTimeout = .seconds(8)
        options.statementTimeout = .seconds(5)
        if ProcessInfo.processInfo.environment["RUNLEDGER_TEST_DEBUG"] != nil { options.logger.logLevel = .debug }
        try await PostgresStore.withStore(try PostgresLocation(url: cluster.url), options: options) { store in
            let spool = temporaryFolder("pg-outage").appendingPathComponent("spool")
            let total = 1_000_000
            var durations: [Duration] = []
            durations.reserveCapacity(total)
            let runID = Mutex<RunID?>(nil)
            let outage = Task.detached {
                try await Task.sleep(for: .seconds(10))  // the fault as specified: the server is away for 10 s
                try await cluster.resume()
            }
            let ledger = try await Ledger.withLedger(store: store, configuration: fastRetries(spool)) { ledger in
                let run = ledger.startRun(experiment: "pg-outage", name: "under-fire")
                runID.withLock { $0 = run.id }
                let clock = ContinuousClock()
                for step in 0..<total {
                    let start = clock.now
                    run.log("x", Double(step), step: Int64(step))
                    durations.append(clock.now - start)
                    if step == total / 10 {
                        try await eventually { ledger.statistics.written > 0 }
                        try await cluster.pause()
                    }
                    // The simulation computes between samples: ingestion spans the outage instead of finishing before it.
                    if step % 10_000 == 0 { try await Task.sleep(for: .milliseconds(150)) }
                }
                run.end()
                return ledger
            }
            try await outage.value
            let statistics = ledger.statistics
            // The outage reached the writer: it either spooled and replayed, or its store retried until the server was back.
            #expect((statistics.spooled > 0 && statistics.replayed > 0) || store.gate.retryCount > 0, "\(statistics)")
            #expect(statistics.written == statistics.logged, "\(statistics)")
            #expect(statistics.rejected == 0)
            #expect(try await cluster.psql("SELECT sum(point_count) FROM metric_chunks WHERE key = 'x'") == "\(total)")
            // Read through a store of its own: this one's pool may still be dropping connections the outage broke.
            let run = try #require(runID.withLock { $0 })
            let stored = try await PostgresStore.withStore(try PostgresLocation(url: cluster.url)) {
                try await $0.metricHistory(runID: run, key: "x")
            }
            #expect(Set(stored.map(\.step)).count == total)
            #expect(try await cluster.psql("SELECT status FROM runs") == "FINISHED")
            // `log` is synchronous and never awaits the store, so the figures are reported, not asserted.
            durations.sort()
            print("log call during PostgreSQL outage: p50 \(durations[total / 2]), p99 \(durations[total * 99 / 100]), max \(durations[total - 1])")
        }
    }

    @Test("while the server is down calls fail as unavailable within the acquire timeout; after a restart they succeed")
    func restart() async throws {
        let cluster = try await ThrowawayCluster()
        defer { cluster.remove() }
        var options = PostgresOptions()
        options.acquireTimeout = .seconds(3)
        try await PostgresStore.withStore(try PostgresLocation(url: cluster.url), options: options) { store in
            #expect(try await store.experiments(view: .all).count == 1)
            try await cluster.pause()
            for _ in 0..<3 {
                do {
                    _ = try await store.experiments(view: .all)
                    Issue.record("a call succeeded while the server was down")
                } catch let error as LedgerError {
                    #expect(error.code == .storeUnavailable, "\(error)")
                }
            }
            try await cluster.resume()
            #expect(try await store.experiments(view: .all).count == 1)
        }
    }
}
