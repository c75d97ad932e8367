/// A store that runs ``StoreSQL``'s statements: the operations that are the same SQL on every relational backend are
/// written once, here, over two primitives. A backend adds its hot paths (batches, history, search) itself.
public protocol RelationalStore: TrackingStore {
    /// Runs `statements` together (in one transaction) and returns each one's rows.
    func read(_ statements: [SQLTemplate]) async throws -> [[SQLRow]]
    /// Runs a script in one transaction and returns the rows of its last step. `idempotent`: whether the script may run
    /// again after a failure during COMMIT (it may have committed).
    func write(_ script: [StoreSQL.Step], idempotent: Bool) async throws -> [SQLRow]
    /// Runs a plan's statements on one snapshot, or (`writing`) in one transaction, and returns its result.
    func run<Plan: StatementPlan>(_ plan: Plan, writing: Bool) async throws -> Plan.Result
    /// Milliseconds since the Unix epoch, injected so that tests control time.
    var clock: @Sendable () -> Int64 { get }
    /// The database's migration plan against this binary's files (what ``healthCheck()`` judges).
    func migrationPlan() async throws -> MigrationPlan
    /// Runs `body` with reads on one consistent snapshot of the whole database, however long it takes (backups and
    /// copies; writers are not blocked).
    func withSnapshot<T: Sendable>(_ body: @escaping @Sendable (SnapshotReader) async throws -> T) async throws -> T
    /// Appends `rows` (values in `columns` order) to `table` in one transaction with `then`, by the backend's bulk
    /// path (PostgreSQL: COPY).
    func insert(_ table: TransferTable, columns: [String], rows: [[SQLValue?]], then: [SQLTemplate]) async throws
    /// `sqlite` or `postgres`.
    var backend: String { get }
}

extension RelationalStore {
    private func read(_ statement: SQLTemplate) async throws -> [SQLRow] { try await read([statement]).first ?? [] }

    public func healthCheck() async -> LedgerError? {
        do {
            return StoreRules.health(try await migrationPlan())
        } catch let error as LedgerError {
            return error
        } catch {
            return LedgerError(.storeUnavailable, "The database did not answer: \(error).")
        }
    }

    public func metricHistory(runID: RunID, key: String) async throws -> [MetricPoint] {
        try await run(HistoryPlan(runID: runID, key: key, after: nil, limit: nil, order: .step), writing: false)
    }

    public func metricHistory(runID: RunID, key: String, after: MetricPoint?, limit: Int, order: HistoryOrder) async throws -> [MetricPoint] {
        try await run(HistoryPlan(runID: runID, key: key, after: after, limit: limit, order: order), writing: false)
    }

    public func createExperiment(name: String, artifactLocation: String?, tags: [KeyValue]) async throws -> Experiment {
        try StoreRules.checkNewExperiment(name: name, artifactLocation: artifactLocation, tags: tags)
        _ = try await write(StoreSQL.createExperiment(name: name, artifactLocation: artifactLocation, tags: tags, now: clock()), idempotent: false)
        guard let experiment = try await experiment(named: name) else { throw LedgerError(.internal, "A created experiment could not be read back.") }
        return experiment
    }

    public func experiment(id: ExperimentID) async throws -> Experiment {
        guard let experiment = try StoreSQL.experiments(try await read(StoreSQL.experiments(.id(id)))).first else {
            throw LedgerError.experimentNotFound(id)
        }
        return experiment
    }

    public func experiment(named name: String) async throws -> Experiment? {
        try StoreSQL.experiments(try await read(StoreSQL.experiments(.name(name)))).first
    }

    public func experiments(view: ViewType) async throws -> [ExperimentSummary] {
        let rows = try await read([StoreSQL.experiments(.stages(view.stages)), StoreSQL.runCounts])
        return try StoreSQL.summaries(StoreSQL.experiments(rows[0]), counts: rows[1])
    }

    public func updateExperiment(id: ExperimentID, _ change: ExperimentChange) async throws {
        try StoreRules.checkChange(change, of: id)
        _ = try await write(StoreSQL.updateExperiment(id, change, now: clock()), idempotent: true)
    }

    public func setRunLifecycle(_ runID: RunID, _ stage: LifecycleStage) async throws {
        _ = try await write(StoreSQL.setRunLifecycle(runID, stage, now: clock()), idempotent: true)
    }

    public func deletedRuns(before cutoff: Int64) async throws -> [DeletedRun] {
        try await read([StoreSQL.deletedRuns(before: cutoff)])[0].compactMap { row in
            guard let runID = RunID(try row.text(0)) else { return nil }
            return DeletedRun(runID: runID, artifactURI: try row.text(1), deletedTime: try row.int64(2))
        }
    }

    public func reapRuns(heartbeatBefore cutoff: Int64, endTime: Int64) async throws -> [RunID] {
        try await write([.run(StoreSQL.reapRuns(heartbeatBefore: cutoff, endTime: endTime))], idempotent: true).compactMap { RunID(try $0.text(0)) }
    }

    public func metricWindow(_ window: MetricWindow) async throws -> [MetricSample] { try await run(try WindowPlan(window), writing: false) }

    public func prune(_ policy: RetentionPolicy, now: Int64, budget: Int, dryRun: Bool, resume: String?) async throws -> PruneCount {
        try await run(PrunePass(try PrunePlan(policy, now: now, budget: budget, dryRun: dryRun, resume: resume)), writing: !dryRun)
    }

    public func runEvents(_ query: EventQuery) async throws -> [StoredEvent] {
        try query.validate()
        let rows = try await read([StoreSQL.runID(query.runID), StoreSQL.events(query)])
        guard !rows[0].isEmpty else { throw LedgerError.runNotFound(query.runID) }
        return try rows[1].map { try StoreSQL.event($0, runID: query.runID) }
    }

    public func statistics(_ query: RunQuery, metric: String, groupBy: GroupKey?) async throws -> [GroupSummary] {
        try query.validate()
        let rows = try await read(StoreSQL.latestValues(query, metric: Objective.metricName(metric), groupBy: groupBy))
        return GroupSummary.grouped(try rows.map { row throws(LedgerError) in (try row.optionalText(0), try row.bool(2) ? .nan : try row.double(1)) })
    }

    public func searchEvents(_ search: EventSearch) async throws -> [StoredEvent] {
        try search.validate()
        return try await read(StoreSQL.searchEvents(search)).map(StoreSQL.searchedEvent)
    }

    public func eventSummary(_ search: EventSearch, width: Int64) async throws -> [EventCount] {
        try search.validate()
        try BucketWidth.check(width)
        let counts = try await read(StoreSQL.eventSummary(search, width: width, limit: Limits.summaryRows + 1)).map(StoreSQL.eventCount)
        return try EventCount.bounded(counts)
    }

    public func retentionPolicies() async throws -> [RetentionPolicy] {
        try await read(StoreSQL.retentionPolicies).map(StoreSQL.retentionPolicy)
    }

    public func addRetentionPolicy(_ policy: RetentionPolicy) async throws -> RetentionPolicy {
        try policy.validate()
        var stored = policy
        stored.createdAt = clock()
        stored.id = try await write(StoreSQL.addRetentionPolicy(policy, now: stored.createdAt), idempotent: false).first?.int64(0) ?? 0
        return stored
    }

    public func removeRetentionPolicy(id: Int64) async throws {
        _ = try await write(StoreSQL.removeRetentionPolicy(id), idempotent: true)
    }

    public func projects() async throws -> [Project] { try await read(StoreSQL.projects).map(StoreSQL.project) }

    public func changeProject(_ name: String, _ change: ProjectChange) async throws {
        try Validation.checkStateName(name, kind: "project name")
        _ = try await write(StoreSQL.changeProject(name, change, now: clock()), idempotent: false)
    }

    public func stateDocument(project: String, namespace: String) async throws -> StateDocument? {
        try Validation.checkStateName(project, kind: "project name")
        try Validation.checkStateName(namespace, kind: "namespace")
        let rows = try await read([StoreSQL.project(named: project), StoreSQL.stateDocument(project: project, namespace: namespace)])
        guard !rows[0].isEmpty else { throw LedgerError.unknownProject(project) }
        return try rows[1].first.map { row in
            StateDocument(project: project, namespace: namespace, version: try row.int64(0), updatedAt: try row.int64(1), document: try row.text(2))
        }
    }

    public func stateDocuments(project: String) async throws -> [StateDocument] {
        try Validation.checkStateName(project, kind: "project name")
        let rows = try await read([StoreSQL.project(named: project), StoreSQL.stateDocuments(project: project)])
        guard !rows[0].isEmpty else { throw LedgerError.unknownProject(project) }
        return try rows[1].map { row in
            StateDocument(
                project: project, namespace: try row.text(0), version: try row.int64(1), updatedAt: try row.int64(2), document: try row.text(3))
        }
    }

    public func putStateDocument(project: String, namespace: String, document: String, expectedVersion: Int64?) async throws -> StateDocument {
        try Validation.checkStatePut(project: project, namespace: namespace, document: document, expectedVersion: expectedVersion)
        let now = clock()
        // Not retried after an ambiguous COMMIT: a write without an expected version is not idempotent.
        let script = StoreSQL.putStateDocument(project: project, namespace: namespace, document: document, expectedVersion: expectedVersion, now: now)
        guard let version = try await write(script, idempotent: false).first?.int64(0) else {
            let current = try await read(StoreSQL.stateDocument(project: project, namespace: namespace)).first?.int64(0)
            throw LedgerError.staleState(project: project, namespace: namespace, expected: expectedVersion ?? 0, current: current)
        }
        return StateDocument(project: project, namespace: namespace, version: version, updatedAt: now, document: document)
    }
}

// MARK: Logged models and run inputs/outputs

extension RelationalStore {
    public func createLoggedModel(_ model: NewLoggedModel) async throws -> LoggedModel {
        try StoreRules.checkNewLoggedModel(model)
        _ = try await write(StoreSQL.createLoggedModel(model, now: clock()), idempotent: false)
        return try await loggedModel(id: model.id, allowDeleted: false)
    }

    public func loggedModel(id: String, allowDeleted: Bool) async throws -> LoggedModel {
        guard LoggedModel.isValidID(id),
            let model = try StoreSQL.loggedModels(try await read(StoreSQL.loggedModels(ids: [id], includeDeleted: allowDeleted))).first
        else { throw LedgerError.loggedModelNotFound(id) }
        return model
    }

    public func updateLoggedModel(id: String, _ change: LoggedModelChange) async throws -> LoggedModel {
        guard LoggedModel.isValidID(id) else { throw LedgerError.loggedModelNotFound(id) }
        try StoreRules.checkChange(change)
        _ = try await write(StoreSQL.updateLoggedModel(id: id, change, now: clock()), idempotent: true)
        return try await loggedModel(id: id, allowDeleted: change == .delete)
    }

    public func loggedModels(experimentIDs: [ExperimentID]) async throws -> [LoggedModel] {
        guard !experimentIDs.isEmpty else { return [] }
        return try StoreSQL.loggedModels(try await read(StoreSQL.loggedModels(experiments: experimentIDs, includeDeleted: false)))
    }

    public func logOutputs(runID: RunID, _ outputs: [RunModelOutput]) async throws {
        for output in outputs where !LoggedModel.isValidID(output.modelID) { throw LedgerError.loggedModelNotFound(output.modelID) }
        _ = try await write(StoreSQL.logOutputs(runID, outputs), idempotent: true)
    }

    public func logInputs(runID: RunID, datasets: [DatasetInput], models: [String]) async throws {
        try StoreRules.checkInputs(datasets: datasets, models: models)
        _ = try await write(StoreSQL.logInputs(runID, datasets: datasets, models: models), idempotent: true)
    }

    public func runIO(runID: RunID) async throws -> RunIO {
        try StoreSQL.runIO(try await read(StoreSQL.runIO(runID)))
    }
}
