import Foundation
import GRDB
public import LedgerCore
import Logging
import Synchronization

/// The embedded backend: a RunLedger database in one SQLite file (WAL mode), through GRDB.
///
/// Writes go through GRDB's single writer, so concurrent writers queue instead of failing with "database is locked";
/// reads run concurrently on a snapshot. The rules are ``StoreRules``'s and most statements ``StoreSQL``'s; what is
/// here is how SQLite runs them, and the hot paths written for it.
public struct SQLiteStore: RelationalStore {
    let connection: SQLiteConnection
    /// RunLedger's migration files, read from the bundle once at open (the health check compares against them).
    private let migrator: SQLiteMigrator
    private let commits = GroupCommit<WriteBatch, WriteOutcome>()
    private let searchShapes = SearchStatementShapes()
    let logger: Logger
    public let clock: @Sendable () -> Int64

    /// Wraps a migrated database; ``open(path:options:)`` is the public way in.
    init(connection: SQLiteConnection, migrator: SQLiteMigrator, logger: Logger, clock: @escaping @Sendable () -> Int64) {
        self.connection = connection
        self.migrator = migrator
        self.logger = logger
        self.clock = clock
    }

    public var identity: String { "sqlite:" + URL(fileURLWithPath: connection.path).resolvingSymlinksInPath().standardizedFileURL.path }

    /// Releases the database (checkpointing the WAL into the main file) and ends ``run()``. Later calls fail.
    public func close() async throws { try await connection.close() }

    /// Lives until ``close()``: the background checkpointer's thread belongs to this span, and `close()` ends it.
    public func run() async throws { await connection.untilClosed() }

    public func migrationPlan() async throws -> MigrationPlan {
        let migrator = migrator
        return try await read { db in try migrator.plan(db) }
    }

    public func read(_ statements: [SQLTemplate]) async throws -> [[SQLRow]] { try await read { db in try statements.map { try db.rows($0) } } }

    public func write(_ script: [StoreSQL.Step], idempotent: Bool) async throws -> [SQLRow] { try await perform { db in try db.run(script) } }

    public func run<Plan: StatementPlan>(_ plan: Plan, writing: Bool) async throws -> Plan.Result {
        let pass: @Sendable (Database) throws -> Plan.Result = { db in
            var plan = plan
            var statement = try plan.next(nil)
            while let next = statement { statement = try plan.next(db.rows(next)) }
            return plan.result
        }
        return writing ? try await perform(pass) : try await read(pass)
    }

    // MARK: Writes

    public func write(_ batch: WriteBatch) async throws -> WriteOutcome {
        let (batch, warnings) = try batch.validated()
        for warning in warnings { logger.warning("\(warning)") }
        return try await commits.submit(batch) { drain in
            do {
                try await connection.pool().writeWithoutTransaction { db in drain { group in commit(group, db: db) } }
            } catch {
                throw Self.translate(error, logger: logger)
            }
        }
    }

    /// One transaction for a group; a savepoint per batch, so that a refused batch rolls back alone.
    private func commit(_ group: [WriteBatch], db: Database) -> [Result<WriteOutcome, any Error>] {
        let now = clock()
        do {
            var results: [Result<WriteOutcome, any Error>] = []
            try db.inTransaction {
                results = group.map { batch in
                    Result {
                        var outcome = WriteOutcome.applied
                        try db.inSavepoint {
                            outcome = try apply(batch, db: db, now: now)
                            return .commit
                        }
                        return outcome
                    }.mapError { Self.translate($0, logger: logger) }
                }
                return .commit
            }
            return results
        } catch {
            let error = Self.translate(error, logger: logger)
            return group.map { _ in .failure(error) }
        }
    }

    /// Applies one batch inside the current transaction, at most once per batch id.
    private func apply(_ batch: WriteBatch, db: Database, now: Int64) throws -> WriteOutcome {
        if let id = batch.id, try db.rows(StoreSQL.recordBatch(id.rawValue, now: now)).isEmpty { return .alreadyApplied }
        var runs: [RunID: RunRecord] = [:]
        for operation in batch.operations {
            try apply(operation, db: db, runs: &runs, now: now)
        }
        return .applied
    }

    /// A run touched by a batch, looked up once per batch.
    private func run(_ runID: RunID, db: Database, cache: inout [RunID: RunRecord]) throws -> RunRecord {
        if let row = cache[runID] { return row }
        guard let row = try db.rows(StoreSQL.runRecord(runID, lock: false)).first else { throw LedgerError.runNotFound(runID) }
        let run = try StoreSQL.runRecord(row).writable(runID)
        cache[runID] = run
        return run
    }

    private func apply(_ operation: WriteOperation, db: Database, runs: inout [RunID: RunRecord], now: Int64) throws {
        switch operation {
        case .createRun(var new):
            if let name = new.experimentName {
                if let created = try db.rows(StoreSQL.insertExperiment(named: name, now: now)).first {
                    try db.execute(StoreSQL.defaultArtifactLocation(where: "experiment_id = \(try created.int64(0))"))
                }
                new.experimentID = ExperimentID(try db.rows(StoreSQL.experimentID(named: name)).first?.int64(0) ?? 0)
            }
            let experiment = try db.rows(StoreSQL.experimentForRun(new.experimentID)).first
            let (endTime, artifactURI) = try StoreRules.newRun(new, experiment: try experiment.map { (try $0.text(0), try $0.text(1)) })
            guard let id = try db.rows(StoreSQL.insertRun(new, endTime: endTime, artifactURI: artifactURI)).first?.int64(0) else {
                throw LedgerError.runExists(new.runID)
            }
            runs[new.runID] = RunRecord(id: id, status: new.status, endTime: endTime, lifecycle: .active)

        case .logMetrics(let runID, let metrics):
            try insertMetrics(metrics, runID: try run(runID, db: db, cache: &runs).id, db: db)

        case .logParams(let runID, let params):
            let run = try run(runID, db: db, cache: &runs).id
            let insert = try db.cachedStatement(sql: "INSERT INTO params (run_id, key, value) VALUES (?, ?, ?) ON CONFLICT (run_id, key) DO NOTHING")
            let lookup = try db.cachedStatement(sql: "SELECT value FROM params WHERE run_id = ? AND key = ?")
            for param in params {
                try insert.execute(arguments: [run, param.key, param.value])
                if db.changesCount == 0 {
                    try StoreRules.checkParam(param, existing: String.fetchOne(lookup, arguments: [run, param.key]), runID: runID)
                }
            }

        case .setTags(let runID, let tags):
            let run = try run(runID, db: db, cache: &runs).id
            for tag in tags {
                try db.execute(StoreSQL.setTag(run: run, key: tag.key, value: tag.value))
                // MLflow keeps the run name and this tag in step.
                if tag.key == StoreRules.runNameTag { try db.execute(StoreSQL.renameRun(run, to: tag.value)) }
            }

        case .deleteTag(let runID, let key):
            let run = try run(runID, db: db, cache: &runs).id
            if try db.rows(StoreSQL.deleteTag(run: run, key: key)).isEmpty { throw LedgerError.tagNotFound(key, runID: runID) }

        case .updateRun(let runID, let update):
            let record = try run(runID, db: db, cache: &runs).applying(update, now: now)
            for statement in StoreSQL.updateRun(record, name: update.name) { try db.execute(statement) }
            runs[runID] = record

        case .heartbeat(let runIDs, let time):
            try db.execute(StoreSQL.heartbeat(runIDs, time: time))

        case .logEvents(let runID, let events):
            let run = try run(runID, db: db, cache: &runs).id
            let insert = try db.cachedStatement(
                sql: "INSERT INTO run_events (run_id, timestamp, level, kind, message, payload) VALUES (?, ?, ?, ?, ?, ?)")
            for event in events {
                try insert.execute(arguments: [run, event.timestamp, event.level.rank, event.kind, event.message, event.payload])
            }
        }
    }

    /// The hot path of ingestion: per key, the points are merged into the series' open tail chunk (or whichever chunks
    /// they land in) and the affected chunks rewritten; then `latest_metrics` moves forward once per key.
    private func insertMetrics(_ metrics: [Metric], runID: Int64, db: Database) throws {
        let summary = MetricKeySummary(metrics)
        for (key, points) in zip(summary.keys, summary.points(metrics)) {
            let points = ChunkedSeries.normalized(points)
            guard let range = ChunkedSeries.range(of: points) else { continue }
            let stored = try db.rows(StoreSQL.chunksToRewrite(run: runID, key: key, range: range)).map(StoreSQL.storedChunk)
            for statement in StoreSQL.apply(try ChunkedSeries.merge(points, into: stored), run: runID, key: key) { try db.execute(statement) }
        }
        let upsert = try db.cachedStatement(
            sql: """
                INSERT INTO latest_metrics (run_id, experiment_id, key, step, timestamp, value, is_nan)
                VALUES (?1, (SELECT experiment_id FROM runs WHERE id = ?1), ?2, ?3, ?4, ?5, ?6) \(StoreSQL.latestMetricUpsert)
                """
        )
        for (key, point) in zip(summary.keys, summary.latest) {
            try upsert.execute(arguments: [runID, key, point.step, point.timestamp, point.storedValue, point.value.isNaN])
        }
    }

    // MARK: Reads

    public func run(_ runID: RunID) async throws -> Run {
        try await read { db in
            guard let run = try Self.loadRuns(db, ids: [try Self.internalID(of: runID, db: db)]).first else { throw LedgerError.runNotFound(runID) }
            return run
        }
    }

    public func searchRuns(_ query: RunQuery) async throws -> RunPage {
        let start = try SearchLoop(query, dialect: .sqlite)
        return try await read { db in
            var loop = start
            while let statement = loop.next() {
                loop.add(try Int64.fetchAll(try searchShapes.statement(db, sql: statement.sql), arguments: Self.arguments(statement.bindings)))
            }
            return loop.page(try Self.loadRuns(db, ids: loop.pageIDs))
        }
    }

    /// The internal id of a run, for the large tables' keys.
    /// - Throws: ``LedgerError/Code/resourceDoesNotExist`` when no run has this id.
    static func internalID(of runID: RunID, db: Database) throws -> Int64 {
        guard let row = try db.rows(StoreSQL.runID(runID)).first else { throw LedgerError.runNotFound(runID) }
        return try row.int64(0)
    }

    /// Loads runs with their params, tags and latest metrics, in the order of `ids`.
    private static func loadRuns(_ db: Database, ids: [Int64]) throws -> [Run] {
        var runs: [Int64: Run] = [:]
        // Chunks stay well under SQLite's limit on bound variables. Each list is padded to a power of two by repeating
        // its last id, so that the statements come from the connection's cache (at most ten shapes each).
        for start in stride(from: 0, to: ids.count, by: 512) {
            let chunk = Array(ids[start..<min(start + 512, ids.count)])
            var width = 1
            while width < chunk.count { width *= 2 }
            let list = "(" + Array(repeating: "?", count: width).joined(separator: ", ") + ")"
            let arguments = StatementArguments(chunk + Array(repeating: chunk[chunk.count - 1], count: width - chunk.count))
            // Cursors over positional columns: GRDB finds a column by name with a case-insensitive search, and a
            // cursor reuses one row instead of copying each. `decode` throws for a damaged row instead of trapping.
            func rows(_ sql: String, _ body: (Row) throws -> Void) throws {
                let cursor = try Row.fetchCursor(db.cachedStatement(sql: sql), arguments: arguments)
                while let row = try cursor.next() { try body(row) }
            }
            try rows(
                "SELECT id, run_uuid, experiment_id, name, status, start_time, end_time, lifecycle_stage, user_id, artifact_uri FROM runs WHERE id IN \(list)"
            ) { row in
                guard let runID = RunID(try row.decode(String.self, atIndex: 1)) else { return }
                let info = RunInfo(
                    runID: runID, experimentID: ExperimentID(try row.decode(atIndex: 2)), name: try row.decode(atIndex: 3),
                    status: RunStatus(rawValue: try row.decode(atIndex: 4)) ?? .running, startTime: try row.decode(atIndex: 5),
                    endTime: try row.decode(atIndex: 6),
                    lifecycleStage: LifecycleStage(rawValue: try row.decode(atIndex: 7)) ?? .active, userID: try row.decode(atIndex: 8),
                    artifactURI: try row.decode(atIndex: 9)
                )
                runs[try row.decode(atIndex: 0)] = Run(info: info)
            }
            try rows("SELECT run_id, key, value FROM params WHERE run_id IN \(list)") { row in
                runs[try row.decode(atIndex: 0)]?.params[try row.decode(atIndex: 1)] = try row.decode(atIndex: 2)
            }
            try rows("SELECT run_id, key, value FROM tags WHERE run_id IN \(list)") { row in
                runs[try row.decode(atIndex: 0)]?.tags[try row.decode(atIndex: 1)] = try row.decode(atIndex: 2)
            }
            try rows("SELECT run_id, key, step, timestamp, value, is_nan FROM latest_metrics WHERE run_id IN \(list)") { row in
                let isNaN: Bool = try row.decode(atIndex: 5)
                let point = MetricPoint(
                    value: isNaN ? .nan : try row.decode(atIndex: 4), timestamp: try row.decode(atIndex: 3), step: try row.decode(atIndex: 2))
                runs[try row.decode(atIndex: 0)]?.latestMetrics[try row.decode(atIndex: 1)] = point
            }
        }
        return ids.compactMap { runs[$0] }
    }

    static func arguments(_ bindings: [SQLValue]) -> StatementArguments {
        StatementArguments(
            bindings.map { value -> (any DatabaseValueConvertible)? in
                switch value {
                case .integer(let number): number
                case .real(let number): number
                case .text(let text): text
                case .blob(let bytes): Data(bytes)
                case .null: nil
                }
            }
        )
    }

    // MARK: Plumbing

    func perform<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await connection.pool().write(body)
        } catch {
            throw Self.translate(error, logger: logger)
        }
    }

    func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await connection.pool().read(body)
        } catch {
            throw Self.translate(error, logger: logger)
        }
    }

    /// Turns driver errors into ``LedgerError``s without leaking SQL or bound values; details go to the debug log.
    static func translate(_ error: any Error, logger: Logger) -> any Error {
        if error is LedgerError || error is CancellationError { return error }
        guard let error = error as? DatabaseError else { return error }
        logger.debug("SQLite error", metadata: ["error": "\(error)"])
        switch error.resultCode {
        case .SQLITE_BUSY, .SQLITE_LOCKED, .SQLITE_IOERR, .SQLITE_FULL, .SQLITE_CANTOPEN, .SQLITE_PROTOCOL, .SQLITE_READONLY, .SQLITE_INTERRUPT:
            return LedgerError(
                .storeUnavailable,
                "The SQLite database is unavailable (\(error.resultCode)): another process holds its lock, or the disk refused the write. Retry later."
            )
        case .SQLITE_NOTADB, .SQLITE_CORRUPT:
            return LedgerError(.notALedgerDatabase, "The database file is not a SQLite database or is damaged (\(error.resultCode)).")
        default:
            return LedgerError(.internal, "The SQLite store failed (\(error.resultCode)).")
        }
    }
}

extension Database {
    /// Runs a shared statement; statements whose text depends on a list's length are not kept prepared.
    @discardableResult
    func rows(_ sql: SQLTemplate) throws -> [SQLRow] {
        let rendered = sql.statement(.sqlite)
        let statement = sql.hasList ? try makeStatement(sql: rendered.sql) : try cachedStatement(sql: rendered.sql)
        let cursor = try Row.fetchCursor(statement, arguments: SQLiteStore.arguments(rendered.bindings))
        var rows: [SQLRow] = []
        while let row = try cursor.next() {
            rows.append(
                SQLRow(
                    row.databaseValues.map { value in
                        switch value.storage {
                        case .null: .null
                        case .int64(let number): .integer(number)
                        case .double(let number): .real(number)
                        case .string(let text): .text(text)
                        case .blob(let data): .blob(Array(data))
                        }
                    }
                )
            )
        }
        return rows
    }

    /// Runs a shared statement that returns no rows, without reading any.
    func execute(_ sql: SQLTemplate) throws {
        let rendered = sql.statement(.sqlite)
        let statement = sql.hasList ? try makeStatement(sql: rendered.sql) : try cachedStatement(sql: rendered.sql)
        try statement.execute(arguments: SQLiteStore.arguments(rendered.bindings))
    }

    /// Runs a ``StoreSQL`` script; returns the rows of its last step.
    @discardableResult
    func run(_ steps: [StoreSQL.Step]) throws -> [SQLRow] {
        try steps.reduce([]) { _, step in try step.check(rows(step.sql)) }
    }
}

/// Which search statements the readers keep prepared: the first 64 distinct SQL texts the store sees.
///
/// Preparing a statement through GRDB runs its authorizer over every column the statement reads, which costs more
/// than running a small search. A search's text depends only on the shape of its filter and ordering
/// (values are bound), so a dashboard repeats a few; admitting only the first 64 keeps every reader's statement
/// cache bounded whatever clients send, and later shapes are prepared per call.
final class SearchStatementShapes: Sendable {
    static let capacity = 64
    private let admitted = Mutex<Set<String>>([])

    /// A prepared statement for `sql`: from `db`'s cache when the shape is admitted, otherwise fresh.
    func statement(_ db: Database, sql: String) throws -> Statement {
        let cached = admitted.withLock { shapes in
            if shapes.contains(sql) { return true }
            guard shapes.count < Self.capacity else { return false }
            shapes.insert(sql)
            return true
        }
        return cached ? try db.cachedStatement(sql: sql) : try db.makeStatement(sql: sql)
    }
}
