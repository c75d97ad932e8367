import EnergySimulation
import Foundation
import LedgerCore
import Testing

/// The behaviour every TrackingStore must have, written against the protocol only.
@Suite("Store conformance")
struct StoreConformanceTests {
    func newRun(_ store: any TrackingStore, experiment: ExperimentID, start: Int64 = 1000, name: String = "r") async throws -> RunID {
        let run = NewRun(experimentID: experiment, name: name, startTime: start)
        try await store.createRun(run)
        return run.runID
    }

    @Test("experiments: unique names, default experiment, rename, delete and restore, tags", arguments: StoreBackend.all)
    func experimentLifecycle(backend: StoreBackend) async throws {
        let store = try await backend.make()
        #expect(try await store.experiment(id: .defaultExperiment).name == "Default")
        let study = try await store.createExperiment(name: "study", artifactLocation: nil, tags: [KeyValue("owner", "ana")])
        #expect(study.tags == ["owner": "ana"])
        #expect(try await store.experiment(named: "study")?.id == study.id)
        await expectLedgerError(.resourceAlreadyExists, "study") {
            _ = try await store.createExperiment(name: "study", artifactLocation: nil, tags: [])
        }
        await expectLedgerError(.invalidParameterValue) { _ = try await store.createExperiment(name: "", artifactLocation: nil, tags: []) }

        try await store.updateExperiment(id: study.id, .rename("study-2"))
        #expect(try await store.experiment(id: study.id).name == "study-2")
        try await store.updateExperiment(id: study.id, .setTag(KeyValue("phase", "b")))
        try await store.updateExperiment(id: study.id, .deleteTag("owner"))
        #expect(try await store.experiment(id: study.id).tags == ["phase": "b"])

        try await store.updateExperiment(id: study.id, .setLifecycle(.deleted))
        #expect(try await store.experiments(view: .activeOnly).map(\.experiment.id) == [.defaultExperiment])
        #expect(try await store.experiments(view: .deletedOnly).map(\.experiment.id) == [study.id])
        await expectLedgerError(.resourceAlreadyExists) { _ = try await store.createExperiment(name: "study-2", artifactLocation: nil, tags: []) }
        await expectLedgerError(.invalidParameterValue, "must be in the 'active' state") {
            try await store.createRun(NewRun(experimentID: study.id, startTime: 1))
        }
        try await store.updateExperiment(id: study.id, .setLifecycle(.active))
        #expect(try await store.experiments(view: .activeOnly).count == 2)
        await expectLedgerError(.invalidParameterValue, "default experiment") {
            try await store.updateExperiment(id: .defaultExperiment, .setLifecycle(.deleted))
        }
        await expectLedgerError(.resourceDoesNotExist) { _ = try await store.experiment(id: ExperimentID(999)) }
    }

    @Test("runs: created RUNNING, end time set on a terminal status, resumed to RUNNING as in MLflow", arguments: StoreBackend.all)
    func runLifecycle(backend: StoreBackend) async throws {
        let store = try await backend.make()
        let experiment = try await store.createExperiment(name: "e", artifactLocation: nil, tags: []).id
        let id = try await newRun(store, experiment: experiment, start: 5000, name: "first")
        var info = try await store.run(id).info
        #expect(info.status == .running && info.endTime == nil && info.name == "first" && info.startTime == 5000)
        #expect(info.artifactURI.contains(id.rawValue))

        info = try await store.updateRun(id, RunUpdate(status: .finished))
        #expect(info.status == .finished)
        #expect(info.endTime != nil)
        let ended = try #require(info.endTime)
        info = try await store.updateRun(id, RunUpdate(status: .running))
        #expect(info.status == .running && info.endTime == ended)
        info = try await store.updateRun(id, RunUpdate(status: .failed))
        #expect(info.status == .failed)
        try await store.updateRun(id, RunUpdate(status: .finished, endTime: 9000))
        #expect(try await store.run(id).info.endTime == 9000)

        let renamed = try await store.updateRun(id, RunUpdate(name: "renamed"))
        #expect(renamed.name == "renamed")
        #expect(try await store.run(id).tags["mlflow.runName"] == "renamed")

        await expectLedgerError(.resourceAlreadyExists) { try await store.createRun(NewRun(runID: id, experimentID: experiment, startTime: 1)) }
        await expectLedgerError(.resourceDoesNotExist) { try await store.createRun(NewRun(experimentID: ExperimentID(77), startTime: 1)) }
        await expectLedgerError(.resourceDoesNotExist) { _ = try await store.run(RunID.random()) }
    }

    @Test("deleted runs leave searches, can be restored, and refuse writes", arguments: StoreBackend.all)
    func softDeletion(backend: StoreBackend) async throws {
        let store = try await backend.make()
        let experiment = try await store.createExperiment(name: "e", artifactLocation: nil, tags: []).id
        let id = try await newRun(store, experiment: experiment)
        try await store.setRunLifecycle(id, .deleted)
        #expect(try await store.searchRuns(RunQuery(experimentIDs: [experiment])).runs.isEmpty)
        #expect(try await store.searchRuns(RunQuery(experimentIDs: [experiment], view: .deletedOnly)).runs.map(\.info.runID) == [id])
        #expect(try await store.run(id).info.lifecycleStage == .deleted)
        await expectLedgerError(.invalidParameterValue, "'active' state") { try await store.setTag(runID: id, key: "a", value: "b") }
        try await store.setRunLifecycle(id, .active)
        #expect(try await store.searchRuns(RunQuery(experimentIDs: [experiment])).runs.map(\.info.runID) == [id])
        await expectLedgerError(.resourceDoesNotExist) { try await store.setRunLifecycle(RunID.random(), .deleted) }
    }

    @Test("params are immutable: the same value again is fine, another value is refused naming both", arguments: StoreBackend.all)
    func paramImmutability(backend: StoreBackend) async throws {
        let store = try await backend.make()
        let id = try await newRun(store, experiment: .defaultExperiment)
        try await store.logBatch(runID: id, params: [KeyValue("solver", "milp")])
        try await store.logBatch(runID: id, params: [KeyValue("solver", "milp")])
        await expectLedgerError(.invalidParameterValue, "key='solver' was already logged with value='milp'") {
            try await store.logBatch(runID: id, params: [KeyValue("solver", "hybrid")])
        }
        #expect(try await store.run(id).params == ["solver": "milp"])
        await expectLedgerError(.invalidParameterValue, "Duplicate parameter keys") {
            try await store.logBatch(runID: id, params: [KeyValue("x", "1"), KeyValue("x", "2")])
        }
        // A failed batch is all or nothing: the metric logged beside the bad param is not stored.
        await expectLedgerError(.invalidParameterValue) {
            try await store.logBatch(runID: id, metrics: [Metric(key: "m", value: 1, timestamp: 1)], params: [KeyValue("solver", "other")])
        }
        #expect(try await store.metricHistory(runID: id, key: "m").isEmpty)
    }

    @Test("tags can be set, overwritten and deleted; deleting a missing tag is an error", arguments: StoreBackend.all)
    func tags(backend: StoreBackend) async throws {
        let store = try await backend.make()
        let id = try await newRun(store, experiment: .defaultExperiment)
        try await store.setTag(runID: id, key: "site", value: "north")
        try await store.setTag(runID: id, key: "site", value: "south")
        #expect(try await store.run(id).tags["site"] == "south")
        try await store.deleteTag(runID: id, key: "site")
        #expect(try await store.run(id).tags["site"] == nil)
        await expectLedgerError(.resourceDoesNotExist, "No tag with name: site") { try await store.deleteTag(runID: id, key: "site") }
    }

    @Test("MLflow's limits: over-count batches and bad keys refused; long values truncated", arguments: StoreBackend.all)
    func limits(backend: StoreBackend) async throws {
        let store = try await backend.make()
        let id = try await newRun(store, experiment: .defaultExperiment)
        let metrics = (0..<1001).map { Metric(key: "m", value: Double($0), timestamp: 1, step: Int64($0)) }
        await expectLedgerError(.invalidParameterValue, "at most 1000 metrics") { try await store.logBatch(runID: id, metrics: metrics) }
        await expectLedgerError(.invalidParameterValue, "at most 100 params") {
            try await store.logBatch(runID: id, params: (0..<101).map { KeyValue("p\($0)", "v") })
        }
        await expectLedgerError(.invalidParameterValue, "at most 100 tags") {
            try await store.logBatch(runID: id, tags: (0..<101).map { KeyValue("t\($0)", "v") })
        }
        await expectLedgerError(.invalidParameterValue, "limit is 250") {
            try await store.logBatch(runID: id, params: [KeyValue(String(repeating: "k", count: 251), "v")])
        }
        await expectLedgerError(.invalidParameterValue, "resolve") {
            try await store.logBatch(runID: id, metrics: [Metric(key: "../up", value: 1, timestamp: 1)])
        }
        try await store.logBatch(
            runID: id, params: [KeyValue("long", String(repeating: "p", count: 7000))], tags: [KeyValue("long", String(repeating: "t", count: 9000))]
        )
        let run = try await store.run(id)
        #expect(run.params["long"]?.count == Limits.paramValueLength)
        #expect(run.tags["long"]?.count == Limits.tagValueLength)
        await expectLedgerError(.resourceDoesNotExist) {
            try await store.logBatch(runID: RunID.random(), metrics: [Metric(key: "m", value: 1, timestamp: 1)])
        }
    }

    @Test(
        "metric history keeps every point; NaN and infinities round-trip; the latest value follows (step, timestamp, value)",
        arguments: StoreBackend.all)
    func metricsAndLatest(backend: StoreBackend) async throws {
        let store = try await backend.make()
        let id = try await newRun(store, experiment: .defaultExperiment)
        try await store.logBatch(
            runID: id,
            metrics: [
                Metric(key: "soc", value: 0.5, timestamp: 10, step: 2),
                Metric(key: "soc", value: .nan, timestamp: 11, step: 1),
                Metric(key: "soc", value: .infinity, timestamp: 12, step: 0),
                Metric(key: "soc", value: -.infinity, timestamp: 12, step: 3),
            ])
        // An older step logged later does not replace the latest value.
        try await store.logBatch(runID: id, metrics: [Metric(key: "soc", value: 99, timestamp: 99, step: 1)])
        let history = try await store.metricHistory(runID: id, key: "soc")
        #expect(history.map(\.step) == [0, 1, 1, 2, 3])
        #expect(history[0].value == .infinity)
        #expect(history[1].value.isNaN)
        #expect(history[2].value == 99)
        #expect(history[4].value == -.infinity)
        #expect(try await store.run(id).latestMetrics["soc"] == MetricPoint(value: -.infinity, timestamp: 12, step: 3))

        // Same step and timestamp: the higher value wins, and a number beats NaN.
        try await store.logBatch(runID: id, metrics: [Metric(key: "k", value: .nan, timestamp: 5, step: 0)])
        #expect(try await store.run(id).latestMetrics["k"]?.value.isNaN == true)
        try await store.logBatch(runID: id, metrics: [Metric(key: "k", value: -3, timestamp: 5, step: 0)])
        #expect(try await store.run(id).latestMetrics["k"]?.value == -3)
        try await store.logBatch(runID: id, metrics: [Metric(key: "k", value: -4, timestamp: 5, step: 0)])
        #expect(try await store.run(id).latestMetrics["k"]?.value == -3)

        // Points of one step and timestamp come in value order, a NaN where 0 would be.
        try await store.logBatch(runID: id, metrics: [2.0, .nan, -1].map { Metric(key: "tie", value: $0, timestamp: 7, step: 7) })
        #expect(try await store.metricHistory(runID: id, key: "tie").map { $0.value.isNaN ? "NaN" : "\($0.value)" } == ["-1.0", "NaN", "2.0"])

        // Identical points collapse into one, as in MLflow.
        try await store.logBatch(
            runID: id, metrics: [Metric(key: "dup", value: 1, timestamp: 1, step: 1), Metric(key: "dup", value: 1, timestamp: 1, step: 1)])
        #expect(try await store.metricHistory(runID: id, key: "dup").count == 1)
        #expect(try await store.metricHistory(runID: id, key: "never-logged").isEmpty)
        await expectLedgerError(.resourceDoesNotExist) { _ = try await store.metricHistory(runID: RunID.random(), key: "soc") }
    }

    @Test(
        "a history read in pages after the last point of each is the whole history, NaN, ties and Int64 limits included", arguments: StoreBackend.all)
    func historyPages(backend: StoreBackend) async throws {
        let store = try await backend.make()
        let id = try await newRun(store, experiment: .defaultExperiment)
        var metrics: [Metric] = (0..<40).map { (index: Int) -> Metric in
            Metric(key: "m", value: Double(index % 7 - 3), timestamp: Int64(index % 3), step: Int64(index / 4))
        }
        let ties: [Double] = [.nan, 0, -0.5, 2]
        metrics += ties.map { Metric(key: "m", value: $0, timestamp: 1, step: 5) }
        metrics += [Metric(key: "m", value: 1, timestamp: .min, step: .min), Metric(key: "m", value: .nan, timestamp: .max, step: .max)]
        try await store.logBatch(runID: id, metrics: metrics)
        let whole = try await store.metricHistory(runID: id, key: "m")
        for size in [1, 3, 7, 100] {
            var pages: [MetricPoint] = []
            var after: MetricPoint? = nil
            while true {
                let page = try await store.metricHistory(runID: id, key: "m", after: after, limit: size)
                #expect(page.count <= size)
                pages += page
                guard page.count == size, let last = page.last else { break }
                after = last
            }
            #expect(
                pages.map { "\($0.step) \($0.timestamp) \($0.value)" } == whole.map { "\($0.step) \($0.timestamp) \($0.value)" }, "pages of \(size)")
        }
        await expectLedgerError(.resourceDoesNotExist) { _ = try await store.metricHistory(runID: RunID.random(), key: "m", after: nil, limit: 5) }
    }

    @Test(
        "a long series written out of order, in overlapping batches, with duplicates and concurrent writers, reads back as one ordered history",
        arguments: StoreBackend.all)
    func chunkedSeries(backend: StoreBackend) async throws {
        let store = try await backend.make()
        let id = try await newRun(store, experiment: .defaultExperiment)
        // 4 500 points: several chunks. Steps repeat with other timestamps; a stretch of one step crosses a chunk boundary.
        var all: [Metric] = (0..<4_000).map { (index: Int) -> Metric in
            Metric(key: "m", value: Double(index % 11) - 5, timestamp: Int64(index % 5), step: Int64(index / 2))
        }
        all += (0..<500).map { Metric(key: "m", value: Double($0), timestamp: 9, step: 1_000) }
        var generator = SeededGenerator(seed: 22)
        let shuffled = all.shuffled(using: &generator)
        // Overlapping batches (each repeats a stretch of the one before), sent by four writers at once.
        let batches = stride(from: 0, to: shuffled.count, by: 700).map { Array(shuffled[max(0, $0 - 100)..<min($0 + 700, shuffled.count)]) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, batch) in batches.enumerated() {
                group.addTask {
                    for part in stride(from: 0, to: batch.count, by: 1000) {
                        try await store.logBatch(runID: id, metrics: Array(batch[part..<min(part + 1000, batch.count)]))
                    }
                }
                if index % 4 == 3 { try await group.waitForAll() }
            }
            try await group.waitForAll()
        }
        let expected = ChunkedSeries.normalized(all.map(\.point))
        let history = try await store.metricHistory(runID: id, key: "m")
        #expect(history.count == expected.count)
        #expect(history == expected)
        // Paged reads in both orders cross chunk boundaries without a gap or a repeat.
        for order in [HistoryOrder.step, .time] {
            var pages: [MetricPoint] = []
            var after: MetricPoint? = nil
            while let page = Optional(try await store.metricHistory(runID: id, key: "m", after: after, limit: 777, order: order)),
                let last = page.last
            {
                pages += page
                after = last
            }
            #expect(pages == expected.sorted { MetricPoint.precedes($0, $1, in: order) }, "\(order)")
        }
        #expect(try await store.run(id).latestMetrics["m"] == expected.last)
    }

    @Test(
        "bucketed histories read from chunk summaries equal buckets computed from every point, whole and in step ranges",
        arguments: StoreBackend.all)
    func bucketedHistory(backend: StoreBackend) async throws {
        let store = try await backend.make()
        let id = try await newRun(store, experiment: .defaultExperiment)
        // 5 000 points in several chunks: quarter values (exact sums), NaN, and +inf and -inf in one chunk (its sum is NaN).
        var metrics: [Metric] = (0..<5_000).map { (index: Int) -> Metric in
            let value: Double = index % 97 == 0 ? .nan : Double(index % 41) / 4 - 3
            return Metric(key: "m", value: value, timestamp: Int64(index), step: Int64(index * 2))
        }
        metrics[1_234] = Metric(key: "m", value: .infinity, timestamp: 1_234, step: 2_468)
        metrics[1_300] = Metric(key: "m", value: -.infinity, timestamp: 1_300, step: 2_600)
        for part in stride(from: 0, to: metrics.count, by: 1000) { try await store.logBatch(runID: id, metrics: Array(metrics[part..<part + 1000])) }
        let history = try await store.metricHistory(runID: id, key: "m")
        func text(_ buckets: [HistoryBucket]) -> [String] {
            buckets.map { "\($0.firstStep) \($0.lastStep) \($0.count) \($0.min) \($0.max) \($0.mean) \($0.last)" }
        }
        for maximum in [1, 3, 7, 10, 100, 4_999, 10_000] {
            for steps in [Int64.min...Int64.max, 1_001...7_777, 2_468...2_468, 20_000...30_000] {
                let inRange = history.filter { steps.contains($0.step) }
                let (points, buckets) = try await store.bucketedHistory(runID: id, key: "m", maximum: maximum, steps: steps)
                #expect(points == inRange.count, "\(maximum) \(steps)")
                #expect(text(buckets) == text(HistoryBucket.downsample(inRange, maximum: maximum)), "\(maximum) \(steps)")
            }
        }
        await expectLedgerError(.resourceDoesNotExist) {
            _ = try await store.bucketedHistory(runID: RunID.random(), key: "m", maximum: 10, steps: .min ... .max)
        }
    }

    @Test(
        "U+0000 is refused in every name and value as the caller's error, naming the field, and nothing of the batch is stored",
        arguments: StoreBackend.all)
    func nulRefused(backend: StoreBackend) async throws {
        let store = try await backend.make()
        let id = try await newRun(store, experiment: .defaultExperiment)
        let cases: [(String, WriteOperation)] = [
            ("param 'p'", .logParams(id, [KeyValue("p", "a\u{0}b")])), ("tag 't'", .setTags(id, [KeyValue("t", "\u{0}")])),
            ("run_name", .updateRun(id, RunUpdate(name: "x\u{0}"))),
            ("user_id", .createRun(NewRun(experimentID: .defaultExperiment, startTime: 1, userID: "\u{0}"))),
            ("event message", .logEvents(id, [RunEvent(timestamp: 1, kind: "k", message: "\u{0}")])),
        ]
        for (field, operation) in cases {
            await expectLedgerError(.invalidParameterValue, field) {
                _ = try await store.write(WriteBatch([.logParams(id, [KeyValue("ok", "1")]), operation]))
            }
        }
        await expectLedgerError(.invalidParameterValue, "U+0000") {
            _ = try await store.createExperiment(name: "a\u{0}", artifactLocation: nil, tags: [])
        }
        await expectLedgerError(.invalidParameterValue, "U+0000") {
            try await store.updateExperiment(id: .defaultExperiment, .setTag(KeyValue("t", "\u{0}")))
        }
        #expect(try await store.run(id).params.isEmpty, "the batch's other operation was not stored either")
    }

    @Test("a batch with an id is applied once, however often it is delivered", arguments: StoreBackend.all)
    func exactlyOnceBatches(backend: StoreBackend) async throws {
        let store = try await backend.make()
        let run = NewRun(experimentID: .defaultExperiment, startTime: 1)
        let batch = WriteBatch(id: BatchID.random(), [.createRun(run), .logMetrics(run.runID, [Metric(key: "m", value: 1, timestamp: 1, step: 0)])])
        #expect(try await store.write(batch) == .applied)
        #expect(try await store.write(batch) == .alreadyApplied)
        #expect(try await store.metricHistory(runID: run.runID, key: "m").count == 1)
        // A batch that failed is not recorded as applied: it can be corrected and sent again under a new id only.
        let failing = WriteBatch(id: BatchID.random(), [.logParams(RunID.random(), [KeyValue("a", "b")])])
        await expectLedgerError(.resourceDoesNotExist) { _ = try await store.write(failing) }
    }

    @Test("searches page by keyset without duplicates or gaps while runs are inserted", arguments: StoreBackend.all)
    func paginationUnderConcurrentInserts(backend: StoreBackend) async throws {
        let store = try await backend.make()
        let experiment = try await store.createExperiment(name: "paging", artifactLocation: nil, tags: []).id
        var existing: Set<RunID> = []
        for index in 0..<120 {
            let run = NewRun(experimentID: experiment, startTime: Int64(index % 7))
            _ = try await store.write(
                WriteBatch([.createRun(run), .logMetrics(run.runID, [Metric(key: "cost", value: Double(index % 11), timestamp: 1)])]))
            existing.insert(run.runID)
        }
        for order in [
            [OrderKey(.metric("cost"))], [], [OrderKey(.attribute(.startTime), ascending: true), OrderKey(.metric("cost"), ascending: false)],
        ] {
            var seen: [RunID] = []
            var query = RunQuery(experimentIDs: [experiment], orderBy: order, maxResults: 7)
            var inserted = 0
            while true {
                let page = try await store.searchRuns(query)
                seen += page.runs.map(\.info.runID)
                // New runs land before, inside and after the cursor while we page.
                let run = NewRun(experimentID: experiment, startTime: Int64(inserted % 7))
                _ = try await store.write(
                    WriteBatch([.createRun(run), .logMetrics(run.runID, [Metric(key: "cost", value: Double(inserted % 11), timestamp: 1)])]))
                inserted += 1
                guard let token = page.nextPageToken else { break }
                query.pageToken = token
            }
            #expect(Set(seen).count == seen.count, "no run appears twice")
            #expect(existing.isSubset(of: Set(seen)), "every run that existed before paging began is returned")
        }
    }

    @Test("search validates its request", arguments: StoreBackend.all)
    func searchValidation(backend: StoreBackend) async throws {
        let store = try await backend.make()
        await expectLedgerError(.invalidParameterValue, "at least one experiment") { _ = try await store.searchRuns(RunQuery(experimentIDs: [])) }
        await expectLedgerError(.invalidParameterValue, "max_results") {
            _ = try await store.searchRuns(RunQuery(experimentIDs: [.defaultExperiment], maxResults: 50001))
        }
        await expectLedgerError(.malformedQuery, "page token") {
            _ = try await store.searchRuns(RunQuery(experimentIDs: [.defaultExperiment], pageToken: "eyJ2IjoxfQ=="))
        }
    }

    @Test("concurrent batches commit independently: a refused batch fails alone, its neighbours are stored", arguments: StoreBackend.all)
    func concurrentMixedBatches(backend: StoreBackend) async throws {
        let store = try await backend.make()
        let run = NewRun(experimentID: .defaultExperiment, startTime: 1)
        try await store.createRun(run, params: [KeyValue("solver", "milp")])
        let outcomes = try await withThrowingTaskGroup(of: LedgerError.Code?.self) { group in
            for index in 0..<40 {
                group.addTask {
                    let batch =
                        index % 2 == 0
                        ? WriteBatch(
                            id: BatchID.random(),
                            [.logMetrics(run.runID, (0..<50).map { Metric(key: "m", value: Double($0), timestamp: 1, step: Int64(index * 50 + $0)) })]
                        )
                        : WriteBatch(id: BatchID.random(), [.logParams(run.runID, [KeyValue("solver", "hybrid-\(index)")])])
                    do {
                        _ = try await store.write(batch)
                        return nil
                    } catch let error as LedgerError {
                        return error.code
                    }
                }
            }
            return try await group.reduce(into: [LedgerError.Code?]()) { $0.append($1) }
        }
        #expect(outcomes.filter { $0 == nil }.count == 20, "\(outcomes)")
        #expect(outcomes.filter { $0 == .invalidParameterValue }.count == 20, "\(outcomes)")
        #expect(try await store.metricHistory(runID: run.runID, key: "m").count == 1000)
        #expect(try await store.run(run.runID).params == ["solver": "milp"])
    }

    @Test("concurrent writers to one store all succeed", arguments: StoreBackend.all)
    func concurrentWriters(backend: StoreBackend) async throws {
        let store = try await backend.make()
        let runs = (0..<8).map { _ in NewRun(experimentID: .defaultExperiment, startTime: 1) }
        for run in runs { try await store.createRun(run) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for run in runs {
                group.addTask {
                    for batch in 0..<20 {
                        let metrics = (0..<100).map { Metric(key: "x", value: Double($0), timestamp: 1, step: Int64(batch * 100 + $0)) }
                        try await store.logBatch(runID: run.runID, metrics: metrics)
                    }
                }
            }
            try await group.waitForAll()
        }
        for run in runs { #expect(try await store.metricHistory(runID: run.runID, key: "x").count == 2000) }
    }
}

@Suite("Store conformance: SDK support")
struct StoreSDKSupportTests {
    @Test("a run can be created in an experiment by name, which is created once if missing", arguments: StoreBackend.all)
    func experimentByName(backend: StoreBackend) async throws {
        let store = try await backend.make()
        let first = NewRun(experimentName: "sweep", startTime: 1)
        let second = NewRun(experimentName: "sweep", startTime: 2)
        _ = try await store.write(WriteBatch([.createRun(first), .createRun(second)]))
        let experiment = try #require(try await store.experiment(named: "sweep"))
        #expect(try await store.run(first.runID).info.experimentID == experiment.id)
        #expect(try await store.run(second.runID).info.experimentID == experiment.id)
        #expect(try await store.experiments(view: .all).filter { $0.experiment.name == "sweep" }.count == 1)
    }

    @Test("runs whose heartbeat stopped are reaped as KILLED; live, ended and never-beating runs are left alone", arguments: StoreBackend.all)
    func reaping(backend: StoreBackend) async throws {
        let store = try await backend.make()
        let silent = NewRun(experimentID: .defaultExperiment, startTime: 1_000)
        let beating = NewRun(experimentID: .defaultExperiment, startTime: 1_000)
        let ended = NewRun(experimentID: .defaultExperiment, startTime: 1_000)
        let neverBeating = NewRun(experimentID: .defaultExperiment, startTime: 1_000)
        _ = try await store.write(
            WriteBatch([
                .createRun(silent), .createRun(beating), .createRun(ended), .createRun(neverBeating),
                .heartbeat([silent.runID, beating.runID, ended.runID], at: 1_000),
                .updateRun(ended.runID, RunUpdate(status: .finished, endTime: 2_000)),
            ]))
        _ = try await store.write(WriteBatch([.heartbeat([beating.runID], at: 50_000)]))
        let reaped = try await store.reapRuns(heartbeatBefore: 40_000, endTime: 60_000)
        #expect(reaped == [silent.runID])
        let info = try await store.run(silent.runID).info
        #expect(info.status == .killed && info.endTime == 60_000)
        #expect(try await store.run(beating.runID).info.status == .running)
        #expect(try await store.run(ended.runID).info.status == .finished)
        #expect(try await store.run(neverBeating.runID).info.status == .running, "an MLflow client's run sends no heartbeat")
        #expect(try await store.reapRuns(heartbeatBefore: 40_000, endTime: 60_000).isEmpty)
    }
}

@Suite("Store conformance: filter limits")
struct FilterLimitTests {
    static func alternating(_ levels: Int, negated: Bool) -> String {
        var filter = "metrics.total_cost > 0"
        for level in 0..<levels {
            let inner = negated ? "not (\(filter))" : filter
            filter = "(metrics.total_cost > \(level) \(level % 2 == 0 ? "or" : "and") \(inner))"
        }
        return filter
    }

    @Test("the deepest and widest filters the parser accepts run on the store; one step further is refused, not crashed", arguments: StoreBackend.all)
    func extremes(backend: StoreBackend) async throws {
        let store = try await backend.make()
        let run = NewRun(experimentID: .defaultExperiment, startTime: 1)
        try await store.createRun(run)
        try await store.logBatch(runID: run.runID, metrics: [Metric(key: "total_cost", value: 5, timestamp: 1)])
        let accepted = [
            String(repeating: "not ", count: Limits.filterNesting) + "metrics.total_cost > 0",
            Self.alternating(Limits.filterNesting, negated: false),
            Self.alternating(Limits.filterNesting / 3, negated: true),  // each level: "(", "not", "("
            (0..<Limits.filterComparisons).map { "metrics.total_cost = \($0)" }.joined(separator: " or "),
        ]
        for text in accepted {
            let filter = try Filter.parse(text)
            let found = try await store.searchRuns(RunQuery(experimentIDs: [.defaultExperiment], filter: filter)).runs.map(\.info.runID)
            #expect(found == (filter.matches(try await store.run(run.runID)) ? [run.runID] : []), "\(text.prefix(80))")
        }
        for text in [
            String(repeating: "not ", count: Limits.filterNesting + 1) + "metrics.total_cost > 0",
            String(repeating: "(", count: 100_000) + "metrics.total_cost > 0" + String(repeating: ")", count: 100_000),
            (0...Limits.filterComparisons).map { "metrics.total_cost = \($0)" }.joined(separator: " or "),
        ] {
            #expect(throws: LedgerError.self) { try Filter.parse(text) }
        }
    }
}
