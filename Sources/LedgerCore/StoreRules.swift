/// What writes mean, written once for every backend: each store fetches the state these rules need, asks them what
/// to do, and writes the answer with its own SQL. (MLflow keeps the same rules in `sqlalchemy_store.py`.)
public enum StoreRules {
    /// The tag MLflow keeps in step with a run's name.
    public static let runNameTag = "mlflow.runName"

    /// An experiment whose creator names no artifact location gets this followed by its id.
    public static let defaultArtifactRoot = "mlflow-artifacts:/"

    /// A new run's artifact URI under its experiment's location (empty when the experiment has none).
    public static func artifactURI(experimentLocation location: String, runID: RunID) -> String {
        location.isEmpty ? "" : "\(location)/\(runID)/artifacts"
    }

    /// Checks what `createExperiment` is given before any SQL runs.
    public static func checkNewExperiment(name: String, artifactLocation: String?, tags: [KeyValue]) throws(LedgerError) {
        try Validation.checkExperimentName(name)
        for tag in tags { try Validation.checkExperimentTag(tag) }
        if let artifactLocation { try Validation.checkNoNUL(artifactLocation, field: "artifact_location") }
    }

    /// Checks a new logged model: MLflow's name rule, keys as MLflow checks them, values without NUL and within limits.
    public static func checkNewLoggedModel(_ model: NewLoggedModel) throws(LedgerError) {
        let forbidden: [Character] = ["/", ":", ".", "%", "\"", "'"]
        guard !model.name.isEmpty, !model.name.contains(where: forbidden.contains), model.name.unicodeScalars.count <= Limits.keyLength else {
            throw LedgerError(
                .invalidParameterValue,
                "Invalid model name ('\(model.name.prefix(100))') provided. Model name must be a non-empty string of at most \(Limits.keyLength) "
                    + "characters and cannot contain the following characters: / : . % \" '"
            )
        }
        try Validation.checkNoNUL(model.name, field: "model name")
        try Validation.checkNoNUL(model.modelType, field: "model_type")
        try checkChange(.logParams(model.params))
        try checkChange(.setTags(model.tags))
    }

    /// Checks the keys and values a logged-model change carries.
    public static func checkChange(_ change: LoggedModelChange) throws(LedgerError) {
        switch change {
        case .setTags(let pairs), .logParams(let pairs):
            let kind = change == .setTags(pairs) ? "Tag" : "Param"
            for pair in pairs {
                try Validation.checkKey(pair.key, kind: kind)
                try Validation.checkNoNUL(pair.value, field: "the value of '\(pair.key)'")
                guard pair.value.unicodeScalars.count <= Limits.tagValueLength else {
                    throw LedgerError(.invalidParameterValue, "\(kind) '\(pair.key)' value exceeds \(Limits.tagValueLength) characters.")
                }
            }
        case .deleteTag(let key): try Validation.checkNoNUL(key, field: "tag key")
        case .finalize, .delete: break
        }
    }

    /// Checks datasets and model ids a run's inputs name.
    public static func checkInputs(datasets: [DatasetInput], models: [String]) throws(LedgerError) {
        for dataset in datasets {
            for (field, text) in [
                ("name", dataset.name), ("digest", dataset.digest), ("source_type", dataset.sourceType), ("source", dataset.source),
            ] {
                try Validation.checkNoNUL(text, field: "dataset \(field)")
            }
            guard !dataset.name.isEmpty, dataset.name.utf8.count <= 500, dataset.digest.utf8.count <= 36 else {
                throw LedgerError(.invalidParameterValue, "A dataset needs a name of at most 500 bytes and a digest of at most 36.")
            }
            for text in [dataset.schema, dataset.profile].compactMap({ $0 }) { try Validation.checkNoNUL(text, field: "dataset schema or profile") }
            try checkChange(.setTags(dataset.tags))
        }
        for model in models where !LoggedModel.isValidID(model) { throw LedgerError.loggedModelNotFound(model) }
    }

    /// Checks a change to an experiment that exists; the store checks a rename's clash with its own query.
    public static func checkChange(_ change: ExperimentChange, of id: ExperimentID) throws(LedgerError) {
        switch change {
        case .rename(let name): try Validation.checkExperimentName(name)
        case .setLifecycle(.deleted) where id == .defaultExperiment:
            throw LedgerError(.invalidParameterValue, "Cannot delete the default experiment '0'. This is an internally reserved experiment.")
        case .setTag(let tag): try Validation.checkExperimentTag(tag)
        case .setLifecycle, .deleteTag: break
        }
    }

    /// A new run's end time (a run created in a terminal status ends when it starts) and artifact URI; refuses an
    /// experiment that is missing or not active.
    /// - Parameter experiment: the experiment's lifecycle stage and artifact location, nil when it does not exist.
    public static func newRun(
        _ run: NewRun, experiment: (stage: String, location: String)?
    ) throws(LedgerError) -> (endTime: Int64?, artifactURI: String) {
        guard let experiment else { throw .experimentNotFound(run.experimentID) }
        guard experiment.stage == LifecycleStage.active.rawValue else {
            throw LedgerError(.invalidParameterValue, "The experiment \(run.experimentID) must be in the 'active' state to create runs in it.")
        }
        return (run.status.isTerminal ? run.startTime : nil, artifactURI(experimentLocation: experiment.location, runID: run.runID))
    }

    /// Refuses a changed param value: params are immutable, the first value logged stays.
    public static func checkParam(_ param: KeyValue, existing: String?, runID: RunID) throws(LedgerError) {
        guard let existing, existing != param.value else { return }
        throw LedgerError(
            .invalidParameterValue,
            "Changing param values is not allowed. Param with key='\(param.key)' was already logged with value='\(existing)' "
                + "for run ID='\(runID)'. Attempted logging new value '\(param.value)'."
        )
    }

    /// Keys and values with later duplicates winning, as one-by-one upserts would leave them (a multi-row upsert may
    /// not touch a row twice).
    public static func lastValues(_ pairs: [KeyValue]) -> (keys: [String], values: [String]) {
        var position: [String: Int] = [:]
        var keys: [String] = []
        var values: [String] = []
        for pair in pairs {
            if let index = position[pair.key] {
                values[index] = pair.value
            } else {
                position[pair.key] = keys.count
                keys.append(pair.key)
                values.append(pair.value)
            }
        }
        return (keys, values)
    }

    /// The SQL condition under which an upserted latest-metric row (`new`) replaces the stored one (`old`): the same
    /// order as ``MetricPoint/supersedes(_:)``, on the stored columns.
    public static func latestMetricSupersedes(new: String, old: String) -> String {
        """
        \(new).step > \(old).step
           OR (\(new).step = \(old).step AND (\(new).timestamp > \(old).timestamp
           OR (\(new).timestamp = \(old).timestamp AND \(new).is_nan = 0 AND (\(old).is_nan = 1 OR \(new).value > \(old).value))))
        """
    }

    /// What a store's health check reports for a migration plan read from the database.
    public static func health(_ plan: MigrationPlan) -> LedgerError? {
        plan.pending.first.map { LedgerError(.schemaPending, "Migration \($0.filename) is pending.") }
    }
}

/// The state of a run that writes check and change, as a store reads it from its `runs` row.
public struct RunRecord: Sendable, Equatable {
    /// The store's internal key of the run.
    public var id: Int64
    public var status: RunStatus
    public var endTime: Int64?
    public var lifecycle: LifecycleStage

    public init(id: Int64, status: String, endTime: Int64?, lifecycle: String) {
        self.init(
            id: id, status: RunStatus(rawValue: status) ?? .running, endTime: endTime, lifecycle: LifecycleStage(rawValue: lifecycle) ?? .active)
    }

    public init(id: Int64, status: RunStatus, endTime: Int64?, lifecycle: LifecycleStage) {
        self.id = id
        self.status = status
        self.endTime = endTime
        self.lifecycle = lifecycle
    }

    /// The record, when the run may be written to: a deleted run is refused.
    public func writable(_ runID: RunID) throws(LedgerError) -> RunRecord {
        guard lifecycle == .active else { throw .runNotActive(runID) }
        return self
    }

    /// The record after `update`: a run that ends without an end time ends `now`; a resumed run keeps its last end
    /// time until it ends again, as in MLflow.
    public func applying(_ update: RunUpdate, now: Int64) -> RunRecord {
        var next = self
        if let status = update.status { next.status = status }
        if let endTime = update.endTime {
            next.endTime = endTime
        } else if next.status.isTerminal && (endTime == nil || !status.isTerminal) {
            next.endTime = now
        }
        return next
    }
}

extension LedgerError {
    /// The run is deleted, and the write needs an active one.
    public static func runNotActive(_ runID: RunID) -> LedgerError {
        LedgerError(.invalidParameterValue, "The run \(runID) must be in the 'active' state. Current state is deleted.")
    }

    /// No run has this id.
    public static func runNotFound(_ runID: RunID) -> LedgerError { LedgerError(.resourceDoesNotExist, "Run with id=\(runID) not found.") }

    /// The experiment is deleted, and the change needs an active one.
    public static func experimentNotActive(_ id: ExperimentID) -> LedgerError {
        LedgerError(.invalidParameterValue, "The experiment \(id) must be in the 'active' state. Current state is deleted.")
    }

    /// No experiment has this id.
    public static func experimentNotFound(_ id: ExperimentID) -> LedgerError { LedgerError(.resourceDoesNotExist, "No experiment with id \(id).") }

    /// Another experiment has this name.
    public static func experimentExists(_ name: String) -> LedgerError {
        LedgerError(.resourceAlreadyExists, "Experiment(name=\(name)) already exists.")
    }

    /// A run with this id exists already.
    public static func runExists(_ runID: RunID) -> LedgerError { LedgerError(.resourceAlreadyExists, "A run with id \(runID) already exists.") }

    /// The run has no tag of this name.
    public static func tagNotFound(_ key: String, runID: RunID) -> LedgerError {
        LedgerError(.resourceDoesNotExist, "No tag with name: \(key) in run with id \(runID)")
    }

    /// No retention policy has this id.
    public static func retentionPolicyNotFound(_ id: Int64) -> LedgerError {
        LedgerError(.resourceDoesNotExist, "No retention policy with id \(id) (see `runledger retention list`).")
    }
}

/// The search loop every backend runs: the plan's phases in order, each asked for what the page still lacks, one
/// row more than the page so that the loop knows whether another page follows.
public struct SearchLoop: Sendable {
    public let plan: SearchPlan
    private var remainingPhases: [Int]
    /// The internal ids found so far, in order.
    public private(set) var ids: [Int64] = []

    public init(_ query: RunQuery, dialect: SQLDialect) throws(LedgerError) {
        plan = try SearchPlan(query, dialect: dialect)
        remainingPhases = plan.phases
    }

    private var wanted: Int { plan.query.maxResults + 1 }

    /// The next statement to run, or nil when the page is complete; pass its ids to ``add(_:)``.
    public mutating func next() -> SQLStatement? {
        guard ids.count < wanted, !remainingPhases.isEmpty else { return nil }
        return plan.statement(phase: remainingPhases.removeFirst(), limit: wanted - ids.count)
    }

    public mutating func add(_ found: [Int64]) { ids += found }

    /// The ids of the page's runs, to load in this order.
    public var pageIDs: [Int64] { Array(ids.prefix(plan.query.maxResults)) }

    /// The page, given its loaded runs.
    public func page(_ runs: [Run]) -> RunPage {
        let hasMore = ids.count > plan.query.maxResults
        return RunPage(runs: runs, nextPageToken: hasMore ? runs.last.map(plan.nextPageToken(after:)) : nil)
    }
}
