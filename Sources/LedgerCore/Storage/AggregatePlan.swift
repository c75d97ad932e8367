/// An aggregation (``TrackingStore/aggregate(_:)``) as a ``StatementPlan``: the matching runs and their groups first,
/// then their chunks of the named metrics, a page of runs per statement, decoded and added as they arrive. Chunks
/// wholly outside the time range are skipped by their stored time bounds; the rest are decoded (percentiles need
/// every number), and no page's bytes outlive it.
public struct AggregatePlan: StatementPlan {
    private let aggregation: MetricAggregation
    private var accumulator: AggregateAccumulator
    private var metricIndex: [String: Int] = [:]
    private var runs: [(id: Int64, group: Int32)] = []
    private var groupOfRun: [Int64: Int32] = [:]
    private var runsRead = false
    private var next = 0
    private var answer: [AggregateRow] = []

    /// Runs per statement that reads chunks.
    static let runsPerStatement = 500

    public init(_ aggregation: MetricAggregation) throws(LedgerError) {
        try aggregation.validate()
        self.aggregation = aggregation
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
            var page: [AggregateAccumulator.StoredChunk] = []
            page.reserveCapacity(rows.count)
            for row in rows {
                guard let group = groupOfRun[try row.int64(0)], let metric = metricIndex[try row.text(1)] else { continue }
                page.append(.init(metric: metric, group: group, bytes: try row.blob(2)))
            }
            try accumulator.add(page: page)
        }
        guard next < runs.count else {
            answer = accumulator.rows()
            return nil
        }
        let page = runs[next..<min(next + Self.runsPerStatement, runs.count)]
        next += page.count
        return """
            SELECT run_id, key, data FROM metric_chunks
            WHERE run_id IN \(list: page.map { .integer($0.id) }) AND key IN \(list: accumulator.metricKeys.map(SQLValue.text))\
             AND max_timestamp >= \(aggregation.since ?? .min) AND min_timestamp < \(aggregation.until ?? .max)
            ORDER BY run_id, key, last_step, last_timestamp, chunk_id
            """
    }
}

extension RelationalStore {
    public func aggregate(_ aggregation: MetricAggregation) async throws -> [AggregateRow] {
        try await run(try AggregatePlan(aggregation), writing: false)
    }
}
