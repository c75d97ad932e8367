import EnergySimulation
import Foundation
import LedgerCore
import Testing

/// Windowed reads, events, retention, statistics, Pareto fronts and project state: the same behaviour on every
/// backend, each checked against a brute-force reference over random data.
@Suite("Telemetry and state conformance")
struct TelemetryConformanceTests {
    /// A small random study: runs in two experiments (one run deleted), two or three keys each, with timestamps that do
    /// not follow the steps, and a reference copy of every point.
    struct Study {
        var experiment: ExperimentID
        var other: ExperimentID
        var runs: [RunID] = []
        var deleted: RunID
        var points: [RunID: [String: [MetricPoint]]] = [:]
        var experimentOf: [RunID: ExperimentID] = [:]

        static func make(_ store: any TrackingStore, seed: UInt64, pointsPerKey: Int = 60) async throws -> Study {
            var random = SeededGenerator(seed: seed)
            let experiment = try await store.createExperiment(name: "telemetry-\(seed)", artifactLocation: nil, tags: []).id
            let other = try await store.createExperiment(name: "other-\(seed)", artifactLocation: nil, tags: []).id
            var study = Study(experiment: experiment, other: other, deleted: RunID.random())
            for index in 0..<5 {
                let home = index == 4 ? other : experiment
                let run = NewRun(experimentID: home, name: "run-\(index)", startTime: 1000)
                var metrics: [Metric] = []
                for key in ["soc", "sample_reward", index % 2 == 0 ? "sample_loss" : "power"] {
                    // Distinct steps and timestamps per key: identical points would collapse into one.
                    let timestamps = Array(Set((0..<pointsPerKey * 3).map { _ in Int64(random.next() % 100_000) })).shuffled(using: &random).prefix(
                        pointsPerKey)
                    for (step, timestamp) in timestamps.enumerated() {
                        let point = MetricPoint(value: Double(random.next() % 1000) / 10, timestamp: timestamp, step: Int64(step))
                        metrics.append(Metric(key: key, value: point.value, timestamp: point.timestamp, step: point.step))
                        study.points[run.runID, default: [:]][key, default: []].append(point)
                    }
                }
                // Written in a few batches of random size, points of all keys shuffled: many spans whose step and time
                // ranges overlap, as a client that logs out of order makes them.
                _ = try await store.write(WriteBatch([.createRun(run)]))
                var pending = metrics.shuffled(using: &random)[...]
                while !pending.isEmpty {
                    let size = min(pending.count, 1 + Int(random.next() % 80))
                    _ = try await store.write(WriteBatch([.logMetrics(run.runID, Array(pending.prefix(size)))]))
                    pending = pending.dropFirst(size)
                }
                study.experimentOf[run.runID] = home
                study.runs.append(run.runID)
            }
            study.deleted = study.runs[3]
            try await store.setRunLifecycle(study.deleted, .deleted)
            return study
        }

        /// What a window must return, computed from the reference copy.
        func expected(_ window: MetricWindow) -> [MetricSample] {
            let runs: [RunID] =
                switch window.scope {
                case .run(let id): [id]
                case .experiment(let id): self.runs.filter { experimentOf[$0] == id && $0 != deleted }
                }
            let all = runs.flatMap { run in
                window.keys.flatMap { key in
                    (points[run]?[key] ?? []).filter { $0.timestamp >= (window.from ?? .min) && $0.timestamp < (window.to ?? .max) }
                        .map { MetricSample(runID: run, key: key, point: $0) }
                }
            }
            return Array(all.sorted(by: MetricSample.newerFirst).prefix(window.limit))
        }
    }

    @Test("windowed reads return exactly the newest points of the keys, in a run or an experiment, in a time range", arguments: StoreBackend.all)
    func windows(backend: StoreBackend) async throws {
        let store = try await backend.make()
        let study = try await Study.make(store, seed: 11)
        var random = SeededGenerator(seed: 5)
        var windows: [MetricWindow] = []
        for _ in 0..<40 {
            let scope: MetricWindow.Scope = random.next() % 3 == 0 ? .experiment(study.experiment) : .run(study.runs[Int(random.next() % 5)])
            let keys = [["soc"], ["sample_reward", "power"], ["soc", "sample_loss", "sample_reward"]][Int(random.next() % 3)]
            let from: Int64? = random.next() % 2 == 0 ? Int64(random.next() % 50_000) : nil
            let to: Int64? = random.next() % 2 == 0 ? (from ?? 0) + 1 + Int64(random.next() % 60_000) : nil
            windows.append(MetricWindow(scope: scope, keys: keys, limit: [1, 7, 50, 1000][Int(random.next() % 4)], from: from, to: to))
        }
        windows.append(MetricWindow(scope: .run(study.deleted), keys: ["soc"], limit: 5))
        for window in windows {
            let answer = try await store.metricWindow(window)
            #expect(answer == study.expected(window), "\(window)")
        }
        // The latest 1000 samples of an experiment leave out other experiments and deleted runs.
        let samples = try await store.metricWindow(MetricWindow(scope: .experiment(study.experiment), keys: ["sample_reward"], limit: 1000))
        #expect(samples.count == 3 * 60 && !samples.contains { $0.runID == study.runs[4] || $0.runID == study.deleted })

        await expectLedgerError(.resourceDoesNotExist) { _ = try await store.metricWindow(MetricWindow(scope: .run(RunID.random()), keys: ["soc"])) }
        await expectLedgerError(.resourceDoesNotExist) {
            _ = try await store.metricWindow(MetricWindow(scope: .experiment(ExperimentID(9999)), keys: ["soc"]))
        }
        await expectLedgerError(.invalidParameterValue, "at least one") {
            _ = try await store.metricWindow(MetricWindow(scope: .run(study.runs[0]), keys: []))
        }
        await expectLedgerError(.invalidParameterValue, "between 1") {
            _ = try await store.metricWindow(MetricWindow(scope: .run(study.runs[0]), keys: ["soc"], limit: 0))
        }
        await expectLedgerError(.invalidParameterValue, "empty") {
            _ = try await store.metricWindow(MetricWindow(scope: .run(study.runs[0]), keys: ["soc"], from: 10, to: 10))
        }
        try await store.close()
    }

    @Test("events are appended and read back newest first by kind, level and time; bad events are refused", arguments: StoreBackend.all)
    func events(backend: StoreBackend) async throws {
        let store = try await backend.make()
        let run = NewRun(experimentID: .defaultExperiment, startTime: 1)
        var events: [RunEvent] = []
        for index in 0..<30 {
            events.append(
                RunEvent(
                    timestamp: Int64(1000 + index / 2), level: EventLevel.allCases[index % 4],
                    kind: ["health_check", "tool_call", "warning"][index % 3],
                    message: "event \(index) <b>\"quoted\"</b>", payload: index % 5 == 0 ? nil : #"{"index": \#(index), "ok": true}"#
                )
            )
        }
        _ = try await store.write(WriteBatch([.createRun(run), .logEvents(run.runID, Array(events[..<10]))]))
        _ = try await store.write(WriteBatch([.logEvents(run.runID, Array(events[10...]))]))
        // Logged order decides among events of one millisecond: newest first means last logged first.
        let reference = events.enumerated().sorted { ($0.element.timestamp, $0.offset) > ($1.element.timestamp, $1.offset) }
        func expected(_ query: EventQuery) -> [RunEvent] {
            Array(
                reference.map(\.element).filter {
                    (query.kinds.isEmpty || query.kinds.contains($0.kind)) && $0.level >= query.minimumLevel && $0.timestamp >= (query.from ?? .min)
                        && $0.timestamp < (query.to ?? .max)
                }.prefix(query.limit)
            )
        }
        for query in [
            EventQuery(runID: run.runID), EventQuery(runID: run.runID, kinds: ["tool_call"]), EventQuery(runID: run.runID, minimumLevel: .warning),
            EventQuery(runID: run.runID, kinds: ["health_check", "warning"], minimumLevel: .info, from: 1003, to: 1011, limit: 3),
            EventQuery(runID: run.runID, limit: 1),
        ] {
            let answer = try await store.runEvents(query)
            // A payload is JSON: compared as values, since a server may re-space it.
            func normalized(_ event: RunEvent) -> RunEvent {
                var event = event
                event.payload = event.payload.flatMap { try? JSONValue(parsing: $0.utf8) }?.description
                return event
            }
            #expect(answer.map { normalized($0.event) } == expected(query).map(normalized), "\(query)")
            #expect(answer.allSatisfy { $0.runID == run.runID })
        }
        let all = try await store.runEvents(EventQuery(runID: run.runID))
        #expect(zip(all, all.dropFirst()).allSatisfy { $0.sequence > $1.sequence || $0.event.timestamp > $1.event.timestamp })
        await expectLedgerError(.invalidParameterValue, "JSON") {
            _ = try await store.write(WriteBatch([.logEvents(run.runID, [RunEvent(timestamp: 1, kind: "x", payload: "{not json")])]))
        }
        await expectLedgerError(.invalidParameterValue) {
            _ = try await store.write(WriteBatch([.logEvents(run.runID, [RunEvent(timestamp: 1, kind: "../x")])]))
        }
        await expectLedgerError(.resourceDoesNotExist) { _ = try await store.runEvents(EventQuery(runID: RunID.random())) }
        #expect(try await store.runEvents(EventQuery(runID: run.runID)).count == 30, "a refused batch wrote nothing")
        try await store.close()
    }

    @Test(
        "retention keeps exactly the newest N points per run and key and nothing older than the age, only where the policy reaches",
        arguments: StoreBackend.all)
    func retention(backend: StoreBackend) async throws {
        let store = try await backend.make()
        let study = try await Study.make(store, seed: 23, pointsPerKey: 45)
        let run = study.runs[0]
        let old = (0..<12).map {
            RunEvent(timestamp: Int64($0 * 10_000), level: .info, kind: $0 % 2 == 0 ? "sample_event" : "audit", message: "e\($0)")
        }
        _ = try await store.write(WriteBatch([.logEvents(run, old)]))
        let kpisBefore = try await store.searchAllRuns(RunQuery(experimentIDs: [study.experiment, study.other], view: .all)).map(\.latestMetrics)

        let now: Int64 = 100_000
        let byCount = try await store.addRetentionPolicy(RetentionPolicy(experimentID: study.experiment, keyGlob: "sample_*", maxPointsPerKey: 10))
        // A dry run counts what the real run removes (6 covered pairs of 45 points keep 10 each), and removes nothing.
        let dry = try await store.pruneAll(now: now, budget: 7, dryRun: true)
        #expect(try await store.metricHistory(runID: run, key: "sample_reward").count == 45)
        let byAge = try await store.addRetentionPolicy(RetentionPolicy(experimentID: nil, keyGlob: "s*", maxAge: 50_000))
        #expect(byCount.id != byAge.id && byCount.createdAt > 0)
        #expect(try await store.retentionPolicies().map(\.id) == [byCount.id, byAge.id])
        // A small budget makes many passes: the result must not depend on where passes stop.
        let real = try await store.pruneAll(now: now, budget: 7)
        #expect(dry.count == 1 && dry[0].1.points == real[0].1.points && dry[0].1.points == 6 * (45 - 10), "\(dry) \(real)")

        for candidate in study.runs {
            for (key, points) in study.points[candidate]! {
                // Reference: the count rule first for covered pairs of the experiment, then the age rule for keys s*.
                let ordered = points.sorted { ($0.step, $0.timestamp, $0.value) < ($1.step, $1.timestamp, $1.value) }
                var kept = ordered
                if study.experimentOf[candidate] == study.experiment && key.hasPrefix("sample_") { kept = Array(kept.suffix(10)) }
                if key.hasPrefix("s") { kept = kept.filter { $0.timestamp >= now - 50_000 } }
                let stored = try await store.metricHistory(runID: candidate, key: key)
                #expect(stored == kept, "\(candidate) \(key)")
            }
        }
        #expect(real[0].1.points > 0 && real[1].1.points > 0)
        let events = try await store.runEvents(EventQuery(runID: run)).map(\.event)
        #expect(events.map(\.message).sorted() == old.filter { $0.kind == "audit" || $0.timestamp >= now - 50_000 }.map(\.message).sorted())
        // History goes, KPIs stay.
        #expect(
            try await store.searchAllRuns(RunQuery(experimentIDs: [study.experiment, study.other], view: .all)).map(\.latestMetrics) == kpisBefore)
        // A second pass finds nothing left.
        #expect(try await store.pruneAll(now: now).allSatisfy { $0.1.points == 0 && $0.1.events == 0 })

        try await store.removeRetentionPolicy(id: byCount.id)
        #expect(try await store.retentionPolicies().map(\.id) == [byAge.id])
        await expectLedgerError(.resourceDoesNotExist) { try await store.removeRetentionPolicy(id: byCount.id) }
        await expectLedgerError(.invalidParameterValue, "needs a maximum") {
            _ = try await store.addRetentionPolicy(RetentionPolicy(experimentID: nil))
        }
        await expectLedgerError(.invalidParameterValue) {
            _ = try await store.addRetentionPolicy(RetentionPolicy(experimentID: nil, maxPointsPerKey: 0))
        }
        await expectLedgerError(.resourceDoesNotExist) {
            _ = try await store.addRetentionPolicy(RetentionPolicy(experimentID: ExperimentID(9999), maxAge: 1))
        }
        try await store.close()
    }

    @Test("statistics and Pareto fronts over a store equal Summary and the brute-force front over the same runs", arguments: StoreBackend.all)
    func analysis(backend: StoreBackend) async throws {
        let store = try await backend.make()
        var random = SeededGenerator(seed: 3)
        let experiment = try await store.createExperiment(name: "analysis", artifactLocation: nil, tags: []).id
        var costs: [String: [Double]] = [:]
        var points: [(RunID, [Double])] = []
        var operations: [WriteOperation] = []
        for index in 0..<80 {
            let run = NewRun(experimentID: experiment, name: "d\(index)", startTime: Int64(index))
            let solver = ["milp", "hybrid", "heuristic"][Int(random.next() % 3)]
            let cost = Double(random.next() % 500)
            let co2 = Double(random.next() % 500)
            operations += [.createRun(run), .logParams(run.runID, [KeyValue("solver", solver)])]
            if index % 2 == 0 { operations.append(.setTags(run.runID, [KeyValue("batch", "even")])) }
            if index % 9 != 0 {
                operations.append(
                    .logMetrics(run.runID, [Metric(key: "cost", value: cost, timestamp: 1), Metric(key: "co2", value: co2, timestamp: 1)]))
                costs[solver, default: []].append(cost)
                points.append((run.runID, [cost, co2]))
            }
        }
        _ = try await store.write(WriteBatch(operations))
        let query = RunQuery(experimentIDs: [experiment])
        let groups = try await store.statistics(query, metric: "cost", groupBy: try GroupKey(parsing: "params.solver"))
        for group in groups {
            #expect(group.summary == Summary(costs[group.group ?? ""] ?? []), "\(group.group ?? "nil")")
        }
        #expect(Set(groups.compactMap(\.group)) == Set(costs.keys))
        // Ungrouped, by a tag only some runs have (the others last, as nil), and narrowed by a filter.
        let all = try await store.statistics(query, metric: "metrics.cost", groupBy: nil)
        #expect(all.count == 1 && all.first?.group == nil && all.first?.summary == Summary(costs.values.flatMap { $0 }.sorted()))
        let byTag = try await store.statistics(query, metric: "cost", groupBy: .tag("batch"))
        #expect(byTag.map(\.group) == ["even", nil] && byTag.map(\.summary.count).reduce(0, +) == points.count)
        var milp = query
        milp.filter = try Filter.parse("params.solver = 'milp'")
        #expect(try await store.statistics(milp, metric: "cost", groupBy: nil).first?.summary == Summary(costs["milp"] ?? []))
        #expect(try await store.statistics(query, metric: "missing", groupBy: nil).isEmpty)
        let front = try await store.paretoFront(
            query, objectives: [Objective(metric: "cost", goal: .minimize), Objective(metric: "co2", goal: .minimize)])
        let dominated = { (a: [Double], b: [Double]) in a[0] <= b[0] && a[1] <= b[1] && (a[0] < b[0] || a[1] < b[1]) }
        let reference = points.filter { candidate in !points.contains { dominated($0.1, candidate.1) } }.map(\.0)
        #expect(Set(front.map(\.info.runID)) == Set(reference))
        try await store.close()
    }

    @Test(
        "a trend lists the matching runs with the metric in start-time order and the running best per group; NaN is never best",
        arguments: StoreBackend.all)
    func trend(backend: StoreBackend) async throws {
        let store = try await backend.make()
        var random = SeededGenerator(seed: 11)
        let experiment = try await store.createExperiment(name: "trend", artifactLocation: nil, tags: []).id
        struct Made {
            var runID: RunID
            var name: String
            var start: Int64
            var solver: String?
            var cost: Double?
        }
        var made: [Made] = []
        var operations: [WriteOperation] = []
        for index in 0..<60 {
            // Start times repeat, so that ties fall to the run id.
            let start = Int64(random.next() % 20) - 5
            let run = NewRun(experimentID: experiment, name: "d\(index)", startTime: start)
            let solver: String? = index % 7 == 0 ? nil : ["milp", "hybrid"][Int(random.next() % 2)]
            let cost: Double? = index % 5 == 0 ? nil : index % 11 == 3 ? .nan : Double(random.next() % 1000) - 500
            operations.append(.createRun(run))
            if let solver { operations.append(.logParams(run.runID, [KeyValue("solver", solver)])) }
            if let cost { operations.append(.logMetrics(run.runID, [Metric(key: "cost", value: cost, timestamp: 1)])) }
            made.append(Made(runID: run.runID, name: run.name, start: start, solver: solver, cost: cost))
        }
        _ = try await store.write(WriteBatch(operations))
        for (goal, grouped, filter) in [(Goal.minimize, false, ""), (.maximize, true, ""), (.minimize, true, "params.solver = 'milp'")] {
            var query = RunQuery(experimentIDs: [experiment], filter: try Filter.parse(filter))
            query.orderBy = [OrderKey(.metric("cost"))]  // ignored: a trend is in start-time order
            let answer = try await store.trend(query, metric: "metrics.cost", goal: goal, groupBy: grouped ? .param("solver") : nil)
            var best: [String?: Double] = [:]
            var expected: [TrendPoint] = []
            let ordered = made.sorted { ($0.start, $0.runID.rawValue) < ($1.start, $1.runID.rawValue) }
            for item in ordered where filter.isEmpty || item.solver == "milp" {
                guard let cost = item.cost else { continue }
                let group = grouped ? item.solver : nil
                if !cost.isNaN, best[group].map({ goal == .minimize ? cost < $0 : cost > $0 }) ?? true { best[group] = cost }
                expected.append(
                    TrendPoint(runID: item.runID, runName: item.name, startTime: item.start, group: group, value: cost, bestSoFar: best[group]))
            }
            // Compared as JSON text, so that NaN equals itself.
            #expect(answer.map(\.json.description) == expected.map(\.json.description), "\(goal) \(grouped) \(filter)")
        }
        await expectLedgerError(.invalidParameterValue) {
            _ = try await store.trend(RunQuery(experimentIDs: []), metric: "cost", goal: .minimize, groupBy: nil)
        }
        try await store.close()
    }

    @Test(
        "a project's documents are listed by namespace and queried by a JSON-path condition; an unknown project is an error",
        arguments: StoreBackend.all)
    func stateQuery(backend: StoreBackend) async throws {
        let store = try await backend.make()
        try await store.changeProject("agents", .create)
        #expect(try await store.stateDocuments(project: "agents").isEmpty)
        let documents = [
            ("planner", #"{"phase": "implementation", "progress": {"done": 3}, "steps": ["a", "b"]}"#),
            ("Zeta", #"{"phase": "design", "progress": {"done": 9}}"#), ("alpha", #"{"phase": "implementation", "note": "\u0000 and e\u0301"}"#),
            ("list", "[1, 2, 3]"), ("ui", #"{"phase": null, "big": 9223372036854775807}"#),
        ]
        for (namespace, document) in documents {
            _ = try await store.putStateDocument(project: "agents", namespace: namespace, document: document, expectedVersion: 0)
        }
        // UTF-8 order: upper case before lower case.
        #expect(try await store.stateDocuments(project: "agents").map(\.namespace) == ["Zeta", "alpha", "list", "planner", "ui"])
        for (condition, expected) in [
            (#"$.phase == "implementation""#, ["alpha", "planner"]), ("$.progress.done > 3", ["Zeta"]), ("exists($.steps[1])", ["planner"]),
            ("$[2] == 3", ["list"]), ("$.phase == null", ["ui"]), ("$.big >= 9223372036854775807", ["ui"]),
            (#"$.note == "\u0000 and e\u0301""#, ["alpha"]), (#"!exists($.phase) || $.phase != "design""#, ["alpha", "list", "planner"]),
        ] {
            let found = try await store.queryState(project: "agents", where: try StatePredicate(parsing: condition))
            #expect(found.map(\.namespace) == expected, "\(condition)")
        }
        let planner = try #require(try await store.stateDocuments(project: "agents").first { $0.namespace == "planner" })
        let plannerDocument = try JSONValue(parsing: planner.document.utf8)
        #expect(planner.version == 1 && plannerDocument["phase"] == .string("implementation"))
        await expectLedgerError(.resourceDoesNotExist) { _ = try await store.stateDocuments(project: "nowhere") }
        await expectLedgerError(.invalidParameterValue) { _ = try await store.stateDocuments(project: "bad/name") }
        try await store.close()
    }

    @Test("projects and state documents: versions, stale writers get a conflict, archive, switch, delete with documents", arguments: StoreBackend.all)
    func projectState(backend: StoreBackend) async throws {
        let store = try await backend.make()
        try await store.changeProject("solar-farm", .create)
        try await store.changeProject("wind.park:2", .create)
        await expectLedgerError(.resourceAlreadyExists) { try await store.changeProject("solar-farm", .create) }
        await expectLedgerError(.invalidParameterValue) { try await store.changeProject("bad/name", .create) }
        await expectLedgerError(.resourceDoesNotExist, "projects create") {
            _ = try await store.putStateDocument(project: "nope", namespace: "ui", document: "{}", expectedVersion: nil)
        }
        #expect(try await store.stateDocument(project: "solar-farm", namespace: "planner") == nil)

        let first = try await store.putStateDocument(
            project: "solar-farm", namespace: "planner", document: #"{"step": 1, "name": "<x>"}"#, expectedVersion: 0)
        #expect(first.version == 1)
        await expectLedgerError(.conflict, "is at version 1, not version 0") {
            _ = try await store.putStateDocument(project: "solar-farm", namespace: "planner", document: "{}", expectedVersion: 0)
        }
        let second = try await store.putStateDocument(project: "solar-farm", namespace: "planner", document: #"{"step": 2}"#, expectedVersion: 1)
        #expect(second.version == 2)
        await expectLedgerError(.conflict, "version 2") {
            _ = try await store.putStateDocument(project: "solar-farm", namespace: "planner", document: #"{"step": 3}"#, expectedVersion: 1)
        }
        await expectLedgerError(.conflict, "does not exist") {
            _ = try await store.putStateDocument(project: "solar-farm", namespace: "ui", document: "[]", expectedVersion: 4)
        }
        #expect(try await store.putStateDocument(project: "solar-farm", namespace: "planner", document: "[1, 2]", expectedVersion: nil).version == 3)
        let read = try #require(try await store.stateDocument(project: "solar-farm", namespace: "planner"))
        let parsed = try JSONValue(parsing: read.document.utf8)
        #expect(read.version == 3 && parsed == .array([.integer(1), .integer(2)]))
        await expectLedgerError(.invalidParameterValue, "not valid JSON") {
            _ = try await store.putStateDocument(project: "solar-farm", namespace: "planner", document: "{oops", expectedVersion: nil)
        }

        // Eight writers with the same expected version: exactly one wins.
        let outcomes = await withTaskGroup(of: Bool.self) { group in
            for writer in 0..<8 {
                group.addTask {
                    do {
                        _ = try await store.putStateDocument(
                            project: "solar-farm", namespace: "planner", document: #"{"writer": \#(writer)}"#, expectedVersion: 3)
                        return true
                    } catch let error as LedgerError {
                        #expect(error.code == .conflict, "\(error)")
                        return false
                    } catch {
                        Issue.record("\(error)")
                        return false
                    }
                }
            }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(outcomes.filter { $0 }.count == 1)
        #expect(try await store.stateDocument(project: "solar-farm", namespace: "planner")?.version == 4)

        try await store.changeProject("solar-farm", .archive)
        await expectLedgerError(.invalidState, "projects switch") {
            _ = try await store.putStateDocument(project: "solar-farm", namespace: "planner", document: "{}", expectedVersion: nil)
        }
        #expect(try await store.stateDocument(project: "solar-farm", namespace: "planner") != nil, "archived state stays readable")
        try await store.changeProject("wind.park:2", .activate)
        var projects = try await store.projects()
        #expect(projects.map(\.name) == ["wind.park:2", "solar-farm"])
        #expect(projects[0].lastActiveAt != nil && projects[1].archived && projects[1].documentCount == 1 && projects[0].documentCount == 0)
        try await store.changeProject("solar-farm", .activate)
        projects = try await store.projects()
        #expect(projects[0].name == "solar-farm" && !projects[0].archived)

        try await store.changeProject("solar-farm", .delete)
        await expectLedgerError(.resourceDoesNotExist) { _ = try await store.stateDocument(project: "solar-farm", namespace: "planner") }
        try await store.changeProject("solar-farm", .create)
        #expect(try await store.stateDocument(project: "solar-farm", namespace: "planner") == nil, "deleting a project deletes its documents")
        await expectLedgerError(.resourceDoesNotExist) { try await store.changeProject("ghost", .archive) }
        try await store.close()
    }
}
