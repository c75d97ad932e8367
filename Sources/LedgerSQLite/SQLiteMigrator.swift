import Foundation
import GRDB
public import LedgerCore

/// Applies RunLedger's SQLite migrations (package resources) to a database, under SQLite's write lock: each file in
/// its own `BEGIN IMMEDIATE` transaction that first re-reads the history.
public struct SQLiteMigrator: Sendable {
    public let history: MigrationHistory
    /// Old history rows converted per transaction (tests use small pages to cross page boundaries cheaply).
    var legacyPageSize = LegacyHistory.rowsPerTransaction

    /// The shipped files, or `files` (a user's folder, or tests simulating edits and conflicts).
    public init(files: [MigrationFile]? = nil, table: MigrationHistory.Table = .ledger) throws {
        let shipped = Bundle.module.url(forResource: "migrations", withExtension: nil)?.appendingPathComponent("sqlite")
        history = MigrationHistory(files: try files ?? MigrationHistory.bundledFiles(shipped, backend: "SQLite"), table: table, dialect: .sqlite)
    }

    /// The history rows, or none when the table does not exist yet.
    func applied(_ db: Database) throws -> [AppliedMigration] {
        guard try db.tableExists(history.table.rawValue) else { return [] }
        return try Row.fetchAll(db, sql: history.selectSQL).map { row in
            AppliedMigration(version: row[0], name: row[1], checksum: row[2], appliedAt: row[3], durationMilliseconds: row[4])
        }
    }

    /// Decides what to apply, refusing conflicts, edited files and newer schemas.
    func plan(_ db: Database) throws -> MigrationPlan { try history.plan(applied: applied(db)) }

    /// The state of every known version.
    func status(_ db: Database) throws -> [MigrationStatus] { history.status(applied: try applied(db)) }

    /// Applies every pending migration; returns what this call applied (another process may have applied the rest).
    @discardableResult
    func migrate(_ db: Database, clock: @Sendable () -> Int64) throws -> [MigrationFile] {
        let appliedNow = try migrateFiles(db, clock: clock)
        if history.table == .ledger { try convertLegacyHistory(db) }
        return appliedNow
    }

    /// Applies every pending file, and nothing else.
    @discardableResult
    func migrateFiles(_ db: Database, clock: @Sendable () -> Int64) throws -> [MigrationFile] {
        var appliedNow: [MigrationFile] = []
        for file in try plan(db).pending {
            try db.inTransaction(.immediate) {
                try db.execute(sql: history.createSQL)
                if try Bool.fetchOne(db, sql: history.hasVersionSQL, arguments: [file.version]) == true { return .commit }
                let started = clock()
                try db.execute(sql: file.sql)
                try db.execute(sql: history.insertSQL, arguments: [file.version, file.name, file.checksum, clock(), clock() - started])
                appliedNow.append(file)
                return .commit
            }
        }
        return appliedNow
    }

    /// Whether history written before chunks is still to be converted (``LegacyHistory``).
    func hasLegacyHistory(_ db: Database) throws -> Bool { !(try db.rows(LegacyHistory.exists)).isEmpty }

    /// Converts the old one-row-per-point history into chunks, a page per transaction, then drops its tables.
    func convertLegacyHistory(_ db: Database) throws {
        var finished = false
        while !finished {
            try db.inTransaction(.immediate) {
                guard try hasLegacyHistory(db) else {
                    finished = true
                    return .commit
                }
                let rows = try db.rows(LegacyHistory.page(limit: legacyPageSize))
                let statements = rows.isEmpty ? LegacyHistory.drop : try LegacyHistory.convert(rows)
                for statement in statements { try db.execute(statement) }
                finished = rows.isEmpty
                return .commit
            }
        }
    }
}
