/// One pass of a retention policy (``PrunePlan``) as a ``StatementPlan``, over chunked history: a removal reads the
/// chunks that may hold the points, drops the points here, and rewrites only the chunks that lost some (a chunk left
/// empty is deleted).
public struct PrunePass: StatementPlan {
    private var plan: PrunePlan
    private var action: PrunePlan.Action?
    /// The statements of a chunk rewrite still to run before the current action is answered, and its answer.
    private var rewrite: (statements: ArraySlice<SQLTemplate>, removed: Int)?

    public init(_ plan: PrunePlan) { self.plan = plan }

    /// What the pass removed (or counted), and where the next one goes on.
    public var result: PruneCount { if case .finished(let count)? = action { count } else { PruneCount() } }

    public mutating func next(_ rows: [SQLRow]?) throws(LedgerError) -> SQLTemplate? {
        guard let action, let rows else {
            action = plan.start()
            return action.flatMap { Self.statement($0, of: plan) }
        }
        let answer: PrunePlan.Answer
        if var rewrite {
            if let statement = rewrite.statements.popFirst() {
                self.rewrite = rewrite
                return statement
            }
            self.rewrite = nil
            answer = .count(rewrite.removed)
        } else if let (removed, statements) = try Self.removal(action, of: plan, chunks: rows) {
            guard plan.dryRun || statements.isEmpty else {
                rewrite = (statements[...], removed)
                return try next([])
            }
            answer = .count(removed)
        } else {
            answer = try Self.answer(action, of: plan, rows: rows)
        }
        self.action = plan.next(answer)
        return self.action.flatMap { Self.statement($0, of: plan) }
    }

    /// The statement that does (or, for removals, reads the chunks of) one step of a pass; nil when the pass is over.
    static func statement(_ action: PrunePlan.Action, of plan: PrunePlan) -> SQLTemplate? {
        let experiment: SQLTemplate = plan.experimentID.map { " AND r.experiment_id = \($0)" } ?? ""
        let chunks: SQLTemplate = "SELECT chunk_id, data FROM metric_chunks"
        let order: SQLTemplate = "ORDER BY last_step, last_timestamp, chunk_id"
        switch action {
        case .listEventKinds:
            return "SELECT DISTINCT kind FROM run_events"
        case .removeEvents(let kinds, let before, let limit):
            let key: SQLTemplate = "\(sqlite: "event_id", postgres: "ctid")"
            let selection: SQLTemplate = """
                SELECT e.\(key) FROM run_events e JOIN runs r ON r.id = e.run_id
                WHERE e.timestamp < \(before) AND e.kind IN \(list: kinds.map(SQLValue.text))\(experiment) LIMIT \(limit)
                """
            return plan.dryRun
                ? "SELECT COUNT(*) FROM (\(selection)) AS s" : "DELETE FROM run_events WHERE (\(key)) IN (\(selection)) RETURNING 1"
        case .listPairs(let run, let key, let inclusive, let limit):
            return """
                SELECT lm.run_id, lm.key FROM latest_metrics lm JOIN runs r ON r.id = lm.run_id
                WHERE (lm.run_id, lm.key) \(raw: inclusive ? ">=" : ">") (\(run), \(key))\(experiment) ORDER BY lm.run_id, lm.key LIMIT \(limit)
                """
        case .listSpans(let run, let key, let before):
            return
                "SELECT first_step, last_step, min_timestamp, max_timestamp FROM metric_chunks WHERE run_id = \(run) AND key = \(key) AND min_timestamp < \(before)"
        case .removeOldPoints(let run, let key, let steps, let before, _):
            return """
                \(chunks) WHERE run_id = \(run) AND key = \(key) AND min_timestamp < \(before) AND last_step >= \(steps.lowerBound)
                AND first_step <= \(steps.upperBound) \(order)
                """
        case .removePointsBefore(let run, let key, let point, _):
            return
                "\(chunks) WHERE run_id = \(run) AND key = \(key) AND (first_step, first_timestamp) <= (\(point.step), \(point.timestamp)) \(order)"
        case .countPoints(let run, let key, let since):
            return """
                SELECT min_timestamp, point_count, CASE WHEN min_timestamp < \(since) THEN data END FROM metric_chunks
                WHERE run_id = \(run) AND key = \(key) AND max_timestamp >= \(since)
                """
        case .findNewest(let run, let key, let offset):
            // The chunk holding the point `offset` from the newest, and how many newer points the chunks after it hold.
            return """
                SELECT m.data, c.covered - c.point_count FROM (
                    SELECT chunk_id, point_count, SUM(point_count) OVER (ORDER BY last_step DESC, last_timestamp DESC, chunk_id DESC) AS covered
                    FROM metric_chunks WHERE run_id = \(run) AND key = \(key)
                ) c JOIN metric_chunks m ON m.chunk_id = c.chunk_id WHERE c.covered > \(offset) ORDER BY c.covered LIMIT 1
                """
        case .dropSpans, .dropSpansBefore:
            // A chunk is deleted when a removal empties it: nothing is left to drop.
            return "SELECT 0"
        case .finished:
            return nil
        }
    }

    /// For a removal, given its chunks: how many points go and the statements that rewrite the chunks (none in a dry
    /// run); nil for other actions.
    static func removal(_ action: PrunePlan.Action, of plan: PrunePlan, chunks rows: [SQLRow]) throws(LedgerError) -> (Int, [SQLTemplate])? {
        let (run, key, limit, matches): (Int64, String, Int, (MetricPoint) -> Bool)
        switch action {
        case .removeOldPoints(let pairRun, let pairKey, let steps, let before, let most):
            (run, key, limit, matches) = (pairRun, pairKey, most, { steps.contains($0.step) && $0.timestamp < before })
        case .removePointsBefore(let pairRun, let pairKey, let boundary, let most):
            (run, key, limit, matches) = (pairRun, pairKey, most, { MetricPoint.historyPrecedes($0, boundary) })
        default:
            return nil
        }
        let chunks = try rows.map(StoreSQL.storedChunk)
        // Oldest first in history order, up to the limit (the chunks come in series order).
        var left = limit
        let (edit, dropped) = try ChunkedSeries.filter(chunks) { point in
            guard left > 0, matches(point) else { return true }
            left -= 1
            return false
        }
        return (dropped, plan.dryRun ? [] : StoreSQL.apply(edit, run: run, key: key))
    }

    /// What the rows of ``statement(_:of:)``'s statement answer, for the actions that are not removals.
    static func answer(_ action: PrunePlan.Action, of plan: PrunePlan, rows: [SQLRow]) throws(LedgerError) -> PrunePlan.Answer {
        switch action {
        case .listEventKinds: return .kinds(try rows.map { row throws(LedgerError) in try row.text(0) })
        case .removeEvents: return .count(plan.dryRun ? try rows.first?.int(0) ?? 0 : rows.count)
        case .countPoints(_, _, let since):
            var count = 0
            for row in rows {
                if try row.int64(0) >= since {
                    count &+= try row.int(1)
                } else {
                    count &+= try MetricChunk.decode(try row.blob(2)).count { $0.timestamp >= since }
                }
            }
            return .count(count)
        case .listPairs: return .pairs(try rows.map { row throws(LedgerError) in (run: try row.int64(0), key: try row.text(1)) })
        case .listSpans:
            return .spans(
                try rows.map { row throws(LedgerError) in
                    MetricSpan(
                        firstStep: try row.int64(0), lastStep: try row.int64(1), minTimestamp: try row.int64(2), maxTimestamp: try row.int64(3))
                }
            )
        case .findNewest(_, _, let offset):
            guard let row = rows.first else { return .point(nil) }
            let points = try MetricChunk.decode(try row.blob(0))
            // The newer points the later chunks hold; a damaged count reads as no point, never a trap.
            let newer = try row.int(1)
            guard (0...offset).contains(newer), offset - newer < points.count else { return .point(nil) }
            return .point(points[points.count - 1 - (offset - newer)])
        case .removeOldPoints, .removePointsBefore, .dropSpans, .dropSpansBefore, .finished: return .done
        }
    }
}
