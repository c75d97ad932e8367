/// Which points a windowed read returns: the newest `limit` points of some keys, in one run or across an
/// experiment, optionally only those with a timestamp in `[from, to)`. Newest first (by timestamp, then step).
///
/// ```swift
/// // The latest 1000 training samples of the whole experiment, to retrain a model on:
/// let samples = try await store.metricWindow(MetricWindow(scope: .experiment(study.id), keys: ["reward"], limit: 1000))
/// ```
public struct MetricWindow: Sendable, Equatable {
    public enum Scope: Sendable, Equatable {
        case run(RunID)
        /// Every active run of the experiment.
        case experiment(ExperimentID)
    }

    public var scope: Scope
    public var keys: [String]
    public var limit: Int
    /// Inclusive lower bound on the timestamp (ms), or nil.
    public var from: Int64?
    /// Exclusive upper bound on the timestamp (ms), or nil.
    public var to: Int64?

    public init(scope: Scope, keys: [String], limit: Int = 1000, from: Int64? = nil, to: Int64? = nil) {
        self.scope = scope
        self.keys = keys
        self.limit = limit
        self.from = from
        self.to = to
    }

    /// Refuses an empty key list, a bad key, a limit outside 1…``Limits/maxWindowPoints`` or an empty time range.
    public func validate() throws(LedgerError) {
        guard !keys.isEmpty else { throw LedgerError(.invalidParameterValue, "Name at least one metric key to read.") }
        guard keys.count <= Limits.keysPerRead else {
            throw LedgerError(
                .invalidParameterValue, "A windowed read may name at most \(Limits.keysPerRead) metric keys; this one names \(keys.count).")
        }
        for key in keys { try Validation.checkKey(key, kind: "Metric") }
        try Limits.checkReadLimit(limit)
        if let from, let to, from >= to {
            throw LedgerError(.invalidParameterValue, "The time range [\(from), \(to)) is empty: 'from' must be below 'to'.")
        }
    }

    /// The newest `limit` of several newest-first lists (one per run and key), newest first: what every backend
    /// returns after reading each (run, key) from its index.
    public static func merge(_ lists: [[MetricSample]], limit: Int) -> [MetricSample] {
        Array(lists.joined().sorted(by: MetricSample.newerFirst).prefix(limit))
    }
}

/// One point with the run and key it belongs to.
public struct MetricSample: Sendable, Equatable {
    public var runID: RunID
    public var key: String
    public var point: MetricPoint

    public init(runID: RunID, key: String, point: MetricPoint) {
        self.runID = runID
        self.key = key
        self.point = point
    }

    /// Newest first: by timestamp, then step, then run id and key so that the order is total.
    public static func newerFirst(_ a: MetricSample, _ b: MetricSample) -> Bool {
        if a.point.timestamp != b.point.timestamp { return a.point.timestamp > b.point.timestamp }
        if a.point.step != b.point.step { return a.point.step > b.point.step }
        if a.runID != b.runID { return a.runID.rawValue < b.runID.rawValue }
        return a.key < b.key
    }

    /// `{run_id, key, value, timestamp, step}`.
    public var json: JSONValue {
        .object([
            ("run_id", .string(runID.rawValue)), ("key", .string(key)), ("value", .number(point.value)), ("timestamp", .integer(point.timestamp)),
            ("step", .integer(point.step)),
        ])
    }

    public init(json: JSONValue) throws(LedgerError) {
        guard let runID = json["run_id"]?.text.flatMap(RunID.init), let key = json["key"]?.text, let value = json["value"]?.double,
            let timestamp = json["timestamp"]?.int64
        else { throw LedgerError(.internal, "A metric sample in an answer lacks a field.") }
        self.init(runID: runID, key: key, point: MetricPoint(value: value, timestamp: timestamp, step: json["step"]?.int64 ?? 0))
    }
}

/// How much an event matters; ordered, so that a query can ask for "warning and above".
public enum EventLevel: String, Sendable, Equatable, CaseIterable, Comparable {
    case debug, info, warning, error

    /// The stored number: 0 (debug) … 3 (error).
    public var rank: Int { Self.allCases.firstIndex(of: self)! }

    public init?(rank: Int) {
        guard Self.allCases.indices.contains(rank) else { return nil }
        self = Self.allCases[rank]
    }

    public static func < (a: EventLevel, b: EventLevel) -> Bool { a.rank < b.rank }

    /// Parses `debug|info|warning|error` in any case.
    public static func parse(_ text: String) throws(LedgerError) -> EventLevel {
        guard let level = EventLevel(rawValue: text.lowercased()) else {
            throw LedgerError(.invalidParameterValue, "Invalid event level '\(text.prefix(50))': valid levels are debug, info, warning and error.")
        }
        return level
    }
}

/// Something that happened in a run that is not a number: a health check, a tool call, a warning.
public struct RunEvent: Sendable, Equatable {
    /// Milliseconds since the epoch.
    public var timestamp: Int64
    public var level: EventLevel
    /// What sort of event this is (`health_check`, `tool_call` …): a key, by the rules of metric keys.
    public var kind: String
    public var message: String
    /// Structured detail as JSON text, or nil.
    public var payload: String?

    public init(timestamp: Int64, level: EventLevel = .info, kind: String, message: String = "", payload: String? = nil) {
        self.timestamp = timestamp
        self.level = level
        self.kind = kind
        self.message = message
        self.payload = payload
    }

    /// Refuses a bad kind, an over-long message or a payload that is not JSON.
    public func validate() throws(LedgerError) {
        try Validation.checkKey(kind, kind: "Event kind")
        try Validation.checkNoNUL(message, field: "event message")
        guard message.unicodeScalars.count <= Limits.eventMessageLength else {
            throw LedgerError(
                .invalidParameterValue, "Event message has \(message.unicodeScalars.count) characters; the limit is \(Limits.eventMessageLength).")
        }
        if let payload {
            guard payload.utf8.count <= Limits.tagValueLength * 4, (try? JSONValue(parsing: payload.utf8)) != nil else {
                throw LedgerError(.invalidParameterValue, "Event payload must be JSON of at most \(Limits.tagValueLength * 4) bytes.")
            }
        }
    }
}

/// An event as stored: with its run and a sequence number that orders events logged in the same millisecond.
public struct StoredEvent: Sendable, Equatable {
    public var runID: RunID
    public var sequence: Int64
    public var event: RunEvent

    public init(runID: RunID, sequence: Int64, event: RunEvent) {
        self.runID = runID
        self.sequence = sequence
        self.event = event
    }

    /// `{run_id, sequence, timestamp, level, kind, message, payload}` (payload as JSON, or null).
    public var json: JSONValue {
        .object([
            ("run_id", .string(runID.rawValue)), ("sequence", .integer(sequence)), ("timestamp", .integer(event.timestamp)),
            ("level", .string(event.level.rawValue)), ("kind", .string(event.kind)), ("message", .string(event.message)),
            ("payload", event.payload.flatMap { try? JSONValue(parsing: $0.utf8) } ?? .null),
        ])
    }

    public init(json: JSONValue) throws(LedgerError) {
        guard let runID = json["run_id"]?.text.flatMap(RunID.init), let sequence = json["sequence"]?.int64, let timestamp = json["timestamp"]?.int64,
            let level = json["level"]?.text.flatMap(EventLevel.init(rawValue:)), let kind = json["kind"]?.text
        else { throw LedgerError(.internal, "An event in an answer lacks a field.") }
        let payload: String? = if let value = json["payload"], value != .null { value.description } else { nil }
        self.init(
            runID: runID, sequence: sequence,
            event: RunEvent(timestamp: timestamp, level: level, kind: kind, message: json["message"]?.text ?? "", payload: payload))
    }
}

/// Which events to read: of one run, of some kinds, at or above a level, in a time range; newest first.
public struct EventQuery: Sendable, Equatable {
    public var runID: RunID
    /// Empty: every kind.
    public var kinds: [String]
    public var minimumLevel: EventLevel
    public var from: Int64?
    public var to: Int64?
    public var limit: Int

    public init(runID: RunID, kinds: [String] = [], minimumLevel: EventLevel = .debug, from: Int64? = nil, to: Int64? = nil, limit: Int = 1000) {
        self.runID = runID
        self.kinds = kinds
        self.minimumLevel = minimumLevel
        self.from = from
        self.to = to
        self.limit = limit
    }

    public func validate() throws(LedgerError) {
        for kind in kinds { try Validation.checkKey(kind, kind: "Event kind") }
        try Limits.checkReadLimit(limit)
    }
}

/// What one write of a (run, key) covered: its lowest and highest step and timestamp. Stores keep one per write,
/// so that a time range can be turned into the step ranges that may hold it (like PostgreSQL's BRIN summaries, but per
/// run and key), and read through the history's own (step-ordered) index. Far cheaper to keep up than an index on
/// every point's timestamp: one small row per batch and key instead of one index entry per point.
/// What one write of metrics adds up to per key: the distinct keys in the order they first appear, each point's key
/// as an index into them, and per key the span its points cover and the point that would become its latest value.
/// Both backends ingest through this, so the per-key rules live in one place.
///
/// A point's key is compared with the previous point's, then with the keys seen so far, and hashed only once a
/// write has many keys: a String hash per point is a noticeable share of the writer's time.
public struct MetricKeySummary: Sendable {
    /// Distinct keys, in order of first appearance.
    public private(set) var keys: [String] = []
    /// For each point of the write, in order, the index of its key in `keys`.
    public private(set) var keyIndices: [Int]
    /// Per key (same order as `keys`): its best point by ``MetricPoint/supersedes(_:)``.
    public private(set) var latest: [MetricPoint] = []

    /// A linear scan over this many keys is cheaper than hashing one String.
    private static let scanLimit = 16

    // Arrays, not generic collections: called from the stores' modules, a generic would run unspecialized.
    public init(_ metrics: [Metric]) {
        keyIndices = []
        keyIndices.reserveCapacity(metrics.count)
        var byKey: [String: Int] = [:]
        var previous = -1
        for metric in metrics {
            let point = metric.point
            var index = previous
            if index < 0 || keys[index] != metric.key {
                index = keys.count <= Self.scanLimit ? (keys.firstIndex(of: metric.key) ?? -1) : (byKey[metric.key] ?? -1)
            }
            if index < 0 {
                index = keys.count
                keys.append(metric.key)
                latest.append(point)
                if keys.count > Self.scanLimit {
                    if byKey.isEmpty { for (known, key) in keys.enumerated() { byKey[key] = known } } else { byKey[metric.key] = index }
                }
            } else {
                if point.supersedes(latest[index]) { latest[index] = point }
            }
            keyIndices.append(index)
            previous = index
        }
    }

    /// The points of `metrics` (the write this summary was made from) per key, in the order of ``keys``.
    public func points(_ metrics: [Metric]) -> [[MetricPoint]] {
        var byKey = [[MetricPoint]](repeating: [], count: keys.count)
        for position in 0..<min(metrics.count, keyIndices.count) { byKey[keyIndices[position]].append(metrics[position].point) }
        return byKey
    }
}

/// The steps and time range of a stretch of one (run, key) history (a chunk's, as retention reads them).
public struct MetricSpan: Sendable, Equatable {
    public var firstStep: Int64
    public var lastStep: Int64
    public var minTimestamp: Int64
    public var maxTimestamp: Int64

    public init(firstStep: Int64, lastStep: Int64, minTimestamp: Int64, maxTimestamp: Int64) {
        self.firstStep = firstStep
        self.lastStep = lastStep
        self.minTimestamp = minTimestamp
        self.maxTimestamp = maxTimestamp
    }

    /// The step ranges of `spans` with overlapping ranges merged, ascending: each point is read (or counted) once.
    public static func stepRanges(_ spans: [MetricSpan]) -> [ClosedRange<Int64>] {
        var ranges: [ClosedRange<Int64>] = []
        for span in spans.sorted(by: { $0.firstStep < $1.firstStep }) {
            if let last = ranges.last, span.firstStep <= last.upperBound {
                ranges[ranges.count - 1] = last.lowerBound...max(last.upperBound, span.lastStep)
            } else {
                // A damaged row with its steps the wrong way round reads as one step, never a trap.
                ranges.append(span.firstStep...max(span.firstStep, span.lastStep))
            }
        }
        return ranges
    }
}

/// The newest `limit` points of one (run, key) in a time range, gathered span by span: a store offers the spans that
/// overlap the range newest first (by their latest timestamp) and reads those it is asked for, until no older span
/// can hold one of the newest points. A pure value, so the stopping rule is the same on every backend.
public struct NewestPoints: Sendable {
    public let limit: Int
    public let from: Int64
    public let to: Int64
    private var seen: Set<PointIdentity> = []
    /// Newest first (timestamp, then step, then value), at most `limit`.
    public private(set) var points: [MetricPoint] = []

    /// Newest first by timestamp, then step; a NaN value ranks below numbers, so that the order is total.
    static func newerFirst(_ a: MetricPoint, _ b: MetricPoint) -> Bool {
        if a.timestamp != b.timestamp { return a.timestamp > b.timestamp }
        if a.step != b.step { return a.step > b.step }
        if a.value.isNaN || b.value.isNaN { return !a.value.isNaN && b.value.isNaN }
        return a.value > b.value
    }

    private struct PointIdentity: Hashable {
        let step: Int64
        let timestamp: Int64
        let value: UInt64
    }

    public init(limit: Int, from: Int64?, to: Int64?) {
        self.limit = limit
        self.from = from ?? .min
        self.to = to ?? .max
    }

    /// Whether a span whose newest point is at `maxTimestamp` could still hold one of the newest points. Spans must
    /// be offered newest first: once this is false, it is false for every later span.
    public func wants(maxTimestamp: Int64) -> Bool {
        points.count < limit || maxTimestamp >= points[limit - 1].timestamp
    }

    /// Adds the points read for one span (spans may overlap: a point read twice counts once).
    public mutating func add(_ read: [MetricPoint]) {
        var added = false
        for point in read where point.timestamp >= from && point.timestamp < to {
            if seen.insert(PointIdentity(step: point.step, timestamp: point.timestamp, value: point.value.bitPattern)).inserted {
                points.append(point)
                added = true
            }
        }
        guard added else { return }
        points.sort(by: Self.newerFirst)
        if points.count > limit { points.removeLast(points.count - limit) }
    }
}
