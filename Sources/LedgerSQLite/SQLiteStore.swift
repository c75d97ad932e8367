import Foundation
import GRDB
import GRDBSQLite
import Synchronization
public import LedgerCore
import Logging

/// The embedded backend: a RunLedger database in one SQLite file (WAL mode), through GRDB.
///
/// Writes go through GRDB's single writer, so concurrent writers queue instead of failing with
/// "database is locked"; reads run concurrently on a snapshot.
///
/// Statements on the request paths come from the connection's cache (`cachedStatement`): GRDB runs its authorizer
/// over every column of a freshly prepared statement, which cost more than most of these statements themselves.
public struct SQLiteStore: TrackingStore {
    private let connection: SQLiteConnection
    private let commits = GroupCommit<WriteBatch, WriteOutcome>()
    private let searchShapes = SearchStatementShapes()
    let logger: Logger
    let clock: @Sendable () -> Int64

    /// Wraps a migrated database; ``open(path:options:)`` is the public way in.
    init(connection: SQLiteConnection, logger: Logger, clock: @escaping @Sendable () -> Int64) {
        self.connection = connection
        self.logger = logger
        self.clock = clock
    }

    public var identity: String { "sqlite:" + URL(fileURLWithPath: connection.path).resolvingSymlinksInPath().standardizedFileURL.path }

    /// Releases the database (checkpointing the WAL into the main file). Later calls fail.
    public func close() throws { try connection.close() }

    public func healthCheck() async -> LedgerError? {
        do {
            let migrator = try SQLiteMigrator()
            return StoreRules.health(try await read { db in try migrator.plan(db) })
        } catch let error as LedgerError {
            return error
        } catch {
            return LedgerError(.storeUnavailable, "The SQLite database did not answer: \(error).")
        }
    }

    // MARK: Experiments

    public func createExperiment(name: String, artifactLocation: String?, tags: [KeyValue]) async throws -> Experiment {
        try StoreRules.checkNewExperiment(name: name, artifactLocation: artifactLocation, tags: tags)
        let now = clock()
        let id = try await perform { db -> Int64 in
            if try Bool.fetchOne(db.cachedStatement(sql: "SELECT 1 FROM experiments WHERE name = ?"), arguments: [name]) == true {
                throw LedgerError.experimentExists(name)
            }
            try db.execute(
                sql: "INSERT INTO experiments (name, artifact_location, creation_time, last_update_time) VALUES (?, ?, ?, ?)",
                arguments: [name, artifactLocation ?? "", now, now]
            )
            let id = db.lastInsertedRowID
            if artifactLocation == nil {
                try db.cachedStatement(sql: "UPDATE experiments SET artifact_location = ? WHERE experiment_id = ?")
                    .execute(arguments: [StoreRules.defaultArtifactLocation(id), id])
            }
            for tag in tags {
                try db.cachedStatement(sql: "INSERT OR REPLACE INTO experiment_tags (experiment_id, key, value) VALUES (?, ?, ?)")
                    .execute(arguments: [id, tag.key, tag.value])
            }
            return id
        }
        return try await experiment(id: ExperimentID(id))
    }

    public func experiment(id: ExperimentID) async throws -> Experiment {
        try await read { db in
            guard let experiment = try Self.fetchExperiments(db, sql: "WHERE experiment_id = ?", arguments: [id.rawValue]).first else {
                throw LedgerError.experimentNotFound(id)
            }
            return experiment
        }
    }

    public func experiment(named name: String) async throws -> Experiment? {
        try await read { db in try Self.fetchExperiments(db, sql: "WHERE name = ?", arguments: [name]).first }
    }

    public func experiments(view: ViewType) async throws -> [ExperimentSummary] {
        try await read { db in
            let stages = view.stages.map(\.rawValue)
            let experiments = try Self.fetchExperiments(
                db, sql: "WHERE lifecycle_stage IN (\(stages.map { _ in "?" }.joined(separator: ", "))) ORDER BY experiment_id",
                arguments: StatementArguments(stages)
            )
            let counts = try Row.fetchAll(
                db,
                sql: "SELECT experiment_id, COUNT(*) AS n, MAX(start_time) AS last FROM runs WHERE lifecycle_stage = 'active' GROUP BY experiment_id"
            )
            var byID: [Int64: (Int, Int64?)] = [:]
            for row in counts { byID[row["experiment_id"]] = (row["n"], row["last"]) }
            return experiments.map { experiment in
                let (count, last) = byID[experiment.id.rawValue] ?? (0, nil)
                return ExperimentSummary(experiment: experiment, runCount: count, lastRunStartTime: last)
            }
        }
    }

    public func updateExperiment(id: ExperimentID, _ change: ExperimentChange) async throws {
        let now = clock()
        try await perform { db in
            guard try Bool.fetchOne(db.cachedStatement(sql: "SELECT 1 FROM experiments WHERE experiment_id = ?"), arguments: [id.rawValue]) == true else {
                throw LedgerError.experimentNotFound(id)
            }
            try StoreRules.checkChange(change, of: id)
            switch change {
            case .rename(let name):
                let clash = try db.cachedStatement(sql: "SELECT 1 FROM experiments WHERE name = ? AND experiment_id <> ?")
                if try Bool.fetchOne(clash, arguments: [name, id.rawValue]) == true {
                    throw LedgerError.experimentExists(name)
                }
                try db.cachedStatement(sql: "UPDATE experiments SET name = ?, last_update_time = ? WHERE experiment_id = ?")
                    .execute(arguments: [name, now, id.rawValue])
            case .setLifecycle(let stage):
                try db.execute(
                    sql: "UPDATE experiments SET lifecycle_stage = ?, last_update_time = ? WHERE experiment_id = ?",
                    arguments: [stage.rawValue, now, id.rawValue]
                )
            case .setTag(let tag):
                try db.execute(
                    sql: "INSERT INTO experiment_tags (experiment_id, key, value) VALUES (?, ?, ?) ON CONFLICT (experiment_id, key) DO UPDATE SET value = excluded.value",
                    arguments: [id.rawValue, tag.key, tag.value]
                )
            case .deleteTag(let key):
                try db.cachedStatement(sql: "DELETE FROM experiment_tags WHERE experiment_id = ? AND key = ?").execute(arguments: [id.rawValue, key])
            }
        }
    }

    private static func fetchExperiments(_ db: Database, sql: String, arguments: StatementArguments) throws -> [Experiment] {
        // `sql` is one of a few fixed clauses, so the statements stay few.
        let rows = try Row.fetchAll(
            db.cachedStatement(sql: "SELECT experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time FROM experiments " + sql),
            arguments: arguments
        )
        return try rows.map { row in
            let id: Int64 = row["experiment_id"]
            var tags: [String: String] = [:]
            for tag in try Row.fetchAll(db.cachedStatement(sql: "SELECT key, value FROM experiment_tags WHERE experiment_id = ?"), arguments: [id]) {
                tags[tag["key"]] = tag["value"]
            }
            return Experiment(
                id: ExperimentID(id), name: row["name"], artifactLocation: row["artifact_location"],
                lifecycleStage: LifecycleStage(rawValue: row["lifecycle_stage"]) ?? .active, creationTime: row["creation_time"],
                lastUpdateTime: row["last_update_time"], tags: tags
            )
        }
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
        if let id = batch.id {
            if try Bool.fetchOne(db.cachedStatement(sql: "SELECT 1 FROM applied_batches WHERE batch_id = ?"), arguments: [id.rawValue]) == true {
                return .alreadyApplied
            }
            try db.cachedStatement(sql: "INSERT INTO applied_batches (batch_id, applied_at) VALUES (?, ?)").execute(arguments: [id.rawValue, now])
        }
        var runs = RunCache()
        for operation in batch.operations {
            try apply(operation, db: db, runs: &runs, now: now)
        }
        return .applied
    }

    /// The runs touched by one batch, so that each is looked up once.
    private typealias RunCache = [RunID: RunRecord]

    private func runRow(_ runID: RunID, db: Database, cache: inout RunCache) throws -> RunRecord {
        if let row = cache[runID] { return row }
        let lookup = try db.cachedStatement(sql: "SELECT id, status, end_time, lifecycle_stage FROM runs WHERE run_uuid = ?")
        guard let row = try Row.fetchOne(lookup, arguments: [runID.rawValue]) else { throw LedgerError.runNotFound(runID) }
        let run = try RunRecord(id: row[0], status: row[1], endTime: row[2], lifecycle: row[3]).writable(runID)
        cache[runID] = run
        return run
    }

    private func apply(_ operation: WriteOperation, db: Database, runs: inout RunCache, now: Int64) throws {
        switch operation {
        case .createRun(var new):
            if let name = new.experimentName {
                new.experimentID = try experimentID(named: name, db: db, now: now)
            }
            let experiment = try Row.fetchOne(
                db.cachedStatement(sql: "SELECT lifecycle_stage, artifact_location FROM experiments WHERE experiment_id = ?"),
                arguments: [new.experimentID.rawValue]
            )
            let (endTime, artifactURI) = try StoreRules.newRun(new, experiment: experiment.map { ($0[0], $0[1]) })
            if try Bool.fetchOne(db.cachedStatement(sql: "SELECT 1 FROM runs WHERE run_uuid = ?"), arguments: [new.runID.rawValue]) == true {
                throw LedgerError.runExists(new.runID)
            }
            try db.cachedStatement(
                sql: """
                    INSERT INTO runs (run_uuid, experiment_id, name, status, start_time, end_time, user_id, artifact_uri)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """
            ).execute(
                arguments: [
                    new.runID.rawValue, new.experimentID.rawValue, new.name, new.status.rawValue, new.startTime, endTime, new.userID, artifactURI,
                ]
            )
            runs[new.runID] = RunRecord(id: db.lastInsertedRowID, status: new.status, endTime: endTime, lifecycle: .active)

        case .logMetrics(let runID, let metrics):
            let run = try runRow(runID, db: db, cache: &runs)
            try insertMetrics(metrics, runID: run.id, db: db)

        case .logParams(let runID, let params):
            let run = try runRow(runID, db: db, cache: &runs)
            let insert = try db.cachedStatement(sql: "INSERT INTO params (run_id, key, value) VALUES (?, ?, ?) ON CONFLICT (run_id, key) DO NOTHING")
            for param in params {
                try insert.execute(arguments: [run.id, param.key, param.value])
                guard db.changesCount == 0 else { continue }
                let lookup = try db.cachedStatement(sql: "SELECT value FROM params WHERE run_id = ? AND key = ?")
                try StoreRules.checkParam(param, existing: String.fetchOne(lookup, arguments: [run.id, param.key]), runID: runID)
            }

        case .setTags(let runID, let tags):
            let run = try runRow(runID, db: db, cache: &runs)
            let upsert = try db.cachedStatement(
                sql: "INSERT INTO tags (run_id, key, value) VALUES (?, ?, ?) ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value"
            )
            for tag in tags {
                try upsert.execute(arguments: [run.id, tag.key, tag.value])
                // MLflow keeps the run name and this tag in step.
                if tag.key == StoreRules.runNameTag {
                    try db.cachedStatement(sql: "UPDATE runs SET name = ? WHERE id = ?").execute(arguments: [tag.value, run.id])
                }
            }

        case .deleteTag(let runID, let key):
            let run = try runRow(runID, db: db, cache: &runs)
            try db.cachedStatement(sql: "DELETE FROM tags WHERE run_id = ? AND key = ?").execute(arguments: [run.id, key])
            if db.changesCount == 0 { throw LedgerError.tagNotFound(key, runID: runID) }

        case .updateRun(let runID, let update):
            let run = try runRow(runID, db: db, cache: &runs).applying(update, now: now, runID: runID)
            try db.cachedStatement(sql: "UPDATE runs SET status = ?, end_time = ? WHERE id = ?").execute(arguments: [run.status.rawValue, run.endTime, run.id])
            if let name = update.name {
                try db.cachedStatement(sql: "UPDATE runs SET name = ? WHERE id = ?").execute(arguments: [name, run.id])
                try db.cachedStatement(
                    sql: "INSERT INTO tags (run_id, key, value) VALUES (?, ?, ?) ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value"
                ).execute(arguments: [run.id, StoreRules.runNameTag, name])
            }
            runs[runID] = run

        case .heartbeat(let runIDs, let time):
            let update = try db.cachedStatement(sql: "UPDATE runs SET heartbeat_time = max(coalesce(heartbeat_time, 0), ?) WHERE run_uuid = ?")
            for runID in runIDs { try update.execute(arguments: [time, runID.rawValue]) }

        case .logEvents(let runID, let events):
            let run = try runRow(runID, db: db, cache: &runs)
            let insert = try db.cachedStatement(sql: "INSERT INTO run_events (run_id, timestamp, level, kind, message, payload) VALUES (?, ?, ?, ?, ?, ?)")
            for event in events {
                try insert.execute(arguments: [run.id, event.timestamp, event.level.rank, event.kind, event.message, event.payload])
            }
        }
    }

    /// The id of the experiment called `name`, created (with the default artifact location) if missing.
    private func experimentID(named name: String, db: Database, now: Int64) throws -> ExperimentID {
        let lookup = try db.cachedStatement(sql: "SELECT experiment_id FROM experiments WHERE name = ?")
        if let id = try Int64.fetchOne(lookup, arguments: [name]) { return ExperimentID(id) }
        try db.cachedStatement(sql: "INSERT INTO experiments (name, creation_time, last_update_time) VALUES (?, ?, ?)").execute(arguments: [name, now, now])
        let id = db.lastInsertedRowID
        try db.cachedStatement(sql: "UPDATE experiments SET artifact_location = ? WHERE experiment_id = ?").execute(arguments: [StoreRules.defaultArtifactLocation(id), id])
        return ExperimentID(id)
    }

    public func reapRuns(heartbeatBefore cutoff: Int64, endTime: Int64) async throws -> [RunID] {
        try await perform { db in
            let stale = try String.fetchAll(
                db,
                sql: "SELECT run_uuid FROM runs WHERE status = 'RUNNING' AND lifecycle_stage = 'active' AND heartbeat_time < ?",
                arguments: [cutoff]
            )
            for id in stale {
                try db.cachedStatement(sql: "UPDATE runs SET status = 'KILLED', end_time = ? WHERE run_uuid = ?").execute(arguments: [endTime, id])
            }
            return stale.compactMap(RunID.init)
        }
    }

    /// Rows per multi-row INSERT: amortises the statement start-up over many rows (6 × 64 = 384 bindings).
    private static let rowsPerInsert = 64

    private static let insertMetricsSQL: [Int: String] = [1, rowsPerInsert].reduce(into: [:]) { sql, rows in
        sql[rows] = "INSERT OR IGNORE INTO metrics (run_id, key, step, timestamp, value, is_nan) VALUES "
            + Array(repeating: "(?, ?, ?, ?, ?, ?)", count: rows).joined(separator: ", ")
    }

    /// The hot path of ingestion: binds points straight through the SQLite C API into cached multi-row INSERTs,
    /// then moves `latest_metrics` forward once per key.
    private func insertMetrics(_ metrics: [Metric], runID: Int64, db: Database) throws {
        let summary = MetricKeySummary(metrics)
        // Key texts live as C strings for the whole call, so they can be bound without SQLite copying them.
        let keyTexts = summary.keys.map { strdup($0)! }
        defer { for text in keyTexts { free(text) } }
        var index = 0
        while index < metrics.count {
            let rows = metrics.count - index >= Self.rowsPerInsert ? Self.rowsPerInsert : 1
            let statement = try db.cachedStatement(sql: Self.insertMetricsSQL[rows]!)
            let handle = statement.sqliteStatement
            sqlite3_reset(handle)
            for row in 0..<rows {
                let point = metrics[index + row].point
                let base = Int32(row * 6)
                sqlite3_bind_int64(handle, base + 1, runID)
                // nil = SQLITE_STATIC: the text outlives the statement's use
                sqlite3_bind_text(handle, base + 2, keyTexts[summary.keyIndices[index + row]], -1, nil)
                sqlite3_bind_int64(handle, base + 3, point.step)
                sqlite3_bind_int64(handle, base + 4, point.timestamp)
                sqlite3_bind_double(handle, base + 5, point.value.isNaN ? 0 : point.value)
                sqlite3_bind_int64(handle, base + 6, point.value.isNaN ? 1 : 0)
            }
            let code = sqlite3_step(handle)
            sqlite3_reset(handle)
            guard code == SQLITE_DONE else {
                throw DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(db.sqliteConnection)))
            }
            index += rows
        }
        let upsert = try db.cachedStatement(
            sql: """
                INSERT INTO latest_metrics (run_id, experiment_id, key, step, timestamp, value, is_nan)
                VALUES (?1, (SELECT experiment_id FROM runs WHERE id = ?1), ?2, ?3, ?4, ?5, ?6)
                ON CONFLICT (run_id, key) DO UPDATE SET
                    step = excluded.step, timestamp = excluded.timestamp, value = excluded.value, is_nan = excluded.is_nan
                WHERE \(StoreRules.latestMetricSupersedes(new: "excluded", old: "latest_metrics"))
                """
        )
        let span = try db.cachedStatement(
            sql: "INSERT INTO metric_spans (run_id, key, first_step, last_step, min_timestamp, max_timestamp) VALUES (?, ?, ?, ?, ?, ?)"
        )
        for (key, (point, covered)) in zip(summary.keys, zip(summary.latest, summary.spans)) {
            try upsert.execute(arguments: [runID, key, point.step, point.timestamp, point.value.isNaN ? 0 : point.value, point.value.isNaN ? 1 : 0])
            try span.execute(arguments: [runID, key, covered.firstStep, covered.lastStep, covered.minTimestamp, covered.maxTimestamp])
        }
    }

    public func setRunLifecycle(_ runID: RunID, _ stage: LifecycleStage) async throws {
        try await perform { db in
            try db.cachedStatement(sql: "UPDATE runs SET lifecycle_stage = ? WHERE run_uuid = ?").execute(arguments: [stage.rawValue, runID.rawValue])
            if db.changesCount == 0 { throw LedgerError.runNotFound(runID) }
        }
    }

    // MARK: Reads

    public func run(_ runID: RunID) async throws -> Run {
        try await read { db in
            let id = try Self.internalID(of: runID, db: db)
            return try Self.loadRuns(db, ids: [id])[0]
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

    public func metricHistory(runID: RunID, key: String) async throws -> [MetricPoint] {
        try await history(runID: runID, key: key, after: nil, limit: nil)
    }

    public func metricHistory(runID: RunID, key: String, after: MetricPoint?, limit: Int) async throws -> [MetricPoint] {
        try await history(runID: runID, key: key, after: after, limit: limit)
    }

    private func history(runID: RunID, key: String, after: MetricPoint?, limit: Int?) async throws -> [MetricPoint] {
        try await read { db in
            let id = try Self.internalID(of: runID, db: db)
            // Stepped through SQLite's C API: histories run to millions of points, and building a GRDB row per point
            // cost more than SQLite's own work (a chart of a 1M-point history waits for this loop).
            let statement: Statement
            if let after, let limit {
                statement = try db.cachedStatement(
                    sql: """
                        SELECT step, timestamp, value, is_nan FROM metrics WHERE run_id = ? AND key = ? AND (step, timestamp, value, is_nan) > (?, ?, ?, ?)
                        ORDER BY step, timestamp, value, is_nan LIMIT ?
                        """
                )
                try statement.setArguments([id, key, after.step, after.timestamp, after.storedValue, after.value.isNaN ? 1 : 0, limit])
            } else if let limit {
                statement = try db.cachedStatement(
                    sql: "SELECT step, timestamp, value, is_nan FROM metrics WHERE run_id = ? AND key = ? ORDER BY step, timestamp, value, is_nan LIMIT ?"
                )
                try statement.setArguments([id, key, limit])
            } else {
                statement = try db.cachedStatement(
                    sql: "SELECT step, timestamp, value, is_nan FROM metrics WHERE run_id = ? AND key = ? ORDER BY step, timestamp, value, is_nan"
                )
                try statement.setArguments([id, key])
            }
            let handle = statement.sqliteStatement
            defer { sqlite3_reset(handle) }
            var points: [MetricPoint] = []
            while true {
                let code = sqlite3_step(handle)
                if code == SQLITE_DONE { break }
                guard code == SQLITE_ROW else {
                    throw DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(db.sqliteConnection)))
                }
                let isNaN = sqlite3_column_int64(handle, 3) != 0
                points.append(
                    MetricPoint(value: isNaN ? .nan : sqlite3_column_double(handle, 2), timestamp: sqlite3_column_int64(handle, 1), step: sqlite3_column_int64(handle, 0))
                )
            }
            return points
        }
    }

    /// The internal id of a run, for the large tables' keys.
    /// - Throws: ``LedgerError/Code/resourceDoesNotExist`` when no run has this id.
    static func internalID(of runID: RunID, db: Database) throws -> Int64 {
        guard let id = try Int64.fetchOne(db.cachedStatement(sql: "SELECT id FROM runs WHERE run_uuid = ?"), arguments: [runID.rawValue]) else {
            throw LedgerError.runNotFound(runID)
        }
        return id
    }

    /// Loads runs with their params, tags and latest metrics, in the order of `ids`.
    private static func loadRuns(_ db: Database, ids: [Int64]) throws -> [Run] {
        var runs: [Int64: Run] = [:]
        // Chunks stay well under SQLite's limit on bound variables. Each list is padded to a power of two by
        // repeating its last id, so that the statements come from the connection's cache (at most ten shapes each)
        // instead of being compiled per page: compiling them was about 6 % of a search's time.
        for chunk in stride(from: 0, to: ids.count, by: 512).map({ Array(ids[$0..<min($0 + 512, ids.count)]) }) {
            var width = 1
            while width < chunk.count { width *= 2 }
            let list = "(" + Array(repeating: "?", count: width).joined(separator: ", ") + ")"
            let arguments = StatementArguments(chunk + Array(repeating: chunk[chunk.count - 1], count: width - chunk.count))
            // Cursors over positional columns: GRDB finds a column by name with a case-insensitive search (a
            // `lowercased()` per lookup, 2.5 % of a search), and a cursor reuses one row instead of copying each.
            func rows(_ sql: String, _ body: (Row) throws -> Void) throws {
                let cursor = try Row.fetchCursor(db.cachedStatement(sql: sql), arguments: arguments)
                while let row = try cursor.next() { try body(row) }
            }
            try rows("SELECT id, run_uuid, experiment_id, name, status, start_time, end_time, lifecycle_stage, user_id, artifact_uri FROM runs WHERE id IN \(list)") { row in
                let info = RunInfo(
                    runID: RunID(row[1] as String)!, experimentID: ExperimentID(row[2] as Int64), name: row[3],
                    status: RunStatus(rawValue: row[4]) ?? .running, startTime: row[5], endTime: row[6],
                    lifecycleStage: LifecycleStage(rawValue: row[7]) ?? .active, userID: row[8], artifactURI: row[9]
                )
                runs[row[0]] = Run(info: info)
            }
            try rows("SELECT run_id, key, value FROM params WHERE run_id IN \(list)") { row in
                runs[row[0]]?.params[row[1]] = row[2]
            }
            try rows("SELECT run_id, key, value FROM tags WHERE run_id IN \(list)") { row in
                runs[row[0]]?.tags[row[1]] = row[2]
            }
            try rows("SELECT run_id, key, step, timestamp, value, is_nan FROM latest_metrics WHERE run_id IN \(list)") { row in
                let isNaN: Bool = row[5]
                runs[row[0]]?.latestMetrics[row[1]] = MetricPoint(value: isNaN ? .nan : row[4], timestamp: row[3], step: row[2])
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

/// Which search statements the readers keep prepared: the first 64 distinct SQL texts the store sees.
///
/// Preparing a statement through GRDB runs its authorizer over every column the statement reads: for a 5-result
/// search that was about 0.2 ms (14 % of a busy server's samples), twice what SQLite took to run it. A search's text depends only on the
/// shape of its filter and ordering (values are bound), so a dashboard repeats a few; admitting only the first 64
/// keeps every reader's statement cache bounded whatever clients send, and later shapes are prepared per call.
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

/// The store's connection pool, opened on first use and again after a failed attempt.
///
/// Opening a writable pool on a file whose WAL is empty writes to it (GRDB makes sure a WAL file exists), which
/// needs the write lock. While another process holds that lock, opening fails; the store must still exist so that
/// its callers see "unavailable" and keep their data (the SDK spools it) rather than failing to start.
final class SQLiteConnection: Sendable {
    let path: String
    private let configuration: Configuration
    private let state = Mutex<(pool: DatabasePool?, closed: Bool)>((nil, false))
    private let checkpointer: WALCheckpointer?

    init(path: String, configuration: Configuration, pool: DatabasePool?, checkpointer: WALCheckpointer?) {
        self.path = path
        self.configuration = configuration
        self.checkpointer = checkpointer
        state.withLock { $0.pool = pool }
    }

    func pool() throws -> DatabasePool {
        try state.withLock { state in
            guard !state.closed else { throw LedgerError(.invalidState, "The store was closed.") }
            if let pool = state.pool { return pool }
            let pool = try DatabasePool(path: path, configuration: configuration)
            state.pool = pool
            return pool
        }
    }

    func close() throws {
        let pool = state.withLock { state -> DatabasePool? in
            state.closed = true
            defer { state.pool = nil }
            return state.pool
        }
        // First, so that closing the pool's last connection can checkpoint the whole log and remove it.
        checkpointer?.stop()
        try pool?.close()
    }
}
