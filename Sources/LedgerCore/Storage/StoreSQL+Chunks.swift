/// The statements of chunked metric history (``ChunkedSeries``), shared by both dialects.
extension StoreSQL {
    /// The chunks a write of `range` into one series rewrites, in series order, `(chunk_id, data)`: those
    /// whose (step, timestamp) range meets it, and the chunk just before it when that one has room.
    public static func chunksToRewrite(run: Int64, key: String, range: ChunkedSeries.Range) -> SQLTemplate {
        let (low, high) = ((range.lowStep, range.lowTimestamp), (range.highStep, range.highTimestamp))
        return """
            SELECT chunk_id, data FROM (
                SELECT chunk_id, point_count, data, last_step, last_timestamp FROM metric_chunks
                WHERE run_id = \(run) AND key = \(key) AND (last_step, last_timestamp) >= (\(low.0), \(low.1))
                    AND (first_step, first_timestamp) <= (\(high.0), \(high.1))
                UNION ALL
                SELECT chunk_id, point_count, data, last_step, last_timestamp FROM metric_chunks WHERE point_count < \(ChunkedSeries.capacity)
                    AND chunk_id = (
                        SELECT chunk_id FROM metric_chunks WHERE run_id = \(run) AND key = \(key) AND (last_step, last_timestamp) < (\(low.0), \(low.1))
                        ORDER BY last_step DESC, last_timestamp DESC, chunk_id DESC LIMIT 1)
            ) c ORDER BY last_step, last_timestamp, chunk_id
            """
    }

    /// A chunk from a row of ``chunksToRewrite(run:key:range:)``.
    public static func storedChunk(_ row: SQLRow) throws(LedgerError) -> ChunkedSeries.Stored {
        ChunkedSeries.Stored(id: try row.int64(0), data: try row.blob(1))
    }

    /// The statements that apply `edit` to one series.
    public static func apply(_ edit: ChunkedSeries.Edit, run: Int64, key: String) -> [SQLTemplate] {
        var statements: [SQLTemplate] = []
        if !edit.removed.isEmpty { statements.append("DELETE FROM metric_chunks WHERE chunk_id IN \(list: edit.removed.map(SQLValue.integer))") }
        for row in edit.added { statements.append(insertChunk(run: run, key: key, row)) }
        return statements
    }

    /// Stores one chunk with its summary.
    public static func insertChunk(run: Int64, key: String, _ row: ChunkedSeries.Row) -> SQLTemplate {
        let summary = row.summary
        // SQLite cannot store NaN (it binds as NULL): NULL stands for it on both backends.
        func number(_ value: Double) -> Double? { value.isNaN ? nil : value }
        return """
            INSERT INTO metric_chunks (run_id, key, first_step, first_timestamp, last_step, last_timestamp, min_timestamp, max_timestamp,
                point_count, nan_count, value_min, value_max, value_sum, last_value, data)
            VALUES (\(run), \(key), \(summary.firstStep), \(summary.firstTimestamp), \(summary.lastStep), \(summary.lastTimestamp),
                \(summary.minTimestamp), \(summary.maxTimestamp), \(summary.count), \(summary.nanCount), \(optional: summary.min),
                \(optional: summary.max), \(optional: number(summary.sum)), \(optional: number(summary.lastValue)), \(row.data))
            """
    }
}

extension SQLTemplate.StringInterpolation {
    /// A number or NULL, bound.
    public mutating func appendInterpolation(optional value: Double?) { appendInterpolation(bound: value.map(SQLValue.real) ?? .null) }
}

/// One (run, key)'s history read from its chunks (``RelationalStore/history(runID:key:after:limit:order:)``), as a
/// ``StatementPlan``: in step order a page of chunks at a time from the first that can hold a point after `after`,
/// until `limit` points are found; in time order every chunk that can hold a later point, sorted here.
public struct HistoryPlan: StatementPlan {
    private let runID: RunID
    private let key: String
    private let after: MetricPoint?
    private let limit: Int?
    private let order: HistoryOrder
    private var run: Int64?
    /// Where the next page of chunks starts: past `(last_step, last_timestamp, chunk_id)`.
    private var position: (Int64, Int64, Int64)?
    private var points: [MetricPoint] = []
    private var done = false

    /// Chunks per statement in step order: a page of a paged read, a bounded slice of a whole one.
    static let chunksPerPage = 64

    public init(runID: RunID, key: String, after: MetricPoint?, limit: Int?, order: HistoryOrder) {
        self.runID = runID
        self.key = key
        self.after = after
        self.limit = limit.map { max(0, $0) }
        self.order = order
    }

    public var result: [MetricPoint] { limit.map { Array(points.prefix($0)) } ?? points }

    public mutating func next(_ rows: [SQLRow]?) throws(LedgerError) -> SQLTemplate? {
        guard let rows else { return StoreSQL.runID(runID) }
        guard let run else {
            guard let row = rows.first else { throw .runNotFound(runID) }
            let id = try row.int64(0)
            self.run = id
            return firstStatement(run: id)
        }
        var found: [MetricPoint] = []
        for row in rows { found += try MetricChunk.decode(try row.blob(0)) }
        if let after { found.removeAll { !MetricPoint.precedes(after, $0, in: order) } }
        switch order {
        case .time:
            // Usually time follows step, and the chunks' order is already the answer's.
            if !zip(found, found.dropFirst()).allSatisfy({ !MetricPoint.precedes($1, $0, in: .time) }) {
                found.sort { MetricPoint.precedes($0, $1, in: .time) }
            }
            points = found
            return nil
        case .step:
            points += found
            guard let last = rows.last, rows.count == Self.chunksPerPage, limit.map({ points.count < $0 }) ?? true else {
                if !ChunkedSeries.isNormalized(points) { points = ChunkedSeries.normalized(points) }
                return nil
            }
            position = (try last.int64(1), try last.int64(2), try last.int64(3))
            return page(run: run)
        }
    }

    private mutating func firstStatement(run: Int64) -> SQLTemplate {
        switch order {
        case .time:
            let since = after?.timestamp ?? .min
            return """
                SELECT data FROM metric_chunks WHERE run_id = \(run) AND key = \(key) AND max_timestamp >= \(since)
                ORDER BY last_step, last_timestamp, chunk_id
                """
        case .step:
            if let after { position = (after.step, after.timestamp, .min) }
            return page(run: run)
        }
    }

    private func page(run: Int64) -> SQLTemplate {
        let columns: SQLTemplate = "SELECT data, last_step, last_timestamp, chunk_id FROM metric_chunks WHERE run_id = \(run) AND key = \(key)"
        let order: SQLTemplate = "ORDER BY last_step, last_timestamp, chunk_id LIMIT \(Self.chunksPerPage)"
        guard let (step, timestamp, id) = position else { return "\(columns) \(order)" }
        // The first page starts at the chunk that may hold `after` (id -inf), later ones strictly after the last read.
        let comparison: SQLTemplate = id == .min ? ">=" : ">"
        return "\(columns) AND (last_step, last_timestamp, chunk_id) \(comparison) (\(step), \(timestamp), \(id)) \(order)"
    }
}

/// Converts history written before chunks existed (the one-row-per-point `metrics` table) into chunks, a page of rows
/// per transaction in the table's key order, each page's rows deleted in the transaction that stores them: an
/// interrupted conversion goes on where it stopped. The empty tables are dropped at the end.
public enum LegacyHistory {
    /// Rows per transaction: bounds the memory and the time a page holds the write lock.
    public static let rowsPerTransaction = 100_000

    /// A row while the old table exists. PostgreSQL reads its catalog with the statement's snapshot: `to_regclass` can
    /// answer from a cache that has not yet seen another migrator's committed DROP.
    public static let exists: SQLTemplate = """
        \(sqlite: "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'metrics'", postgres: """
            SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relname = 'metrics' AND c.relkind = 'r' AND n.nspname = current_schema()
            """)
        """

    /// The next page of old rows.
    public static func page(limit: Int = rowsPerTransaction) -> SQLTemplate {
        "SELECT run_id, key, step, timestamp, value, is_nan FROM metrics ORDER BY run_id, key, step, timestamp, value, is_nan LIMIT \(limit)"
    }

    /// The statements that store a page as chunks and delete its rows; none for an empty page.
    public static func convert(_ rows: [SQLRow]) throws(LedgerError) -> [SQLTemplate] {
        guard let last = rows.last else { return [] }
        var statements: [SQLTemplate] = []
        var series: (run: Int64, key: String)?
        var points: [MetricPoint] = []
        func flush() {
            guard let (run, key) = series else { return }
            for row in ChunkedSeries.rows(ChunkedSeries.normalized(points)) { statements.append(StoreSQL.insertChunk(run: run, key: key, row)) }
        }
        for row in rows {
            let (run, key) = (try row.int64(0), try row.text(1))
            if series.map({ $0.run != run || $0.key != key }) ?? true {
                flush()
                series = (run, key)
                points = []
            }
            points.append(try StoreSQL.point(row, from: 2))
        }
        flush()
        let (run, key, step, timestamp) = (try last.int64(0), try last.text(1), try last.int64(2), try last.int64(3))
        let (value, isNaN) = (try last.double(4), try last.int64(5))
        statements.append(
            "DELETE FROM metrics WHERE (run_id, key, step, timestamp, value, is_nan) <= (\(run), \(key), \(step), \(timestamp), \(value), \(isNaN))")
        return statements
    }

    /// Drops the emptied tables.
    public static let drop: [SQLTemplate] = ["DROP TABLE metric_spans", "DROP TABLE metrics"]
}

/// A bucketed history (``TrackingStore/bucketedHistory(runID:key:maximum:steps:)``) from chunk summaries, as a
/// ``StatementPlan``: a chunk that lies inside the step range and inside one bucket is added from its summary;
/// only the others are decoded (those the range or a bucket boundary cuts, and every chunk when each point gets a
/// bucket of its own).
public struct BucketedHistoryPlan: StatementPlan {
    private let runID: RunID
    private let key: String
    private let maximum: Int
    private let steps: ClosedRange<Int64>
    private var run: Int64?
    private var headers: [Header] = []
    private var decoded: [Int64: [MetricPoint]] = [:]
    private var wanted: ArraySlice<Int64> = []
    private var builder: HistoryBuckets?
    private var stage = Stage.run
    private var answer: (points: Int, buckets: [HistoryBucket]) = (0, [])

    private enum Stage { case run, headers, edges, inner }

    private struct Header {
        var id: Int64
        var summary: ChunkSummary
        /// Whether the sum is known (NULL stands for NaN, where +inf and -inf met).
        var hasSum: Bool
    }

    /// Chunk ids per statement that fetches bytes.
    static let idsPerStatement = 256

    public init(runID: RunID, key: String, maximum: Int, steps: ClosedRange<Int64>) {
        self.runID = runID
        self.key = key
        self.maximum = maximum
        self.steps = steps
    }

    public var result: (points: Int, buckets: [HistoryBucket]) { answer }

    public mutating func next(_ rows: [SQLRow]?) throws(LedgerError) -> SQLTemplate? {
        guard let rows else { return StoreSQL.runID(runID) }
        switch stage {
        case .run:
            guard let row = rows.first else { throw .runNotFound(runID) }
            let id = try row.int64(0)
            run = id
            stage = .headers
            return """
                SELECT chunk_id, first_step, last_step, point_count, nan_count, value_min, value_max, value_sum, last_value FROM metric_chunks
                WHERE run_id = \(id) AND key = \(key) AND last_step >= \(steps.lowerBound) AND first_step <= \(steps.upperBound)
                ORDER BY last_step, last_timestamp, chunk_id
                """
        case .headers:
            headers = try rows.map { row throws(LedgerError) in
                var summary = ChunkSummary()
                summary.firstStep = try row.int64(1)
                summary.lastStep = try row.int64(2)
                summary.count = try row.int(3)
                summary.nanCount = try row.int(4)
                summary.min = try row.optionalDouble(5)
                summary.max = try row.optionalDouble(6)
                summary.sum = try row.optionalDouble(7) ?? .nan
                summary.lastValue = try row.optionalDouble(8) ?? .nan
                return Header(id: try row.int64(0), summary: summary, hasSum: !summary.sum.isNaN)
            }
            // The chunks the range cuts are decoded first: they decide the lowest and highest step and the count.
            wanted = headers.filter { !inRange($0) }.map(\.id)[...]
            stage = .edges
            return fetch() ?? plan()
        case .edges, .inner:
            for row in rows { decoded[try row.int64(0)] = try MetricChunk.decode(try row.blob(1)).filter { steps.contains($0.step) } }
            return fetch() ?? (stage == .edges ? plan() : assemble())
        }
    }

    private func inRange(_ header: Header) -> Bool {
        steps.contains(header.summary.firstStep) && steps.contains(header.summary.lastStep)
    }

    private mutating func fetch() -> SQLTemplate? {
        guard !wanted.isEmpty else { return nil }
        let ids = wanted.prefix(Self.idsPerStatement)
        wanted = wanted.dropFirst(ids.count)
        return "SELECT chunk_id, data FROM metric_chunks WHERE chunk_id IN \(list: ids.map(SQLValue.integer))"
    }

    /// With the range's edges known: the buckets' width, and which of the inner chunks must be decoded.
    private mutating func plan() -> SQLTemplate? {
        var total = 0
        var lowest: Int64?
        var highest: Int64?
        for header in headers {
            if inRange(header) {
                total &+= header.summary.count
                lowest = lowest ?? header.summary.firstStep
                highest = header.summary.lastStep
            } else if let points = decoded[header.id], let first = points.first, let last = points.last {
                total += points.count
                lowest = lowest ?? first.step
                highest = last.step
            }
        }
        guard let lowest, let highest, total > 0 else {
            stage = .inner
            return assemble()
        }
        let buckets = HistoryBuckets(lowest: lowest, highest: highest, points: total, maximum: maximum)
        builder = buckets
        answer.points = total
        wanted =
            headers.filter { header in
                inRange(header) && !(header.hasSum && buckets.holdsWhole(firstStep: header.summary.firstStep, lastStep: header.summary.lastStep))
            }.map(\.id)[...]
        stage = .inner
        return fetch() ?? assemble()
    }

    private mutating func assemble() -> SQLTemplate? {
        guard var builder else { return nil }
        for header in headers {
            if let points = decoded[header.id] {
                for point in points { builder.add(point) }
            } else if inRange(header) {
                builder.add(header.summary)
            }
        }
        answer.buckets = builder.buckets
        return nil
    }
}

extension RelationalStore {
    public func bucketedHistory(runID: RunID, key: String, maximum: Int, steps: ClosedRange<Int64>) async throws -> (
        points: Int, buckets: [HistoryBucket]
    ) {
        try await run(BucketedHistoryPlan(runID: runID, key: key, maximum: maximum, steps: steps), writing: false)
    }
}
