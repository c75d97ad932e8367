import Foundation

/// A rule for how much metric history (and how many events) to keep, stored in the database and applied by
/// `runledger prune` and periodically by the server.
///
/// A policy covers one experiment or all of them, and the metric keys (and event kinds) that match its glob. It
/// removes points older than `maxAge` and, per (run, key), all but the newest `maxPointsPerKey` points (newest by
/// step, then timestamp, then value: the order of the history itself). The latest value of every (run, key) stays in
/// the run's KPIs, so filters and sorts on them are unaffected; only history goes.
public struct RetentionPolicy: Sendable, Equatable {
    /// Given by the store when the policy is added.
    public var id: Int64
    /// Nil: every experiment.
    public var experimentID: ExperimentID?
    /// `*` matches any run of characters, `?` one character; everything else matches itself.
    public var keyGlob: String
    /// Milliseconds; points (and events) older than now minus this go.
    public var maxAge: Int64?
    /// Points kept per (run, key).
    public var maxPointsPerKey: Int?
    public var createdAt: Int64

    public init(
        id: Int64 = 0, experimentID: ExperimentID?, keyGlob: String = "*", maxAge: Int64? = nil, maxPointsPerKey: Int? = nil, createdAt: Int64 = 0
    ) {
        self.id = id
        self.experimentID = experimentID
        self.keyGlob = keyGlob
        self.maxAge = maxAge
        self.maxPointsPerKey = maxPointsPerKey
        self.createdAt = createdAt
    }

    /// Refuses a policy that limits nothing, a non-positive limit or an empty glob.
    public func validate() throws(LedgerError) {
        guard maxAge != nil || maxPointsPerKey != nil else {
            throw LedgerError(.invalidParameterValue, "A retention policy needs a maximum age, a maximum number of points per run and key, or both.")
        }
        if let maxAge, maxAge <= 0 { throw LedgerError(.invalidParameterValue, "Invalid maximum age \(maxAge) ms: it must be positive.") }
        if let maxPointsPerKey, maxPointsPerKey <= 0 {
            throw LedgerError(.invalidParameterValue, "Invalid maximum of \(maxPointsPerKey) points: keep at least 1 point per run and key.")
        }
        guard !keyGlob.isEmpty, keyGlob.unicodeScalars.count <= Limits.keyLength else {
            throw LedgerError(
                .invalidParameterValue, "Invalid key glob '\(keyGlob.prefix(50))': give 1 to \(Limits.keyLength) characters, e.g. '*' or 'soc*'.")
        }
    }

    /// The oldest timestamp an age limit keeps at `now`; saturating, so that no clock value a client sends can overflow.
    public static func cutoff(_ now: Int64, _ maxAge: Int64) -> Int64 {
        let (value, overflow) = now.subtractingReportingOverflow(maxAge)
        return overflow ? .min : value
    }

    /// Whether the policy covers this metric key or event kind.
    public func covers(_ key: String) -> Bool { Glob.matches(keyGlob, key) }

    /// `{id, experiment_id, key_glob, max_age_ms, max_points_per_key, created_at}` (null where unlimited or for every experiment).
    public var json: JSONValue {
        .object([
            ("id", .integer(id)), ("experiment_id", experimentID.map { .string($0.description) } ?? .null), ("key_glob", .string(keyGlob)),
            ("max_age_ms", maxAge.map(JSONValue.integer) ?? .null), ("max_points_per_key", maxPointsPerKey.map { .integer(Int64($0)) } ?? .null),
            ("created_at", .integer(createdAt)),
        ])
    }

    public init(json: JSONValue) throws(LedgerError) {
        guard let id = json["id"]?.int64, let glob = json["key_glob"]?.text else {
            throw LedgerError(.internal, "A retention policy in an answer lacks a field.")
        }
        self.init(
            id: id, experimentID: json["experiment_id"]?.text.flatMap(ExperimentID.init), keyGlob: glob, maxAge: json["max_age_ms"]?.int64,
            maxPointsPerKey: json["max_points_per_key"]?.int64.map { Int($0) }, createdAt: json["created_at"]?.int64 ?? 0
        )
    }
}

/// What one pass of a policy removed (or, in a dry run, would remove).
public struct PruneCount: Sendable, Equatable {
    public var points: Int
    public var events: Int
    /// Where the next pass goes on when this one stopped at its budget (opaque, backend-specific); nil when done.
    public var resume: String?

    public init(points: Int = 0, events: Int = 0, resume: String? = nil) {
        self.points = points
        self.events = events
        self.resume = resume
    }

    public var finished: Bool { resume == nil }
}

/// Where a pass of ``TrackingStore/prune(_:now:budget:dryRun:resume:)`` is: the events first, then (run, key) pairs
/// in the order of the latest-metrics table. Backends write and read it; callers pass it back unchanged.
public enum PruneCursor: Sendable, Equatable {
    case events
    case pair(run: Int64, key: String)

    public init(_ text: String?) throws(LedgerError) {
        guard let text else {
            self = .events
            return
        }
        if text == "events" {
            self = .events
            return
        }
        let parts = text.split(separator: ":", maxSplits: 1)
        guard parts.count == 2, let run = Int64(parts[0]) else {
            throw LedgerError(.invalidParameterValue, "Invalid prune position '\(text.prefix(60))'.")
        }
        self = .pair(run: run, key: String(parts[1]))
    }

    public var text: String {
        switch self {
        case .events: "events"
        case .pair(let run, let key): "\(run):\(key)"
        }
    }
}

/// Shell-style globs over keys: `*` and `?`, no escapes (keys cannot contain either).
public enum Glob {
    public static func matches(_ pattern: String, _ text: String) -> Bool {
        wildcardMatch(Array(pattern.unicodeScalars), Array(text.unicodeScalars), anyRun: "*", anyOne: "?")
    }
}

/// Durations as people write them: `90s`, `30m`, `12h`, `7d`, `2w`, or plain milliseconds; zero is allowed (callers
/// that need a positive duration say so).
public enum DurationText {
    /// Milliseconds in `text`.
    /// - Throws: ``LedgerError/Code/invalidParameterValue`` naming the accepted forms.
    public static func milliseconds(_ text: String) throws(LedgerError) -> Int64 {
        let units: [Character: Int64] = ["s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000]
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if let unit = trimmed.last, let factor = units[unit], let number = Int64(trimmed.dropLast()), number >= 0, number <= Int64.max / factor {
            return number * factor
        }
        if let plain = Int64(trimmed), plain >= 0 { return plain }
        throw LedgerError(.invalidParameterValue, "Invalid duration '\(text.prefix(50))': write it as 90s, 30m, 12h, 7d, 2w or milliseconds.")
    }
}

extension TrackingStore {
    /// Applies every stored policy until nothing is left to remove, in passes of at most `budget` points, calling
    /// `progress` after each pass. Bounded passes keep each transaction short, so pruning never stalls ingestion;
    /// `pacing` (given how long the pass took) lets a background pruner rest between passes so that writers get
    /// most of the database's time.
    public func pruneAll(
        now: Int64, budget: Int = 10_000, dryRun: Bool = false, pacing: (Duration) async -> Void = { _ in await Task.yield() },
        progress: (RetentionPolicy, PruneCount) -> Void = { _, _ in }
    ) async throws -> [(RetentionPolicy, PruneCount)] {
        var report: [(RetentionPolicy, PruneCount)] = []
        for policy in try await retentionPolicies() {
            var total = PruneCount()
            var resume: String? = nil
            repeat {
                let started = ContinuousClock.now
                let pass = try await prune(policy, now: now, budget: budget, dryRun: dryRun, resume: resume)
                total.points += pass.points
                total.events += pass.events
                resume = pass.resume
                progress(policy, total)
                await pacing(ContinuousClock.now - started)
            } while resume != nil
            report.append((policy, total))
        }
        return report
    }
}
