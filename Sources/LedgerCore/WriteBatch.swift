/// A run to create. The client chooses the id so that creation can travel through batches and spools.
public struct NewRun: Sendable, Equatable {
    public var runID: RunID
    public var experimentID: ExperimentID
    /// When set, the run goes into the experiment of this name, created if missing (then `experimentID` is ignored).
    /// This lets a client start runs in a named study while the store is unreachable.
    public var experimentName: String?
    public var name: String
    public var status: RunStatus
    /// Milliseconds since the Unix epoch.
    public var startTime: Int64
    public var userID: String

    public init(
        runID: RunID = .random(), experimentID: ExperimentID, name: String = "", status: RunStatus = .running, startTime: Int64,
        userID: String = ""
    ) {
        self.runID = runID
        self.experimentID = experimentID
        self.experimentName = nil
        self.name = name
        self.status = status
        self.startTime = startTime
        self.userID = userID
    }

    /// A run in the experiment named `experimentName`, which the store creates if it does not exist.
    public init(
        runID: RunID = .random(), experimentName: String, name: String = "", status: RunStatus = .running, startTime: Int64, userID: String = ""
    ) {
        self.init(runID: runID, experimentID: .defaultExperiment, name: name, status: status, startTime: startTime, userID: userID)
        self.experimentName = experimentName
    }
}

/// Changes to a run's attributes. Nil fields stay as they are.
public struct RunUpdate: Sendable, Equatable {
    public var status: RunStatus?
    /// Milliseconds since the Unix epoch. A terminal status without an end time gets the store's clock.
    public var endTime: Int64?
    public var name: String?

    public init(status: RunStatus? = nil, endTime: Int64? = nil, name: String? = nil) {
        self.status = status
        self.endTime = endTime
        self.name = name
    }
}

/// One change inside a ``WriteBatch``.
public enum WriteOperation: Sendable, Equatable {
    case createRun(NewRun)
    case logMetrics(RunID, [Metric])
    case logParams(RunID, [KeyValue])
    case setTags(RunID, [KeyValue])
    case deleteTag(RunID, key: String)
    case updateRun(RunID, RunUpdate)
    /// The runs' processes are alive at this time (milliseconds); runs whose heartbeat stops are reaped as KILLED.
    case heartbeat([RunID], at: Int64)
    /// Appends to the run's event log.
    case logEvents(RunID, [RunEvent])
}

/// The one write primitive of a store: operations applied in order, in one transaction, all or nothing.
///
/// A batch with an ``id`` is applied at most once: the store records the id in the same transaction,
/// so a batch replayed from a spool after a crash is recognised and skipped.
public struct WriteBatch: Sendable, Equatable {
    public var id: BatchID?
    public var operations: [WriteOperation]

    public init(id: BatchID? = nil, _ operations: [WriteOperation]) {
        self.id = id
        self.operations = operations
    }

    /// The number of things a caller logged that the batch carries: metric points, params, tags and run changes.
    /// Heartbeats are the SDK's own and count for nothing, so that written always equals logged.
    public var itemCount: Int {
        operations.reduce(0) { total, operation in
            switch operation {
            case .logMetrics(_, let metrics): total + metrics.count
            case .logParams(_, let params): total + params.count
            case .setTags(_, let tags): total + tags.count
            case .logEvents(_, let events): total + events.count
            case .createRun, .deleteTag, .updateRun: total + 1
            case .heartbeat: total
            }
        }
    }

    /// Checks every key and truncates over-long values as MLflow's server does.
    ///
    /// - Returns: the batch to store and one warning per truncated value.
    /// - Throws: ``LedgerError`` naming the first bad key, or a param key given two values in this batch.
    public func validated() throws(LedgerError) -> (batch: WriteBatch, warnings: [String]) {
        var warnings: [String] = []
        var operations = self.operations
        var paramsSeen: [RunID: [String: String]] = [:]
        // Ingestion repeats a handful of metric keys thousands of times: check each distinct key once.
        var checkedMetricKeys: Set<String> = []
        for index in operations.indices {
            switch operations[index] {
            case .createRun(let run):
                try Validation.checkRunName(run.name)
                try Validation.checkNoNUL(run.userID, field: "user_id")
                if let name = run.experimentName { try Validation.checkExperimentName(name) }
            case .logMetrics(_, let metrics):
                var previous: String? = nil
                for metric in metrics where metric.key != previous {
                    previous = metric.key
                    if checkedMetricKeys.contains(metric.key) { continue }
                    try Validation.checkKey(metric.key, kind: "Metric")
                    checkedMetricKeys.insert(metric.key)
                }
            case .logParams(let runID, var params):
                for i in params.indices {
                    try Validation.checkKey(params[i].key, kind: "Param")
                    try Validation.checkNoNUL(params[i].value, field: "the value of param '\(params[i].key)'")
                    let (value, warning) = Validation.normalizeParamValue(params[i].value, key: params[i].key)
                    params[i].value = value
                    if let warning { warnings.append(warning) }
                    if let earlier = paramsSeen[runID]?[params[i].key], earlier != value {
                        throw LedgerError(
                            .invalidParameterValue,
                            "Duplicate parameter keys have been submitted: ['\(params[i].key)'] with values '\(earlier)' and '\(value)'. "
                                + "Please ensure the request contains only one param value per param key."
                        )
                    }
                    paramsSeen[runID, default: [:]][params[i].key] = value
                }
                operations[index] = .logParams(runID, params)
            case .setTags(let runID, var tags):
                for i in tags.indices {
                    try Validation.checkKey(tags[i].key, kind: "Tag")
                    try Validation.checkNoNUL(tags[i].value, field: "the value of tag '\(tags[i].key)'")
                    let (value, warning) = Validation.normalizeTagValue(tags[i].value, key: tags[i].key)
                    tags[i].value = value
                    if let warning { warnings.append(warning) }
                }
                operations[index] = .setTags(runID, tags)
            case .deleteTag(_, let key):
                try Validation.checkKey(key, kind: "Tag")
            case .updateRun(_, let update):
                if let name = update.name { try Validation.checkRunName(name) }
            case .heartbeat:
                break
            case .logEvents(_, let events):
                guard events.count <= Limits.eventsPerBatch else {
                    throw LedgerError(
                        .invalidParameterValue, "A batch may carry at most \(Limits.eventsPerBatch) events of one run; this one has \(events.count).")
                }
                for event in events { try event.validate() }
            }
        }
        return (WriteBatch(id: id, operations), warnings)
    }
}

extension Validation {
    /// Refuses a run name longer than MLflow's tag value limit (the name is mirrored in the `mlflow.runName` tag).
    public static func checkRunName(_ name: String) throws(LedgerError) {
        try checkNoNUL(name, field: "run_name")
        guard name.unicodeScalars.count <= Limits.tagValueLength else {
            throw LedgerError(.invalidParameterValue, "Run name has \(name.unicodeScalars.count) characters; the limit is \(Limits.tagValueLength).")
        }
    }
}

extension Validation {
    /// Refuses text holding U+0000, on every backend alike: PostgreSQL cannot store it and SQLite's C API would cut
    /// the text there, so it is the caller's error for that one operation, naming the field.
    public static func checkNoNUL(_ text: String, field: String) throws(LedgerError) {
        guard !text.utf8.contains(0) else {
            throw LedgerError(.invalidParameterValue, "Invalid \(field): it contains U+0000 (NUL), which RunLedger does not store.")
        }
    }
}

/// What a store did with a batch.
public enum WriteOutcome: Sendable, Equatable {
    /// The batch was written now.
    case applied
    /// A batch with the same id had been written before; nothing was written this time.
    case alreadyApplied
}
