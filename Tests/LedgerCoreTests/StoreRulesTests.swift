import LedgerCore
import Testing

@Suite("Store rules, shared statements and plans, without a database")
struct StoreRulesTests {
    // MARK: SQLTemplate

    @Test("values become placeholders in each dialect's spelling, never SQL text; lists, dialect words and byte order render per dialect")
    func templates() {
        let hostile = "x'); DROP TABLE runs; --"
        let keys: [SQLValue] = [.text("a"), .text(hostile)]
        let sql: SQLTemplate = """
            SELECT 1 FROM runs WHERE run_uuid = \(hostile) AND n = \(Int64(7)) AND k IN \(list: keys) AND e IS \(nil as Int64?)\
            \(sqlite: "", postgres: " FOR UPDATE") ORDER BY \(binary: "name")
            """
        let sqlite = sql.statement(.sqlite)
        let postgres = sql.statement(.postgres)
        #expect(sqlite.sql == "SELECT 1 FROM runs WHERE run_uuid = ? AND n = ? AND k IN (?, ?) AND e IS ? ORDER BY name")
        #expect(
            postgres.sql == #"SELECT 1 FROM runs WHERE run_uuid = $1 AND n = $2 AND k IN ($3, $4) AND e IS $5 FOR UPDATE ORDER BY name COLLATE "C""#)
        #expect(sqlite.bindings == [.text(hostile), .integer(7), .text("a"), .text(hostile), .null])
        #expect(postgres.bindings == sqlite.bindings)
        #expect(!sqlite.sql.contains("DROP") && sql.hasList)
        let empty: SQLTemplate = "SELECT 1 WHERE k IN \(list: [])"
        #expect(empty.statement(.postgres).sql == "SELECT 1 WHERE k IN (NULL)" && empty.statement(.postgres).bindings.isEmpty)
    }

    @Test("a damaged row reads as an error, never a trap")
    func rows() {
        let row = SQLRow([.text("x"), .null, .integer(Int64.max)])
        #expect(throws: LedgerError.self) { try row.int64(0) }
        #expect(throws: LedgerError.self) { try row.text(1) }
        #expect(throws: LedgerError.self) { try row.text(9) }
        #expect((try? row.optionalInt64(1)) == .some(nil))
        #expect((try? row.int(2)) == Int.max)
    }

    // MARK: Write rules

    @Test("a run ends now unless told when, resumes keeping its last end time, ends again later; a deleted run refuses writes")
    func runRecords() throws {
        let runID = RunID.random()
        let running = RunRecord(id: 1, status: .running, endTime: nil, lifecycle: .active)
        #expect(running.applying(RunUpdate(status: .finished), now: 50).endTime == 50)
        #expect(running.applying(RunUpdate(status: .failed, endTime: 40), now: 50).endTime == 40)
        #expect(running.applying(RunUpdate(name: "n"), now: 50) == running)
        let finished = running.applying(RunUpdate(status: .finished), now: 50)
        #expect(finished.applying(RunUpdate(status: .finished), now: 60).endTime == 50)
        let resumed = finished.applying(RunUpdate(status: .running), now: 70)
        #expect(resumed.status == .running && resumed.endTime == 50)
        #expect(resumed.applying(RunUpdate(status: .killed), now: 90) == RunRecord(id: 1, status: .killed, endTime: 90, lifecycle: .active))
        #expect(finished.applying(RunUpdate(status: .scheduled), now: 60).status == .scheduled)
        let deleted = RunRecord(id: 1, status: "RUNNING", endTime: nil, lifecycle: "deleted")
        #expect(throws: LedgerError.self) { try deleted.writable(runID) }
        #expect(try running.writable(runID) == running)
    }

    @Test("new runs need an active experiment; params are immutable; later duplicates of a key win")
    func writes() throws {
        let run = NewRun(experimentID: ExperimentID(3), status: .finished, startTime: 9)
        #expect(throws: LedgerError.self) { try StoreRules.newRun(run, experiment: nil) }
        #expect(throws: LedgerError.self) { try StoreRules.newRun(run, experiment: ("deleted", "x")) }
        let (endTime, uri) = try StoreRules.newRun(run, experiment: ("active", "mlflow-artifacts:/3"))
        #expect(endTime == 9 && uri == "mlflow-artifacts:/3/\(run.runID)/artifacts")
        #expect(try StoreRules.newRun(run, experiment: ("active", "")).artifactURI == "")
        #expect(throws: Never.self) { try StoreRules.checkParam(KeyValue("a", "1"), existing: "1", runID: run.runID) }
        #expect(throws: LedgerError.self) { try StoreRules.checkParam(KeyValue("a", "2"), existing: "1", runID: run.runID) }
        let (keys, values) = StoreRules.lastValues([KeyValue("a", "1"), KeyValue("b", "2"), KeyValue("a", "3")])
        #expect(keys == ["a", "b"] && values == ["3", "2"])
        #expect(throws: LedgerError.self) { try StoreRules.checkChange(.setLifecycle(.deleted), of: .defaultExperiment) }
    }

    @Test("a script step checks what its statement returned")
    func steps() throws {
        let row = SQLRow([.integer(1)])
        #expect(throws: LedgerError.self) { try StoreSQL.Step.require("SELECT 1", else: .runNotFound(.random())).check([]) }
        #expect(throws: LedgerError.self) { try StoreSQL.Step.refuse("SELECT 1", else: .experimentExists("x")).check([row]) }
        #expect(try StoreSQL.Step.run("SELECT 1").check([row]).count == 1)
    }

    // MARK: Retention passes

    /// An in-memory history that answers a ``PrunePlan``'s actions as a database would.
    struct History {
        var points: [Pair: [MetricPoint]] = [:]
        var spans: [Pair: [MetricSpan]] = [:]

        struct Pair: Hashable, Comparable {
            var run: Int64
            var key: String
            static func < (a: Pair, b: Pair) -> Bool { (a.run, a.key) < (b.run, b.key) }
        }

        mutating func answer(_ action: PrunePlan.Action) -> PrunePlan.Answer {
            switch action {
            case .listEventKinds: return .kinds([])
            case .removeEvents: return .count(0)
            case .listPairs(let run, let key, let inclusive, let limit):
                let from = Pair(run: run, key: key)
                return .pairs(points.keys.sorted().filter { inclusive ? $0 >= from : $0 > from }.prefix(limit).map { ($0.run, $0.key) })
            case .listSpans(let run, let key, let before):
                return .spans((spans[Pair(run: run, key: key)] ?? []).filter { $0.minTimestamp < before })
            case .removeOldPoints(let run, let key, let steps, let before, let limit):
                return .count(remove(Pair(run: run, key: key), limit: limit) { steps.contains($0.step) && $0.timestamp < before })
            case .dropSpans(let run, let key, let before):
                spans[Pair(run: run, key: key)]?.removeAll { $0.maxTimestamp < before }
                return .done
            case .countPoints(let run, let key, let since):
                return .count((points[Pair(run: run, key: key)] ?? []).count { $0.timestamp >= since })
            case .findNewest(let run, let key, let offset):
                let sorted = (points[Pair(run: run, key: key)] ?? []).sorted(by: MetricPoint.historyPrecedes).reversed()
                return .point(sorted.dropFirst(offset).first)
            case .removePointsBefore(let run, let key, let boundary, let limit):
                return .count(remove(Pair(run: run, key: key), limit: limit) { MetricPoint.historyPrecedes($0, boundary) })
            case .dropSpansBefore(let run, let key, let step):
                spans[Pair(run: run, key: key)]?.removeAll { $0.lastStep < step }
                return .done
            case .finished: return .done
            }
        }

        /// Removes up to `limit` matching points, oldest first.
        mutating func remove(_ pair: Pair, limit: Int, where matches: (MetricPoint) -> Bool) -> Int {
            var sorted = (points[pair] ?? []).sorted(by: MetricPoint.historyPrecedes)
            var removed = 0
            sorted.removeAll { point in
                guard removed < limit, matches(point) else { return false }
                removed += 1
                return true
            }
            points[pair] = sorted
            return removed
        }
    }

    @Test("passes with a small budget, resumed until finished, remove exactly what one unbounded pass would", arguments: [1, 7, 50, 100_000])
    func prunePasses(budget: Int) throws {
        var history = History()
        for run in Int64(1)...4 {
            for key in ["loss", "lr", "x"] {
                let pair = History.Pair(run: run, key: key)
                // Three writes of 40 points each: a span per write, timestamps growing with the step.
                func time(_ step: Int64) -> Int64 { 1000 + step * 10 }
                history.points[pair] = (Int64(0)..<120).map { MetricPoint(value: Double($0 % 7), timestamp: time($0), step: $0) }
                history.spans[pair] = [Int64(0), 40, 80].map { first in
                    MetricSpan(firstStep: first, lastStep: first + 39, minTimestamp: time(first), maxTimestamp: time(first + 39))
                }
            }
        }
        let policy = RetentionPolicy(experimentID: nil, keyGlob: "l*", maxAge: 1000, maxPointsPerKey: 30)
        let now: Int64 = 1000 + 1000 + 300  // the cutoff is 1300: points of steps 0…29 are older
        var resume: String? = nil
        var passes = 0
        var removed = 0
        repeat {
            var plan = try PrunePlan(policy, now: now, budget: budget, dryRun: false, resume: resume)
            var action = plan.start()
            while true {
                if case .finished(let count) = action {
                    removed += count.points
                    resume = count.resume
                    if budget < 100_000 { #expect(count.points <= budget) }
                    break
                }
                action = plan.next(history.answer(action))
            }
            passes += 1
        } while resume != nil && passes < 10_000
        #expect(resume == nil)
        for (pair, points) in history.points {
            let covered = policy.covers(pair.key)
            // Covered keys keep the newest 30 of the points not older than the cutoff; others keep all 120.
            let expected = covered ? Array((30..<120).suffix(30)) : Array(0..<120)
            #expect(points.map { Int($0.step) }.sorted() == expected, "\(pair)")
        }
        #expect(removed == 4 * 2 * 90)
        #expect(budget >= 100_000 ? passes == 1 : passes > 1)
    }

    @Test("a dry run counts what a real pass removes and changes nothing")
    func dryRun() throws {
        var history = History()
        let pair = History.Pair(run: 1, key: "m")
        history.points[pair] = (0..<50).map { MetricPoint(value: 1, timestamp: Int64($0), step: Int64($0)) }
        history.spans[pair] = [MetricSpan(firstStep: 0, lastStep: 49, minTimestamp: 0, maxTimestamp: 49)]
        let policy = RetentionPolicy(experimentID: nil, maxAge: 10, maxPointsPerKey: 15)
        var plan = try PrunePlan(policy, now: 30, budget: 1, dryRun: true, resume: nil)
        var action = plan.start()
        var counted = PruneCount()
        while true {
            if case .finished(let count) = action {
                counted = count
                break
            }
            // Count-only actions: the history must not change.
            let before = history.points
            switch action {
            case .removeOldPoints(let run, let key, let steps, let cutoff, _):
                action = plan.next(
                    .count((history.points[History.Pair(run: run, key: key)] ?? []).count { steps.contains($0.step) && $0.timestamp < cutoff }))
            default:
                action = plan.next(history.answer(action))
            }
            #expect(history.points == before)
        }
        // 20 points are older than the cutoff (30 − 10); of the 30 left, all but 15 go.
        #expect(counted.points == 35 && counted.resume == nil)
    }
}
