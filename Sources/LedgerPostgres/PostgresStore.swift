import Foundation
import PostgresNIO
public import LedgerCore
import Logging

/// The server backend: a RunLedger database in PostgreSQL, through PostgresNIO's pooled `PostgresClient`.
///
/// Tables, columns and query semantics are those of the SQLite store (one conformance suite runs against both).
/// Each write batch is one transaction; concurrent writers run in parallel on pooled connections.
public struct PostgresStore: TrackingStore {
    let gate: PostgresGate
    /// RunLedger's migration files, read from the bundle once at open (the health check compares against them).
    private let migrator: PostgresMigrator
    var logger: Logger { gate.logger }
    var clock: @Sendable () -> Int64 { gate.options.clock }

    init(gate: PostgresGate, migrator: PostgresMigrator) {
        self.gate = gate
        self.migrator = migrator
    }

    public var identity: String { gate.identity }

    /// Closes the pool's connections. Later calls fail.
    public func close() async throws { await gate.shutdown() }

    /// The pool's figures (open, in use, idle, waiting connections), also recorded as swift-metrics gauges.
    public func poolStatistics() async throws -> PostgresPoolStatistics { try await gate.statistics() }

    /// Connections lent out and operations waiting for one, without a query (safe when the pool is exhausted).
    public var poolUsage: (inUse: Int, waiting: Int) { gate.usage }

    /// Whether the database answers and its schema is what this binary expects; the reason when it is not.
    public func healthCheck() async -> LedgerError? {
        do {
            let migrator = migrator
            let logger = logger
            return StoreRules.health(try await gate.run { try await migrator.plan($0, logger: logger) })
        } catch let error as LedgerError {
            return error
        } catch {
            return LedgerError(.storeUnavailable, "PostgreSQL did not answer: \(error).")
        }
    }

    // MARK: Experiments

    public func createExperiment(name: String, artifactLocation: String?, tags: [KeyValue]) async throws -> Experiment {
        try StoreRules.checkNewExperiment(name: name, artifactLocation: artifactLocation, tags: tags)
        let now = clock()
        let logger = logger
        let id = try await gate.transaction(idempotent: false) { connection -> Int64 in
            if try await !connection.query("SELECT 1 FROM experiments WHERE name = \(name)", logger: logger).collect().isEmpty {
                throw LedgerError.experimentExists(name)
            }
            let rows = try await connection.query(
                "INSERT INTO experiments (name, artifact_location, creation_time, last_update_time) VALUES (\(name), \(artifactLocation ?? ""), \(now), \(now)) RETURNING experiment_id",
                logger: logger
            ).collect()
            let id = try rows[0].decode(Int64.self)
            if artifactLocation == nil {
                try await connection.query("UPDATE experiments SET artifact_location = \(StoreRules.defaultArtifactLocation(id)) WHERE experiment_id = \(id)", logger: logger)
            }
            if !tags.isEmpty {
                let (keys, values) = StoreRules.lastValues(tags)
                try await connection.query(
                    """
                    INSERT INTO experiment_tags (experiment_id, key, value) SELECT \(id), k, v FROM unnest(\(keys)::text[], \(values)::text[]) AS t(k, v)
                    ON CONFLICT (experiment_id, key) DO UPDATE SET value = excluded.value
                    """,
                    logger: logger
                )
            }
            return id
        }
        return try await experiment(id: ExperimentID(id))
    }

    public func experiment(id: ExperimentID) async throws -> Experiment {
        let logger = logger
        return try await gate.run { connection in
            guard let experiment = try await Self.fetchExperiments(connection, "WHERE experiment_id = $1", [id.rawValue], logger).first else {
                throw LedgerError.experimentNotFound(id)
            }
            return experiment
        }
    }

    public func experiment(named name: String) async throws -> Experiment? {
        let logger = logger
        return try await gate.run { connection in try await Self.fetchExperiments(connection, "WHERE name = $1", [name], logger).first }
    }

    public func experiments(view: ViewType) async throws -> [ExperimentSummary] {
        let logger = logger
        return try await gate.run { connection in
            let experiments = try await Self.fetchExperiments(
                connection, "WHERE lifecycle_stage = ANY($1) ORDER BY experiment_id", [view.stages.map(\.rawValue)], logger
            )
            var byID: [Int64: (Int, Int64?)] = [:]
            let counts = try await connection.query(
                "SELECT experiment_id, COUNT(*), MAX(start_time) FROM runs WHERE lifecycle_stage = 'active' GROUP BY experiment_id", logger: logger
            )
            for try await (id, count, last) in counts.decode((Int64, Int64, Int64?).self) { byID[id] = (Int(count), last) }
            return experiments.map { experiment in
                let (count, last) = byID[experiment.id.rawValue] ?? (0, nil)
                return ExperimentSummary(experiment: experiment, runCount: count, lastRunStartTime: last)
            }
        }
    }

    public func updateExperiment(id: ExperimentID, _ change: ExperimentChange) async throws {
        let now = clock()
        let logger = logger
        try await gate.transaction { connection in
            guard try await !connection.query("SELECT 1 FROM experiments WHERE experiment_id = \(id.rawValue) FOR UPDATE", logger: logger).collect().isEmpty
            else { throw LedgerError.experimentNotFound(id) }
            try StoreRules.checkChange(change, of: id)
            switch change {
            case .rename(let name):
                if try await !connection.query(
                    "SELECT 1 FROM experiments WHERE name = \(name) AND experiment_id <> \(id.rawValue)", logger: logger
                ).collect().isEmpty {
                    throw LedgerError.experimentExists(name)
                }
                try await connection.query(
                    "UPDATE experiments SET name = \(name), last_update_time = \(now) WHERE experiment_id = \(id.rawValue)", logger: logger
                )
            case .setLifecycle(let stage):
                try await connection.query(
                    "UPDATE experiments SET lifecycle_stage = \(stage.rawValue), last_update_time = \(now) WHERE experiment_id = \(id.rawValue)",
                    logger: logger
                )
            case .setTag(let tag):
                try await connection.query(
                    """
                    INSERT INTO experiment_tags (experiment_id, key, value) VALUES (\(id.rawValue), \(tag.key), \(tag.value))
                    ON CONFLICT (experiment_id, key) DO UPDATE SET value = excluded.value
                    """,
                    logger: logger
                )
            case .deleteTag(let key):
                try await connection.query("DELETE FROM experiment_tags WHERE experiment_id = \(id.rawValue) AND key = \(key)", logger: logger)
            }
        }
    }

    private static func fetchExperiments(
        _ connection: PostgresConnection, _ whereClause: String, _ arguments: [any PostgresDynamicTypeEncodable & Sendable], _ logger: Logger
    ) async throws -> [Experiment] {
        var binds = PostgresBindings()
        for argument in arguments { binds.append(argument) }
        let rows = try await connection.query(
            PostgresQuery(
                unsafeSQL: "SELECT experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time FROM experiments "
                    + whereClause,
                binds: binds
            ),
            logger: logger
        ).collect()
        var experiments: [Experiment] = []
        for row in rows {
            let (id, name, location, stage, created, updated) = try row.decode((Int64, String, String, String, Int64, Int64).self)
            experiments.append(
                Experiment(
                    id: ExperimentID(id), name: name, artifactLocation: location, lifecycleStage: LifecycleStage(rawValue: stage) ?? .active,
                    creationTime: created, lastUpdateTime: updated, tags: [:]
                )
            )
        }
        guard !experiments.isEmpty else { return [] }
        var tags: [Int64: [String: String]] = [:]
        let tagRows = try await connection.query(
            "SELECT experiment_id, key, value FROM experiment_tags WHERE experiment_id = ANY(\(experiments.map(\.id.rawValue)))", logger: logger
        )
        for try await (id, key, value) in tagRows.decode((Int64, String, String).self) { tags[id, default: [:]][key] = value }
        for index in experiments.indices { experiments[index].tags = tags[experiments[index].id.rawValue] ?? [:] }
        return experiments
    }

    // MARK: Writes

    public func write(_ batch: WriteBatch) async throws -> WriteOutcome {
        let (batch, warnings) = try batch.validated()
        for warning in warnings { logger.warning("\(warning)") }
        let now = clock()
        // With a batch id, a retry after an ambiguous COMMIT is safe: the id makes the second attempt a no-op.
        let outcome = try await gate.transaction(idempotent: batch.id != nil) { connection in
            try await self.apply(batch, connection: connection, now: now)
        }
        if outcome == .applied {
            gate.recordCreatedRuns(batch.operations.count { if case .createRun = $0 { true } else { false } })
        }
        return outcome
    }

    private func apply(_ batch: WriteBatch, connection: PostgresConnection, now: Int64) async throws -> WriteOutcome {
        if let id = batch.id {
            let inserted = try await connection.query(
                "INSERT INTO applied_batches (batch_id, applied_at) VALUES (\(id.rawValue), \(now)) ON CONFLICT (batch_id) DO NOTHING RETURNING 1",
                logger: logger
            ).collect()
            if inserted.isEmpty { return .alreadyApplied }
        }
        var runs: [RunID: RunRecord] = [:]
        for operation in batch.operations {
            try await apply(operation, connection: connection, runs: &runs, now: now)
        }
        return .applied
    }

    private func runRow(_ runID: RunID, connection: PostgresConnection, cache: inout [RunID: RunRecord], lock: Bool = false) async throws -> RunRecord {
        if let row = cache[runID] { return row }
        let sql = "SELECT id, status, end_time, lifecycle_stage FROM runs WHERE run_uuid = $1" + (lock ? " FOR UPDATE" : "")
        var binds = PostgresBindings()
        binds.append(runID.rawValue)
        guard let row = try await connection.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger).collect().first else {
            throw LedgerError.runNotFound(runID)
        }
        let (id, status, endTime, lifecycle) = try row.decode((Int64, String, Int64?, String).self)
        let run = try RunRecord(id: id, status: status, endTime: endTime, lifecycle: lifecycle).writable(runID)
        cache[runID] = run
        return run
    }

    private func apply(_ operation: WriteOperation, connection: PostgresConnection, runs: inout [RunID: RunRecord], now: Int64) async throws {
        let logger = logger
        switch operation {
        case .createRun(var new):
            if let name = new.experimentName {
                new.experimentID = try await experimentID(named: name, connection: connection, now: now)
            }
            let experiment = try await connection.query(
                "SELECT lifecycle_stage, artifact_location FROM experiments WHERE experiment_id = \(new.experimentID.rawValue)", logger: logger
            ).collect().first
            let (endTime, artifactURI) = try StoreRules.newRun(new, experiment: try experiment?.decode((String, String).self))
            let inserted = try await connection.query(
                """
                INSERT INTO runs (run_uuid, experiment_id, name, status, start_time, end_time, user_id, artifact_uri)
                VALUES (\(new.runID.rawValue), \(new.experimentID.rawValue), \(new.name), \(new.status.rawValue), \(new.startTime), \(endTime),
                        \(new.userID), \(artifactURI))
                ON CONFLICT (run_uuid) DO NOTHING RETURNING id
                """,
                logger: logger
            ).collect()
            guard let row = inserted.first else { throw LedgerError.runExists(new.runID) }
            runs[new.runID] = RunRecord(id: try row.decode(Int64.self), status: new.status, endTime: endTime, lifecycle: .active)

        case .logMetrics(let runID, let metrics):
            let run = try await runRow(runID, connection: connection, cache: &runs)
            try await insertMetrics(metrics, runID: run.id, connection: connection)

        case .logParams(let runID, let params):
            let run = try await runRow(runID, connection: connection, cache: &runs)
            let keys = params.map(\.key)
            try await connection.query(
                """
                INSERT INTO params (run_id, key, value) SELECT \(run.id), k, v FROM unnest(\(keys)::text[], \(params.map(\.value))::text[]) AS t(k, v)
                ON CONFLICT (run_id, key) DO NOTHING
                """,
                logger: logger
            )
            var stored: [String: String] = [:]
            for try await (key, value) in try await connection.query(
                "SELECT key, value FROM params WHERE run_id = \(run.id) AND key = ANY(\(keys))", logger: logger
            ).decode((String, String).self) { stored[key] = value }
            // Params are immutable: the first value logged stays, and a different one is refused.
            for param in params { try StoreRules.checkParam(param, existing: stored[param.key], runID: runID) }

        case .setTags(let runID, let tags):
            let run = try await runRow(runID, connection: connection, cache: &runs)
            let (keys, values) = StoreRules.lastValues(tags)
            try await connection.query(
                """
                INSERT INTO tags (run_id, key, value) SELECT \(run.id), k, v FROM unnest(\(keys)::text[], \(values)::text[]) AS t(k, v)
                ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value
                """,
                logger: logger
            )
            // MLflow keeps the run name and this tag in step.
            if let index = keys.lastIndex(of: StoreRules.runNameTag) {
                try await connection.query("UPDATE runs SET name = \(values[index]) WHERE id = \(run.id)", logger: logger)
            }

        case .deleteTag(let runID, let key):
            let run = try await runRow(runID, connection: connection, cache: &runs)
            let deleted = try await connection.query("DELETE FROM tags WHERE run_id = \(run.id) AND key = \(key) RETURNING 1", logger: logger).collect()
            if deleted.isEmpty {
                throw LedgerError.tagNotFound(key, runID: runID)
            }

        case .updateRun(let runID, let update):
            // The row lock orders concurrent status changes, so "forward only" holds across connections.
            if runs[runID] != nil, update.status != nil { runs[runID] = nil }
            let run = try await runRow(runID, connection: connection, cache: &runs, lock: true).applying(update, now: now, runID: runID)
            try await connection.query("UPDATE runs SET status = \(run.status.rawValue), end_time = \(run.endTime) WHERE id = \(run.id)", logger: logger)
            if let name = update.name {
                try await connection.query("UPDATE runs SET name = \(name) WHERE id = \(run.id)", logger: logger)
                try await connection.query(
                    """
                    INSERT INTO tags (run_id, key, value) VALUES (\(run.id), \(StoreRules.runNameTag), \(name))
                    ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value
                    """,
                    logger: logger
                )
            }
            runs[runID] = run

        case .heartbeat(let runIDs, let time):
            try await connection.query(
                "UPDATE runs SET heartbeat_time = greatest(coalesce(heartbeat_time, 0), \(time)) WHERE run_uuid = ANY(\(runIDs.map(\.rawValue)))",
                logger: logger
            )

        case .logEvents(let runID, let events):
            let run = try await runRow(runID, connection: connection, cache: &runs)
            // Arrays cannot hold a missing payload here: a flag array says which of the texts are real.
            let payloads = events.map { $0.payload ?? "" }, hasPayload = events.map { $0.payload != nil }
            try await connection.query(
                """
                INSERT INTO run_events (run_id, timestamp, level, kind, message, payload)
                SELECT \(run.id), t, l, k, m, CASE WHEN h THEN p END
                FROM unnest(\(events.map(\.timestamp))::bigint[], \(events.map { Int16($0.level.rank) })::smallint[], \(events.map(\.kind))::text[],
                    \(events.map(\.message))::text[], \(payloads)::text[], \(hasPayload)::boolean[]) WITH ORDINALITY AS e(t, l, k, m, p, h, n) ORDER BY n
                """,
                logger: logger
            )
        }
    }

    /// The id of the experiment called `name`, created (with the default artifact location) if missing.
    private func experimentID(named name: String, connection: PostgresConnection, now: Int64) async throws -> ExperimentID {
        // Concurrent creators of one name: the unique index makes the second wait, then find the first's row.
        let inserted = try await connection.query(
            """
            INSERT INTO experiments (name, creation_time, last_update_time) VALUES (\(name), \(now), \(now))
            ON CONFLICT (name) DO NOTHING RETURNING experiment_id
            """,
            logger: logger
        ).collect()
        if let row = inserted.first {
            let id = try row.decode(Int64.self)
            try await connection.query("UPDATE experiments SET artifact_location = \(StoreRules.defaultArtifactLocation(id)) WHERE experiment_id = \(id)", logger: logger)
            return ExperimentID(id)
        }
        let rows = try await connection.query("SELECT experiment_id FROM experiments WHERE name = \(name)", logger: logger).collect()
        return ExperimentID(try rows[0].decode(Int64.self))
    }

    public func reapRuns(heartbeatBefore cutoff: Int64, endTime: Int64) async throws -> [RunID] {
        let logger = logger
        return try await gate.transaction { connection in
            let rows = try await connection.query(
                """
                UPDATE runs SET status = 'KILLED', end_time = \(endTime)
                WHERE status = 'RUNNING' AND lifecycle_stage = 'active' AND heartbeat_time < \(cutoff)
                RETURNING run_uuid
                """,
                logger: logger
            ).collect()
            return try rows.compactMap { RunID(try $0.decode(String.self)) }
        }
    }

    /// Rows per INSERT: arrays are one bind each, so a statement can carry many points.
    private static let rowsPerInsert = 20_000

    /// The hot path of ingestion: points go as five arrays through `unnest`, a statement per 20 000 points, then
    /// `latest_metrics` moves forward once per key.
    private func insertMetrics(_ metrics: [Metric], runID: Int64, connection: PostgresConnection) async throws {
        let summary = MetricKeySummary(metrics)
        var start = 0
        while start < metrics.count {
            let end = min(start + Self.rowsPerInsert, metrics.count)
            var keys: [String] = []
            var steps: [Int64] = []
            var timestamps: [Int64] = []
            var values: [Double] = []
            var nans: [Int16] = []
            keys.reserveCapacity(end - start)
            steps.reserveCapacity(end - start)
            timestamps.reserveCapacity(end - start)
            values.reserveCapacity(end - start)
            nans.reserveCapacity(end - start)
            for metric in metrics[start..<end] {
                let point = metric.point
                keys.append(metric.key)
                steps.append(point.step)
                timestamps.append(point.timestamp)
                values.append(point.value.isNaN ? 0 : point.value)
                nans.append(point.value.isNaN ? 1 : 0)
            }
            try await connection.query(
                """
                INSERT INTO metrics (run_id, key, step, timestamp, value, is_nan)
                SELECT \(runID), * FROM unnest(\(keys)::text[], \(steps)::int8[], \(timestamps)::int8[], \(values)::float8[], \(nans)::int2[])
                ON CONFLICT DO NOTHING
                """,
                logger: logger
            )
            start = end
        }
        let (keys, spans, points) = (summary.keys, summary.spans, summary.latest)
        try await connection.query(
            """
            INSERT INTO metric_spans (run_id, key, first_step, last_step, min_timestamp, max_timestamp)
            SELECT \(runID), * FROM unnest(\(keys)::text[], \(spans.map(\.firstStep))::int8[], \(spans.map(\.lastStep))::int8[],
                                            \(spans.map(\.minTimestamp))::int8[], \(spans.map(\.maxTimestamp))::int8[])
            """,
            logger: logger
        )
        try await connection.query(
            """
            INSERT INTO latest_metrics AS l (run_id, experiment_id, key, step, timestamp, value, is_nan)
            SELECT \(runID), (SELECT experiment_id FROM runs WHERE id = \(runID)), *
            FROM unnest(\(keys)::text[], \(points.map(\.step))::int8[], \(points.map(\.timestamp))::int8[],
                        \(points.map { $0.value.isNaN ? 0 : $0.value })::float8[], \(points.map { Int16($0.value.isNaN ? 1 : 0) })::int2[])
            ON CONFLICT (run_id, key) DO UPDATE SET
                step = excluded.step, timestamp = excluded.timestamp, value = excluded.value, is_nan = excluded.is_nan
            WHERE \(unescaped: StoreRules.latestMetricSupersedes(new: "excluded", old: "l"))
            """,
            logger: logger
        )
    }

    public func setRunLifecycle(_ runID: RunID, _ stage: LifecycleStage) async throws {
        let logger = logger
        try await gate.run { connection in
            let updated = try await connection.query(
                "UPDATE runs SET lifecycle_stage = \(stage.rawValue) WHERE run_uuid = \(runID.rawValue) RETURNING 1", logger: logger
            ).collect()
            if updated.isEmpty { throw LedgerError.runNotFound(runID) }
        }
    }

    // MARK: Reads

    public func run(_ runID: RunID) async throws -> Run {
        let logger = logger
        return try await gate.run { connection in
            guard let row = try await connection.query("SELECT id FROM runs WHERE run_uuid = \(runID.rawValue)", logger: logger).collect().first else {
                throw LedgerError.runNotFound(runID)
            }
            return try await Self.loadRuns(connection, ids: [try row.decode(Int64.self)], logger: logger)[0]
        }
    }

    public func searchRuns(_ query: RunQuery) async throws -> RunPage {
        let start = try SearchLoop(query, dialect: .postgres)
        let logger = logger
        return try await gate.run { connection in
            var loop = start
            while let statement = loop.next() {
                var ids: [Int64] = []
                for try await (id, _) in try await connection.query(Self.query(statement), logger: logger).decode((Int64, String).self) { ids.append(id) }
                loop.add(ids)
            }
            return loop.page(try await Self.loadRuns(connection, ids: loop.pageIDs, logger: logger))
        }
    }

    public func metricHistory(runID: RunID, key: String) async throws -> [MetricPoint] {
        try await history(runID: runID, key: key, after: nil, limit: nil)
    }

    public func metricHistory(runID: RunID, key: String, after: MetricPoint?, limit: Int) async throws -> [MetricPoint] {
        try await history(runID: runID, key: key, after: after, limit: limit)
    }

    private func history(runID: RunID, key: String, after: MetricPoint?, limit: Int?) async throws -> [MetricPoint] {
        let logger = logger
        return try await gate.run { connection in
            guard let row = try await connection.query("SELECT id FROM runs WHERE run_uuid = \(runID.rawValue)", logger: logger).collect().first else {
                throw LedgerError.runNotFound(runID)
            }
            let id = try row.decode(Int64.self)
            var points: [MetricPoint] = []
            let query: PostgresQuery
            if let after, let limit {
                let (step, timestamp, value, isNaN) = (after.step, after.timestamp, after.storedValue, Int16(after.value.isNaN ? 1 : 0))
                query = """
                    SELECT step, timestamp, value, is_nan FROM metrics WHERE run_id = \(id) AND key = \(key)
                    AND (step, timestamp, value, is_nan) > (\(step), \(timestamp), \(value), \(isNaN))
                    ORDER BY step, timestamp, value, is_nan LIMIT \(Int64(limit))
                    """
            } else if let limit {
                query = "SELECT step, timestamp, value, is_nan FROM metrics WHERE run_id = \(id) AND key = \(key) ORDER BY step, timestamp, value, is_nan LIMIT \(Int64(limit))"
            } else {
                query = "SELECT step, timestamp, value, is_nan FROM metrics WHERE run_id = \(id) AND key = \(key) ORDER BY step, timestamp, value, is_nan"
            }
            let rows = try await connection.query(query, logger: logger)
            for try await (step, timestamp, value, isNaN) in rows.decode((Int64, Int64, Double, Int16).self) {
                points.append(MetricPoint(value: isNaN == 1 ? .nan : value, timestamp: timestamp, step: step))
            }
            return points
        }
    }

    /// Loads runs with their params, tags and latest metrics, in the order of `ids`.
    private static func loadRuns(_ connection: PostgresConnection, ids: [Int64], logger: Logger) async throws -> [Run] {
        guard !ids.isEmpty else { return [] }
        var runs: [Int64: Run] = [:]
        let infos = try await connection.query(
            """
            SELECT id, run_uuid, experiment_id, name, status, start_time, end_time, lifecycle_stage, user_id, artifact_uri
            FROM runs WHERE id = ANY(\(ids))
            """,
            logger: logger
        )
        for try await (id, uuid, experimentID, name, status, start, end, stage, user, artifactURI) in infos.decode(
            (Int64, String, Int64, String, String, Int64, Int64?, String, String, String).self
        ) {
            guard let runID = RunID(uuid) else { continue }
            let info = RunInfo(
                runID: runID, experimentID: ExperimentID(experimentID), name: name, status: RunStatus(rawValue: status) ?? .running,
                startTime: start, endTime: end, lifecycleStage: LifecycleStage(rawValue: stage) ?? .active, userID: user, artifactURI: artifactURI
            )
            runs[id] = Run(info: info)
        }
        for try await (id, key, value) in try await connection.query(
            "SELECT run_id, key, value FROM params WHERE run_id = ANY(\(ids))", logger: logger
        ).decode((Int64, String, String).self) { runs[id]?.params[key] = value }
        for try await (id, key, value) in try await connection.query(
            "SELECT run_id, key, value FROM tags WHERE run_id = ANY(\(ids))", logger: logger
        ).decode((Int64, String, String).self) { runs[id]?.tags[key] = value }
        for try await (id, key, step, timestamp, value, isNaN) in try await connection.query(
            "SELECT run_id, key, step, timestamp, value, is_nan FROM latest_metrics WHERE run_id = ANY(\(ids))", logger: logger
        ).decode((Int64, String, Int64, Int64, Double, Int16).self) {
            runs[id]?.latestMetrics[key] = MetricPoint(value: isNaN == 1 ? .nan : value, timestamp: timestamp, step: step)
        }
        return ids.compactMap { runs[$0] }
    }

    /// A compiled statement with its values bound (never spliced into the text).
    static func query(_ statement: SQLStatement) -> PostgresQuery {
        var binds = PostgresBindings(capacity: statement.bindings.count)
        for value in statement.bindings {
            switch value {
            case .integer(let number): binds.append(number)
            case .real(let number): binds.append(number)
            case .text(let text): binds.append(text)
            }
        }
        return PostgresQuery(unsafeSQL: statement.sql, binds: binds)
    }
}
