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
                throw LedgerError(.resourceDoesNotExist, "No experiment with id \(experimentID).")
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
                throw LedgerError(.resourceDoesNotExist, "No experiment with id \(experiment).")
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
            if db.changesCount == 0 { throw LedgerError(.resourceDoesNotExist, "No retention policy with id \(id) (see `runledger retention list`).") }
        }
    }

    public func prune(_ policy: RetentionPolicy, now: Int64, budget: Int, dryRun: Bool, resume: String?) async throws -> PruneCount {
        try policy.validate()
        let cursor = try PruneCursor(resume)
        let budget = dryRun ? Int.max : max(1, budget)
        let body: @Sendable (Database) throws -> PruneCount = { db in
            var count = PruneCount()
            // One clause for "this experiment" and "every experiment": the id is bound, NULL meaning all.
            let experimentClause = " AND (?5 IS NULL OR r.experiment_id = ?5)"
            let experiment = policy.experimentID?.rawValue
            if case .events = cursor, let maxAge = policy.maxAge {
                let kinds = try String.fetchAll(db, sql: "SELECT DISTINCT kind FROM run_events").filter(policy.covers)
                if !kinds.isEmpty {
                    // ?1 cutoff, ?2 budget, ?5 experiment, then the kinds from ?6 on.
                    let list = kinds.indices.map { "?\($0 + 6)" }.joined(separator: ", ")
                    let selection = """
                        SELECT e.event_id FROM run_events e JOIN runs r ON r.id = e.run_id
                        WHERE e.timestamp < ?1 AND e.kind IN (\(list))\(experimentClause)
                        """
                    let arguments = StatementArguments(
                        [RetentionPolicy.cutoff(now, maxAge), Int64(budget), nil, nil, experiment].map { $0 as (any DatabaseValueConvertible)? } + kinds.map { $0 as (any DatabaseValueConvertible)? }
                    )
                    if dryRun {
                        count.events = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM (\(selection) LIMIT ?2)", arguments: arguments) ?? 0
                    } else {
                        try db.execute(sql: "DELETE FROM run_events WHERE event_id IN (\(selection) LIMIT ?2)", arguments: arguments)
                        count.events = db.changesCount
                        if count.events >= budget { return PruneCount(events: count.events, resume: PruneCursor.events.text) }
                    }
                }
            }
            // Then each (run, key) pair the policy covers, in the latest-metrics table's order, from the cursor on.
            var after: (Int64, String) = (.min, "")
            if case .pair(let run, let key) = cursor { after = (run, key) }
            let pairs = try Row.fetchCursor(
                db,
                sql: "SELECT lm.run_id, lm.key FROM latest_metrics lm JOIN runs r ON r.id = lm.run_id WHERE (lm.run_id, lm.key) >= (?1, ?2)\(experimentClause) ORDER BY lm.run_id, lm.key",
                arguments: [after.0, after.1, nil, nil, experiment]
            )
            var remaining = budget - count.events
            while let pair = try pairs.next() {
                let run: Int64 = pair[0], key: String = pair[1]
                guard policy.covers(key) else { continue }
                let removed = try Self.prunePair(run: run, key: key, policy: policy, now: now, budget: remaining, dryRun: dryRun, db: db)
                count.points += removed
                remaining -= removed
                // The budget ran out in this pair: the next pass starts with it again, as it may have points left.
                if remaining <= 0 {
                    count.resume = PruneCursor.pair(run: run, key: key).text
                    return count
                }
            }
            return count
        }
        return dryRun ? try await read(body) : try await perform(body)
    }

    /// Removes (or counts) a pair's points older than the age limit, then all but its newest `maxPointsPerKey`.
    private static func prunePair(run: Int64, key: String, policy: RetentionPolicy, now: Int64, budget: Int, dryRun: Bool, db: Database) throws -> Int {
        var removed = 0
        let pairColumns = "run_id, key, step, timestamp, value, is_nan"
        if let maxAge = policy.maxAge {
            // Old points live in the step ranges of spans that began before the cutoff.
            let cutoff = RetentionPolicy.cutoff(now, maxAge)
            let spans = try Row.fetchAll(
                db, sql: "SELECT first_step, last_step, min_timestamp, max_timestamp FROM metric_spans WHERE run_id = ? AND key = ? AND min_timestamp < ?",
                arguments: [run, key, cutoff]
            ).map { MetricSpan(firstStep: $0[0], lastStep: $0[1], minTimestamp: $0[2], maxTimestamp: $0[3]) }
            let selection = "SELECT \(pairColumns) FROM metrics WHERE run_id = ? AND key = ? AND step BETWEEN ? AND ? AND timestamp < ?"
            for range in MetricSpan.stepRanges(spans) where removed < budget {
                let arguments: StatementArguments = [run, key, range.lowerBound, range.upperBound, cutoff]
                if dryRun {
                    removed += try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM (\(selection))", arguments: arguments) ?? 0
                } else {
                    try db.execute(sql: "DELETE FROM metrics WHERE (\(pairColumns)) IN (\(selection) LIMIT ?)", arguments: arguments + [budget - removed])
                    removed += db.changesCount
                }
            }
            // A span wholly older than the cutoff holds nothing any more once the pass got through.
            if !dryRun && removed < budget {
                try db.execute(sql: "DELETE FROM metric_spans WHERE run_id = ? AND key = ? AND max_timestamp < ?", arguments: [run, key, cutoff])
            }
        }
        if let keep = policy.maxPointsPerKey, removed < budget {
            if dryRun {
                let age = policy.maxAge.map { RetentionPolicy.cutoff(now, $0) } ?? .min
                let left = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM metrics WHERE run_id = ? AND key = ? AND timestamp >= ?", arguments: [run, key, age]) ?? 0
                removed += max(0, left - keep)
            } else if let cutoff = try Row.fetchOne(
                db,
                sql: "SELECT step, timestamp, value, is_nan FROM metrics WHERE run_id = ? AND key = ? ORDER BY step DESC, timestamp DESC, value DESC, is_nan DESC LIMIT 1 OFFSET ?",
                arguments: [run, key, keep - 1]
            ) {
                // Everything before the keep-th newest point in the history's own order goes, oldest first.
                try db.execute(
                    sql: """
                        DELETE FROM metrics WHERE (\(pairColumns)) IN (SELECT \(pairColumns) FROM metrics WHERE run_id = ? AND key = ?
                        AND (step, timestamp, value, is_nan) < (?, ?, ?, ?) ORDER BY step, timestamp, value, is_nan LIMIT ?)
                        """,
                    arguments: [run, key, cutoff[0], cutoff[1], cutoff[2], cutoff[3], budget - removed]
                )
                removed += db.changesCount
                if removed < budget {
                    try db.execute(sql: "DELETE FROM metric_spans WHERE run_id = ? AND key = ? AND last_step < ?", arguments: [run, key, cutoff[0] as Int64])
                }
            }
        }
        return removed
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
                    throw LedgerError(.resourceAlreadyExists, "A project named '\(name)' exists already.")
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
