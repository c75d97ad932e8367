/// An aggregation (``TrackingStore/aggregate(_:)``) as a ``StatementPlan``: the matching runs and their groups first,
/// then their chunks of the named metrics, a page of runs at a time and at most a thousand chunks per statement (a run
/// with a long history takes several), decoded and added as they arrive. Chunks wholly outside the
/// time range are skipped by their stored time bounds; the rest are decoded (percentiles need every number), and no
/// statement's bytes outlive it.
public struct AggregatePlan: StatementPlan {
    private let aggregation: MetricAggregation
    private var accumulator: AggregateAccumulator
    private var metricIndex: [String: Int] = [:]
    private var runs: [(id: Int64, group: Int32)] = []
    private var groupOfRun: [Int64: Int32] = [:]
    private var runsRead = false
    /// The runs of the current page, and where its last statement stopped (nil: at its start).
    private var page: ArraySlice<(id: Int64, group: Int32)> = []
    private var after: (run: Int64, key: String, lastStep: Int64, lastTimestamp: Int64, chunk: Int64)?
    private var next = 0
    private var answer: [AggregateRow] = []

    private let chunksPerStatement: Int

    /// Runs per page of statements that read chunks.
    static let runsPerPage = 500

    public init(_ aggregation: MetricAggregation) throws(LedgerError) { try self.init(aggregation, chunksPerStatement: 1000) }

    /// `chunksPerStatement` bounds the compressed bytes held at a time (a chunk holds at most 1000 points); tests make
    /// it small.
    init(_ aggregation: MetricAggregation, chunksPerStatement: Int) throws(LedgerError) {
        try aggregation.validate()
        self.aggregation = aggregation
        self.chunksPerStatement = max(1, chunksPerStatement)
        accumulator = AggregateAccumulator(aggregation)
        for (index, key) in accumulator.metricKeys.enumerated() { metricIndex[key] = index }
    }

    public var result: [AggregateRow] { answer }

    public mutating func next(_ rows: [SQLRow]?) throws(LedgerError) -> SQLTemplate? {
        guard let rows else { return StoreSQL.runsAndGroups(aggregation.runs, groupBy: aggregation.groupBy) }
        if !runsRead {
            runsRead = true
            for row in rows {
                let id = try row.int64(0)
                let group = accumulator.group(try row.optionalText(1))
                runs.append((id, group))
                groupOfRun[id] = group
            }
        } else {
            var chunks: [AggregateAccumulator.StoredChunk] = []
            chunks.reserveCapacity(rows.count)
            for row in rows {
                guard let group = groupOfRun[try row.int64(0)], let metric = metricIndex[try row.text(1)] else { continue }
                chunks.append(.init(metric: metric, group: group, bytes: try row.blob(5)))
            }
            try accumulator.add(page: chunks)
            // A full statement may have left chunks of the page: the next one goes on after its last row.
            if rows.count == chunksPerStatement, let last = rows.last {
                after = (try last.int64(0), try last.text(1), try last.int64(2), try last.int64(3), try last.int64(4))
                return statement()
            }
        }
        after = nil
        guard next < runs.count else {
            answer = accumulator.rows()
            return nil
        }
        page = runs[next..<min(next + Self.runsPerPage, runs.count)]
        next += page.count
        return statement()
    }

    /// The next chunks of the current page, in the order every backend reads them.
    private func statement() -> SQLTemplate {
        let resume: SQLTemplate =
            after.map { after in
                " AND (run_id, key, last_step, last_timestamp, chunk_id) > (\(after.run), \(after.key), \(after.lastStep), \(after.lastTimestamp), \(after.chunk))"
            } ?? ""
        return """
            SELECT run_id, key, last_step, last_timestamp, chunk_id, data FROM metric_chunks
            WHERE run_id IN \(list: page.map { .integer($0.id) }) AND key IN \(list: accumulator.metricKeys.map(SQLValue.text))\
             AND max_timestamp >= \(aggregation.since ?? .min) AND min_timestamp < \(aggregation.until ?? .max)\(resume)
            ORDER BY run_id, key, last_step, last_timestamp, chunk_id LIMIT \(chunksPerStatement)
            """
    }
}

extension RelationalStore {
    public func aggregate(_ aggregation: MetricAggregation) async throws -> [AggregateRow] {
        try await run(try AggregatePlan(aggregation), writing: false)
    }
}
