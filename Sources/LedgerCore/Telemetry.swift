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
        guard message.unicodeScalars.count <= Limits.eventMessageLength else {
            throw LedgerError(.invalidParameterValue, "Event message has \(message.unicodeScalars.count) characters; the limit is \(Limits.eventMessageLength).")
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
        self.init(runID: runID, sequence: sequence, event: RunEvent(timestamp: timestamp, level: level, kind: kind, message: json["message"]?.text ?? "", payload: payload))
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
