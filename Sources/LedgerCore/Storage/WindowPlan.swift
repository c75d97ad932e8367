/// Statements decided one at a time, each from the rows of the one before: a store runs them on one snapshot (or in
/// one transaction) until ``next(_:)`` returns nil, then reads ``result``. Decisions stay here, free of I/O; the
/// store only runs SQL.
public protocol StatementPlan: Sendable {
    associatedtype Result: Sendable
    /// The next statement, given the rows of the previous one (nil for the first); nil when the plan is complete.
    mutating func next(_ rows: [SQLRow]?) throws(LedgerError) -> SQLTemplate?
    /// What the plan found or did.
    var result: Result { get }
}

/// A windowed read (``TrackingStore/metricWindow(_:)``) as a ``StatementPlan``.
///
/// Per (run, key) the plan reads the chunks whose time range meets the window, newest first, and decodes each until
/// no older chunk can hold one of the newest points (``NewestPoints``).
public struct WindowPlan: StatementPlan {
    private let window: MetricWindow
    private var step = Step.start
    private var pairs: [(run: Int64, runID: RunID, key: String)] = []
    private var lists: [[MetricSample]] = []
    private var newest: NewestPoints
    private var chunks: ArraySlice<SQLRow> = []

    private enum Step { case start, experiment, runs, chunks, points, done }

    public init(_ window: MetricWindow) throws(LedgerError) {
        try window.validate()
        self.window = window
        newest = NewestPoints(limit: window.limit, from: window.from, to: window.to)
    }

    /// The points of the window, once ``next(_:)`` returned nil.
    public var result: [MetricSample] { MetricWindow.merge(lists, limit: window.limit) }

    private mutating func start() -> SQLTemplate? {
        switch window.scope {
        case .run(let runID):
            step = .runs
            return StoreSQL.runID(runID)
        case .experiment(let id):
            step = .experiment
            return StoreSQL.experimentExists(id)
        }
    }

    public mutating func next(_ rows: [SQLRow]?) throws(LedgerError) -> SQLTemplate? {
        guard let rows else { return start() }
        switch (step, window.scope) {
        case (.experiment, .experiment(let id)):
            guard !rows.isEmpty else { throw .experimentNotFound(id) }
            step = .runs
            return StoreSQL.windowRuns(id, keys: window.keys)
        case (.runs, .run(let runID)):
            guard let row = rows.first else { throw .runNotFound(runID) }
            let id = try row.int64(0)
            pairs = window.keys.map { (id, runID, $0) }
            return nextPair()
        case (.runs, .experiment):
            for row in rows {
                guard let runID = RunID(try row.text(1)) else { continue }
                let id = try row.int64(0)
                pairs += window.keys.map { (id, runID, $0) }
            }
            return nextPair()
        case (.chunks, _):
            chunks = rows[...]
            return nextChunk()
        case (.points, _):
            let points = try rows.first.map { row throws(LedgerError) in try MetricChunk.decode(try row.blob(0)) } ?? []
            newest.add(points.filter { $0.timestamp >= newest.from && $0.timestamp < newest.to })
            return nextChunk()
        default:
            return nil
        }
    }

    private mutating func nextPair() -> SQLTemplate? {
        guard let pair = pairs.first else {
            step = .done
            return nil
        }
        step = .chunks
        newest = NewestPoints(limit: window.limit, from: window.from, to: window.to)
        return StoreSQL.windowChunks(run: pair.run, key: pair.key, from: newest.from, to: newest.to)
    }

    private mutating func nextChunk() -> SQLTemplate? {
        let pair = pairs[0]
        if let chunk = chunks.popFirst(), let latest = try? chunk.int64(1), newest.wants(maxTimestamp: latest), let id = try? chunk.int64(0) {
            step = .points
            return StoreSQL.chunkData(id)
        }
        lists.append(newest.points.map { MetricSample(runID: pair.runID, key: pair.key, point: $0) })
        pairs.removeFirst()
        return nextPair()
    }
}
