import Foundation
public import LedgerCore
import Logging
import PostgresNIO

/// Applies numbered SQL files to a PostgreSQL database: each file in its own transaction, under an advisory lock that
/// serialises migrators across processes; each transaction re-reads the history after taking it.
public struct PostgresMigrator: Sendable {
    /// `pg_advisory_xact_lock` key shared by every RunLedger migrator ("RLmigrat" in ASCII).
    static let advisoryLock: Int64 = 0x524C_6D69_6772_6174

    public let history: MigrationHistory
    /// Old history rows converted per transaction (tests use small pages to cross page boundaries cheaply).
    var legacyPageSize = LegacyHistory.rowsPerTransaction

    /// The shipped files, or `files` (a user's folder, or tests).
    public init(files: [MigrationFile]? = nil, table: MigrationHistory.Table = .ledger) throws {
        let shipped = Bundle.module.url(forResource: "migrations", withExtension: nil)?.appendingPathComponent("postgres")
        history = MigrationHistory(
            files: try files ?? MigrationHistory.bundledFiles(shipped, backend: "PostgreSQL"), table: table, dialect: .postgres)
    }

    func applied(_ connection: PostgresConnection, logger: Logger) async throws -> [AppliedMigration] {
        let exists = try await connection.query("SELECT to_regclass(\(history.table.rawValue)) IS NOT NULL", logger: logger).collect()
        guard try exists.first?.decode(Bool.self) == true else { return [] }
        return try await connection.query(PostgresQuery(unsafeSQL: history.selectSQL), logger: logger).collect().map { row in
            let (version, name, checksum, appliedAt, duration) = try row.decode((Int64, String, String, Int64, Int64).self)
            return AppliedMigration(version: Int(version), name: name, checksum: checksum, appliedAt: appliedAt, durationMilliseconds: duration)
        }
    }

    func plan(_ connection: PostgresConnection, logger: Logger) async throws -> MigrationPlan {
        try history.plan(applied: try await applied(connection, logger: logger))
    }

    func status(_ connection: PostgresConnection, logger: Logger) async throws -> [MigrationStatus] {
        history.status(applied: try await applied(connection, logger: logger))
    }

    /// Applies every pending file; returns those this call applied (another process may have applied the rest).
    @discardableResult
    func migrate(_ connection: PostgresConnection, logger: Logger, clock: @Sendable () -> Int64) async throws -> [MigrationFile] {
        var appliedNow: [MigrationFile] = []
        // The plan refuses conflicts and edited files before anything runs.
        for file in try await plan(connection, logger: logger).pending {
            try await connection.query("BEGIN", logger: logger)
            do {
                try await connection.query("SELECT pg_advisory_xact_lock(\(Self.advisoryLock))", logger: logger)
                try await connection.query(PostgresQuery(unsafeSQL: history.createSQL), logger: logger)
                var version = PostgresBindings()
                version.append(Int64(file.version))
                if try await connection.query(PostgresQuery(unsafeSQL: history.hasVersionSQL, binds: version), logger: logger).collect().isEmpty {
                    let started = clock()
                    for statement in SQLScript.statements(file.sql) {
                        do {
                            try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                        } catch let error as PSQLError {
                            let detail = error.serverInfo?[.message] ?? "\(error.code)"
                            throw LedgerError(.migrationConflict, "Migration \(file.filename) failed: \(detail). Nothing of it was applied.")
                        }
                    }
                    var row = version
                    row.append(file.name)
                    row.append(file.checksum)
                    row.append(clock())
                    row.append(clock() - started)
                    try await connection.query(PostgresQuery(unsafeSQL: history.insertSQL, binds: row), logger: logger)
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

    /// Whether history written before chunks is still to be converted (``LegacyHistory``).
    func hasLegacyHistory(_ connection: PostgresConnection, logger: Logger) async throws -> Bool {
        try await !Statements(connection: connection, logger: logger).rows(LegacyHistory.exists).isEmpty
    }

    /// Converts one page of the old one-row-per-point history into chunks in one transaction under the migration
    /// lock, or drops its emptied tables; returns whether there is more to do.
    func convertLegacyPage(_ connection: PostgresConnection, logger: Logger) async throws -> Bool {
        try await connection.query("BEGIN", logger: logger)
        do {
            try await connection.query("SELECT pg_advisory_xact_lock(\(Self.advisoryLock))", logger: logger)
            let statements = Statements(connection: connection, logger: logger)
            var more = false
            if try await !statements.rows(LegacyHistory.exists).isEmpty {
                let rows = try await statements.rows(LegacyHistory.page(limit: legacyPageSize))
                for statement in rows.isEmpty ? LegacyHistory.drop : try LegacyHistory.convert(rows) { try await statements.rows(statement) }
                more = !rows.isEmpty
            }
            try await connection.query("COMMIT", logger: logger)
            return more
        } catch {
            _ = try? await connection.query("ROLLBACK", logger: logger)
            throw error
        }
    }
}
