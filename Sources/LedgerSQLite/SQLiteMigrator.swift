import Foundation
import GRDB
public import LedgerCore

/// Applies RunLedger's SQLite migrations (package resources) to a database, under SQLite's write lock.
///
/// Each migration runs in its own `BEGIN IMMEDIATE` transaction that first re-reads the history, so two
/// processes opening a new file at once apply each version exactly once.
public struct SQLiteMigrator: Sendable {
    /// The history table. Its own name, never a generic one another tool might share.
    public static let historyTable = "runledger_schema_history"

    /// The history of a user's folder (`migrate up --dir`), kept apart from RunLedger's own.
    public static let userHistoryTable = "runledger_user_schema_history"

    /// The migration files shipped with this binary.
    public let files: [MigrationFile]
    /// One of the two history tables above (an allow-list: never user text in an identifier).
    public let historyTable: String

    /// Loads the shipped migration files.
    public init() throws {
        self.init(files: try SQLiteMigrator.bundledFiles())
    }

    /// Uses the given files instead of the shipped ones (a user's folder, or tests simulating edits and conflicts).
    public init(files: [MigrationFile], historyTable: String = SQLiteMigrator.historyTable) {
        precondition([SQLiteMigrator.historyTable, SQLiteMigrator.userHistoryTable].contains(historyTable))
        self.files = files
        self.historyTable = historyTable
    }

    static func bundledFiles() throws -> [MigrationFile] {
        guard let folder = Bundle.module.url(forResource: "migrations", withExtension: nil)?.appendingPathComponent("sqlite") else {
            throw LedgerError(.internal, "The SQLite migration files are missing from the RunLedger bundle.")
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".sql") }.sorted()
        return try names.map { name in
            try MigrationFile(filename: name, contents: String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8))
        }
    }

    /// The history rows, or none when the table does not exist yet.
    func applied(_ db: Database) throws -> [AppliedMigration] {
        guard try db.tableExists(historyTable) else { return [] }
        return try Row.fetchAll(db, sql: "SELECT version, name, checksum, applied_at, duration_ms FROM \(historyTable) ORDER BY version")
            .map { row in
                AppliedMigration(
                    version: row["version"], name: row["name"], checksum: row["checksum"], appliedAt: row["applied_at"],
                    durationMilliseconds: row["duration_ms"]
                )
            }
    }

    /// Decides what to apply, refusing conflicts, edited files and newer schemas.
    func plan(_ db: Database) throws -> MigrationPlan {
        try MigrationPlan.make(available: files, applied: applied(db), historyTable: historyTable)
    }

    /// Applies every pending migration, each in its own immediate transaction; returns what it applied.
    @discardableResult
    func migrate(_ db: Database, clock: @Sendable () -> Int64) throws -> [MigrationFile] {
        let plan = try plan(db)
        var appliedNow: [MigrationFile] = []
        for file in plan.pending {
            try db.inTransaction(.immediate) {
                try db.execute(
                    sql: """
                        CREATE TABLE IF NOT EXISTS \(historyTable) (
                            version INTEGER PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL,
                            applied_at INTEGER NOT NULL, duration_ms INTEGER NOT NULL)
                        """
                )
                // Another process may have applied it between our plan and our lock.
                let done = try Bool.fetchOne(db, sql: "SELECT 1 FROM \(historyTable) WHERE version = ?", arguments: [file.version]) ?? false
                if done { return .commit }
                let started = clock()
                try db.execute(sql: file.sql)
                try db.execute(
                    sql: "INSERT INTO \(historyTable) (version, name, checksum, applied_at, duration_ms) VALUES (?, ?, ?, ?, ?)",
                    arguments: [file.version, file.name, file.checksum, clock(), clock() - started]
                )
                appliedNow.append(file)
                return .commit
            }
        }
        return appliedNow
    }

    /// The state of every known version.
    func status(_ db: Database) throws -> [MigrationStatus] {
        MigrationPlan.status(available: files, applied: try applied(db))
    }
}
