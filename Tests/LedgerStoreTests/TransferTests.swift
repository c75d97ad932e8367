import Foundation
import LedgerCore
import LedgerPostgres
import LedgerSQLite
import Synchronization
import Testing

/// `runledger copy`'s engine between real databases: everything arrives, an interrupted copy resumes, and what may
/// not be overwritten is refused.
@Suite("Transfers between databases")
struct TransferTests {
    /// A database with a bit of everything, edge values included.
    static func fill(_ store: any TrackingStore) async throws -> [RunID] {
        let study = try await store.createExperiment(
            name: "study ü\u{301}", artifactLocation: nil, tags: [KeyValue("owner", "ops\ttab\nline\\slash")])
        let retired = try await store.createExperiment(name: "retired", artifactLocation: nil, tags: [])
        try await store.updateExperiment(id: retired.id, .setLifecycle(.deleted))
        var runs: [RunID] = []
        var operations: [WriteOperation] = []
        for index in 0..<12 {
            let runID = RunID.random()
            runs.append(runID)
            operations.append(
                .createRun(NewRun(runID: runID, experimentID: study.id, name: "run-\(index)", startTime: 1_700_000_000_000 + Int64(index))))
            operations.append(.logParams(runID, [KeyValue("solver", index % 2 == 0 ? "hybrid" : "milp"), KeyValue("note", "e\u{301} \"quoted\"")]))
            operations.append(.setTags(runID, [KeyValue("mlflow.user", "ana"), KeyValue("empty", "")]))
            let values: [Double] = [.nan, .infinity, -.infinity, -0.0, 1e-300, .greatestFiniteMagnitude, Double(index)]
            operations.append(
                .logMetrics(
                    runID,
                    values.enumerated().map { Metric(key: "total_cost", value: $1, timestamp: 1_700_000_000_000 + Int64($0), step: Int64($0)) }
                        + [
                            Metric(key: "edge_steps", value: 1, timestamp: 0, step: .min),
                            Metric(key: "edge_steps", value: 2, timestamp: .max, step: .max),
                        ]))
            operations.append(.logEvents(runID, [RunEvent(timestamp: 5, level: .warning, kind: "health", message: "slow\n", payload: "{\"a\":1}")]))
            operations.append(.updateRun(runID, RunUpdate(status: index % 3 == 0 ? .failed : .finished, endTime: 1_700_000_100_000)))
        }
        _ = try await store.write(WriteBatch(operations))
        try await store.setRunLifecycle(runs[1], .deleted)
        _ = try await store.addRetentionPolicy(RetentionPolicy(experimentID: study.id, keyGlob: "edge_*", maxPointsPerKey: 10))
        try await store.changeProject("plant", .create)
        _ = try await store.putStateDocument(project: "plant", namespace: "layout", document: "{\"v\":1}", expectedVersion: nil)
        _ = try await store.putStateDocument(project: "plant", namespace: "layout", document: "{\"v\":2}", expectedVersion: 1)
        _ = try await store.createLoggedModel(
            NewLoggedModel(
                experimentID: study.id, name: "surrogate", sourceRunID: runs[0], params: [KeyValue("alpha", "0.5")], tags: [KeyValue("t", "x")]))
        return runs
    }

    static func digests(_ store: any RelationalStore) async throws -> [TableDigest] {
        try await store.withSnapshot { try await Transfer.digests($0) }
    }

    /// What the API answers about the filled database, for comparison across backends.
    static func answers(_ store: any TrackingStore, runs: [RunID]) async throws -> [String] {
        var lines: [String] = []
        let experiments = try await store.experiments(view: .all).sorted { $0.experiment.id.description < $1.experiment.id.description }
        lines += experiments.map { "\($0.experiment.id) \($0.experiment.name) \($0.experiment.lifecycleStage) \($0.experiment.tags)" }
        let ids = experiments.map(\.experiment.id)
        let page = try await store.searchRuns(RunQuery(experimentIDs: ids, view: .all))
        lines += page.runs.map { "\($0.info) \($0.params.sorted { $0.key < $1.key }) \($0.tags.sorted { $0.key < $1.key })" }
        for runID in runs {
            for key in ["total_cost", "edge_steps"] {
                lines += try await store.metricHistory(runID: runID, key: key).map {
                    "\(runID) \(key) \($0.step) \($0.timestamp) \($0.value.bitPattern)"
                }
            }
            lines += try await store.runEvents(EventQuery(runID: runID)).map { "\($0)" }
        }
        lines.append("\(try await store.retentionPolicies())")
        lines.append("\(try await store.stateDocument(project: "plant", namespace: "layout").map { "\($0.version) \($0.document)" } ?? "none")")
        lines.append("\(try await store.loggedModels(experimentIDs: ids).map { "\($0.id) \($0.name) \($0.params) \($0.tags)" })")
        return lines
    }

    @Test("RowHash computes what PostgreSQL's hash functions compute", .enabled(if: TestPostgres.serverURL != nil))
    func rowHashMatchesPostgres() async throws {
        let store = try await PostgresStore.opened(try PostgresLocation(url: try await TestPostgres.freshDatabase()))
        let integers: [Int64] = [
            0, 1, -1, 42, Int64(Int32.max), Int64(Int32.max) + 1, Int64(Int32.min), Int64(Int32.min) - 1, .max, .min, 1_700_000_000_123,
        ]
        let doubles: [Double] = [
            0, -0.0, 1, -1.5, .pi, .infinity, -.infinity, .nan, Double(bitPattern: 0x7ff8_dead_beef_0001), .leastNonzeroMagnitude,
            .greatestFiniteMagnitude, 1e-300,
        ]
        // Every tail length of lookup3 (0 to 11 bytes after whole 12-byte blocks), combining marks and 4-byte UTF-8.
        let texts =
            (0...40).map { String(String(repeating: "abcdefghij", count: 5).prefix($0)) } + [
                "é", "e\u{301}", "日本語テキスト", "🚀 rocket", "tab\tnew\nline",
            ]
        var statements: [SQLTemplate] = []
        var expected: [UInt64] = []
        for seed in [0, 1, 6, 0x1234_5678_9abc_def0] as [UInt64] {
            let bound = SQLValue.integer(Int64(bitPattern: seed))
            for number in integers {
                statements.append("SELECT hashint8extended(\(bound: .integer(number)), \(bound: bound))")
                expected.append(RowHash.int64(number, seed: seed))
            }
            for number in doubles {
                statements.append("SELECT hashfloat8extended(\(bound: .real(number)), \(bound: bound))")
                expected.append(RowHash.float64(number, seed: seed))
            }
            for text in texts {
                statements.append("SELECT hashtextextended(\(bound: .text(text)), \(bound: bound))")
                expected.append(RowHash.text(text, seed: seed))
            }
        }
        let found = try await store.read(statements).map { UInt64(bitPattern: try $0.first?.int64(0) ?? 0) }
        #expect(found == expected)
        try await store.close()
    }

    @Test("SQLite → PostgreSQL → SQLite ends with the same rows and the same API answers")
    func roundTrip() async throws {
        let source = try await SQLiteStore.open(path: temporaryPath("source.sqlite"))
        let runs = try await Self.fill(source)
        let middle: any RelationalStore =
            TestPostgres.serverURL == nil
            ? try await SQLiteStore.open(path: temporaryPath("middle.sqlite"))
            : try await PostgresStore.opened(try PostgresLocation(url: try await TestPostgres.freshDatabase()))
        let target = try await SQLiteStore.open(path: temporaryPath("target.sqlite"))
        let first = try await Transfer.copy(from: source, to: middle)
        #expect(first.runs == 12 && first.params == 24 && first.tags == runs.count * 2 && first.metricPoints == 12 * 9, "\(first)")
        #expect(first.verified == true && first.skippedRuns == 0)
        _ = try await Transfer.copy(from: middle, to: target)
        let expected = try await Self.digests(source)
        #expect(try await Self.digests(middle) == expected)
        #expect(try await Self.digests(target) == expected)
        #expect(expected[TransferCatalog.tables.firstIndex { $0.name == "metric_chunks" } ?? 0].rows >= 12)
        #expect(try await Self.answers(target, runs: runs) == Self.answers(source, runs: runs))
        #expect(try await Self.answers(middle, runs: runs) == Self.answers(source, runs: runs))
        // Ids continue after the copied ones: a new run and a new experiment in the copy do not collide.
        let next = try await middle.createExperiment(name: "after the copy", artifactLocation: nil, tags: [])
        #expect(try await source.experiments(view: .all).allSatisfy { $0.experiment.id != next.id })
        _ = try await middle.write(WriteBatch([.createRun(NewRun(experimentID: next.id, startTime: 1))]))
        _ = try await middle.addRetentionPolicy(RetentionPolicy(experimentID: nil, maxAge: 1000))
        try await middle.changeProject("another", .create)
        for store in [source, middle, target] as [any TrackingStore] { try await store.close() }
    }

    @Test("an interrupted copy resumes where it stopped and ends identical; a finished one is only verified again")
    func resume() async throws {
        let source = try await SQLiteStore.open(path: temporaryPath("source.sqlite"))
        _ = try await Self.fill(source)
        let target: any RelationalStore =
            TestPostgres.serverURL == nil
            ? try await SQLiteStore.open(path: temporaryPath("target.sqlite"))
            : try await PostgresStore.opened(try PostgresLocation(url: try await TestPostgres.freshDatabase()))
        struct Interrupted: Error {}
        let pages = Mutex(0)
        await #expect(throws: Interrupted.self) {
            _ = try await Transfer.copy(from: source, to: target, pageRows: 5) { table, _ in
                // Stop in the middle of the runs' params, after some runs have arrived.
                if table == "params"
                    && pages.withLock({
                        $0 += 1
                        return $0
                    }) == 2
                {
                    throw Interrupted()
                }
            }
        }
        let partial = try await Self.digests(target)
        #expect(partial != (try await Self.digests(source)))
        let resumed = try await Transfer.copy(from: source, to: target, pageRows: 5)
        #expect(resumed.skippedRuns == 12 && resumed.runs == 0 && resumed.params > 0 && resumed.params < 24 && resumed.verified == true)
        #expect(try await Self.digests(target) == (try await Self.digests(source)))
        let again = try await Transfer.copy(from: source, to: target)
        #expect(again.runs == 0 && again.metricPoints == 0 && again.skippedRuns == 12 && again.verified == true)
        try await source.close()
        try await target.close()
    }

    @Test("a target with data, with another source's transfer, or the source itself is refused")
    func refusals() async throws {
        let source = try await SQLiteStore.open(path: temporaryPath("source.sqlite"))
        _ = try await Self.fill(source)
        let used = try await SQLiteStore.open(path: temporaryPath("used.sqlite"))
        _ = try await used.createExperiment(name: "mine", artifactLocation: nil, tags: [])
        let error = await #expect(throws: LedgerError.self) { _ = try await Transfer.copy(from: source, to: used) }
        #expect(error?.code == .invalidState && error?.message.contains("not empty") == true)
        #expect(try await used.experiment(named: "mine") != nil)
        let same = await #expect(throws: LedgerError.self) { _ = try await Transfer.copy(from: source, to: source) }
        #expect(same?.message.contains("same database") == true)

        let other = try await SQLiteStore.open(path: temporaryPath("other.sqlite"))
        _ = try await other.createExperiment(name: "other", artifactLocation: nil, tags: [])
        let target = try await SQLiteStore.open(path: temporaryPath("target.sqlite"))
        _ = try await Transfer.copy(from: other, to: target)
        let mixed = await #expect(throws: LedgerError.self) { _ = try await Transfer.copy(from: source, to: target) }
        #expect(mixed?.message.contains("holds a transfer from") == true)
        for store in [source, used, other, target] { try await store.close() }
    }
}

/// A backup (a copy from one snapshot) taken while four writers ingest: every run's history is complete up to one
/// moment, whole batches only, and every latest value is the newest point of its history.
@Suite("Backups during ingest")
struct BackupDuringIngestTests {
    static let pointsPerBatch = 100

    @Test("a copy taken during a 4-writer ingest holds whole batches and consistent latest values", arguments: StoreBackend.relational)
    func consistentSnapshot(backend: StoreBackend) async throws {
        let live = try #require(try await backend.make() as? any RelationalStore)
        let experiment = try await live.createExperiment(name: "ingest", artifactLocation: nil, tags: [])
        let (counts, continuation) = AsyncStream.makeStream(of: Int.self)
        final class Flags: Sendable {
            let stop = Atomic<Bool>(false)
            let total = Atomic<Int>(0)
        }
        let flags = Flags()
        let writers = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for writer in 0..<4 {
                    group.addTask {
                        let runID = RunID.random()
                        _ = try await live.write(
                            WriteBatch([.createRun(NewRun(runID: runID, experimentID: experiment.id, name: "w\(writer)", startTime: 1))]))
                        var batch = 0
                        while !flags.stop.load(ordering: .relaxed) {
                            let points = (0..<Self.pointsPerBatch).map { offset in
                                let step = Int64(batch * Self.pointsPerBatch + offset)
                                return Metric(key: offset % 2 == 0 ? "soc" : "load", value: Double(step) / 7, timestamp: step, step: step)
                            }
                            _ = try await live.write(WriteBatch([.logMetrics(runID, points)]))
                            batch += 1
                            continuation.yield(flags.total.add(1, ordering: .relaxed).newValue)
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        // The backup starts once the writers have committed 40 batches between them, and they go on while it runs.
        for await count in counts where count >= 40 { break }
        let target = try await SQLiteStore.open(path: temporaryPath("backup.sqlite"))
        let summary = try await Transfer.copy(from: live, to: target, pageRows: 50)
        flags.stop.store(true, ordering: .relaxed)
        try await writers.value
        #expect(summary.verified == true && summary.runs == 4)
        #expect(summary.metricPoints > 0 && summary.metricPoints % Self.pointsPerBatch == 0)
        let rows = try await target.read([
            "SELECT run_id, sum(point_count) FROM metric_chunks GROUP BY run_id",
            // Every latest value lies in a chunk of its series, and no chunk reaches past it.
            """
            SELECT count(*) FROM latest_metrics l WHERE NOT EXISTS (
                SELECT 1 FROM metric_chunks m WHERE m.run_id = l.run_id AND m.key = l.key AND (m.first_step, m.first_timestamp) <= (l.step, l.timestamp)
                    AND (m.last_step, m.last_timestamp) >= (l.step, l.timestamp))
                OR EXISTS (SELECT 1 FROM metric_chunks m WHERE m.run_id = l.run_id AND m.key = l.key AND m.last_step > l.step)
            """,
        ])
        for row in rows[0] { #expect(try row.int64(1) % Int64(Self.pointsPerBatch) == 0) }
        #expect(try rows[1].first?.int64(0) == 0)
        #expect(flags.total.load(ordering: .relaxed) * Self.pointsPerBatch > summary.metricPoints)
        try await target.close()
        try await live.close()
    }
}

extension StoreBackend {
    /// The backends that hold SQL (copy, backup and restore work on them).
    static let relational: [StoreBackend] = [sqlite] + (TestPostgres.serverURL == nil ? [] : [postgres])
}
