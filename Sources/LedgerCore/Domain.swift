/// Where a run stands. Any status may follow any other, as in MLflow: an ended run goes back to RUNNING when it is
/// resumed (after a crash, from a checkpoint).
public enum RunStatus: String, Sendable, CaseIterable, Codable {
    case running = "RUNNING"
    case scheduled = "SCHEDULED"
    case finished = "FINISHED"
    case failed = "FAILED"
    case killed = "KILLED"

    /// Whether the run has ended.
    public var isTerminal: Bool { self == .finished || self == .failed || self == .killed }

    /// Parses `RUNNING`, `finished`, … or throws an error listing the valid statuses.
    public static func parse(_ text: String) throws(LedgerError) -> RunStatus {
        guard let status = RunStatus(rawValue: text.uppercased()) else {
            throw LedgerError(
                .invalidParameterValue,
                "Invalid run status '\(text)'. Valid statuses are \(RunStatus.allCases.map(\.rawValue).joined(separator: ", "))."
            )
        }
        return status
    }
}

/// Soft deletion: deleted experiments and runs stay in the database until purged and can be restored.
public enum LifecycleStage: String, Sendable, CaseIterable, Codable {
    case active
    case deleted
}

/// Which lifecycle stages a listing includes (MLflow's `ViewType`).
public enum ViewType: String, Sendable, CaseIterable {
    case activeOnly = "ACTIVE_ONLY"
    case deletedOnly = "DELETED_ONLY"
    case all = "ALL"

    /// The lifecycle stages this view shows.
    public var stages: [LifecycleStage] {
        switch self {
        case .activeOnly: [.active]
        case .deletedOnly: [.deleted]
        case .all: [.active, .deleted]
        }
    }
}

/// An experiment (a study): a named group of runs.
public struct Experiment: Sendable, Equatable {
    public var id: ExperimentID
    public var name: String
    public var artifactLocation: String
    public var lifecycleStage: LifecycleStage
    /// Milliseconds since the Unix epoch.
    public var creationTime: Int64
    /// Milliseconds since the Unix epoch.
    public var lastUpdateTime: Int64
    public var tags: [String: String]

    public init(
        id: ExperimentID, name: String, artifactLocation: String, lifecycleStage: LifecycleStage, creationTime: Int64,
        lastUpdateTime: Int64, tags: [String: String]
    ) {
        self.id = id
        self.name = name
        self.artifactLocation = artifactLocation
        self.lifecycleStage = lifecycleStage
        self.creationTime = creationTime
        self.lastUpdateTime = lastUpdateTime
        self.tags = tags
    }
}

/// An experiment with the number of its runs and the time of its latest run, for listings.
public struct ExperimentSummary: Sendable, Equatable {
    public var experiment: Experiment
    /// Runs of the experiment that are not deleted.
    public var runCount: Int
    /// The latest start time among its runs, if it has any.
    public var lastRunStartTime: Int64?

    public init(experiment: Experiment, runCount: Int, lastRunStartTime: Int64?) {
        self.experiment = experiment
        self.runCount = runCount
        self.lastRunStartTime = lastRunStartTime
    }
}

/// A run's attributes: everything except its params, tags and metrics.
public struct RunInfo: Sendable, Equatable {
    public var runID: RunID
    public var experimentID: ExperimentID
    public var name: String
    public var status: RunStatus
    /// Milliseconds since the Unix epoch.
    public var startTime: Int64
    /// Milliseconds since the Unix epoch; set once the run reaches a terminal status.
    public var endTime: Int64?
    public var lifecycleStage: LifecycleStage
    public var userID: String
    public var artifactURI: String

    public init(
        runID: RunID, experimentID: ExperimentID, name: String, status: RunStatus, startTime: Int64, endTime: Int64?,
        lifecycleStage: LifecycleStage, userID: String, artifactURI: String
    ) {
        self.runID = runID
        self.experimentID = experimentID
        self.name = name
        self.status = status
        self.startTime = startTime
        self.endTime = endTime
        self.lifecycleStage = lifecycleStage
        self.userID = userID
        self.artifactURI = artifactURI
    }
}

/// The order a metric history is read in.
public enum HistoryOrder: Sendable, Equatable {
    /// Step, timestamp, value: the metrics table's key, and what RunLedger's own routes and the CLI return.
    case step
    /// Timestamp, step, value: the order of MLflow's `metrics/get-history`.
    case time
}

/// One point of a metric's history. `value` may be NaN or ±infinity; they round-trip.
public struct MetricPoint: Sendable, Equatable {
    public var value: Double
    /// Milliseconds since the Unix epoch.
    public var timestamp: Int64
    public var step: Int64

    public init(value: Double, timestamp: Int64, step: Int64) {
        self.value = value
        self.timestamp = timestamp
        self.step = step
    }

    /// The history's order, as the metrics table's key stores it: step, timestamp, value, with NaN stored as 0 and
    /// after a 0 of the same step and timestamp.
    public static func historyPrecedes(_ a: MetricPoint, _ b: MetricPoint) -> Bool {
        (a.step, a.timestamp, a.storedValue, a.value.isNaN ? 1 : 0) < (b.step, b.timestamp, b.storedValue, b.value.isNaN ? 1 : 0)
    }

    /// Whether `a` comes before `b` in `order`.
    public static func precedes(_ a: MetricPoint, _ b: MetricPoint, in order: HistoryOrder) -> Bool {
        switch order {
        case .step: historyPrecedes(a, b)
        case .time: (a.timestamp, a.step, a.storedValue, a.value.isNaN ? 1 : 0) < (b.timestamp, b.step, b.storedValue, b.value.isNaN ? 1 : 0)
        }
    }

    /// The value column as stored: NaN is kept as 0 beside an is-NaN flag.
    public var storedValue: Double { value.isNaN ? 0 : value }

    /// Whether this point replaces `other` as the latest value: the higher (step, timestamp, value) wins,
    /// and a NaN value ranks below every number.
    public func supersedes(_ other: MetricPoint) -> Bool {
        if step != other.step { return step > other.step }
        if timestamp != other.timestamp { return timestamp > other.timestamp }
        switch (value.isNaN, other.value.isNaN) {
        case (true, _): return false
        case (false, true): return true
        case (false, false): return value > other.value
        }
    }

    /// NaN compares unequal to itself; points compare equal when their bits agree.
    public static func == (lhs: MetricPoint, rhs: MetricPoint) -> Bool {
        lhs.step == rhs.step && lhs.timestamp == rhs.timestamp
            && (lhs.value == rhs.value || (lhs.value.isNaN && rhs.value.isNaN))
    }
}

/// A metric point with its key, as logged.
public struct Metric: Sendable, Equatable {
    public var key: String
    public var point: MetricPoint

    public init(key: String, value: Double, timestamp: Int64, step: Int64 = 0) {
        self.key = key
        self.point = MetricPoint(value: value, timestamp: timestamp, step: step)
    }
}

/// A run with its params, tags and latest metric values.
public struct Run: Sendable, Equatable {
    public var info: RunInfo
    public var params: [String: String]
    public var tags: [String: String]
    /// For each metric key, the point with the highest (step, timestamp, value).
    public var latestMetrics: [String: MetricPoint]

    public init(info: RunInfo, params: [String: String] = [:], tags: [String: String] = [:], latestMetrics: [String: MetricPoint] = [:]) {
        self.info = info
        self.params = params
        self.tags = tags
        self.latestMetrics = latestMetrics
    }
}

/// A key and a value, for params and tags.
public struct KeyValue: Sendable, Equatable, Hashable {
    public var key: String
    public var value: String

    public init(_ key: String, _ value: String) {
        self.key = key
        self.value = value
    }
}

/// A deleted run as `runledger gc` sees it: where its artifacts are and when it was deleted (epoch milliseconds).
public struct DeletedRun: Sendable, Equatable {
    public var runID: RunID
    public var artifactURI: String
    public var deletedTime: Int64

    public init(runID: RunID, artifactURI: String, deletedTime: Int64) {
        self.runID = runID
        self.artifactURI = artifactURI
        self.deletedTime = deletedTime
    }
}
