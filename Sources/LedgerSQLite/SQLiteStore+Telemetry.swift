import GRDB
public import LedgerCore

/// Windowed reads, run events, retention and project state on SQLite.
extension SQLiteStore {
    // MARK: Windowed reads and events

    public func metricWindow(_ window: MetricWindow) async throws -> [MetricSample] {
        try window.validate()
        return try await read { db in
            let runs = try Self.windowRuns(window, db: db)
            var lists: [[MetricSample]] = []
            for (id, runID) in runs {
                for key in window.keys {
                    let points = try Self.newestPoints(run: id, key: key, window: window, db: db)
                    lists.append(points.map { MetricSample(runID: runID, key: key, point: $0) })
                }
            }
            return MetricWindow.merge(lists, limit: window.limit)
        }
    }

    /// The newest points of one (run, key) in the window's time range: the spans that overlap it, newest first, each a
    /// step range of the primary key, until no older span can hold a newer point.
    private static func newestPoints(run: Int64, key: String, window: MetricWindow, db: Database) throws -> [MetricPoint] {
        var newest = NewestPoints(limit: window.limit, from: window.from, to: window.to)
        let spans = try Row.fetchCursor(
            db.cachedStatement(
                sql: "SELECT first_step, last_step, max_timestamp FROM metric_spans WHERE run_id = ? AND key = ? AND max_timestamp >= ? AND min_timestamp < ? ORDER BY max_timestamp DESC"
            ),
            arguments: [run, key, newest.from, newest.to]
        )
        let points = try db.cachedStatement(
            sql: "SELECT step, timestamp, value, is_nan FROM metrics WHERE run_id = ? AND key = ? AND step BETWEEN ? AND ? AND timestamp >= ? AND timestamp < ?"
        )
        while let span = try spans.next(), newest.wants(maxTimestamp: span[2]) {
            let rows = try Row.fetchAll(points, arguments: [run, key, span[0] as Int64, span[1] as Int64, newest.from, newest.to])
            newest.add(rows.map { row in
                let isNaN: Bool = row[3]
                return MetricPoint(value: isNaN ? .nan : row[2], timestamp: row[1], step: row[0])
            })
        }
        return newest.points
    }

    /// The runs a window reads: the one run, or the experiment's active runs that have one of the keys.
    private static func windowRuns(_ window: MetricWindow, db: Database) throws -> [(Int64, RunID)] {
        switch window.scope {
        case .run(let runID):
            return [(try Self.internalID(of: runID, db: db), runID)]
        case .experiment(let experimentID):
            guard try Bool.fetchOne(db, sql: "SELECT 1 FROM experiments WHERE experiment_id = ?", arguments: [experimentID.rawValue]) == true else {
                throw LedgerError.experimentNotFound(experimentID)
            }
            let keys = window.keys.map { _ in "?" }.joined(separator: ", ")
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT DISTINCT r.id, r.run_uuid FROM runs r JOIN latest_metrics lm ON lm.run_id = r.id
                    WHERE r.experiment_id = ? AND r.lifecycle_stage = 'active' AND lm.key IN (\(keys))
                    """,
                arguments: StatementArguments([experimentID.rawValue] + window.keys.map { $0 as any DatabaseValueConvertible })
            )
            return rows.compactMap { row in RunID(row[1] as String).map { (row[0] as Int64, $0) } }
        }
    }

    public func runEvents(_ query: EventQuery) async throws -> [StoredEvent] {
        try query.validate()
        return try await read { db in
            let id = try Self.internalID(of: query.runID, db: db)
            var sql = "SELECT event_id, timestamp, level, kind, message, payload FROM run_events WHERE run_id = ? AND timestamp >= ? AND timestamp < ? AND level >= ?"
            var arguments: [any DatabaseValueConvertible] = [id, query.from ?? .min, query.to ?? .max, query.minimumLevel.rank]
            if !query.kinds.isEmpty {
                sql += " AND kind IN (" + query.kinds.map { _ in "?" }.joined(separator: ", ") + ")"
                arguments += query.kinds.map { $0 as any DatabaseValueConvertible }
            }
            sql += " ORDER BY timestamp DESC, event_id DESC LIMIT ?"
            arguments.append(query.limit)
            return try Row.fetchAll(db, sql: sql, arguments: StatementArguments(arguments)).map { row in
                StoredEvent(
                    runID: query.runID, sequence: row[0],
                    event: RunEvent(timestamp: row[1], level: EventLevel(rank: row[2]) ?? .info, kind: row[3], message: row[4], payload: row[5])
                )
            }
        }
    }

    // MARK: Retention

    public func retentionPolicies() async throws -> [RetentionPolicy] {
        try await read { db in
            try Row.fetchAll(
                db, sql: "SELECT policy_id, experiment_id, key_glob, max_age_ms, max_points_per_key, created_at FROM retention_policies ORDER BY policy_id"
            ).map { row in
                RetentionPolicy(
                    id: row[0], experimentID: (row[1] as Int64?).map(ExperimentID.init), keyGlob: row[2], maxAge: row[3], maxPointsPerKey: row[4],
                    createdAt: row[5]
                )
            }
        }
    }

    public func addRetentionPolicy(_ policy: RetentionPolicy) async throws -> RetentionPolicy {
        try policy.validate()
        let now = clock()
        return try await perform { db in
            if let experiment = policy.experimentID,
                try Bool.fetchOne(db, sql: "SELECT 1 FROM experiments WHERE experiment_id = ?", arguments: [experiment.rawValue]) != true
            {
                throw LedgerError.experimentNotFound(experiment)
            }
            try db.execute(
                sql: "INSERT INTO retention_policies (experiment_id, key_glob, max_age_ms, max_points_per_key, created_at) VALUES (?, ?, ?, ?, ?)",
                arguments: [policy.experimentID?.rawValue, policy.keyGlob, policy.maxAge, policy.maxPointsPerKey, now]
            )
            var stored = policy
            stored.id = db.lastInsertedRowID
            stored.createdAt = now
            return stored
        }
    }

    public func removeRetentionPolicy(id: Int64) async throws {
        try await perform { db in
            try db.execute(sql: "DELETE FROM retention_policies WHERE policy_id = ?", arguments: [id])
            if db.changesCount == 0 { throw LedgerError.retentionPolicyNotFound(id) }
        }
    }

    public func prune(_ policy: RetentionPolicy, now: Int64, budget: Int, dryRun: Bool, resume: String?) async throws -> PruneCount {
        let start = try PrunePlan(policy, now: now, budget: budget, dryRun: dryRun, resume: resume)
        let body: @Sendable (Database) throws -> PruneCount = { db in
            var plan = start
            var action = plan.start()
            while true {
                if case .finished(let count) = action { return count }
                action = plan.next(try Self.perform(action, of: plan, db: db))
            }
        }
        return dryRun ? try await read(body) : try await perform(body)
    }

    /// Does one step of a retention pass (see ``PrunePlan/Action``).
    private static func perform(_ action: PrunePlan.Action, of plan: PrunePlan, db: Database) throws -> PrunePlan.Answer {
        // "This experiment" and "every experiment" in one clause: the id is bound, NULL meaning all.
        let experiment = plan.experimentID
        let pairColumns = "run_id, key, step, timestamp, value, is_nan"
        // Removes (a dry run counts) up to `limit` rows of a selection of the table's key columns.
        func removed(_ selection: String, _ arguments: StatementArguments, limit: Int, table: String = "metrics", key: String = pairColumns) throws -> Int {
            if plan.dryRun {
                return try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM (\(selection) LIMIT ?)", arguments: arguments + [limit]) ?? 0
            }
            try db.execute(sql: "DELETE FROM \(table) WHERE (\(key)) IN (\(selection) LIMIT ?)", arguments: arguments + [limit])
            return db.changesCount
        }
        switch action {
        case .listEventKinds:
            return .kinds(try String.fetchAll(db, sql: "SELECT DISTINCT kind FROM run_events"))
        case .removeEvents(let kinds, let before, let limit):
            let list = kinds.map { _ in "?" }.joined(separator: ", ")
            let selection = """
                SELECT e.event_id FROM run_events e JOIN runs r ON r.id = e.run_id
                WHERE e.timestamp < ? AND e.kind IN (\(list)) AND (? IS NULL OR r.experiment_id = ?)
                """
            let arguments = StatementArguments([before] + kinds + [experiment, experiment] as [(any DatabaseValueConvertible)?])
            return .count(try removed(selection, arguments, limit: limit, table: "run_events", key: "event_id"))
        case .listPairs(let run, let key, let inclusive, let limit):
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT lm.run_id, lm.key FROM latest_metrics lm JOIN runs r ON r.id = lm.run_id
                    WHERE (lm.run_id, lm.key) \(inclusive ? ">=" : ">") (?, ?) AND (? IS NULL OR r.experiment_id = ?) ORDER BY lm.run_id, lm.key LIMIT ?
                    """,
                arguments: [run, key, experiment, experiment, limit]
            )
            return .pairs(rows.map { (run: $0[0], key: $0[1]) })
        case .listSpans(let run, let key, let before):
            let rows = try Row.fetchAll(
                db, sql: "SELECT first_step, last_step, min_timestamp, max_timestamp FROM metric_spans WHERE run_id = ? AND key = ? AND min_timestamp < ?",
                arguments: [run, key, before]
            )
            return .spans(rows.map { MetricSpan(firstStep: $0[0], lastStep: $0[1], minTimestamp: $0[2], maxTimestamp: $0[3]) })
        case .removeOldPoints(let run, let key, let steps, let before, let limit):
            let selection = "SELECT \(pairColumns) FROM metrics WHERE run_id = ? AND key = ? AND step BETWEEN ? AND ? AND timestamp < ?"
            return .count(try removed(selection, [run, key, steps.lowerBound, steps.upperBound, before], limit: limit))
        case .dropSpans(let run, let key, let before):
            try db.execute(sql: "DELETE FROM metric_spans WHERE run_id = ? AND key = ? AND max_timestamp < ?", arguments: [run, key, before])
            return .done
        case .countPoints(let run, let key, let since):
            return .count(try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM metrics WHERE run_id = ? AND key = ? AND timestamp >= ?", arguments: [run, key, since]) ?? 0)
        case .findNewest(let run, let key, let offset):
            let row = try Row.fetchOne(
                db,
                sql: "SELECT step, timestamp, value, is_nan FROM metrics WHERE run_id = ? AND key = ? ORDER BY step DESC, timestamp DESC, value DESC, is_nan DESC LIMIT 1 OFFSET ?",
                arguments: [run, key, offset]
            )
            return .point(row.map { MetricPoint(value: ($0[3] as Bool) ? .nan : $0[2], timestamp: $0[1], step: $0[0]) })
        case .removePointsBefore(let run, let key, let point, let limit):
            let selection = """
                SELECT \(pairColumns) FROM metrics WHERE run_id = ? AND key = ?
                AND (step, timestamp, value, is_nan) < (?, ?, ?, ?) ORDER BY step, timestamp, value, is_nan
                """
            return .count(try removed(selection, [run, key, point.step, point.timestamp, point.storedValue, point.value.isNaN], limit: limit))
        case .dropSpansBefore(let run, let key, let step):
            try db.execute(sql: "DELETE FROM metric_spans WHERE run_id = ? AND key = ? AND last_step < ?", arguments: [run, key, step])
            return .done
        case .finished:
            return .done
        }
    }

    // MARK: Projects and state documents

    public func projects() async throws -> [Project] {
        try await read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT p.name, p.created_at, p.last_active_at, p.archived,
                           (SELECT COUNT(*) FROM state_documents d WHERE d.project_id = p.project_id)
                    FROM projects p ORDER BY p.last_active_at IS NULL, p.last_active_at DESC, p.name
                    """
            ).map { row in Project(name: row[0], createdAt: row[1], lastActiveAt: row[2], archived: row[3], documentCount: row[4]) }
        }
    }

    public func changeProject(_ name: String, _ change: ProjectChange) async throws {
        try Validation.checkStateName(name, kind: "project name")
        let now = clock()
        try await perform { db in
            if change == .create {
                if try Bool.fetchOne(db, sql: "SELECT 1 FROM projects WHERE name = ?", arguments: [name]) == true {
                    throw LedgerError.projectExists(name)
                }
                try db.execute(sql: "INSERT INTO projects (name, created_at) VALUES (?, ?)", arguments: [name, now])
                return
            }
            switch change {
            case .archive: try db.execute(sql: "UPDATE projects SET archived = 1 WHERE name = ?", arguments: [name])
            case .activate: try db.execute(sql: "UPDATE projects SET archived = 0, last_active_at = ? WHERE name = ?", arguments: [now, name])
            case .delete, .create: try db.execute(sql: "DELETE FROM projects WHERE name = ?", arguments: [name])
            }
            if db.changesCount == 0 { throw LedgerError.unknownProject(name) }
        }
    }

    public func stateDocument(project: String, namespace: String) async throws -> StateDocument? {
        try Validation.checkStateName(project, kind: "project name")
        try Validation.checkStateName(namespace, kind: "namespace")
        return try await read { db in
            guard let id = try Int64.fetchOne(db, sql: "SELECT project_id FROM projects WHERE name = ?", arguments: [project]) else {
                throw LedgerError.unknownProject(project)
            }
            return try Row.fetchOne(
                db, sql: "SELECT version, updated_at, document FROM state_documents WHERE project_id = ? AND namespace = ?", arguments: [id, namespace]
            ).map { StateDocument(project: project, namespace: namespace, version: $0[0], updatedAt: $0[1], document: $0[2]) }
        }
    }

    public func putStateDocument(project: String, namespace: String, document: String, expectedVersion: Int64?) async throws -> StateDocument {
        try Validation.checkStatePut(project: project, namespace: namespace, document: document, expectedVersion: expectedVersion)
        let now = clock()
        return try await perform { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT project_id, archived FROM projects WHERE name = ?", arguments: [project]) else {
                throw LedgerError.unknownProject(project)
            }
            let id: Int64 = row[0]
            if row[1] as Bool { throw LedgerError.archivedProject(project) }
            let sql =
                switch expectedVersion {
                case nil:
                    """
                    INSERT INTO state_documents (project_id, namespace, version, updated_at, document) VALUES (?1, ?2, 1, ?3, ?4)
                    ON CONFLICT (project_id, namespace) DO UPDATE SET version = version + 1, updated_at = ?3, document = ?4 RETURNING version
                    """
                case 0?:
                    "INSERT INTO state_documents (project_id, namespace, version, updated_at, document) VALUES (?1, ?2, 1, ?3, ?4) ON CONFLICT DO NOTHING RETURNING version"
                case _?:
                    "UPDATE state_documents SET version = version + 1, updated_at = ?3, document = ?4 WHERE project_id = ?1 AND namespace = ?2 AND version = ?5 RETURNING version"
                }
            var arguments: StatementArguments = [id, namespace, now, document]
            if let expectedVersion, expectedVersion > 0 { arguments += [expectedVersion] }
            guard let version = try Int64.fetchOne(db, sql: sql, arguments: arguments) else {
                let current = try Int64.fetchOne(db, sql: "SELECT version FROM state_documents WHERE project_id = ? AND namespace = ?", arguments: [id, namespace])
                throw LedgerError.staleState(project: project, namespace: namespace, expected: expectedVersion ?? 0, current: current)
            }
            return StateDocument(project: project, namespace: namespace, version: version, updatedAt: now, document: document)
        }
    }
}
