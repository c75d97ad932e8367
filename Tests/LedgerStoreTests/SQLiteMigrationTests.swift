import Foundation
import GRDB
import LedgerCore
import Testing

@testable import LedgerSQLite

@Suite("SQLite migrations")
struct SQLiteMigrationTests {
    func history(_ path: String) throws -> [Row] {
        let queue = try DatabaseQueue(path: path)
        defer { try? queue.close() }
        return try queue.read { try Row.fetchAll($0, sql: "SELECT version, checksum FROM runledger_schema_history ORDER BY version") }
    }

    func modify(_ path: String, _ sql: String) throws {
        let queue = try DatabaseQueue(path: path)
        try queue.writeWithoutTransaction { try $0.execute(sql: sql) }
        try queue.close()
    }

    /// Puts `table` back as an older migration made it (`definition`, the `columns` copied), then runs `then`.
    func restore(_ path: String, table: String, definition: String, columns: String, then: String) throws {
        try modify(
            path,
            """
            CREATE TABLE \(table)_old (\(definition)) WITHOUT ROWID;
            INSERT INTO \(table)_old SELECT \(columns) FROM \(table);
            DROP TABLE \(table);
            ALTER TABLE \(table)_old RENAME TO \(table);
            \(then)
            """
        )
    }

    @Test("a new file is migrated on open, and opening again applies nothing twice")
    func migratesOnOpenIdempotently() async throws {
        let path = temporaryPath("new.sqlite")
        try await SQLiteStore.open(path: path).close()
        let first = try history(path)
        let shipped = try SQLiteMigrator().history.files
        #expect(first.count == shipped.count)
        #expect(first.map { $0["checksum"] as String } == shipped.map(\.checksum))
        try await SQLiteStore.open(path: path).close()
        #expect(try history(path).count == first.count)
        #expect(try SQLiteStore.migrationStatus(path: path, validate: true).allSatisfy { $0.state == .applied })
    }

    @Test("the schema after all migrations matches the golden schema")
    func goldenSchema() async throws {
        let path = temporaryPath("golden.sqlite")
        try await SQLiteStore.open(path: path).close()
        let queue = try DatabaseQueue(path: path)
        let tables = try await queue.read { db in
            try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type IN ('table', 'index') AND name NOT LIKE 'sqlite_%' ORDER BY name")
        }
        try queue.close()
        // When a migration adds a table or an index, add it here: this list is the schema's contract.
        #expect(
            tables == [
                "applied_batches", "experiment_tags", "experiments", "latest_metrics", "latest_metrics_by_experiment_key_value",
                "logged_model_params", "logged_model_tags", "logged_models", "logged_models_by_experiment", "metric_chunks",
                "metric_chunks_by_series", "params", "params_by_key_value", "projects", "retention_policies", "run_events",
                "run_events_by_kind_time", "run_events_by_run_time", "run_events_by_time", "run_inputs", "run_outputs", "runledger_schema_history",
                "runledger_transfers",
                "runs",
                "runs_by_experiment_start", "runs_by_status_heartbeat", "state_documents", "tags", "tags_by_key_value",
            ]
        )
    }

    /// Makes a migrated file look as one from before migration 0010 holding `points` of `run` one row per point:
    /// the old tables back, filled, and 0010 and later not recorded.
    func makeLegacy(_ path: String, run: Int64, points: [Metric], dropFrom version: Int, also: String = "") throws {
        let queue = try DatabaseQueue(path: path)
        try queue.writeWithoutTransaction { db in
            try db.execute(
                sql: """
                    DROP TABLE metric_chunks; DROP INDEX run_events_by_kind_time;
                    DELETE FROM runledger_schema_history WHERE version >= \(version);
                    CREATE TABLE metrics (
                        run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE, key TEXT NOT NULL, step INTEGER NOT NULL,
                        timestamp INTEGER NOT NULL, value REAL NOT NULL, is_nan INTEGER NOT NULL CHECK (is_nan IN (0, 1)),
                        PRIMARY KEY (run_id, key, step, timestamp, value, is_nan)) WITHOUT ROWID;
                    CREATE TABLE metric_spans (run_id INTEGER NOT NULL, key TEXT NOT NULL, first_step INTEGER NOT NULL, last_step INTEGER NOT NULL,
                        min_timestamp INTEGER NOT NULL, max_timestamp INTEGER NOT NULL);
                    \(also)
                    """)
            try db.inTransaction {
                let insert = try db.makeStatement(sql: "INSERT OR IGNORE INTO metrics VALUES (?, ?, ?, ?, ?, ?)")
                for metric in points {
                    let point = metric.point
                    try insert.execute(arguments: [run, metric.key, point.step, point.timestamp, point.storedValue, point.value.isNaN ? 1 : 0])
                }
                return .commit
            }
        }
        try queue.close()
    }

    func tables(_ path: String) throws -> [String] {
        let queue = try DatabaseQueue(path: path)
        defer { try? queue.close() }
        return try queue.read { try String.fetchAll($0, sql: "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name") }
    }

    @Test("a file from before chunks is converted a page per transaction, after an interruption too: every point kept")
    func legacyHistoryConversion() async throws {
        let path = temporaryPath("legacy.sqlite")
        let store = try await SQLiteStore.open(path: path)
        let run = NewRun(experimentID: .defaultExperiment, startTime: 1)
        _ = try await store.write(WriteBatch([.createRun(run)]))
        try await store.close()
        // 4 500 rows, converted in pages of 1 000: duplicates, NaN, ±inf and Int64 limits among them.
        var points: [Metric] = (0..<4_500).map { (index: Int) -> Metric in
            let value: Double = index % 100 == 7 ? .nan : Double(index) / 4
            let timestamp = Int64(index * 13 % 997)
            return Metric(key: "k\(index % 3)", value: value, timestamp: timestamp, step: Int64(index / 3))
        }
        points += [
            Metric(key: "k0", value: .infinity, timestamp: .min, step: .max), Metric(key: "k0", value: -.infinity, timestamp: .max, step: .min),
            Metric(key: "k1", value: 1, timestamp: 5, step: 5), Metric(key: "k1", value: 1, timestamp: 5, step: 5),
        ]
        try makeLegacy(path, run: 1, points: points, dropFrom: 10)
        let migrator = try {
            var migrator = try SQLiteMigrator()
            migrator.legacyPageSize = 1_000
            return migrator
        }()
        // An interrupted conversion: 0010 applied and one page converted and committed before the process stopped.
        let queue = try DatabaseQueue(path: path)
        try await queue.writeWithoutTransaction { db in
            try migrator.migrateFiles(db, clock: { 0 })
            try db.inTransaction {
                for statement in try LegacyHistory.convert(try db.rows(LegacyHistory.page(limit: 700))) { try db.execute(statement) }
                return .commit
            }
        }
        // One row of `points` is a duplicate, stored once.
        #expect(try await queue.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM metrics") } == points.count - 1 - 700)
        _ = try await queue.writeWithoutTransaction { db in try migrator.migrate(db, clock: { 0 }) }
        try queue.close()
        #expect(try !tables(path).contains("metrics") && !tables(path).contains("metric_spans"))
        let migrated = try await SQLiteStore.open(path: path)
        for key in ["k0", "k1", "k2"] {
            let expected = ChunkedSeries.normalized(points.filter { $0.key == key }.map(\.point))
            let stored = try await migrated.metricHistory(runID: run.runID, key: key)
            // Compared as text, so that NaN equals itself.
            #expect(stored.count == expected.count)
            #expect(stored.map { "\($0)" } == expected.map { "\($0)" })
        }
        try await migrated.close()
    }

    static func migration(_ name: String) -> URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources/LedgerSQLite/Resources/migrations/sqlite/\(name)")
    }

    @Test("migration 0004 rebuilds metrics without its foreign key; the history of such an old file is converted to chunks whole")
    func metricsRebuild() async throws {
        let path = temporaryPath("rebuild.sqlite")
        let store = try await SQLiteStore.open(path: path)
        let run = NewRun(experimentID: .defaultExperiment, startTime: 1)
        let points: [Metric] = (0..<3000).map { (index: Int) -> Metric in
            let value: Double = index == 7 ? .nan : Double(index) / 4
            return Metric(key: "k\(index % 3)", value: value, timestamp: Int64(index), step: Int64(index / 3))
        }
        _ = try await store.write(WriteBatch([.createRun(run), .logMetrics(run.runID, points)]))
        try await store.close()
        // As a file from before migration 0004 would be: the history table as 0001 made it, 0004 and later not recorded
        // (0005 rebuilds latest_metrics from whichever shape it finds; 0008 adds a column SQLite cannot add twice).
        try makeLegacy(
            path, run: 1, points: points, dropFrom: 4, also: "ALTER TABLE runs DROP COLUMN deleted_time; DROP TABLE runledger_transfers;")
        let migrated = try await SQLiteStore.open(path: path)
        #expect(try !tables(path).contains("metrics"))
        let versions: [Int] = try history(path).map { $0["version"] }
        #expect(versions == (try SQLiteMigrator().history.files.map { $0.version }))
        for key in ["k0", "k1", "k2"] {
            let expected: [MetricPoint] = points.filter { $0.key == key }.map { $0.point }
            let stored: [MetricPoint] = try await migrated.metricHistory(runID: run.runID, key: key)
            #expect(stored.map { "\($0)" } == expected.map { "\($0)" })
        }
        try await migrated.close()
    }

    @Test("migration 0008 gives runs deleted before it the migration's time, so gc --older-than never collects them early")
    func deletedTimes() async throws {
        let path = temporaryPath("deleted-time.sqlite")
        let store = try await SQLiteStore.open(path: path)
        let (kept, deleted) = (NewRun(experimentID: .defaultExperiment, startTime: 1), NewRun(experimentID: .defaultExperiment, startTime: 2))
        try await store.createRun(kept)
        try await store.createRun(deleted)
        try await store.setRunLifecycle(deleted.runID, .deleted)
        try await store.close()
        let queue = try DatabaseQueue(path: path)
        try await queue.write { db in
            try db.execute(
                sql:
                    """
                    ALTER TABLE runs DROP COLUMN deleted_time; DROP TABLE runledger_transfers; DROP TABLE metric_chunks;
                    DROP INDEX run_events_by_kind_time; DELETE FROM runledger_schema_history WHERE version >= 8
                    """
            )
        }
        try queue.close()
        let before = WallClock.milliseconds() / 1000 * 1000
        let migrated = try await SQLiteStore.open(path: path)
        let found = try await migrated.deletedRuns(before: .max)
        #expect(found.map(\.runID) == [deleted.runID])
        #expect((found.first?.deletedTime ?? 0) >= before)
        try await migrated.close()
    }

    @Test("migration 0005 files every latest metric of an older file under its run's experiment, and searches still find them")
    func latestMetricsByExperiment() async throws {
        let path = temporaryPath("by-experiment.sqlite")
        let store = try await SQLiteStore.open(path: path)
        var experiments: [ExperimentID] = [.defaultExperiment]
        for name in ["north", "south"] { experiments.append(try await store.createExperiment(name: name, artifactLocation: nil, tags: []).id) }
        var costs: [ExperimentID: [(RunID, Double)]] = [:]
        for index in 0..<30 {
            let experiment = experiments[index % 3]
            let run = NewRun(experimentID: experiment, startTime: Int64(index))
            let cost = Double((index * 37) % 30)
            let metrics = [Metric(key: "total_cost", value: cost, timestamp: 1, step: 0), Metric(key: "lcoe", value: .nan, timestamp: 1, step: 0)]
            _ = try await store.write(WriteBatch([.createRun(run), .logMetrics(run.runID, metrics)]))
            costs[experiment, default: []].append((run.runID, cost))
        }
        try await store.close()
        // As a file from before migration 0005 would be: latest_metrics and its index as 0001 made them, 0005 not recorded.
        try restore(
            path, table: "latest_metrics",
            definition: """
                run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE, key TEXT NOT NULL, step INTEGER NOT NULL,
                timestamp INTEGER NOT NULL, value REAL NOT NULL, is_nan INTEGER NOT NULL CHECK (is_nan IN (0, 1)),
                PRIMARY KEY (run_id, key)
                """,
            columns: "run_id, key, step, timestamp, value, is_nan",
            then: """
                CREATE INDEX latest_metrics_by_key_value ON latest_metrics (key, is_nan, value, run_id);
                DELETE FROM runledger_schema_history WHERE version >= 5;
                ALTER TABLE runs DROP COLUMN deleted_time;
                DROP TABLE runledger_transfers;
                DROP TABLE metric_chunks;
                DROP INDEX run_events_by_kind_time;
                """
        )

        let migrated = try await SQLiteStore.open(path: path)
        let queue = try DatabaseQueue(path: path)
        let (rows, misfiled, indexes) = try await queue.read { db in
            (
                try Int.fetchOne(db, sql: "SELECT count(*) FROM latest_metrics")!,
                try Int.fetchOne(
                    db, sql: "SELECT count(*) FROM latest_metrics l JOIN runs r ON r.id = l.run_id WHERE l.experiment_id <> r.experiment_id")!,
                try String.fetchAll(
                    db, sql: "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'latest_metrics' AND sql IS NOT NULL")
            )
        }
        try queue.close()
        #expect(rows == 60)
        #expect(misfiled == 0)
        #expect(indexes == ["latest_metrics_by_experiment_key_value"])
        for experiment in experiments {
            let query = RunQuery(experimentIDs: [experiment], orderBy: [OrderKey(.metric("total_cost"))], maxResults: 3)
            let expected = costs[experiment]!.sorted { ($0.1, $0.0.rawValue) < ($1.1, $1.0.rawValue) }.map(\.0)
            #expect(try await migrated.searchAllRuns(query).map(\.info.runID) == expected)
        }
        // A point logged after the migration is filed under its experiment too.
        let late = costs[experiments[2]]![0].0
        _ = try await migrated.write(WriteBatch([.logMetrics(late, [Metric(key: "total_cost", value: -1, timestamp: 2, step: 1)])]))
        let cheapest = try await migrated.searchRuns(
            RunQuery(experimentIDs: [experiments[2]], orderBy: [OrderKey(.metric("total_cost"))], maxResults: 1))
        #expect(cheapest.runs.map(\.info.runID) == [late])
        let elsewhere = try await migrated.searchRuns(
            RunQuery(experimentIDs: [experiments[1]], orderBy: [OrderKey(.metric("total_cost"))], maxResults: 1))
        #expect(elsewhere.runs.map(\.info.runID) != [late])
        try await migrated.close()
    }

    @Test("a migration file edited after it was applied is refused at start-up and by validate")
    func editedChecksum() async throws {
        let path = temporaryPath("edited.sqlite")
        try await SQLiteStore.open(path: path).close()
        // Simulates an edited shipped file: the recorded checksum no longer matches the file.
        try modify(path, "UPDATE runledger_schema_history SET checksum = 'deadbeef' WHERE version = 1")
        await expectLedgerError(.migrationConflict, "was edited after it was applied") { _ = try await SQLiteStore.open(path: path) }
        #expect(throws: LedgerError.self) { try SQLiteStore.migrationStatus(path: path, validate: true) }
        #expect(try SQLiteStore.migrationStatus(path: path).first?.state == .edited)
    }

    @Test("a schema newer than the binary is refused and the file is left untouched")
    func newerSchema() async throws {
        let path = temporaryPath("newer.sqlite")
        try await SQLiteStore.open(path: path).close()
        try modify(path, "PRAGMA wal_checkpoint(TRUNCATE); INSERT INTO runledger_schema_history VALUES (9999, 'future', 'x', 1, 0)")
        try modify(path, "PRAGMA journal_mode = DELETE")
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        await expectLedgerError(.schemaTooNew, "newer than this RunLedger") { _ = try await SQLiteStore.open(path: path) }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
        #expect(!FileManager.default.fileExists(atPath: path + "-wal"))
    }

    @Test("a SQLite file of another application and a file that is not SQLite are refused untouched")
    func foreignFiles() async throws {
        let other = temporaryPath("other.sqlite")
        try modify(other, "CREATE TABLE customers (id INTEGER PRIMARY KEY)")
        let before = try Data(contentsOf: URL(fileURLWithPath: other))
        await expectLedgerError(.notALedgerDatabase, "not a RunLedger one") { _ = try await SQLiteStore.open(path: other) }
        #expect(try Data(contentsOf: URL(fileURLWithPath: other)) == before)

        let garbage = temporaryPath("garbage.sqlite")
        try Data((0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 31) }).write(to: URL(fileURLWithPath: garbage))
        await expectLedgerError(.notALedgerDatabase) { _ = try await SQLiteStore.open(path: garbage) }
    }

    @Test("a missing file is an error when creation is off, and no file is left behind")
    func missingFile() async throws {
        let path = temporaryPath("absent.sqlite")
        await expectLedgerError(.resourceDoesNotExist, "No RunLedger database") {
            _ = try await SQLiteStore.open(path: path, options: SQLiteOptions(create: false))
        }
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test("pending migrations are refused when automatic migration is off, naming the fix")
    func pendingRefused() async throws {
        let path = temporaryPath("pending.sqlite")
        try await SQLiteStore.open(path: path).close()
        try modify(path, "DELETE FROM runledger_schema_history")
        await expectLedgerError(.schemaPending, "runledger migrate up") {
            _ = try await SQLiteStore.open(path: path, options: SQLiteOptions(migrate: false))
        }
    }

    @Test("processes opening a new file at once apply each migration exactly once")
    func concurrentOpeners() async throws {
        let path = temporaryPath("race.sqlite")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<4 { group.addTask { try await SQLiteStore.open(path: path).close() } }
            try await group.waitForAll()
        }
        let rows = try history(path)
        #expect(rows.map { $0["version"] as Int } == (try SQLiteMigrator().history.files.map(\.version)))
    }
}
