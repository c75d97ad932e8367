import Foundation
import LedgerCore
import LedgerSQLite
import MetricsTestKit
import Testing

@testable import RunLedger

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

    @Test("a failed run resumes: RUNNING again with its history, then FINISHED with the new points after the old")
    func resumedRun() async throws {
        let folder = temporaryFolder("resumed")
        let store = try await SQLiteStore.open(path: folder.appendingPathComponent("db.sqlite").path)
        let configuration = fastRetries(folder.appendingPathComponent("spool"))
        let runID = try await Ledger.withLedger(store: store, configuration: configuration) { ledger in
            let run = ledger.startRun(experiment: "study", params: ["solver_type": "hybrid"])
            for step in 0..<10 { run.log("soc", Double(step), step: Int64(step)) }
            run.end(status: .failed)
            return run.id
        }
        let failed = try await store.run(runID)
        #expect(failed.info.status == .failed)
        let during = try await Ledger.withLedger(store: store, configuration: configuration) { ledger in
            let run = ledger.resumeRun(runID)
            await ledger.flush()
            let during = try await store.run(runID).info.status
            for step in 10..<20 { run.log("soc", Double(step), step: Int64(step)) }
            run.end()
            return during
        }
        #expect(during == .running)
        let finished = try await store.run(runID)
        #expect(finished.info.status == .finished && finished.params == ["solver_type": "hybrid"])
        #expect(try await store.metricHistory(runID: runID, key: "soc").map(\.step) == Array(0..<20))
        #expect(try #require(finished.info.endTime) >= (try #require(failed.info.endTime)))
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
        let (runID, statistics, problems) = try await Ledger.withLedger(
            store: store, configuration: fastRetries(folder.appendingPathComponent("spool"))
        ) { ledger in
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

    @Test("several metrics in one call: one timestamp for all, values paired with their keys, extras ignored")
    func severalPerCall() async throws {
        let folder = temporaryFolder("several")
        let store = try await SQLiteStore.open(path: folder.appendingPathComponent("db.sqlite").path)
        let runID = try await Ledger.withLedger(store: store, configuration: fastRetries(folder.appendingPathComponent("spool"))) { ledger in
            let keys = ["soc", "pv_kw", "demand_kw"].map(ledger.metricKey)
            let run = ledger.startRun(experiment: "several")
            for step in 0..<5 {
                run.log(keys, [Double(step), Double(step) * 10, Double(step) * 100], step: Int64(step), timestamp: 1_000 + Int64(step))
            }
            run.log(Array(keys.prefix(2)), [7, 70, 700], step: 5, timestamp: 2_000)  // the third value has no key
            run.log(["soc": 8, "demand_kw": 800], step: 6)
            run.end()
            return run.id
        }
        let soc = try await store.metricHistory(runID: runID, key: "soc")
        #expect(soc.map(\.value) == [0, 1, 2, 3, 4, 7, 8] && soc.prefix(6).map(\.timestamp) == [1_000, 1_001, 1_002, 1_003, 1_004, 2_000])
        #expect(try await store.metricHistory(runID: runID, key: "pv_kw").map(\.value) == [0, 10, 20, 30, 40, 70])
        let demand = try await store.metricHistory(runID: runID, key: "demand_kw")
        #expect(demand.map(\.value) == [0, 100, 200, 300, 400, 800])
        #expect(demand.last?.timestamp == soc.last?.timestamp, "a dictionary logs under one timestamp")
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
            let ending = ledger.startRun(experiment: "alive")
            let open = ledger.startRun(experiment: "alive")
            await ledger.flush()
            func heartbeat(_ run: RunHandle) throws -> Int {
                try scalar(path, "SELECT coalesce(max(heartbeat_time), 0) FROM runs WHERE run_uuid = '\(run.id.rawValue)'")
            }
            let first = try heartbeat(ending)
            try await eventually { try heartbeat(ending) > first }
            ending.end()
            // The writer sends heartbeats between batches, so once the end is written no round can still name the run.
            await ledger.flush()
            let last = try heartbeat(ending)
            // Two more rounds reach the open run (each at a later time); the ended run gets none of them.
            let seen = try heartbeat(open)
            try await eventually { try heartbeat(open) > seen }
            let later = try heartbeat(open)
            try await eventually { try heartbeat(open) > later }
            #expect(try heartbeat(ending) == last)
            // A silent process's open run would be reaped; the ended one never is.
            let cutoff = Int64(try heartbeat(open)) + 1
            #expect(try await store.reapRuns(heartbeatBefore: cutoff, endTime: cutoff) == [open.id])
        }
    }

    @Test("8 threads logging into 8 runs at once: every point arrives, no lock errors")
    func eightThreads() async throws {
        let folder = temporaryFolder("threads")
        let path = folder.appendingPathComponent("db.sqlite").path
        let store = try await SQLiteStore.open(path: path)
        let (runs, problems) = try await Ledger.withLedger(store: store, configuration: fastRetries(folder.appendingPathComponent("spool"))) {
            ledger in
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
        #expect(try scalar(path, "SELECT COALESCE(SUM(point_count), 0) FROM metric_chunks") == 200_000)
    }

    @Test("past its memory bound the buffer spills to the spool, and every point still arrives exactly once")
    func spillAtBound() async throws {
        let folder = temporaryFolder("spill")
        let path = folder.appendingPathComponent("db.sqlite").path
        let store = try await SQLiteStore.open(path: path)
        let spool = folder.appendingPathComponent("spool")
        let statistics = try await Ledger.withLedger(store: store, configuration: fastRetries(spool, batchSize: 2_000, bufferBound: 256 << 10)) {
            ledger in
            let run = ledger.startRun(experiment: "spill")
            for step in 0..<300_000 { run.log("x", Double(step), step: Int64(step)) }
            run.end()
            return ledger
        }.statistics
        #expect(statistics.spooled > 0, "the tiny bound forced a spill")
        #expect(statistics.rejected == 0)
        // A loop that only logs can outrun even the spool at so small a bound; whatever was not dropped (and counted)
        // must arrive, once.
        let kept = 300_000 - statistics.dropped
        #expect(kept > 0)
        #expect(Set(try storedPoints(path, key: "x").map(\.step)).count == kept)
        #expect(try storedPoints(path, key: "x").count == kept)
        #expect(Spool.folders(in: spool).isEmpty, "a replayed spool leaves nothing behind")
    }

    @Test("with the writer stalled, memory stays within the bound: points past it are dropped, counted and reported, the rest arrives")
    func dropAtBound() async throws {
        let folder = temporaryFolder("bound")
        let path = folder.appendingPathComponent("db.sqlite").path
        // A long busy timeout: the writer's first write waits on the lock instead of failing over to the spool.
        let store = try await SQLiteStore.open(path: path, options: SQLiteOptions(busyTimeout: 60))
        let holder = try WriteLockHolder(path: path)
        let configuration = fastRetries(folder.appendingPathComponent("spool"), batchSize: 2_000, bufferBound: 1 << 20)
        let ledger = try await Ledger.withLedger(store: store, configuration: configuration) { ledger in
            try holder.lock()
            let run = ledger.startRun(experiment: "bound")
            for step in 0..<300_000 { run.log("x", Double(step), step: Int64(step)) }
            run.end()
            holder.unlock()
            return ledger
        }
        let statistics = ledger.statistics
        let kept = 300_000 - statistics.dropped
        // What callers may hold is the bound's share for waiting items, plus the chunk being filled and the one in work.
        let limitPoints = configuration.bufferLimit / MemoryLayout<PendingPoint>.stride
        #expect(statistics.dropped > 0)
        #expect(kept <= limitPoints + 2 * configuration.batchSize, "\(kept) points held while the writer was stalled")
        #expect(ledger.problems.contains { $0.message.contains("DROPPED") })
        #expect(try storedPoints(path, key: "x").count == kept)
        #expect(Set(try storedPoints(path, key: "x").map(\.step)).count == kept)
        #expect(try scalar(path, "SELECT COUNT(*) FROM runs WHERE status = 'FINISHED'") == 1, "run changes are never dropped")
    }
}

final class RunIDBox: @unchecked Sendable {  // written once inside the body, read after it returned
    var id: RunID?
}
