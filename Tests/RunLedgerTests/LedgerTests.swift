import Foundation
import LedgerCore
import LedgerSQLite
import MetricsTestKit
@testable import RunLedger
import Testing

struct SimulatedFailure: Error, CustomStringConvertible {
    var description: String { "battery model diverged" }
}

@Suite("Ledger")
struct LedgerTests {
    @Test("withRun writes the run as RUNNING with its params before the body, FINISHED after it")
    func runLifecycle() async throws {
        let folder = temporaryFolder("lifecycle")
        let store = try await SQLiteStore.open(path: folder.appendingPathComponent("db.sqlite").path)
        let runID = try await Ledger.withLedger(store: store, configuration: fastRetries(folder.appendingPathComponent("spool"))) { ledger in
            try await ledger.withRun(experiment: "study", name: "design-1", params: ["solver_type": "hybrid"], tags: ["site": "north"]) { run in
                let during = try await store.run(run.id)
                #expect(during.info.status == .running)
                #expect(during.params == ["solver_type": "hybrid"])
                #expect(during.tags["site"] == "north" && during.info.name == "design-1")
                for step in 0..<100 { run.log("soc", Double(step) / 100, step: Int64(step)) }
                run.setKPIs(["total_cost": 812.5])
                return run.id
            }
        }
        let run = try await store.run(runID)
        #expect(run.info.status == .finished && run.info.endTime != nil)
        #expect(run.latestMetrics["total_cost"]?.value == 812.5)
        #expect(try await store.metricHistory(runID: runID, key: "soc").count == 100)
        #expect(try await store.experiment(named: "study") != nil)
    }

    @Test("a body that throws ends the run FAILED with the error in a tag, and the error reaches the caller")
    func failedRun() async throws {
        let folder = temporaryFolder("failed")
        let store = try await SQLiteStore.open(path: folder.appendingPathComponent("db.sqlite").path)
        let holder = RunIDBox()
        await #expect(throws: SimulatedFailure.self) {
            try await Ledger.withLedger(store: store, configuration: fastRetries(folder.appendingPathComponent("spool"))) { ledger in
                try await ledger.withRun(experiment: "study") { run in
                    holder.id = run.id
                    run.log("soc", 0.5)
                    throw SimulatedFailure()
                }
            }
        }
        let run = try await store.run(try #require(holder.id))
        #expect(run.info.status == .failed)
        #expect(run.tags["runledger.error"] == "battery model diverged")
    }

    @Test("bad input is reported through problems, never thrown, and the rest of the data arrives")
    func rejectedInput() async throws {
        let folder = temporaryFolder("rejected")
        let store = try await SQLiteStore.open(path: folder.appendingPathComponent("db.sqlite").path)
        let (runID, statistics, problems) = try await Ledger.withLedger(store: store, configuration: fastRetries(folder.appendingPathComponent("spool"))) { ledger in
            let run = ledger.startRun(experiment: "study", params: ["solver": "milp"])
            run.log("../escape", 1)
            run.log("good", 1, step: 1)
            await ledger.flush()
            run.setParam("solver", "hybrid")  // params are immutable
            run.log("good", 2, step: 2)
            run.end()
            await ledger.flush()
            return (run.id, ledger.statistics, ledger.problems)
        }
        #expect(statistics.rejected == 2)
        #expect(problems.contains { $0.message.contains("../escape") })
        #expect(problems.contains { $0.message.contains("Changing param values is not allowed") })
        #expect(try await store.metricHistory(runID: runID, key: "good").count == 2)
        #expect(try await store.run(runID).params == ["solver": "milp"])
        #expect(try await store.run(runID).info.status == .finished)
    }

    @Test("points logged with interned keys and with string keys land under the same metric")
    func internedKeys() async throws {
        let folder = temporaryFolder("interned")
        let store = try await SQLiteStore.open(path: folder.appendingPathComponent("db.sqlite").path)
        let runID = try await Ledger.withLedger(store: store, configuration: fastRetries(folder.appendingPathComponent("spool"))) { ledger in
            let soc = ledger.metricKey("soc")
            let run = ledger.startRun(experiment: "keys")
            for step in 0..<10 { run.log(soc, Double(step), step: Int64(step)) }
            for step in 10..<20 { run.log("soc", Double(step), step: Int64(step)) }
            run.log(ledger.metricKey("../bad"), 1)
            run.end()
            return run.id
        }
        #expect(try await store.metricHistory(runID: runID, key: "soc").map(\.value) == (0..<20).map(Double.init))
        #expect(try await store.metricHistory(runID: runID, key: "../bad").isEmpty)
    }

    @Test("the counters reach swift-metrics: logged, written, rejected and the buffer gauge")
    func metricsExport() async throws {
        let folder = temporaryFolder("metrics")
        let store = try await SQLiteStore.open(path: folder.appendingPathComponent("db.sqlite").path)
        let metrics = TestMetrics()
        var configuration = fastRetries(folder.appendingPathComponent("spool"))
        configuration.metricsFactory = metrics
        try await Ledger.withLedger(store: store, configuration: configuration) { ledger in
            let run = ledger.startRun(experiment: "metrics")
            for step in 0..<100 { run.log("x", Double(step), step: Int64(step)) }
            run.log("../bad", 1)
            run.end()
        }
        // 100 points + 1 bad point + create + end = 103 logged; the bad point is the one rejection.
        #expect(try metrics.expectCounter("runledger_sdk_items_logged_total").totalValue == 103)
        #expect(try metrics.expectCounter("runledger_sdk_items_rejected_total").totalValue == 1)
        #expect(try metrics.expectCounter("runledger_sdk_items_written_total").totalValue >= 100)
        #expect(try metrics.expectGauge("runledger_sdk_items_buffered").lastValue == 0)
    }

    @Test("a writer that cannot start does not hang the simulation: flushes return and the error surfaces at the end")
    func writerCannotStart() async throws {
        let folder = temporaryFolder("nospool")
        let store = try await SQLiteStore.open(path: folder.appendingPathComponent("db.sqlite").path)
        let file = folder.appendingPathComponent("a-file")
        try Data("x".utf8).write(to: file)
        let finished = RunIDBox()
        await #expect(throws: (any Error).self) {
            // A spool folder inside a regular file cannot be created, not even by root.
            try await Ledger.withLedger(store: store, configuration: fastRetries(file.appendingPathComponent("spool"))) { ledger in
                try await ledger.withRun(experiment: "doomed") { run in
                    for step in 0..<1000 { run.log("x", Double(step), step: Int64(step)) }
                    finished.id = run.id
                }
            }
        }
        #expect(finished.id != nil, "the simulation ran to its end")
    }

    @Test("an open run sends heartbeats; an ended one stops")
    func heartbeats() async throws {
        let folder = temporaryFolder("heartbeat")
        let path = folder.appendingPathComponent("db.sqlite").path
        let store = try await SQLiteStore.open(path: path)
        var configuration = fastRetries(folder.appendingPathComponent("spool"))
        configuration.heartbeatInterval = .milliseconds(50)
        try await Ledger.withLedger(store: store, configuration: configuration) { ledger in
            let run = ledger.startRun(experiment: "alive")
            await ledger.flush()
            let sql = "SELECT coalesce(max(heartbeat_time), 0) FROM runs WHERE run_uuid = '\(run.id.rawValue)'"
            let first = try scalar(path, sql)
            try await eventually(.seconds(10)) { try scalar(path, sql) > first }
            run.end()
            await ledger.flush()
        }
        // The reaper leaves it alone: it ended, it did not vanish.
        #expect(try await store.reapRuns(heartbeatBefore: WallClock.milliseconds() + 1_000, endTime: WallClock.milliseconds()).isEmpty)
    }

    @Test("8 threads logging into 8 runs at once: every point arrives, no lock errors")
    func eightThreads() async throws {
        let folder = temporaryFolder("threads")
        let path = folder.appendingPathComponent("db.sqlite").path
        let store = try await SQLiteStore.open(path: path)
        let (runs, problems) = try await Ledger.withLedger(store: store, configuration: fastRetries(folder.appendingPathComponent("spool"))) { ledger in
            let runs = (0..<8).map { ledger.startRun(experiment: "threads", name: "worker-\($0)") }
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                let group = DispatchGroup()
                for run in runs {
                    group.enter()
                    Thread.detachNewThread {
                        for step in 0..<25_000 { run.log("load", Double(step), step: Int64(step)) }
                        run.end()
                        group.leave()
                    }
                }
                group.notify(queue: .global()) { done.resume() }
            }
            return (runs, ledger.problems)
        }
        #expect(problems.isEmpty, "\(problems)")
        for run in runs { #expect(try await store.metricHistory(runID: run.id, key: "load").count == 25_000) }
        #expect(try scalar(path, "SELECT COUNT(*) FROM metrics") == 200_000)
    }

    @Test("past its memory bound the buffer spills to the spool, and every point still arrives exactly once")
    func spillAtBound() async throws {
        let folder = temporaryFolder("spill")
        let path = folder.appendingPathComponent("db.sqlite").path
        let store = try await SQLiteStore.open(path: path)
        let spool = folder.appendingPathComponent("spool")
        let statistics = try await Ledger.withLedger(store: store, configuration: fastRetries(spool, batchSize: 2_000, bufferBound: 256 << 10)) { ledger in
            let run = ledger.startRun(experiment: "spill")
            for step in 0..<300_000 { run.log("x", Double(step), step: Int64(step)) }
            run.end()
            return ledger
        }.statistics
        #expect(statistics.spooled > 0, "the tiny bound forced a spill")
        #expect(statistics.rejected == 0)
        #expect(try scalar(path, "SELECT COUNT(DISTINCT step) FROM metrics WHERE key = 'x'") == 300_000)
        #expect(try scalar(path, "SELECT COUNT(*) FROM metrics WHERE key = 'x'") == 300_000)
        #expect(Spool.folders(in: spool).isEmpty, "a replayed spool leaves nothing behind")
    }
}

final class RunIDBox: @unchecked Sendable {  // written once inside the body, read after it returned
    var id: RunID?
}
