import Foundation
import Logging
import PostgresNIO
public import LedgerCore

/// Applies numbered SQL files to a PostgreSQL database: each file in its own transaction, under an advisory lock.
///
/// The lock serialises migrators across processes; each transaction re-reads the history after taking it, so two
/// processes migrating an empty database at once both succeed and apply every version exactly once.
public struct PostgresMigrator: Sendable {
    /// RunLedger's own history table.
    public static let historyTable = "runledger_schema_history"
    /// The history of a user's folder (`migrate up --dir`), kept apart from RunLedger's own.
    public static let userHistoryTable = "runledger_user_schema_history"
    /// `pg_advisory_xact_lock` key shared by every RunLedger migrator ("RLmigrat" in ASCII).
    static let advisoryLock: Int64 = 0x524C_6D69_6772_6174

    public let files: [MigrationFile]
    /// One of the two history tables above (an allow-list: never user text in an identifier).
    public let historyTable: String

    /// RunLedger's shipped migrations.
    public init() throws {
        self.init(files: try PostgresMigrator.bundledFiles(), historyTable: PostgresMigrator.historyTable)
    }

    public init(files: [MigrationFile], historyTable: String = PostgresMigrator.historyTable) {
        precondition([PostgresMigrator.historyTable, PostgresMigrator.userHistoryTable].contains(historyTable))
        self.files = files
        self.historyTable = historyTable
    }

    static func bundledFiles() throws -> [MigrationFile] {
        guard let folder = Bundle.module.url(forResource: "migrations", withExtension: nil)?.appendingPathComponent("postgres") else {
            throw LedgerError(.internal, "The PostgreSQL migration files are missing from the RunLedger bundle.")
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".sql") }.sorted()
        return try names.map { name in
            try MigrationFile(filename: name, contents: String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8))
        }
    }

    func applied(_ connection: PostgresConnection, logger: Logger) async throws -> [AppliedMigration] {
        let exists = try await connection.query("SELECT to_regclass(\(historyTable)) IS NOT NULL", logger: logger).collect()
        guard try exists.first?.decode(Bool.self) == true else { return [] }
        let rows = try await connection.query(
            PostgresQuery(unsafeSQL: "SELECT version, name, checksum, applied_at, duration_ms FROM \(historyTable) ORDER BY version"),
            logger: logger
        ).collect()
        return try rows.map { row in
            let (version, name, checksum, appliedAt, duration) = try row.decode((Int64, String, String, Int64, Int64).self)
            return AppliedMigration(version: Int(version), name: name, checksum: checksum, appliedAt: appliedAt, durationMilliseconds: duration)
        }
    }

    func plan(_ connection: PostgresConnection, logger: Logger) async throws -> MigrationPlan {
        try MigrationPlan.make(available: files, applied: try await applied(connection, logger: logger), historyTable: historyTable)
    }

    func status(_ connection: PostgresConnection, logger: Logger) async throws -> [MigrationStatus] {
        MigrationPlan.status(available: files, applied: try await applied(connection, logger: logger))
    }

    /// Applies every pending file; returns those this call applied (another process may have applied the rest).
    @discardableResult
    func migrate(_ connection: PostgresConnection, logger: Logger, clock: @Sendable () -> Int64) async throws -> [MigrationFile] {
        // Refuse conflicts and edited files before anything runs.
        let plan = try await plan(connection, logger: logger)
        var appliedNow: [MigrationFile] = []
        for file in plan.pending {
            try await connection.query("BEGIN", logger: logger)
            do {
                try await connection.query("SELECT pg_advisory_xact_lock(\(Self.advisoryLock))", logger: logger)
                try await connection.query(
                    PostgresQuery(
                        unsafeSQL: """
                            CREATE TABLE IF NOT EXISTS \(historyTable) (
                                version BIGINT PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL,
                                applied_at BIGINT NOT NULL, duration_ms BIGINT NOT NULL)
                            """
                    ),
                    logger: logger
                )
                var binds = PostgresBindings()
                binds.append(Int64(file.version))
                let done = try await connection.query(
                    PostgresQuery(unsafeSQL: "SELECT 1 FROM \(historyTable) WHERE version = $1", binds: binds), logger: logger
                ).collect()
                if done.isEmpty {
                    let started = clock()
                    for statement in SQLScript.statements(file.sql) {
                        do {
                            try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                        } catch let error as PSQLError {
                            let detail = error.serverInfo?[.message] ?? "\(error.code)"
                            throw LedgerError(.migrationConflict, "Migration \(file.filename) failed: \(detail). Nothing of it was applied.")
                        }
                    }
                    var row = PostgresBindings()
                    row.append(Int64(file.version))
                    row.append(file.name)
                    row.append(file.checksum)
                    row.append(clock())
                    row.append(clock() - started)
                    try await connection.query(
                        PostgresQuery(
                            unsafeSQL: "INSERT INTO \(historyTable) (version, name, checksum, applied_at, duration_ms) VALUES ($1, $2, $3, $4, $5)",
                            binds: row
                        ),
                        logger: logger
                    )
                    appliedNow.append(file)
                }
                try await connection.query("COMMIT", logger: logger)
            } catch {
                _ = try? await connection.query("ROLLBACK", logger: logger)
                throw error
            }
        }
        return appliedNow
    }
}
