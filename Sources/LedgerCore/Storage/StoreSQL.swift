/// The statements both relational backends share, and the decoding of their rows: written once, rendered per dialect
/// (``SQLTemplate/statement(_:)``). What only one dialect can say well (bulk inserts, the history's hot reads) stays in its
/// store.
public enum StoreSQL {
    // MARK: Transaction scripts

    /// One step of a ``StoreSQL`` script: a straight-line transaction a store runs statement by statement.
    public enum Step: Sendable {
        /// The statement must return a row, or the script stops with the error.
        case require(SQLTemplate, else: LedgerError)
        /// The statement must return no row, or the script stops with the error.
        case refuse(SQLTemplate, else: LedgerError)
        /// The statement runs; the script's result is the rows of its last step.
        case run(SQLTemplate)

        public var sql: SQLTemplate {
            switch self {
            case .require(let sql, _), .refuse(let sql, _), .run(let sql): sql
            }
        }

        /// What the statement returned, when it is what the step allows; otherwise the step's error.
        public func check(_ rows: [SQLRow]) throws(LedgerError) -> [SQLRow] {
            switch self {
            case .require(_, let error) where rows.isEmpty: throw error
            case .refuse(_, let error) where !rows.isEmpty: throw error
            default: return rows
            }
        }
    }

    // MARK: Experiments

    /// Which experiments to read.
    public enum ExperimentFilter: Sendable {
        case id(ExperimentID)
        case name(String)
        case stages([LifecycleStage])
    }

    /// Experiments with their tags, a row per tag (or one with no tag), in id order.
    public static func experiments(_ filter: ExperimentFilter) -> SQLTemplate {
        let condition: SQLTemplate =
            switch filter {
            case .id(let id): "e.experiment_id = \(id.rawValue)"
            case .name(let name): "e.name = \(name)"
            case .stages(let stages): "e.lifecycle_stage IN \(list: stages.map { .text($0.rawValue) })"
            }
        return """
            SELECT e.experiment_id, e.name, e.artifact_location, e.lifecycle_stage, e.creation_time, e.last_update_time, t.key, t.value
            FROM experiments e LEFT JOIN experiment_tags t ON t.experiment_id = e.experiment_id WHERE \(condition) ORDER BY e.experiment_id
            """
    }

    /// `(experiment_id, runs, newest start)` of experiments with active runs.
    public static let runCounts: SQLTemplate =
        "SELECT experiment_id, COUNT(*), MAX(start_time) FROM runs WHERE lifecycle_stage = 'active' GROUP BY experiment_id"

    /// Experiments from the rows of ``experiments(_:)``.
    public static func experiments(_ rows: [SQLRow]) throws(LedgerError) -> [Experiment] {
        var experiments: [Experiment] = []
        for row in rows {
            let id = ExperimentID(try row.int64(0))
            if experiments.last?.id != id {
                experiments.append(
                    Experiment(
                        id: id, name: try row.text(1), artifactLocation: try row.text(2),
                        lifecycleStage: LifecycleStage(rawValue: try row.text(3)) ?? .active,
                        creationTime: try row.int64(4), lastUpdateTime: try row.int64(5), tags: [:]
                    )
                )
            }
            if let key = try row.optionalText(6) { experiments[experiments.count - 1].tags[key] = try row.text(7) }
        }
        return experiments
    }

    /// Summaries from experiments and the rows of ``runCounts``.
    public static func summaries(_ experiments: [Experiment], counts: [SQLRow]) throws(LedgerError) -> [ExperimentSummary] {
        var byID: [Int64: (Int, Int64?)] = [:]
        for row in counts { byID[try row.int64(0)] = (try row.int(1), try row.optionalInt64(2)) }
        return experiments.map { experiment in
            let (count, last) = byID[experiment.id.rawValue] ?? (0, nil)
            return ExperimentSummary(experiment: experiment, runCount: count, lastRunStartTime: last)
        }
    }

    /// Creates an experiment; the store then reads it back by name.
    public static func createExperiment(name: String, artifactLocation: String?, tags: [KeyValue], now: Int64) -> [Step] {
        var steps: [Step] = [
            .refuse("SELECT 1 FROM experiments WHERE name = \(name)", else: .experimentExists(name)),
            .run(
                "INSERT INTO experiments (name, artifact_location, creation_time, last_update_time) VALUES (\(name), \(artifactLocation ?? ""), \(now), \(now))"
            ),
        ]
        if artifactLocation == nil { steps.append(.run(defaultArtifactLocation(where: "name = \(name)"))) }
        for tag in tags {
            steps.append(
                .run(
                    """
                    INSERT INTO experiment_tags (experiment_id, key, value) SELECT experiment_id, \(tag.key), \(tag.value) FROM experiments WHERE name = \(name)
                    ON CONFLICT (experiment_id, key) DO UPDATE SET value = excluded.value
                    """
                )
            )
        }
        return steps
    }

    /// Gives the experiments `condition` selects the default location (``StoreRules/defaultArtifactRoot`` and the id).
    public static func defaultArtifactLocation(where condition: SQLTemplate) -> SQLTemplate {
        "UPDATE experiments SET artifact_location = \(StoreRules.defaultArtifactRoot) || experiment_id WHERE \(condition)"
    }

    /// Changes an experiment that ``StoreRules/checkChange(_:of:)`` accepted, with MLflow's rules: only an active
    /// experiment is renamed or tagged, deleting one deletes its runs, and restoring one restores them all.
    public static func updateExperiment(_ id: ExperimentID, _ change: ExperimentChange, now: Int64) -> [Step] {
        let experiment = id.rawValue
        let lock: SQLTemplate = "\(sqlite: "", postgres: " FOR UPDATE")"
        var steps: [Step] = [.require("SELECT 1 FROM experiments WHERE experiment_id = \(experiment)\(lock)", else: .experimentNotFound(id))]
        let active: SQLTemplate = "SELECT 1 FROM experiments WHERE experiment_id = \(experiment) AND lifecycle_stage = 'active'"
        switch change {
        case .rename(let name):
            steps.append(.require(active, else: LedgerError(.invalidState, "Cannot rename a non-active experiment.")))
            steps.append(.refuse("SELECT 1 FROM experiments WHERE name = \(name) AND experiment_id <> \(experiment)", else: .experimentExists(name)))
            steps.append(.run("UPDATE experiments SET name = \(name), last_update_time = \(now) WHERE experiment_id = \(experiment)"))
        case .setLifecycle(let stage):
            let current = stage == .deleted ? LifecycleStage.active : .deleted
            steps.append(
                .require(
                    "SELECT 1 FROM experiments WHERE experiment_id = \(experiment) AND lifecycle_stage = \(current.rawValue)",
                    else: .experimentNotFound(id)))
            steps.append(
                .run("UPDATE runs SET lifecycle_stage = \(stage.rawValue), \(deletedTime(stage, now: now)) WHERE experiment_id = \(experiment)"))
            steps.append(
                .run("UPDATE experiments SET lifecycle_stage = \(stage.rawValue), last_update_time = \(now) WHERE experiment_id = \(experiment)"))
        case .setTag, .deleteTag:
            steps.append(.require(active, else: .experimentNotActive(id)))
        }
        switch change {
        case .rename, .setLifecycle: break
        case .setTag(let tag):
            steps.append(
                .run(
                    """
                    INSERT INTO experiment_tags (experiment_id, key, value) VALUES (\(experiment), \(tag.key), \(tag.value))
                    ON CONFLICT (experiment_id, key) DO UPDATE SET value = excluded.value
                    """
                )
            )
        case .deleteTag(let key):
            steps.append(
                .require(
                    "DELETE FROM experiment_tags WHERE experiment_id = \(experiment) AND key = \(key) RETURNING 1",
                    else: LedgerError(.resourceDoesNotExist, "No tag with name: \(key) in experiment with id \(id)")))
        }
        return steps
    }

    /// Creates the experiment called `name` (a batch's `createRun` by name) unless it exists; returns its id when
    /// this statement created it. Concurrent creators of one name: the unique index makes the second wait, then find
    /// the first one's row.
    public static func insertExperiment(named name: String, now: Int64) -> SQLTemplate {
        """
        INSERT INTO experiments (name, creation_time, last_update_time) VALUES (\(name), \(now), \(now))
        ON CONFLICT (name) DO NOTHING RETURNING experiment_id
        """
    }

    /// The id of the experiment called `name`.
    public static func experimentID(named name: String) -> SQLTemplate { "SELECT experiment_id FROM experiments WHERE name = \(name)" }

    // MARK: Runs

    /// The internal id of a run.
    public static func runID(_ runID: RunID) -> SQLTemplate { "SELECT id FROM runs WHERE run_uuid = \(runID.rawValue)" }

    /// A run's lifecycle stage; the script fails when no run has the id.
    public static func setRunLifecycle(_ runID: RunID, _ stage: LifecycleStage, now: Int64) -> [Step] {
        [
            .require(
                "UPDATE runs SET lifecycle_stage = \(stage.rawValue), \(deletedTime(stage, now: now)) WHERE run_uuid = \(runID.rawValue) RETURNING 1",
                else: .runNotFound(runID))
        ]
    }

    /// The assignment of `deleted_time` for a lifecycle change: a deletion keeps the time of an earlier one, a
    /// restore clears it (MLflow's rule, which `gc --older-than` reads).
    static func deletedTime(_ stage: LifecycleStage, now: Int64) -> SQLTemplate {
        stage == .deleted ? "deleted_time = COALESCE(deleted_time, \(now))" : "deleted_time = NULL"
    }

    /// Runs deleted at or before `cutoff`, oldest deletion first.
    public static func deletedRuns(before cutoff: Int64) -> SQLTemplate {
        """
        SELECT run_uuid, artifact_uri, deleted_time FROM runs
        WHERE lifecycle_stage = 'deleted' AND deleted_time <= \(cutoff) ORDER BY deleted_time, run_uuid
        """
    }

    /// Ends the running, active runs whose last heartbeat is older than `cutoff`; returns their ids.
    public static func reapRuns(heartbeatBefore cutoff: Int64, endTime: Int64) -> SQLTemplate {
        """
        UPDATE runs SET status = 'KILLED', end_time = \(endTime)
        WHERE status = 'RUNNING' AND lifecycle_stage = 'active' AND heartbeat_time < \(cutoff) RETURNING run_uuid
        """
    }

    /// The experiment a new run goes into: its stage and artifact location.
    public static func experimentForRun(_ id: ExperimentID) -> SQLTemplate {
        "SELECT lifecycle_stage, artifact_location FROM experiments WHERE experiment_id = \(id.rawValue)"
    }

    /// Inserts a run unless its id exists; returns its internal id (no row: the id was taken).
    public static func insertRun(_ run: NewRun, endTime: Int64?, artifactURI: String) -> SQLTemplate {
        """
        INSERT INTO runs (run_uuid, experiment_id, name, status, start_time, end_time, user_id, artifact_uri)
        VALUES (\(run.runID.rawValue), \(run.experimentID.rawValue), \(run.name), \(run.status.rawValue), \(run.startTime), \(endTime), \(run.userID), \(artifactURI))
        ON CONFLICT (run_uuid) DO NOTHING RETURNING id
        """
    }

    /// A run's row as writes check it, locked on PostgreSQL when `lock` (status changes are ordered by it).
    public static func runRecord(_ runID: RunID, lock: Bool) -> SQLTemplate {
        "SELECT id, status, end_time, lifecycle_stage FROM runs WHERE run_uuid = \(runID.rawValue)\(sqlite: "", postgres: lock ? " FOR UPDATE" : "")"
    }

    public static func runRecord(_ row: SQLRow) throws(LedgerError) -> RunRecord {
        RunRecord(id: try row.int64(0), status: try row.text(1), endTime: try row.optionalInt64(2), lifecycle: try row.text(3))
    }

    /// Writes a run's status, end time and (when renamed) its name and name tag.
    public static func updateRun(_ run: RunRecord, name: String?) -> [SQLTemplate] {
        var statements: [SQLTemplate] = ["UPDATE runs SET status = \(run.status.rawValue), end_time = \(run.endTime) WHERE id = \(run.id)"]
        if let name {
            statements.append("UPDATE runs SET name = \(name) WHERE id = \(run.id)")
            statements.append(setTag(run: run.id, key: StoreRules.runNameTag, value: name))
        }
        return statements
    }

    public static func setTag(run: Int64, key: String, value: String) -> SQLTemplate {
        "INSERT INTO tags (run_id, key, value) VALUES (\(run), \(key), \(value)) ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value"
    }

    public static func renameRun(_ run: Int64, to name: String) -> SQLTemplate { "UPDATE runs SET name = \(name) WHERE id = \(run)" }

    /// Deletes a tag; returns a row when there was one.
    public static func deleteTag(run: Int64, key: String) -> SQLTemplate { "DELETE FROM tags WHERE run_id = \(run) AND key = \(key) RETURNING 1" }

    /// Moves the heartbeat of runs forward (never back).
    public static func heartbeat(_ runIDs: [RunID], time: Int64) -> SQLTemplate {
        """
        UPDATE runs SET heartbeat_time = \(sqlite: "max", postgres: "greatest")(coalesce(heartbeat_time, 0), \(time))
        WHERE run_uuid IN \(list: runIDs.map { .text($0.rawValue) })
        """
    }

    /// Records a batch id; returns a row unless it was recorded before.
    public static func recordBatch(_ id: String, now: Int64) -> SQLTemplate {
        "INSERT INTO applied_batches (batch_id, applied_at) VALUES (\(id), \(now)) ON CONFLICT (batch_id) DO NOTHING RETURNING 1"
    }

    // MARK: Windows and events

    /// The active runs of an experiment that have one of `keys`: `(id, run_uuid)`.
    public static func windowRuns(_ experiment: ExperimentID, keys: [String]) -> SQLTemplate {
        """
        SELECT DISTINCT r.id, r.run_uuid FROM runs r JOIN latest_metrics lm ON lm.run_id = r.id
        WHERE r.experiment_id = \(experiment.rawValue) AND r.lifecycle_stage = 'active' AND lm.key IN \(list: keys.map(SQLValue.text))
        """
    }

    public static func experimentExists(_ id: ExperimentID) -> SQLTemplate { "SELECT 1 FROM experiments WHERE experiment_id = \(id.rawValue)" }

    /// The chunks of one (run, key) whose time range meets `[from, to)`, newest first: `(chunk_id, max_timestamp)`.
    public static func windowChunks(run: Int64, key: String, from: Int64, to: Int64) -> SQLTemplate {
        """
        SELECT chunk_id, max_timestamp FROM metric_chunks
        WHERE run_id = \(run) AND key = \(key) AND max_timestamp >= \(from) AND min_timestamp < \(to) ORDER BY max_timestamp DESC
        """
    }

    /// The bytes of one chunk.
    public static func chunkData(_ id: Int64) -> SQLTemplate { "SELECT data FROM metric_chunks WHERE chunk_id = \(id)" }

    /// A point from `(step, timestamp, value, is_nan)`.
    public static func point(_ row: SQLRow, from column: Int = 0) throws(LedgerError) -> MetricPoint {
        MetricPoint(
            value: try row.bool(column + 3) ? .nan : try row.double(column + 2), timestamp: try row.int64(column + 1), step: try row.int64(column)
        )
    }

    public static func events(_ query: EventQuery) -> SQLTemplate {
        let kinds: SQLTemplate = query.kinds.isEmpty ? "" : " AND kind IN \(list: query.kinds.map(SQLValue.text))"
        return """
            SELECT event_id, timestamp, level, kind, message, payload FROM run_events
            WHERE run_id = (SELECT id FROM runs WHERE run_uuid = \(query.runID.rawValue)) AND timestamp >= \(query.from ?? .min) AND timestamp < \(query.to ?? .max) AND level >= \(query.minimumLevel.rank)\(kinds)
            ORDER BY timestamp DESC, event_id DESC LIMIT \(query.limit)
            """
    }

    public static func event(_ row: SQLRow, runID: RunID) throws(LedgerError) -> StoredEvent {
        let event = RunEvent(
            timestamp: try row.int64(1), level: EventLevel(rank: try row.int(2)) ?? .info, kind: try row.text(3), message: try row.text(4),
            payload: try row.optionalText(5)
        )
        return StoredEvent(runID: runID, sequence: try row.int64(0), event: event)
    }

    // MARK: Retention policies

    public static let retentionPolicies: SQLTemplate =
        "SELECT policy_id, experiment_id, key_glob, max_age_ms, max_points_per_key, created_at FROM retention_policies ORDER BY policy_id"

    public static func retentionPolicy(_ row: SQLRow) throws(LedgerError) -> RetentionPolicy {
        RetentionPolicy(
            id: try row.int64(0), experimentID: try row.optionalInt64(1).map(ExperimentID.init), keyGlob: try row.text(2),
            maxAge: try row.optionalInt64(3),
            maxPointsPerKey: try row.optionalInt64(4).map { Int(clamping: $0) }, createdAt: try row.int64(5)
        )
    }

    /// Stores a validated policy; the last step returns its id.
    public static func addRetentionPolicy(_ policy: RetentionPolicy, now: Int64) -> [Step] {
        var steps: [Step] = []
        if let experiment = policy.experimentID { steps.append(.require(experimentExists(experiment), else: .experimentNotFound(experiment))) }
        steps.append(
            .run(
                """
                INSERT INTO retention_policies (experiment_id, key_glob, max_age_ms, max_points_per_key, created_at)
                VALUES (\(policy.experimentID?.rawValue), \(policy.keyGlob), \(policy.maxAge), \(policy.maxPointsPerKey.map(Int64.init)), \(now)) RETURNING policy_id
                """
            )
        )
        return steps
    }

    public static func removeRetentionPolicy(_ id: Int64) -> [Step] {
        [.require("DELETE FROM retention_policies WHERE policy_id = \(id) RETURNING 1", else: .retentionPolicyNotFound(id))]
    }

    // MARK: Projects and state documents

    public static let projects: SQLTemplate = """
        SELECT p.name, p.created_at, p.last_active_at, p.archived, (SELECT COUNT(*) FROM state_documents d WHERE d.project_id = p.project_id)
        FROM projects p ORDER BY p.last_active_at IS NULL, p.last_active_at DESC, \(binary: "p.name")
        """

    public static func project(_ row: SQLRow) throws(LedgerError) -> Project {
        Project(
            name: try row.text(0), createdAt: try row.int64(1), lastActiveAt: try row.optionalInt64(2), archived: try row.bool(3),
            documentCount: try row.int(4)
        )
    }

    public static func changeProject(_ name: String, _ change: ProjectChange, now: Int64) -> [Step] {
        switch change {
        case .create:
            [
                .require(
                    "INSERT INTO projects (name, created_at) VALUES (\(name), \(now)) ON CONFLICT (name) DO NOTHING RETURNING 1",
                    else: .projectExists(name)
                )
            ]
        case .archive: [.require("UPDATE projects SET archived = TRUE WHERE name = \(name) RETURNING 1", else: .unknownProject(name))]
        case .activate:
            [.require("UPDATE projects SET archived = FALSE, last_active_at = \(now) WHERE name = \(name) RETURNING 1", else: .unknownProject(name))]
        case .delete: [.require("DELETE FROM projects WHERE name = \(name) RETURNING 1", else: .unknownProject(name))]
        }
    }

    /// A row when the project exists.
    public static func project(named name: String) -> SQLTemplate { "SELECT project_id FROM projects WHERE name = \(name)" }

    private static func projectID(_ name: String) -> SQLTemplate { "(SELECT project_id FROM projects WHERE name = \(name))" }

    /// `(version, updated_at, document)` of one document.
    /// `(namespace, version, updated_at, document)` of every document of a project, by namespace (UTF-8 order).
    public static func stateDocuments(project: String) -> SQLTemplate {
        "SELECT namespace, version, updated_at, document FROM state_documents WHERE project_id = \(projectID(project)) ORDER BY \(binary: "namespace")"
    }

    public static func stateDocument(project: String, namespace: String) -> SQLTemplate {
        "SELECT version, updated_at, document FROM state_documents WHERE project_id = \(projectID(project)) AND namespace = \(namespace)"
    }

    /// Writes a document of an active project; the last step returns its new version, or no row when
    /// `expectedVersion` is stale. Each statement decides atomically: a concurrent writer with the same expected
    /// version finds no row to update. On PostgreSQL the project row is share-locked meanwhile.
    public static func putStateDocument(project: String, namespace: String, document: String, expectedVersion: Int64?, now: Int64) -> [Step] {
        [
            .require("SELECT 1 FROM projects WHERE name = \(project)\(sqlite: "", postgres: " FOR SHARE")", else: .unknownProject(project)),
            .refuse("SELECT 1 FROM projects WHERE name = \(project) AND archived = TRUE", else: .archivedProject(project)),
            .run(putStateDocument(project: projectID(project), namespace: namespace, document: document, expectedVersion: expectedVersion, now: now)),
        ]
    }

    private static func putStateDocument(project: SQLTemplate, namespace: String, document: String, expectedVersion: Int64?, now: Int64)
        -> SQLTemplate
    {
        let insert: SQLTemplate =
            "INSERT INTO state_documents (project_id, namespace, version, updated_at, document) VALUES (\(project), \(namespace), 1, \(now), \(document))"
        return switch expectedVersion {
        case nil:
            """
            \(insert) ON CONFLICT (project_id, namespace) DO UPDATE SET version = state_documents.version + 1, updated_at = excluded.updated_at,
                document = excluded.document RETURNING version
            """
        case 0?: "\(insert) ON CONFLICT (project_id, namespace) DO NOTHING RETURNING version"
        case let expected?:
            """
            UPDATE state_documents SET version = version + 1, updated_at = \(now), document = \(document)
            WHERE project_id = \(project) AND namespace = \(namespace) AND version = \(expected) RETURNING version
            """
        }
    }
}

extension StoreSQL {
    // MARK: History

    /// Raises the latest value of one (run, key) when `point` supersedes it (``MetricPoint/supersedes(_:)``).
    public static let latestMetricUpsert = """
        ON CONFLICT (run_id, key) DO UPDATE SET step = excluded.step, timestamp = excluded.timestamp, value = excluded.value, is_nan = excluded.is_nan
        WHERE \(StoreRules.latestMetricSupersedes(new: "excluded", old: "latest_metrics"))
        """
}

extension StoreSQL {
    /// `(group, value, is_nan)`: the latest value of `metric` of every run `query` matches that has one, with the run's
    /// value of `groupBy` (NULL without one, or when not grouped). The latest-metrics index leads with the experiment.
    public static func latestValues(_ query: RunQuery, metric: String, groupBy: GroupKey?) -> SQLTemplate {
        let filter: SQLTemplate = query.filter == .all ? "" : " AND \(runsMatching: query.filter)"
        return """
            SELECT \(group(groupBy)), l.value, l.is_nan FROM latest_metrics l JOIN runs r ON r.id = l.run_id
            WHERE l.experiment_id IN \(list: query.experimentIDs.map { .integer($0.rawValue) }) AND l.key = \(metric)\
             AND r.lifecycle_stage IN \(list: query.view.stages.map { .text($0.rawValue) })\(filter)
            """
    }

    /// The value of run `r`'s grouping param or tag (NULL when it has none, or ungrouped).
    static func group(_ groupBy: GroupKey?) -> SQLTemplate {
        switch groupBy {
        case .param(let name)?: "(SELECT g.value FROM params g WHERE g.run_id = r.id AND g.key = \(name))"
        case .tag(let name)?: "(SELECT g.value FROM tags g WHERE g.run_id = r.id AND g.key = \(name))"
        case nil: "NULL"
        }
    }

    /// `(id, group)` of the runs a query selects (its experiments, filter and view), by id.
    static func runsAndGroups(_ query: RunQuery, groupBy: GroupKey?) -> SQLTemplate {
        let filter: SQLTemplate = query.filter == .all ? "" : " AND \(runsMatching: query.filter)"
        return """
            SELECT r.id, \(group(groupBy)) FROM runs r
            WHERE r.experiment_id IN \(list: query.experimentIDs.map { .integer($0.rawValue) })\
             AND r.lifecycle_stage IN \(list: query.view.stages.map { .text($0.rawValue) })\(filter) ORDER BY r.id
            """
    }
}
