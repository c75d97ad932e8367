/// Events across runs: those of the runs a query selects (its experiments, filter and view; not its order or page),
/// by kind, minimum level and time range. ``TrackingStore/searchEvents(_:)`` answers newest first.
public struct EventSearch: Sendable, Equatable {
    public var runs: RunQuery
    /// Empty: every kind.
    public var kinds: [String]
    public var minimumLevel: EventLevel
    /// Milliseconds since the epoch: events at or after `from` and before `to`.
    public var from: Int64?
    public var to: Int64?
    /// At most this many events (``searchEvents``); ignored by summaries.
    public var limit: Int

    public init(
        runs: RunQuery, kinds: [String] = [], minimumLevel: EventLevel = .debug, from: Int64? = nil, to: Int64? = nil, limit: Int = 1000
    ) {
        self.runs = runs
        self.kinds = kinds
        self.minimumLevel = minimumLevel
        self.from = from
        self.to = to
        self.limit = limit
    }

    public func validate() throws(LedgerError) {
        try runs.validate()
        guard kinds.count <= Limits.eventKindsPerSearch else {
            throw LedgerError(
                .invalidParameterValue, "An event search may name at most \(Limits.eventKindsPerSearch) kinds; this one names \(kinds.count).")
        }
        for kind in kinds { try Validation.checkKey(kind, kind: "Event kind") }
        try Limits.checkReadLimit(limit)
    }
}

/// How many events of one kind and level fell in one time bucket.
public struct EventCount: Sendable, Equatable {
    /// The bucket's first millisecond since the epoch (a multiple of the bucket width; Int64.min for events so early
    /// that their bucket's start is not representable).
    public var bucketStart: Int64
    public var kind: String
    public var level: EventLevel
    public var count: Int64

    public init(bucketStart: Int64, kind: String, level: EventLevel, count: Int64) {
        self.bucketStart = bucketStart
        self.kind = kind
        self.level = level
        self.count = count
    }

    /// `{bucket_start, kind, level, count}`.
    public var json: JSONValue {
        .object([("bucket_start", .integer(bucketStart)), ("kind", .string(kind)), ("level", .string(level.rawValue)), ("count", .integer(count))])
    }

    /// `counts` when within ``Limits/summaryRows``.
    public static func bounded(_ counts: [EventCount]) throws(LedgerError) -> [EventCount] {
        guard counts.count <= Limits.summaryRows else {
            throw LedgerError(
                .invalidParameterValue,
                "The summary would have more than \(Limits.summaryRows) rows (buckets × kinds × levels): narrow the time range, name kinds, or widen the bucket."
            )
        }
        return counts
    }

    public init(json: JSONValue) throws(LedgerError) {
        guard let start = json["bucket_start"]?.int64, let kind = json["kind"]?.text,
            let level = json["level"]?.text.flatMap(EventLevel.init(rawValue:)),
            let count = json["count"]?.int64
        else { throw LedgerError(.internal, "An event count in an answer lacks a field.") }
        self.init(bucketStart: start, kind: kind, level: level, count: count)
    }
}

/// The width of a time bucket, aligned to the Unix epoch in UTC.
public enum BucketWidth {
    /// The widest bucket: wider ones would overflow the bucket arithmetic and say nothing a narrower one does not.
    public static let maximum: Int64 = 3650 * 86_400_000

    /// Milliseconds in `text` (`90s`, `15m`, `1h`, `1d`, or milliseconds), between one second and 3650 days.
    public static func parse(_ text: String) throws(LedgerError) -> Int64 {
        let width = try DurationText.milliseconds(text)
        try check(width)
        return width
    }

    public static func check(_ width: Int64) throws(LedgerError) {
        guard (1000...maximum).contains(width) else {
            throw LedgerError(
                .invalidParameterValue, "Invalid bucket width of \(width) ms: it must be between 1 second and 3650 days (1s … 3650d).")
        }
    }

    /// The start of the bucket holding `timestamp`: the floor to a multiple of `width` (at least 1), or Int64.min for
    /// a timestamp less than `width` above Int64.min (the SQL of event summaries writes the same rule). No step
    /// overflows, whatever the width.
    @inline(__always)
    public static func start(of timestamp: Int64, width: Int64) -> Int64 {
        guard timestamp >= Int64.min + width else { return .min }
        let remainder = timestamp % width
        return timestamp - (remainder < 0 ? remainder + width : remainder)
    }
}

extension StoreSQL {
    /// The runs an event search reads from, and its kind, level and time conditions, over `run_events e JOIN runs r`.
    private static func eventConditions(_ search: EventSearch) -> SQLTemplate {
        let runs = search.runs
        let kinds: SQLTemplate = search.kinds.isEmpty ? "" : " AND e.kind IN \(list: search.kinds.map(SQLValue.text))"
        let filter: SQLTemplate = runs.filter == .all ? "" : " AND \(runsMatching: runs.filter)"
        return """
            FROM run_events e JOIN runs r ON r.id = e.run_id
            WHERE r.experiment_id IN \(list: runs.experimentIDs.map { .integer($0.rawValue) }) AND r.lifecycle_stage IN \(list: runs.view.stages.map { .text($0.rawValue) })\
             AND e.timestamp >= \(search.from ?? .min) AND e.timestamp < \(search.to ?? .max) AND e.level >= \(search.minimumLevel.rank)\(kinds)\(filter)
            """
    }

    /// `(event_id, timestamp, level, kind, message, payload, run_uuid)` of the newest matching events.
    public static func searchEvents(_ search: EventSearch) -> SQLTemplate {
        """
        SELECT e.event_id, e.timestamp, e.level, e.kind, e.message, e.payload, r.run_uuid \(eventConditions(search))
        ORDER BY e.timestamp DESC, e.event_id DESC LIMIT \(search.limit)
        """
    }

    /// `(bucket_start, kind, level, count)` per bucket of `width` ms, kind and level, in that order; at most `limit`
    /// rows. The floor is written so that no step overflows (``BucketWidth/start(of:width:)`` is the same rule).
    public static func eventSummary(_ search: EventSearch, width: Int64, limit: Int) -> SQLTemplate {
        """
        SELECT CASE WHEN e.timestamp < \(Int64.min + width) THEN CAST(\(Int64.min) AS BIGINT)\
         ELSE e.timestamp - ((e.timestamp % \(width)) + \(width)) % \(width) END AS bucket_start, \(binary: "e.kind") AS kind, e.level, count(*)
        \(eventConditions(search))
        GROUP BY 1, 2, 3 ORDER BY 1, 2, 3 LIMIT \(limit)
        """
    }

    /// An event and its run from a row of ``searchEvents(_:)``.
    public static func searchedEvent(_ row: SQLRow) throws(LedgerError) -> StoredEvent {
        guard let runID = RunID(try row.text(6)) else { throw LedgerError(.internal, "A stored run id is malformed.") }
        return try event(row, runID: runID)
    }

    public static func eventCount(_ row: SQLRow) throws(LedgerError) -> EventCount {
        EventCount(bucketStart: try row.int64(0), kind: try row.text(1), level: EventLevel(rank: try row.int(2)) ?? .info, count: try row.int64(3))
    }
}
