import Foundation
import LedgerConnect
import LedgerCore
import Logging
import PostgresNIO
import Testing

@testable import LedgerPostgres

/// The folder of SQL fixtures beside this file.
func fixtureFolder(_ name: String) -> String {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures").appendingPathComponent(name).path
}

@Suite("PostgreSQL location")
struct PostgresLocationTests {
    @Test("URLs parse into their parts; passwords are decoded and never printed")
    func parses() throws {
        let location = try PostgresLocation(url: "postgresql://ada:p%40ss@db.example:6543/ledger?sslmode=require")
        #expect(location == PostgresLocation(host: "db.example", port: 6543, username: "ada", password: "p@ss", database: "ledger", tls: .require))
        #expect(!location.description.contains("p@ss"))
        #expect(try PostgresLocation(url: "postgres://u@h/d").port == 5432)
        #expect(try DatabaseLocation("postgres://u@h/d") == .postgres(PostgresLocation(host: "h", username: "u", database: "d")))
    }

    @Test(
        "bad URLs are refused naming the missing part, without echoing the password",
        arguments: [
            ("postgres://u:secret@/d", "no host"), ("postgres://h/d", "no user"), ("postgres://u@h", "no database"),
            ("postgres://u@h/d?sslmode=maybe", "sslmode"), ("postgres://u@h/d?search_path=x", "Unknown PostgreSQL URL parameter"),
            ("postgres://u@h:0/d", "port"),
        ])
    func refuses(url: String, fragment: String) async {
        await expectLedgerError(.invalidParameterValue, fragment) { _ = try PostgresLocation(url: url) }
        do { _ = try PostgresLocation(url: url) } catch { #expect(!error.message.contains("secret")) }
    }
}

@Suite("PostgreSQL backend", .enabled(if: TestPostgres.serverURL != nil))
struct PostgresBackendTests {
    @Test("two migrators on one empty database at once both succeed and apply each version exactly once")
    func concurrentMigrations() async throws {
        let location = try DatabaseLocation(try await TestPostgres.freshDatabase())
        let results = try await withThrowingTaskGroup(of: [MigrationStatus].self) { group in
            for _ in 0..<4 { group.addTask { try await LedgerConnect.migrateUp(location, logger: Logger(label: "test")) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.count == 4)
        for rows in results { #expect(rows.allSatisfy { $0.state == .applied }) }
        guard case .postgres(let postgres) = location else { return }
        let url = "postgres://\(postgres.username)@\(postgres.host):\(postgres.port)/\(postgres.database)"
        #expect(try await TestPostgres.psql(url, "SELECT count(*) FROM runledger_schema_history") == "\(results[0].count)")
        #expect(try await TestPostgres.psql(url, "SELECT count(*) FROM experiments WHERE name = 'Default'") == "1")
    }

    @Test("a user's folder is applied once, tracked apart; an edited file is refused by validate and at start-up")
    func userFolder() async throws {
        let url = try await TestPostgres.freshDatabase()
        let location = try DatabaseLocation(url)
        let source = fixtureFolder("user-migrations")
        let folder = temporaryPath("migrations")
        try FileManager.default.copyItem(atPath: source, toPath: folder)

        let rows = try await LedgerConnect.migrateUp(location, userFolder: folder, logger: Logger(label: "test"))
        #expect(rows.map(\.version) == [1, 2, 3] && rows.allSatisfy { $0.state == .applied })
        #expect(try await TestPostgres.psql(url, "SELECT count(*) FROM runledger_user_schema_history") == "3")
        // RunLedger's own history is untouched by the user's versions.
        #expect(
            try await TestPostgres.psql(url, "SELECT count(*) FROM runledger_schema_history WHERE name IN ('knowledge_base', 'agent_metrics')") == "0"
        )
        // The schema works: views answer, the retention helper deletes exactly the old rows.
        try await TestPostgres.psql(
            url,
            """
            INSERT INTO agent_tool_executions (agent, tool, duration_ms, succeeded) VALUES ('a', 'search', 10, true), ('a', 'search', 30, false);
            INSERT INTO plant_telemetry VALUES ('pv', now() - interval '40 days', 1), ('pv', now() - interval '1 day', 2), ('pv', now(), 3);
            """)
        #expect(try await TestPostgres.psql(url, "SELECT executions || ' ' || success_rate::numeric(3,2) FROM agent_tool_success") == "2 0.50")
        #expect(try await TestPostgres.psql(url, "SELECT prune_plant_telemetry(interval '30 days')") == "1")
        #expect(try await TestPostgres.psql(url, "SELECT count(*) FROM plant_telemetry") == "2")
        #expect(try await TestPostgres.psql(url, "SELECT detail FROM agent_health_checks LIMIT 0") == "")

        // Again: nothing new is applied.
        let again = try await LedgerConnect.migrateUp(location, userFolder: folder, logger: Logger(label: "test"))
        #expect(again == rows)

        // Edit an applied file: validate and start-up refuse, naming the file.
        let edited = (folder as NSString).appendingPathComponent("002_agent_metrics.sql")
        try (String(contentsOfFile: edited, encoding: .utf8) + "\n-- a later edit\n").write(toFile: edited, atomically: true, encoding: .utf8)
        await expectLedgerError(.migrationConflict, "002_agent_metrics.sql was edited") {
            _ = try await LedgerConnect.validateMigrations(location, userFolder: folder)
        }
        await expectLedgerError(.migrationConflict, "002_agent_metrics.sql was edited") {
            try await LedgerConnect.withStore(location, options: ConnectOptions(userMigrations: folder)) { _ in }
        }
    }

    @Test("a folder with two files of one version is refused before anything runs, naming both files")
    func duplicateVersions() async throws {
        let url = try await TestPostgres.freshDatabase()
        await expectLedgerError(.migrationConflict, "003_agent_metrics.sql and 003_victron_schema.sql") {
            _ = try await LedgerConnect.migrateUp(
                try DatabaseLocation(url), userFolder: fixtureFolder("duplicate-migrations"), logger: Logger(label: "test"))
        }
        #expect(
            try await TestPostgres.psql(url, "SELECT to_regclass('dup_base') IS NULL AND to_regclass('runledger_user_schema_history') IS NULL") == "t"
        )
    }

    @Test("a failing file rolls back alone: earlier files stay applied, nothing of the bad one remains")
    func failingFile() async throws {
        let url = try await TestPostgres.freshDatabase()
        let folder = temporaryPath("bad-migrations")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try "CREATE TABLE good (id INTEGER);".write(toFile: folder + "/001_good.sql", atomically: true, encoding: .utf8)
        try "CREATE TABLE half (id INTEGER); SELECT no_such_function();".write(toFile: folder + "/002_bad.sql", atomically: true, encoding: .utf8)
        await expectLedgerError(.migrationConflict, "002_bad.sql failed") {
            _ = try await LedgerConnect.migrateUp(try DatabaseLocation(url), userFolder: folder, logger: Logger(label: "test"))
        }
        #expect(try await TestPostgres.psql(url, "SELECT to_regclass('good') IS NOT NULL AND to_regclass('half') IS NULL") == "t")
        #expect(try await TestPostgres.psql(url, "SELECT string_agg(version::text, ',') FROM runledger_user_schema_history") == "1")
    }

    @Test("an exhausted pool: a new request waits up to the acquire timeout, then fails with a clear error; nothing hangs")
    func poolExhausted() async throws {
        var options = PostgresOptions()
        options.maximumConnections = 2
        options.acquireTimeout = .seconds(2)
        // Migrated first with the default pool: on a loaded machine the migrations alone can outlast a 2 s acquire timeout.
        let location = try PostgresLocation(url: try await TestPostgres.freshDatabase())
        try await PostgresStore.opened(location).close()
        let store = try await PostgresStore.opened(location, options: options)
        let gate = store.gate
        let slow = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<2 {
                    group.addTask { () async throws -> Void in
                        // On a loaded machine opening a connection can outlast the 2 s acquire timeout: try again, since
                        // what is tested is the request made once both connections are busy.
                        while true {
                            do {
                                _ = try await gate.run { connection in
                                    try await connection.query("SELECT pg_sleep(6)", logger: gate.logger).collect().count
                                }
                                return
                            } catch let error as LedgerError where error.message.contains("No PostgreSQL connection became free") {
                                continue
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        // Wait until both connections are lent out (an event the gate counts), then ask for a third.
        try await waitUntil { store.poolUsage.inUse == 2 }
        await expectLedgerError(.storeUnavailable, "No PostgreSQL connection became free") { _ = try await store.experiments(view: .all) }
        // The acquire deadline answered, not the end of a slow query: both connections are still lent out.
        #expect(store.poolUsage.inUse == 2)
        try await slow.value
        #expect(try await store.experiments(view: .all).count == 1)
        let statistics = try await store.poolStatistics()
        #expect(statistics.inUse == 0 && statistics.waiting == 0 && statistics.maximum == 2 && statistics.open >= 1)
        try await store.close()
    }

    @Test("a finished operation stops its timer: none is left sleeping after many writes")
    func timersStop() async throws {
        let store = try await PostgresStore.opened(try PostgresLocation(url: try await TestPostgres.freshDatabase()))
        let experiment = try await store.createExperiment(name: "timers", artifactLocation: nil, tags: [])
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    for _ in 0..<50 { _ = try await store.write(WriteBatch([.createRun(NewRun(experimentID: experiment.id, startTime: 1))])) }
                }
            }
            try await group.waitForAll()
        }
        // Before the fix each of these 400 writes left a timer asleep for the whole statement timeout.
        try await waitUntil { store.gate.liveTimers.load(ordering: .relaxed) == 0 }
        try await store.close()
    }

    @Test("connections killed by the server (57P01) are retried transparently; bad input is not retried")
    func transientFailuresRetried() async throws {
        let url = try await TestPostgres.freshDatabase()
        let store = try await PostgresStore.opened(try PostgresLocation(url: url))
        let experiment = try await store.createExperiment(name: "retry", artifactLocation: nil, tags: [])
        // Every pooled connection is terminated behind the store's back; the next calls must still succeed.
        for _ in 0..<3 {
            let killed = try await TestPostgres.psql(
                url, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
            #expect(Int(killed)! >= 1)
            #expect(try await store.experiment(id: experiment.id).name == "retry")
        }
        // A connection terminated in the middle of a statement (57P01): the operation is retried and succeeds.
        let gate = store.gate
        let slow = Task { try await gate.run { try await $0.query("SELECT pg_sleep(1.5)", logger: gate.logger).collect().count } }
        let running =
            "FROM pg_stat_activity WHERE application_name = '\(gate.applicationName)' AND query LIKE 'SELECT pg_sleep%' AND state = 'active'"
        try await waitUntil { try await TestPostgres.psql(url, "SELECT count(*) \(running)") == "1" }
        #expect(try await TestPostgres.psql(url, "SELECT count(pg_terminate_backend(pid)) \(running)") == "1")
        #expect(try await slow.value == 1)
        #expect(gate.retryCount >= 1)
        let run = try await store.createRun(NewRun(experimentID: experiment.id, name: "r", startTime: 1), params: [KeyValue("a", "1")])
        let retriesAfterKills = store.gate.retryCount
        await expectLedgerError(.invalidParameterValue, "Changing param values is not allowed") {
            try await store.logBatch(runID: run.runID, params: [KeyValue("a", "2")])
        }
        await expectLedgerError(.resourceAlreadyExists, "already exists") {
            _ = try await store.createExperiment(name: "retry", artifactLocation: nil, tags: [])
        }
        #expect(store.gate.retryCount == retriesAfterKills)
        try await store.close()
    }

    @Test("a database from before chunks is converted on open, over several transactions: every point kept, the old tables dropped")
    func legacyHistoryConversion() async throws {
        let url = try await TestPostgres.freshDatabase()
        let store = try await PostgresStore.opened(try PostgresLocation(url: url))
        let run = NewRun(experimentID: .defaultExperiment, startTime: 1)
        _ = try await store.write(WriteBatch([.createRun(run)]))
        try await store.close()
        // As 0001 and 0002 made the history, filled with 4 500 rows (five pages of 1 000 below), NaN and limits included;
        // 0008 not recorded.
        try await TestPostgres.psql(
            url,
            """
            DROP TABLE metric_chunks;
            DROP INDEX run_events_by_kind_time;
            DELETE FROM runledger_schema_history WHERE version >= 8;
            CREATE TABLE metrics (run_id BIGINT NOT NULL, key TEXT NOT NULL, step BIGINT NOT NULL, timestamp BIGINT NOT NULL,
                value DOUBLE PRECISION NOT NULL, is_nan SMALLINT NOT NULL, PRIMARY KEY (run_id, key, step, timestamp, value, is_nan));
            CREATE TABLE metric_spans (run_id BIGINT NOT NULL, key TEXT NOT NULL, first_step BIGINT NOT NULL, last_step BIGINT NOT NULL,
                min_timestamp BIGINT NOT NULL, max_timestamp BIGINT NOT NULL);
            INSERT INTO metrics SELECT 1, 'k' || (i % 3), i / 3, i % 977, CASE WHEN i % 100 = 7 THEN 0 ELSE i / 4.0 END,
                CASE WHEN i % 100 = 7 THEN 1 ELSE 0 END FROM generate_series(0, 4499) AS i;
            INSERT INTO metrics VALUES (1, 'k0', 9223372036854775807, -9223372036854775808, 'Infinity', 0);
            """
        )
        var migrator = try PostgresMigrator()
        migrator.legacyPageSize = 1_000
        let migrated = PostgresStore(gate: try PostgresStore.makeGate(try PostgresLocation(url: url), options: PostgresOptions()), migrator: migrator)
        Task { try await migrated.run() }
        try await migrated.prepare()
        #expect(try await TestPostgres.psql(url, "SELECT to_regclass('metrics') IS NULL AND to_regclass('metric_spans') IS NULL") == "t")
        for key in 0..<3 {
            var expected: [MetricPoint] = stride(from: key, to: 4_500, by: 3).map { (index: Int) -> MetricPoint in
                let value: Double = index % 100 == 7 ? .nan : Double(index) / 4
                return MetricPoint(value: value, timestamp: Int64(index % 977), step: Int64(index / 3))
            }
            if key == 0 { expected.append(MetricPoint(value: .infinity, timestamp: .min, step: .max)) }
            let stored = try await migrated.metricHistory(runID: run.runID, key: "k\(key)")
            #expect(stored.map { "\($0)" } == ChunkedSeries.normalized(expected).map { "\($0)" })
        }
        try await migrated.close()
    }

    @Test("migration 0003 files every latest metric of an older database under its run's experiment")
    func latestMetricsByExperiment() async throws {
        let url = try await TestPostgres.freshDatabase()
        let store = try await PostgresStore.opened(try PostgresLocation(url: url))
        let experiments = [ExperimentID.defaultExperiment, try await store.createExperiment(name: "north", artifactLocation: nil, tags: []).id]
        var runs: [ExperimentID: [RunID]] = [:]
        for index in 0..<10 {
            let run = NewRun(experimentID: experiments[index % 2], startTime: Int64(index))
            _ = try await store.write(
                WriteBatch([.createRun(run), .logMetrics(run.runID, [Metric(key: "total_cost", value: Double(10 - index), timestamp: 1, step: 0)])]))
            runs[experiments[index % 2], default: []].append(run.runID)
        }
        try await store.close()
        // As a database from before migration 0003 would be: no experiment column, the old index, 0003 not recorded.
        try await TestPostgres.psql(
            url,
            """
            ALTER TABLE latest_metrics DROP COLUMN experiment_id;
            CREATE INDEX latest_metrics_by_key_value ON latest_metrics (key, is_nan, value, run_id);
            DROP TABLE runledger_transfers;
            DROP TABLE metric_chunks;
            DROP INDEX run_events_by_kind_time;
            DELETE FROM runledger_schema_history WHERE version >= 3
            """
        )
        let migrated = try await PostgresStore.opened(try PostgresLocation(url: url))
        #expect(
            try await TestPostgres.psql(
                url, "SELECT count(*) FROM latest_metrics l JOIN runs r ON r.id = l.run_id WHERE l.experiment_id = r.experiment_id")
                == "10")
        #expect(
            try await TestPostgres.psql(
                url, "SELECT attnotnull FROM pg_attribute WHERE attrelid = 'latest_metrics'::regclass AND attname = 'experiment_id'") == "t")
        #expect(
            try await TestPostgres.psql(
                url, "SELECT string_agg(indexname, ',') FROM pg_indexes WHERE tablename = 'latest_metrics' AND indexname <> 'latest_metrics_pkey'")
                == "latest_metrics_by_experiment_key_value")
        for experiment in experiments {
            let found = try await migrated.searchAllRuns(
                RunQuery(experimentIDs: [experiment], orderBy: [OrderKey(.metric("total_cost"))], maxResults: 2))
            // Costs fall as the index rises, so the cheapest come last.
            #expect(found.map(\.info.runID) == runs[experiment]!.reversed())
        }
        try await migrated.close()
    }

    @Test("the health check reports a current schema as healthy and a newer one with its reason")
    func healthCheck() async throws {
        let url = try await TestPostgres.freshDatabase()
        let store = try await PostgresStore.opened(try PostgresLocation(url: url))
        #expect(await store.healthCheck() == nil)
        try await TestPostgres.psql(url, "INSERT INTO runledger_schema_history VALUES (999, 'future', 'x', 0, 0)")
        #expect(await store.healthCheck()?.code == .schemaTooNew)
        try await store.close()
        await expectLedgerError(.schemaTooNew, "newer than this RunLedger knows") {
            _ = try await PostgresStore.opened(try PostgresLocation(url: url))
        }
    }

    @Test("an unreachable server fails the open within the acquire timeout, as unavailable")
    func unreachable() async throws {
        var options = PostgresOptions()
        options.acquireTimeout = .milliseconds(500)
        // Port 1 on loopback: nothing listens there.
        await expectLedgerError(.storeUnavailable, "No PostgreSQL connection became free") {
            _ = try await PostgresStore.opened(PostgresLocation(host: "127.0.0.1", port: 1, username: "postgres", database: "none"), options: options)
        }
    }
}

/// Polls an async condition that has no notification (pool counters), every 10 ms, for up to 10 s.
func waitUntil(_ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(10)
    while try await !condition() {
        guard ContinuousClock.now < deadline else { throw LedgerError(.internal, "condition not met within 10 s") }
        try await Task.sleep(for: .milliseconds(10))
    }
}
