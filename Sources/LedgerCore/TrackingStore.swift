/// The storage protocol every backend implements and every upper layer (CLI, SDK, server) talks to.
///
/// The primitives are few on purpose; conveniences such as ``logBatch(runID:metrics:params:tags:)`` are
/// built on them in an extension. Every backend runs the same conformance suite.
public protocol TrackingStore: Sendable {
    /// The database this store writes to, the same for every store opened on it and free of credentials
    /// (`sqlite:/abs/path`, `postgres://HOST:PORT/DB`, a server's URL). The SDK's spool records it, so that a leftover
    /// spool is replayed only into the database it was written for.
    var identity: String { get }

    /// Creates an experiment with a unique name.
    /// - Throws: ``LedgerError/Code/resourceAlreadyExists`` when the name is taken (also by a deleted experiment).
    func createExperiment(name: String, artifactLocation: String?, tags: [KeyValue]) async throws -> Experiment

    /// The experiment with this id, whatever its lifecycle stage.
    /// - Throws: ``LedgerError/Code/resourceDoesNotExist``.
    func experiment(id: ExperimentID) async throws -> Experiment

    /// The experiment with this name, or nil.
    func experiment(named name: String) async throws -> Experiment?

    /// Experiments in the view, with their run counts, ordered by id.
    func experiments(view: ViewType) async throws -> [ExperimentSummary]

    /// Renames, deletes or restores an experiment, or sets one of its tags.
    func updateExperiment(id: ExperimentID, _ change: ExperimentChange) async throws

    /// Applies the operations of `batch` in one transaction, all or nothing, at most once per batch id.
    func write(_ batch: WriteBatch) async throws -> WriteOutcome

    /// Deletes or restores a run (soft deletion); a deletion records its time, a restore clears it.
    func setRunLifecycle(_ runID: RunID, _ stage: LifecycleStage) async throws

    /// Runs deleted at or before `cutoff` (epoch milliseconds), oldest deletion first: what `runledger gc` collects.
    func deletedRuns(before cutoff: Int64) async throws -> [DeletedRun]

    /// The run with its params, tags and latest metrics, whatever its lifecycle stage.
    /// - Throws: ``LedgerError/Code/resourceDoesNotExist``.
    func run(_ runID: RunID) async throws -> Run

    /// One page of runs that match `query`, in its order.
    func searchRuns(_ query: RunQuery) async throws -> RunPage

    /// Every point of one metric of a run, ordered by step, then timestamp, then value (a NaN sorts as 0): the order of
    /// the metrics table's primary key, so that reading a history needs no sort.
    /// - Throws: ``LedgerError/Code/resourceDoesNotExist`` when the run does not exist.
    func metricHistory(runID: RunID, key: String) async throws -> [MetricPoint]

    /// At most `limit` points of the history in `order`, those after `after`: a page of a long history read without
    /// handing over the rest (keyset paging).
    /// - Throws: ``LedgerError/Code/resourceDoesNotExist`` when the run does not exist.
    func metricHistory(runID: RunID, key: String, after: MetricPoint?, limit: Int, order: HistoryOrder) async throws -> [MetricPoint]

    /// Marks RUNNING runs whose last heartbeat is older than `heartbeatBefore` as KILLED, ending them at `endTime`;
    /// returns their ids. Finds runs whose process vanished. Runs that never sent a heartbeat (those of MLflow's
    /// clients, which send none) are left alone: silence from them says nothing about their process.
    func reapRuns(heartbeatBefore: Int64, endTime: Int64) async throws -> [RunID]

    /// The newest points of some keys in a run or an experiment, optionally in a time range, newest first; read
    /// from the newest chunks of each history, never a whole one.
    func metricWindow(_ window: MetricWindow) async throws -> [MetricSample]

    /// One metric's history, or its points with steps in `steps`, in at most `maximum` buckets of equal step width
    /// (``HistoryBucket/downsample(_:maximum:)``), with the number of points they hold.
    /// - Throws: ``LedgerError/Code/resourceDoesNotExist`` when the run does not exist.
    func bucketedHistory(runID: RunID, key: String, maximum: Int, steps: ClosedRange<Int64>) async throws -> (points: Int, buckets: [HistoryBucket])

    /// A run's events, newest first, filtered by kind, level and time.
    /// - Throws: ``LedgerError/Code/resourceDoesNotExist`` when the run does not exist.
    func runEvents(_ query: EventQuery) async throws -> [StoredEvent]

    /// Statistics of `metric`'s latest value over the runs `query` matches, one row per group of `groupBy` (sorted,
    /// runs without the param or tag last); runs without the metric are left out. A default reads every matching run;
    /// relational stores read only the values and their groups.
    func statistics(_ query: RunQuery, metric: String, groupBy: GroupKey?) async throws -> [GroupSummary]

    /// Convergence: every run `query` matches that has `metric`, in start-time order (ties by run id), with its latest
    /// value and the best so far by `goal` (per group of `groupBy`). A default reads every matching run.
    func trend(_ query: RunQuery, metric: String, goal: Goal, groupBy: GroupKey?) async throws -> [TrendPoint]

    /// Count, sum, mean, min, max and numpy's p50, p90 and p99 of each named metric over the runs an aggregation
    /// selects, per bucket of time or steps and per group; NaN values are left out. Ordered by metric, group (UTF-8
    /// order, runs without the param or tag last) and bucket start.
    /// - Throws: ``LedgerError/Code/invalidParameterValue`` for a bad request, or past ``Limits/summaryRows`` buckets
    ///   or ``Limits/aggregatePoints`` points.
    func aggregate(_ aggregation: MetricAggregation) async throws -> [AggregateRow]

    /// Events across the runs a search selects, newest first (by timestamp, then the order they were logged in).
    func searchEvents(_ search: EventSearch) async throws -> [StoredEvent]

    /// How many of the events a search selects fall in each time bucket of `width` ms (aligned to the epoch), per kind
    /// and level; ordered by bucket, kind (UTF-8 order) and level.
    /// - Throws: ``LedgerError/Code/invalidParameterValue`` for a bad width, or when the answer would exceed
    ///   ``Limits/summaryRows`` rows.
    func eventSummary(_ search: EventSearch, width: Int64) async throws -> [EventCount]

    /// Every stored retention policy, oldest first.
    func retentionPolicies() async throws -> [RetentionPolicy]

    /// Stores a policy and returns it with its id and creation time.
    func addRetentionPolicy(_ policy: RetentionPolicy) async throws -> RetentionPolicy

    /// Removes a policy. - Throws: ``LedgerError/Code/resourceDoesNotExist``.
    func removeRetentionPolicy(id: Int64) async throws

    /// One bounded pass of a policy in one short transaction: removes (or with `dryRun` counts) at most `budget`
    /// points or events, going on from `resume` (the previous pass's ``PruneCount/resume``; nil to start).
    /// ``pruneAll(now:budget:dryRun:progress:)`` repeats passes until done.
    func prune(_ policy: RetentionPolicy, now: Int64, budget: Int, dryRun: Bool, resume: String?) async throws -> PruneCount

    /// Every project, archived ones included, most recently active first.
    func projects() async throws -> [Project]

    /// Creates, archives, activates (`switch`) or deletes a project (with its documents).
    /// - Throws: ``LedgerError/Code/resourceAlreadyExists`` for a taken name, ``LedgerError/Code/resourceDoesNotExist``.
    func changeProject(_ name: String, _ change: ProjectChange) async throws

    /// Every state document of a project, by namespace (UTF-8 order).
    /// - Throws: ``LedgerError/Code/resourceDoesNotExist`` for an unknown project.
    func stateDocuments(project: String) async throws -> [StateDocument]

    /// A project's document in a namespace, or nil. - Throws: ``LedgerError/Code/resourceDoesNotExist`` for an unknown project.
    func stateDocument(project: String, namespace: String) async throws -> StateDocument?

    /// Writes a document with optimistic concurrency: with `expectedVersion` (0 for "must not exist yet") the write
    /// succeeds only if that is the current version, else it fails with ``LedgerError/Code/conflict``; without one it
    /// writes whatever is there. The new version is the old one plus one (1 for a new document).
    func putStateDocument(project: String, namespace: String, document: String, expectedVersion: Int64?) async throws -> StateDocument

    /// Nil when the database answers and its schema is the one this binary expects; otherwise the reason
    /// (``LedgerError/Code/storeUnavailable``, ``LedgerError/Code/schemaPending``, …). A server's `/ready` asks this.
    func healthCheck() async -> LedgerError?

    /// Finishes pending work and releases connections and files; later calls fail.
    func close() async throws

    /// The store's background work (a connection pool's), run by its owner in a structured scope for as long as the
    /// store is in use; it returns when its task is cancelled. Stores that need none return at once.
    func run() async throws

    // MARK: Logged models and run inputs/outputs (MLflow 3)

    /// Creates a logged model (PENDING) in an active experiment.
    /// - Throws: ``LedgerError/Code/resourceDoesNotExist`` for an unknown experiment, `INVALID_PARAMETER_VALUE` for a
    ///   deleted one or a bad name.
    func createLoggedModel(_ model: NewLoggedModel) async throws -> LoggedModel

    /// The model with `id`; a deleted one only when `allowDeleted`.
    /// - Throws: ``LedgerError/Code/resourceDoesNotExist`` otherwise.
    func loggedModel(id: String, allowDeleted: Bool) async throws -> LoggedModel

    /// Changes a model and returns it as it is now.
    func updateLoggedModel(id: String, _ change: LoggedModelChange) async throws -> LoggedModel

    /// The models of `experimentIDs` that are not deleted, newest first.
    func loggedModels(experimentIDs: [ExperimentID]) async throws -> [LoggedModel]

    /// Records models a run produced.
    func logOutputs(runID: RunID, _ outputs: [RunModelOutput]) async throws

    /// Records datasets and models a run read.
    func logInputs(runID: RunID, datasets: [DatasetInput], models: [String]) async throws

    /// What a run read and produced.
    func runIO(runID: RunID) async throws -> RunIO
}

/// A change to an experiment.
public enum ExperimentChange: Sendable, Equatable {
    case rename(String)
    case setLifecycle(LifecycleStage)
    case setTag(KeyValue)
    case deleteTag(String)
}

/// A page of search results and the token for the next page (nil on the last page).
public struct RunPage: Sendable, Equatable {
    public var runs: [Run]
    public var nextPageToken: String?

    public init(runs: [Run], nextPageToken: String?) {
        self.runs = runs
        self.nextPageToken = nextPageToken
    }
}

extension TrackingStore {
    public func run() async throws {}

    /// A page of the whole history, for stores that cannot read a range (a server speaks MLflow's paging instead).
    public func metricHistory(runID: RunID, key: String, after: MetricPoint?, limit: Int, order: HistoryOrder) async throws -> [MetricPoint] {
        var history = try await metricHistory(runID: runID, key: key)
        if order != .step { history.sort { MetricPoint.precedes($0, $1, in: order) } }
        let start =
            after.map { last in history.firstIndex { MetricPoint.precedes(last, $0, in: order) } ?? history.endIndex } ?? history.startIndex
        return Array(history[start...].prefix(limit))
    }

    /// Buckets of the whole history read at once, for stores without chunk summaries.
    public func bucketedHistory(runID: RunID, key: String, maximum: Int, steps: ClosedRange<Int64>) async throws -> (
        points: Int, buckets: [HistoryBucket]
    ) {
        var history = try await metricHistory(runID: runID, key: key)
        // The history is ordered by step, so the range is one slice.
        if steps != Int64.min...Int64.max {
            let start = history.partitioningIndex { $0.step >= steps.lowerBound }
            let end = history.partitioningIndex { $0.step > steps.upperBound }
            history = Array(history[start..<max(start, end)])
        }
        return (history.count, HistoryBucket.downsample(history, maximum: maximum))
    }

    /// A page of the history in step order (``HistoryOrder/step``).
    public func metricHistory(runID: RunID, key: String, after: MetricPoint?, limit: Int) async throws -> [MetricPoint] {
        try await metricHistory(runID: runID, key: key, after: after, limit: limit, order: .step)
    }

    /// Creates a run, optionally with its first tags and params, in one transaction.
    @discardableResult
    public func createRun(_ run: NewRun, tags: [KeyValue] = [], params: [KeyValue] = []) async throws -> RunInfo {
        var operations: [WriteOperation] = [.createRun(run)]
        if !tags.isEmpty { operations.append(.setTags(run.runID, tags)) }
        if !params.isEmpty { operations.append(.logParams(run.runID, params)) }
        _ = try await write(WriteBatch(operations))
        return try await self.run(run.runID).info
    }

    /// Logs metrics, params and tags for one run as MLflow's log-batch does, within MLflow's batch limits.
    public func logBatch(runID: RunID, metrics: [Metric] = [], params: [KeyValue] = [], tags: [KeyValue] = []) async throws {
        try Limits.checkBatchCounts(metrics: metrics.count, params: params.count, tags: tags.count)
        var operations: [WriteOperation] = []
        if !params.isEmpty { operations.append(.logParams(runID, params)) }
        if !metrics.isEmpty { operations.append(.logMetrics(runID, metrics)) }
        if !tags.isEmpty { operations.append(.setTags(runID, tags)) }
        // An empty log-batch still has to name an existing run, as in MLflow.
        if operations.isEmpty {
            _ = try await run(runID)
            return
        }
        _ = try await write(WriteBatch(operations))
    }

    /// Sets one run tag.
    public func setTag(runID: RunID, key: String, value: String) async throws {
        _ = try await write(WriteBatch([.setTags(runID, [KeyValue(key, value)])]))
    }

    /// Deletes one run tag.
    /// - Throws: ``LedgerError/Code/resourceDoesNotExist`` when the run has no such tag.
    public func deleteTag(runID: RunID, key: String) async throws {
        _ = try await write(WriteBatch([.deleteTag(runID, key: key)]))
    }

    /// Updates status, end time or name, and returns the run's attributes afterwards.
    @discardableResult
    public func updateRun(_ runID: RunID, _ update: RunUpdate) async throws -> RunInfo {
        _ = try await write(WriteBatch([.updateRun(runID, update)]))
        return try await run(runID).info
    }

    /// The experiment with this name.
    /// - Throws: ``LedgerError/Code/resourceDoesNotExist`` naming the experiments that do exist.
    public func requireExperiment(named name: String) async throws -> Experiment {
        if let experiment = try await experiment(named: name) { return experiment }
        let known = try await experiments(view: .all).map(\.experiment.name)
        let list = known.isEmpty ? "there are none" : "known experiments: " + known.prefix(20).map { "'\($0)'" }.joined(separator: ", ")
        throw LedgerError(.resourceDoesNotExist, "No experiment named '\(name)' (\(list)).")
    }

    /// Every run that matches `query`, following page tokens.
    public func searchAllRuns(_ query: RunQuery) async throws -> [Run] {
        var query = query
        var runs: [Run] = []
        while true {
            let page = try await searchRuns(query)
            runs += page.runs
            guard let token = page.nextPageToken else { return runs }
            query.pageToken = token
        }
    }
}

extension Array {
    /// The first index whose element satisfies `belongs`, for a predicate that is false and then true along the array.
    func partitioningIndex(where belongs: (Element) -> Bool) -> Int {
        var low = 0
        var high = count
        while low < high {
            let middle = (low + high) / 2
            if belongs(self[middle]) { high = middle } else { low = middle + 1 }
        }
        return low
    }
}

extension TrackingStore {
    /// The documents of a project that satisfy `condition`, by namespace. Documents that are not JSON match nothing.
    public func queryState(project: String, where condition: StatePredicate) async throws -> [StateDocument] {
        try await stateDocuments(project: project).filter { document in
            (try? JSONValue(parsing: document.document.utf8)).map(condition.matches) ?? false
        }
    }
}
