import Foundation
public import LedgerCore
import Logging
import PostgresNIO

/// The server backend: a RunLedger database in PostgreSQL, through PostgresNIO's pooled `PostgresClient`.
///
/// The rules are ``StoreRules``'s and most statements ``StoreSQL``'s (one conformance suite runs against every
/// backend); what is here is how PostgreSQL runs them, and the bulk paths written for it (`unnest` over arrays).
/// Each write batch is one transaction; concurrent writers run in parallel on pooled connections.
public struct PostgresStore: RelationalStore {
    let gate: PostgresGate
    /// RunLedger's migration files, read from the bundle once at open (the health check compares against them).
    let migrator: PostgresMigrator
    var logger: Logger { gate.logger }
    public var clock: @Sendable () -> Int64 { gate.options.clock }

    init(gate: PostgresGate, migrator: PostgresMigrator) {
        self.gate = gate
        self.migrator = migrator
    }

    public var identity: String { gate.identity }

    /// Ends ``run()``: the pool closes its connections, and later calls fail.
    public func close() async throws { gate.close() }

    /// The pool's figures (open, in use, idle, waiting connections), also recorded as swift-metrics gauges.
    public func poolStatistics() async throws -> PostgresPoolStatistics { try await gate.statistics() }

    /// Connections lent out and operations waiting for one, without a query (safe when the pool is exhausted).
    public var poolUsage: (inUse: Int, waiting: Int) { gate.usage }

    public func migrationPlan() async throws -> MigrationPlan {
        let (migrator, logger) = (migrator, logger)
        return try await gate.run { try await migrator.plan($0, logger: logger) }
    }

    /// Runs shared statements on a pooled connection; `transaction` wraps them in one.
    func statements<T: Sendable>(transaction: Bool = false, idempotent: Bool = true, _ body: @escaping @Sendable (Statements) async throws -> T)
        async throws -> T
    {
        let logger = logger
        if transaction { return try await gate.transaction(idempotent: idempotent) { try await body(Statements(connection: $0, logger: logger)) } }
        return try await gate.run { try await body(Statements(connection: $0, logger: logger)) }
    }

    public func read(_ statements: [SQLTemplate]) async throws -> [[SQLRow]] {
        try await self.statements(transaction: statements.count > 1) { db in
            var rows: [[SQLRow]] = []
            for statement in statements { rows.append(try await db.rows(statement)) }
            return rows
        }
    }

    public func write(_ script: [StoreSQL.Step], idempotent: Bool) async throws -> [SQLRow] {
        try await statements(transaction: true, idempotent: idempotent) { try await $0.run(script) }
    }

    public func run<Plan: StatementPlan>(_ plan: Plan, writing: Bool) async throws -> Plan.Result {
        try await statements(transaction: writing) { db in
            var plan = plan
            var statement = try plan.next(nil)
            while let next = statement { statement = try plan.next(try await db.rows(next)) }
            return plan.result
        }
    }

    // MARK: Writes

    public func write(_ batch: WriteBatch) async throws -> WriteOutcome {
        let (batch, warnings) = try batch.validated()
        for warning in warnings { logger.warning("\(warning)") }
        let now = clock()
        // With a batch id, a retry after an ambiguous COMMIT is safe: the id makes the second attempt a no-op.
        let outcome = try await gate.transaction(idempotent: batch.id != nil) { connection in
            try await self.apply(batch, Statements(connection: connection, logger: self.logger), now: now)
        }
        if outcome == .applied {
            await gate.recordCreatedRuns(batch.operations.count { if case .createRun = $0 { true } else { false } })
        }
        return outcome
    }

    private func apply(_ batch: WriteBatch, _ db: Statements, now: Int64) async throws -> WriteOutcome {
        if let id = batch.id, try await db.rows(StoreSQL.recordBatch(id.rawValue, now: now)).isEmpty { return .alreadyApplied }
        var runs: [RunID: RunRecord] = [:]
        for operation in batch.operations {
            try await apply(operation, db, runs: &runs, now: now)
        }
        return .applied
    }

    /// A run touched by a batch, looked up once per batch; `lock` orders concurrent status changes across connections.
    private func run(_ runID: RunID, _ db: Statements, cache: inout [RunID: RunRecord], lock: Bool = false) async throws -> RunRecord {
        if let row = cache[runID] { return row }
        guard let row = try await db.rows(StoreSQL.runRecord(runID, lock: lock)).first else { throw LedgerError.runNotFound(runID) }
        let run = try StoreSQL.runRecord(row).writable(runID)
        cache[runID] = run
        return run
    }

    private func apply(_ operation: WriteOperation, _ db: Statements, runs: inout [RunID: RunRecord], now: Int64) async throws {
        let (connection, logger) = (db.connection, db.logger)
        switch operation {
        case .createRun(var new):
            if let name = new.experimentName {
                if let created = try await db.rows(StoreSQL.insertExperiment(named: name, now: now)).first {
                    try await db.rows(StoreSQL.defaultArtifactLocation(where: "experiment_id = \(try created.int64(0))"))
                }
                new.experimentID = ExperimentID(try await db.rows(StoreSQL.experimentID(named: name)).first?.int64(0) ?? 0)
            }
            let experiment = try await db.rows(StoreSQL.experimentForRun(new.experimentID)).first
            let (endTime, artifactURI) = try StoreRules.newRun(new, experiment: try experiment.map { (try $0.text(0), try $0.text(1)) })
            guard let id = try await db.rows(StoreSQL.insertRun(new, endTime: endTime, artifactURI: artifactURI)).first?.int64(0) else {
                throw LedgerError.runExists(new.runID)
            }
            runs[new.runID] = RunRecord(id: id, status: new.status, endTime: endTime, lifecycle: .active)

        case .logMetrics(let runID, let metrics):
            try await insertMetrics(metrics, runID: try await run(runID, db, cache: &runs).id, connection: connection)

        case .logParams(let runID, let params):
            let run = try await run(runID, db, cache: &runs).id
            let keys = params.map(\.key)
            try await connection.query(
                """
                INSERT INTO params (run_id, key, value) SELECT \(run), k, v FROM unnest(\(keys)::text[], \(params.map(\.value))::text[]) AS t(k, v)
                ON CONFLICT (run_id, key) DO NOTHING
                """,
                logger: logger
            )
            var stored: [String: String] = [:]
            for try await (key, value) in try await connection.query(
                "SELECT key, value FROM params WHERE run_id = \(run) AND key = ANY(\(keys))", logger: logger
            ).decode((String, String).self) { stored[key] = value }
            for param in params { try StoreRules.checkParam(param, existing: stored[param.key], runID: runID) }

        case .setTags(let runID, let tags):
            let run = try await run(runID, db, cache: &runs).id
            let (keys, values) = StoreRules.lastValues(tags)
            try await connection.query(
                """
                INSERT INTO tags (run_id, key, value) SELECT \(run), k, v FROM unnest(\(keys)::text[], \(values)::text[]) AS t(k, v)
                ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value
                """,
                logger: logger
            )
            // MLflow keeps the run name and this tag in step.
            if let index = keys.lastIndex(of: StoreRules.runNameTag) { try await db.rows(StoreSQL.renameRun(run, to: values[index])) }

        case .deleteTag(let runID, let key):
            let run = try await run(runID, db, cache: &runs).id
            if try await db.rows(StoreSQL.deleteTag(run: run, key: key)).isEmpty { throw LedgerError.tagNotFound(key, runID: runID) }

        case .updateRun(let runID, let update):
            // Read again under the row lock: it orders concurrent status changes, so the status rule holds across connections.
            if update.status != nil { runs[runID] = nil }
            let record = try await run(runID, db, cache: &runs, lock: true).applying(update, now: now)
            for statement in StoreSQL.updateRun(record, name: update.name) { try await db.rows(statement) }
            runs[runID] = record

        case .heartbeat(let runIDs, let time):
            try await db.rows(StoreSQL.heartbeat(runIDs, time: time))

        case .logEvents(let runID, let events):
            let run = try await run(runID, db, cache: &runs).id
            // Arrays cannot hold a missing payload here: a flag array says which of the texts are real.
            let payloads = events.map { $0.payload ?? "" }
            let hasPayload = events.map { $0.payload != nil }
            try await connection.query(
                """
                INSERT INTO run_events (run_id, timestamp, level, kind, message, payload)
                SELECT \(run), t, l, k, m, CASE WHEN h THEN p END
                FROM unnest(\(events.map(\.timestamp))::bigint[], \(events.map { Int16($0.level.rank) })::smallint[], \(events.map(\.kind))::text[],
                    \(events.map(\.message))::text[], \(payloads)::text[], \(hasPayload)::boolean[]) WITH ORDINALITY AS e(t, l, k, m, p, h, n) ORDER BY n
                """,
                logger: logger
            )
        }
    }

    /// The hot path of ingestion, four statements whatever the number of keys: `latest_metrics` moves forward first
    /// (its row lock, taken in key order, orders concurrent writers of a series), then the chunks the points land in
    /// are read, merged here (``ChunkedSeries``), deleted and written again.
    private func insertMetrics(_ metrics: [Metric], runID: Int64, connection: PostgresConnection) async throws {
        let summary = MetricKeySummary(metrics)
        let series = zip(summary.keys, zip(summary.latest, summary.points(metrics))).sorted { $0.0 < $1.0 }
        let keys = series.map(\.0)
        let latest = series.map(\.1.0)
        try await connection.query(
            """
            INSERT INTO latest_metrics (run_id, experiment_id, key, step, timestamp, value, is_nan)
            SELECT \(runID), (SELECT experiment_id FROM runs WHERE id = \(runID)), k, s, t, v, n
            FROM unnest(\(keys)::text[], \(latest.map(\.step))::int8[], \(latest.map(\.timestamp))::int8[],
                        \(latest.map(\.storedValue))::float8[], \(latest.map { Int16($0.value.isNaN ? 1 : 0) })::int2[]) WITH ORDINALITY AS l(k, s, t, v, n, i)
            ORDER BY i
            \(unescaped: StoreSQL.latestMetricUpsert)
            """,
            logger: logger
        )
        let points = series.map { ChunkedSeries.normalized($0.1.1) }
        let ranges = points.compactMap(ChunkedSeries.range(of:))
        guard ranges.count == points.count else { return }
        var stored = [[ChunkedSeries.Stored]](repeating: [], count: keys.count)
        let rows = try await connection.query(
            """
            SELECT k.i, c.chunk_id, c.data
            FROM unnest(\(keys)::text[], \(ranges.map(\.lowStep))::int8[], \(ranges.map(\.lowTimestamp))::int8[],
                        \(ranges.map(\.highStep))::int8[], \(ranges.map(\.highTimestamp))::int8[]) WITH ORDINALITY AS k(key, ls, lt, hs, ht, i)
            CROSS JOIN LATERAL (
                SELECT chunk_id, point_count, data, last_step, last_timestamp FROM metric_chunks m
                WHERE m.run_id = \(runID) AND m.key = k.key AND (m.last_step, m.last_timestamp) >= (k.ls, k.lt)
                    AND (m.first_step, m.first_timestamp) <= (k.hs, k.ht)
                UNION ALL
                SELECT chunk_id, point_count, data, last_step, last_timestamp FROM metric_chunks m
                WHERE m.point_count < \(ChunkedSeries.capacity) AND m.chunk_id = (
                    SELECT p.chunk_id FROM metric_chunks p WHERE p.run_id = \(runID) AND p.key = k.key AND (p.last_step, p.last_timestamp) < (k.ls, k.lt)
                    ORDER BY p.last_step DESC, p.last_timestamp DESC, p.chunk_id DESC LIMIT 1)
            ) c
            ORDER BY k.i, c.last_step, c.last_timestamp, c.chunk_id
            """,
            logger: logger
        )
        for try await (index, id, data) in rows.decode((Int64, Int64, ByteBuffer).self) {
            guard let position = Int(exactly: index - 1), stored.indices.contains(position) else { continue }
            stored[position].append(ChunkedSeries.Stored(id: id, data: Array(data.readableBytesView)))
        }
        var removed: [Int64] = []
        var added: [(key: String, row: ChunkedSeries.Row)] = []
        for (position, key) in keys.enumerated() {
            let edit = try ChunkedSeries.merge(points[position], into: stored[position])
            removed += edit.removed
            added += edit.added.map { (key, $0) }
        }
        if !removed.isEmpty {
            try await connection.query("DELETE FROM metric_chunks WHERE chunk_id = ANY(\(removed))", logger: logger)
        }
        guard !added.isEmpty else { return }
        let summaries = added.map(\.row.summary)
        // Arrays cannot hold a missing number here: a flag array says which of the numbers are real.
        let sums = summaries.map { $0.sum.isNaN ? 0 : $0.sum }
        try await connection.query(
            """
            INSERT INTO metric_chunks (run_id, key, first_step, first_timestamp, last_step, last_timestamp, min_timestamp, max_timestamp,
                point_count, nan_count, value_min, value_max, value_sum, last_value, data)
            SELECT \(runID), k, fs, ft, ls, lt, mint, maxt, c, n, CASE WHEN hv THEN vmin END, CASE WHEN hv THEN vmax END,
                CASE WHEN hs THEN vsum END, CASE WHEN hl THEN vlast END, d
            FROM unnest(\(added.map(\.key))::text[], \(summaries.map(\.firstStep))::int8[], \(summaries.map(\.firstTimestamp))::int8[],
                        \(summaries.map(\.lastStep))::int8[], \(summaries.map(\.lastTimestamp))::int8[], \(summaries.map(\.minTimestamp))::int8[],
                        \(summaries.map(\.maxTimestamp))::int8[], \(summaries.map { Int32(clamping: $0.count) })::int4[],
                        \(summaries.map { Int32(clamping: $0.nanCount) })::int4[], \(summaries.map { $0.min ?? 0 })::float8[],
                        \(summaries.map { $0.max ?? 0 })::float8[], \(summaries.map { $0.min != nil })::boolean[], \(sums)::float8[],
                        \(summaries.map { !$0.sum.isNaN })::boolean[], \(summaries.map { $0.lastValue.isNaN ? 0 : $0.lastValue })::float8[],
                        \(summaries.map { !$0.lastValue.isNaN })::boolean[], \(added.map { ByteBuffer(bytes: $0.row.data) })::bytea[])
                WITH ORDINALITY AS a(k, fs, ft, ls, lt, mint, maxt, c, n, vmin, vmax, hv, vsum, hs, vlast, hl, d, i)
            ORDER BY i
            """,
            logger: logger
        )
    }

    // MARK: Reads

    public func run(_ runID: RunID) async throws -> Run {
        let logger = logger
        return try await gate.run { connection in
            let id = try await Statements(connection: connection, logger: logger).internalID(of: runID)
            guard let run = try await Self.loadRuns(connection, ids: [id], logger: logger).first else { throw LedgerError.runNotFound(runID) }
            return run
        }
    }

    public func searchRuns(_ query: RunQuery) async throws -> RunPage {
        let start = try SearchLoop(query, dialect: .postgres)
        let logger = logger
        return try await gate.run { connection in
            var loop = start
            while let statement = loop.next() {
                var ids: [Int64] = []
                for try await (id, _) in try await connection.query(Self.query(statement), logger: logger).decode((Int64, String).self) {
                    ids.append(id)
                }
                loop.add(ids)
            }
            return loop.page(try await Self.loadRuns(connection, ids: loop.pageIDs, logger: logger))
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
            case .blob(let data): binds.append(ByteBuffer(bytes: data))
            case .null: binds.appendNull()
            }
        }
        return PostgresQuery(unsafeSQL: statement.sql, binds: binds)
    }
}

/// Shared statements on one connection.
struct Statements: Sendable {
    let connection: PostgresConnection
    let logger: Logger

    /// Runs a shared statement and reads its rows as ``SQLRow``s.
    @discardableResult
    func rows(_ sql: SQLTemplate) async throws -> [SQLRow] {
        var rows: [SQLRow] = []
        for try await row in try await connection.query(PostgresStore.query(sql.statement(.postgres)), logger: logger) {
            rows.append(SQLRow(try row.map(Self.value)))
        }
        return rows
    }

    static func value(_ cell: PostgresCell) throws -> SQLValue {
        guard cell.bytes != nil else { return .null }
        return switch cell.dataType {
        case .int2, .int4, .int8: .integer(try cell.decode(Int64.self))
        case .float4, .float8: .real(try cell.decode(Double.self))
        case .bool: .integer(try cell.decode(Bool.self) ? 1 : 0)
        case .bytea: .blob(Array(try cell.decode(ByteBuffer.self).readableBytesView))
        default: .text(try cell.decode(String.self))
        }
    }

    /// Runs a ``StoreSQL`` script; returns the rows of its last step.
    @discardableResult
    func run(_ steps: [StoreSQL.Step]) async throws -> [SQLRow] {
        var rows: [SQLRow] = []
        for step in steps { rows = try step.check(try await self.rows(step.sql)) }
        return rows
    }

    /// The internal id of a run.
    func internalID(of runID: RunID) async throws -> Int64 {
        guard let row = try await rows(StoreSQL.runID(runID)).first else { throw LedgerError.runNotFound(runID) }
        return try row.int64(0)
    }
}
