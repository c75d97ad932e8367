public import LedgerCore
import PostgresNIO

/// Windowed reads, run events, retention and project state on PostgreSQL: the same tables and meanings as on SQLite.
extension PostgresStore {
    // MARK: Windowed reads and events

    public func metricWindow(_ window: MetricWindow) async throws -> [MetricSample] {
        try window.validate()
        let logger = logger
        return try await gate.run { connection in
            let runs: [(Int64, RunID)]
            switch window.scope {
            case .run(let runID):
                guard let row = try await connection.query("SELECT id FROM runs WHERE run_uuid = \(runID.rawValue)", logger: logger).collect().first else {
                    throw LedgerError.runNotFound(runID)
                }
                runs = [(try row.decode(Int64.self), runID)]
            case .experiment(let id):
                guard try await !connection.query("SELECT 1 FROM experiments WHERE experiment_id = \(id.rawValue)", logger: logger).collect().isEmpty else {
                    throw LedgerError.experimentNotFound(id)
                }
                // Only runs that have one of the keys: latest_metrics says which.
                runs = try await connection.query(
                    """
                    SELECT DISTINCT r.id, r.run_uuid FROM runs r JOIN latest_metrics lm ON lm.run_id = r.id
                    WHERE r.experiment_id = \(id.rawValue) AND r.lifecycle_stage = 'active' AND lm.key = ANY(\(window.keys)::text[])
                    """,
                    logger: logger
                ).collect().compactMap { row in
                    let (id, uuid) = try row.decode((Int64, String).self)
                    return RunID(uuid).map { (id, $0) }
                }
            }
            var lists: [[MetricSample]] = []
            for (id, runID) in runs {
                for key in window.keys {
                    let points = try await Self.newestPoints(run: id, key: key, window: window, connection, logger)
                    lists.append(points.map { MetricSample(runID: runID, key: key, point: $0) })
                }
            }
            return MetricWindow.merge(lists, limit: window.limit)
        }
    }

    /// The newest points of one (run, key) in the window's time range: the spans that overlap it, newest first, each a
    /// step range of the primary key, until no older span can hold a newer point.
    private static func newestPoints(run: Int64, key: String, window: MetricWindow, _ connection: PostgresConnection, _ logger: Logger) async throws -> [MetricPoint] {
        var newest = NewestPoints(limit: window.limit, from: window.from, to: window.to)
        let spans = try await connection.query(
            """
            SELECT first_step, last_step, max_timestamp FROM metric_spans
            WHERE run_id = \(run) AND key = \(key) AND max_timestamp >= \(newest.from) AND min_timestamp < \(newest.to) ORDER BY max_timestamp DESC
            """,
            logger: logger
        ).collect().map { try $0.decode((Int64, Int64, Int64).self) }
        for (first, last, latest) in spans {
            guard newest.wants(maxTimestamp: latest) else { break }
            let rows = try await connection.query(
                """
                SELECT step, timestamp, value, is_nan FROM metrics
                WHERE run_id = \(run) AND key = \(key) AND step BETWEEN \(first) AND \(last) AND timestamp >= \(newest.from) AND timestamp < \(newest.to)
                """,
                logger: logger
            )
            var points: [MetricPoint] = []
            for try await (step, timestamp, value, isNaN) in rows.decode((Int64, Int64, Double, Int16).self) {
                points.append(MetricPoint(value: isNaN == 1 ? .nan : value, timestamp: timestamp, step: step))
            }
            newest.add(points)
        }
        return newest.points
    }

    public func runEvents(_ query: EventQuery) async throws -> [StoredEvent] {
        try query.validate()
        let logger = logger
        return try await gate.run { connection in
            guard let row = try await connection.query("SELECT id FROM runs WHERE run_uuid = \(query.runID.rawValue)", logger: logger).collect().first else {
                throw LedgerError.runNotFound(query.runID)
            }
            let id = try row.decode(Int64.self)
            let rows = try await connection.query(
                """
                SELECT event_id, timestamp, level, kind, message, payload FROM run_events
                WHERE run_id = \(id) AND timestamp >= \(query.from ?? .min) AND timestamp < \(query.to ?? .max) AND level >= \(Int16(query.minimumLevel.rank))
                  AND (cardinality(\(query.kinds)::text[]) = 0 OR kind = ANY(\(query.kinds)::text[]))
                ORDER BY timestamp DESC, event_id DESC LIMIT \(Int64(query.limit))
                """,
                logger: logger
            )
            var events: [StoredEvent] = []
            for try await (sequence, timestamp, level, kind, message, payload) in rows.decode((Int64, Int64, Int16, String, String, String?).self) {
                let event = RunEvent(timestamp: timestamp, level: EventLevel(rank: Int(level)) ?? .info, kind: kind, message: message, payload: payload)
                events.append(StoredEvent(runID: query.runID, sequence: sequence, event: event))
            }
            return events
        }
    }

    // MARK: Retention

    public func retentionPolicies() async throws -> [RetentionPolicy] {
        let logger = logger
        return try await gate.run { connection in
            let rows = try await connection.query(
                "SELECT policy_id, experiment_id, key_glob, max_age_ms, max_points_per_key, created_at FROM retention_policies ORDER BY policy_id",
                logger: logger
            )
            var policies: [RetentionPolicy] = []
            for try await (id, experiment, glob, age, points, created) in rows.decode((Int64, Int64?, String, Int64?, Int64?, Int64).self) {
                policies.append(
                    RetentionPolicy(
                        id: id, experimentID: experiment.map(ExperimentID.init), keyGlob: glob, maxAge: age, maxPointsPerKey: points.map { Int($0) },
                        createdAt: created
                    )
                )
            }
            return policies
        }
    }

    public func addRetentionPolicy(_ policy: RetentionPolicy) async throws -> RetentionPolicy {
        try policy.validate()
        let now = clock()
        let logger = logger
        return try await gate.transaction(idempotent: false) { connection in
            if let experiment = policy.experimentID,
                try await connection.query("SELECT 1 FROM experiments WHERE experiment_id = \(experiment.rawValue)", logger: logger).collect().isEmpty
            {
                throw LedgerError.experimentNotFound(experiment)
            }
            let rows = try await connection.query(
                """
                INSERT INTO retention_policies (experiment_id, key_glob, max_age_ms, max_points_per_key, created_at)
                VALUES (\(policy.experimentID?.rawValue), \(policy.keyGlob), \(policy.maxAge), \(policy.maxPointsPerKey.map(Int64.init)), \(now)) RETURNING policy_id
                """,
                logger: logger
            ).collect()
            var stored = policy
            stored.id = try rows[0].decode(Int64.self)
            stored.createdAt = now
            return stored
        }
    }

    public func removeRetentionPolicy(id: Int64) async throws {
        let logger = logger
        try await gate.transaction { connection in
            let rows = try await connection.query("DELETE FROM retention_policies WHERE policy_id = \(id) RETURNING 1", logger: logger).collect()
            if rows.isEmpty { throw LedgerError.retentionPolicyNotFound(id) }
        }
    }

    public func prune(_ policy: RetentionPolicy, now: Int64, budget: Int, dryRun: Bool, resume: String?) async throws -> PruneCount {
        let start = try PrunePlan(policy, now: now, budget: budget, dryRun: dryRun, resume: resume)
        let logger = logger
        let body: @Sendable (PostgresConnection) async throws -> PruneCount = { connection in
            var plan = start
            var action = plan.start()
            while true {
                if case .finished(let count) = action { return count }
                action = plan.next(try await Self.perform(action, of: plan, connection, logger))
            }
        }
        return dryRun ? try await gate.run(body) : try await gate.transaction(body)
    }

    /// Does one step of a retention pass (see ``PrunePlan/Action``).
    private static func perform(_ action: PrunePlan.Action, of plan: PrunePlan, _ connection: PostgresConnection, _ logger: Logger) async throws
        -> PrunePlan.Answer
    {
        let experiment = plan.experimentID
        // Removes (a dry run counts) the rows a `ctid` selection names; `limit` is bound.
        func removed(_ table: String, _ selection: PostgresQuery) async throws -> Int {
            let sql =
                plan.dryRun
                ? "SELECT count(*) FROM \(table) WHERE ctid IN (\(selection.sql))"
                : "WITH gone AS (DELETE FROM \(table) WHERE ctid IN (\(selection.sql)) RETURNING 1) SELECT count(*) FROM gone"
            return Int(try await connection.query(PostgresQuery(unsafeSQL: sql, binds: selection.binds), logger: logger).collect()[0].decode(Int64.self))
        }
        switch action {
        case .listEventKinds:
            return .kinds(try await connection.query("SELECT DISTINCT kind FROM run_events", logger: logger).collect().map { try $0.decode(String.self) })
        case .removeEvents(let kinds, let before, let limit):
            return .count(
                try await removed(
                    "run_events",
                    """
                    SELECT e.ctid FROM run_events e JOIN runs r ON r.id = e.run_id
                    WHERE e.timestamp < \(before) AND e.kind = ANY(\(kinds)) AND (\(experiment)::bigint IS NULL OR r.experiment_id = \(experiment)::bigint)
                    LIMIT \(Int64(limit))
                    """
                )
            )
        case .listPairs(let run, let key, let inclusive, let limit):
            let rows = try await connection.query(
                """
                SELECT lm.run_id, lm.key FROM latest_metrics lm JOIN runs r ON r.id = lm.run_id
                WHERE ((lm.run_id, lm.key) > (\(run), \(key)) OR (\(inclusive) AND lm.run_id = \(run) AND lm.key = \(key)))
                  AND (\(experiment)::bigint IS NULL OR r.experiment_id = \(experiment)::bigint)
                ORDER BY lm.run_id, lm.key LIMIT \(Int64(limit))
                """,
                logger: logger
            ).collect()
            return .pairs(try rows.map { row in try row.decode((Int64, String).self) }.map { (run: $0.0, key: $0.1) })
        case .listSpans(let run, let key, let before):
            let rows = try await connection.query(
                "SELECT first_step, last_step, min_timestamp, max_timestamp FROM metric_spans WHERE run_id = \(run) AND key = \(key) AND min_timestamp < \(before)",
                logger: logger
            ).collect()
            return .spans(
                try rows.map { row in
                    let (first, last, low, high) = try row.decode((Int64, Int64, Int64, Int64).self)
                    return MetricSpan(firstStep: first, lastStep: last, minTimestamp: low, maxTimestamp: high)
                }
            )
        case .removeOldPoints(let run, let key, let steps, let before, let limit):
            let (low, high) = (steps.lowerBound, steps.upperBound)
            return .count(
                try await removed(
                    "metrics",
                    """
                    SELECT ctid FROM metrics WHERE run_id = \(run) AND key = \(key) AND step BETWEEN \(low) AND \(high) AND timestamp < \(before)
                    LIMIT \(Int64(limit))
                    """
                )
            )
        case .dropSpans(let run, let key, let before):
            try await connection.query("DELETE FROM metric_spans WHERE run_id = \(run) AND key = \(key) AND max_timestamp < \(before)", logger: logger)
            return .done
        case .countPoints(let run, let key, let since):
            let rows = try await connection.query(
                "SELECT count(*) FROM metrics WHERE run_id = \(run) AND key = \(key) AND timestamp >= \(since)", logger: logger
            ).collect()
            return .count(Int(try rows[0].decode(Int64.self)))
        case .findNewest(let run, let key, let offset):
            let row = try await connection.query(
                """
                SELECT step, timestamp, value, is_nan FROM metrics WHERE run_id = \(run) AND key = \(key)
                ORDER BY step DESC, timestamp DESC, value DESC, is_nan DESC LIMIT 1 OFFSET \(Int64(offset))
                """,
                logger: logger
            ).collect().first
            return .point(
                try row.map { row in
                    let (step, timestamp, value, isNaN) = try row.decode((Int64, Int64, Double, Int16).self)
                    return MetricPoint(value: isNaN == 1 ? .nan : value, timestamp: timestamp, step: step)
                }
            )
        case .removePointsBefore(let run, let key, let point, let limit):
            let (step, timestamp, value, isNaN) = (point.step, point.timestamp, point.storedValue, Int16(point.value.isNaN ? 1 : 0))
            return .count(
                try await removed(
                    "metrics",
                    """
                    SELECT ctid FROM metrics WHERE run_id = \(run) AND key = \(key) AND (step, timestamp, value, is_nan) < (\(step), \(timestamp), \(value), \(isNaN))
                    ORDER BY step, timestamp, value, is_nan LIMIT \(Int64(limit))
                    """
                )
            )
        case .dropSpansBefore(let run, let key, let step):
            try await connection.query("DELETE FROM metric_spans WHERE run_id = \(run) AND key = \(key) AND last_step < \(step)", logger: logger)
            return .done
        case .finished:
            return .done
        }
    }

    // MARK: Projects and state documents

    public func projects() async throws -> [Project] {
        let logger = logger
        return try await gate.run { connection in
            let rows = try await connection.query(
                """
                SELECT p.name, p.created_at, p.last_active_at, p.archived, (SELECT count(*) FROM state_documents d WHERE d.project_id = p.project_id)
                FROM projects p ORDER BY p.last_active_at IS NULL, p.last_active_at DESC, p.name COLLATE "C"
                """,
                logger: logger
            )
            var projects: [Project] = []
            for try await (name, created, active, archived, documents) in rows.decode((String, Int64, Int64?, Bool, Int64).self) {
                projects.append(Project(name: name, createdAt: created, lastActiveAt: active, archived: archived, documentCount: Int(documents)))
            }
            return projects
        }
    }

    public func changeProject(_ name: String, _ change: ProjectChange) async throws {
        try Validation.checkStateName(name, kind: "project name")
        let now = clock()
        let logger = logger
        try await gate.transaction(idempotent: false) { connection in
            let rows: [PostgresRow]
            switch change {
            case .create:
                rows = try await connection.query(
                    "INSERT INTO projects (name, created_at) VALUES (\(name), \(now)) ON CONFLICT (name) DO NOTHING RETURNING 1", logger: logger
                ).collect()
                if rows.isEmpty { throw LedgerError.projectExists(name) }
                return
            case .archive:
                rows = try await connection.query("UPDATE projects SET archived = TRUE WHERE name = \(name) RETURNING 1", logger: logger).collect()
            case .activate:
                rows = try await connection.query(
                    "UPDATE projects SET archived = FALSE, last_active_at = \(now) WHERE name = \(name) RETURNING 1", logger: logger
                ).collect()
            case .delete:
                rows = try await connection.query("DELETE FROM projects WHERE name = \(name) RETURNING 1", logger: logger).collect()
            }
            if rows.isEmpty { throw LedgerError.unknownProject(name) }
        }
    }

    public func stateDocument(project: String, namespace: String) async throws -> StateDocument? {
        try Validation.checkStateName(project, kind: "project name")
        try Validation.checkStateName(namespace, kind: "namespace")
        let logger = logger
        return try await gate.run { connection in
            guard let row = try await connection.query("SELECT project_id FROM projects WHERE name = \(project)", logger: logger).collect().first else {
                throw LedgerError.unknownProject(project)
            }
            let id = try row.decode(Int64.self)
            guard let document = try await connection.query(
                "SELECT version, updated_at, document FROM state_documents WHERE project_id = \(id) AND namespace = \(namespace)", logger: logger
            ).collect().first else { return nil }
            let (version, updated, text) = try document.decode((Int64, Int64, String).self)
            return StateDocument(project: project, namespace: namespace, version: version, updatedAt: updated, document: text)
        }
    }

    public func putStateDocument(project: String, namespace: String, document: String, expectedVersion: Int64?) async throws -> StateDocument {
        try Validation.checkStatePut(project: project, namespace: namespace, document: document, expectedVersion: expectedVersion)
        let now = clock()
        let logger = logger
        // Not retried after an ambiguous COMMIT: a write without an expected version is not idempotent.
        return try await gate.transaction(idempotent: false) { connection in
            guard let row = try await connection.query("SELECT project_id, archived FROM projects WHERE name = \(project) FOR SHARE", logger: logger).collect().first
            else { throw LedgerError.unknownProject(project) }
            let (id, archived) = try row.decode((Int64, Bool).self)
            if archived { throw LedgerError.archivedProject(project) }
            // Each statement decides atomically: a concurrent writer with the same expected version finds no row to update.
            let rows: [PostgresRow] =
                switch expectedVersion {
                case nil:
                    try await connection.query(
                        """
                        INSERT INTO state_documents (project_id, namespace, version, updated_at, document) VALUES (\(id), \(namespace), 1, \(now), \(document))
                        ON CONFLICT (project_id, namespace) DO UPDATE SET version = state_documents.version + 1, updated_at = excluded.updated_at,
                            document = excluded.document
                        RETURNING version
                        """,
                        logger: logger
                    ).collect()
                case 0?:
                    try await connection.query(
                        """
                        INSERT INTO state_documents (project_id, namespace, version, updated_at, document) VALUES (\(id), \(namespace), 1, \(now), \(document))
                        ON CONFLICT (project_id, namespace) DO NOTHING RETURNING version
                        """,
                        logger: logger
                    ).collect()
                case let expected?:
                    try await connection.query(
                        """
                        UPDATE state_documents SET version = version + 1, updated_at = \(now), document = \(document)
                        WHERE project_id = \(id) AND namespace = \(namespace) AND version = \(expected) RETURNING version
                        """,
                        logger: logger
                    ).collect()
                }
            guard let written = rows.first else {
                let current = try await connection.query(
                    "SELECT version FROM state_documents WHERE project_id = \(id) AND namespace = \(namespace)", logger: logger
                ).collect().first.map { try $0.decode(Int64.self) }
                throw LedgerError.staleState(project: project, namespace: namespace, expected: expectedVersion ?? 0, current: current)
            }
            return StateDocument(project: project, namespace: namespace, version: try written.decode(Int64.self), updatedAt: now, document: document)
        }
    }
}
