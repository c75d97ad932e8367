public import Foundation

extension MigrationFile {
    /// The `.sql` files of a folder, in name order; other files are ignored.
    /// - Throws: ``LedgerError`` when the folder cannot be read or a file is misnamed or not UTF-8.
    public static func folder(_ path: String) throws -> [MigrationFile] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: path).filter { $0.hasSuffix(".sql") }.sorted()
        } catch {
            throw LedgerError(.invalidParameterValue, "Cannot read the migration folder '\(path)': it does not exist or is not a folder.")
        }
        return try names.map { name in
            let filePath = (path as NSString).appendingPathComponent(name)
            guard let data = FileManager.default.contents(atPath: filePath), let text = String(data: data, encoding: .utf8) else {
                throw LedgerError(.invalidParameterValue, "Cannot read migration file '\(filePath)' as UTF-8 text.")
            }
            return try MigrationFile(filename: name, contents: text)
        }
    }
}

/// A database's migration history as both backends keep it: which table, its SQL, and what to apply.
///
/// The table is one of two names (an allow-list: never user text in an identifier). Each backend runs these
/// statements under its own lock, re-reading the history inside the lock so that two processes migrating one
/// database apply each version exactly once.
public struct MigrationHistory: Sendable {
    /// The two history tables.
    public enum Table: String, Sendable {
        /// RunLedger's own migrations.
        case ledger = "runledger_schema_history"
        /// A user's folder (`migrate up --dir`), kept apart from RunLedger's own.
        case user = "runledger_user_schema_history"
    }

    /// The migration files this history is compared with.
    public let files: [MigrationFile]
    public let table: Table
    public let dialect: SQLDialect

    public init(files: [MigrationFile], table: Table = .ledger, dialect: SQLDialect) {
        self.files = files
        self.table = table
        self.dialect = dialect
    }

    /// `CREATE TABLE IF NOT EXISTS` for the history.
    public var createSQL: String {
        let integer = dialect == .sqlite ? "INTEGER" : "BIGINT"
        return """
            CREATE TABLE IF NOT EXISTS \(table.rawValue) (
                version \(integer) PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL,
                applied_at \(integer) NOT NULL, duration_ms \(integer) NOT NULL)
            """
    }

    /// Reads `(version, name, checksum, applied_at, duration_ms)` in version order.
    public var selectSQL: String { "SELECT version, name, checksum, applied_at, duration_ms FROM \(table.rawValue) ORDER BY version" }

    /// Whether a version is recorded; binds the version.
    public var hasVersionSQL: String { "SELECT 1 FROM \(table.rawValue) WHERE version = \(placeholder(1))" }

    /// Records an applied file; binds version, name, checksum, applied_at, duration_ms.
    public var insertSQL: String {
        "INSERT INTO \(table.rawValue) (version, name, checksum, applied_at, duration_ms) VALUES (\((1...5).map(placeholder).joined(separator: ", ")))"
    }

    private func placeholder(_ index: Int) -> String { dialect == .sqlite ? "?" : "$\(index)" }

    /// What to apply, given the recorded rows.
    public func plan(applied: [AppliedMigration]) throws(LedgerError) -> MigrationPlan {
        try MigrationPlan.make(available: files, applied: applied, historyTable: table.rawValue)
    }

    /// The state of every known version.
    public func status(applied: [AppliedMigration]) -> [MigrationStatus] { MigrationPlan.status(available: files, applied: applied) }

    /// The files in `folder` (a backend's bundled resources).
    /// - Throws: ``LedgerError/Code/internal`` when the bundle lacks them.
    public static func bundledFiles(_ folder: URL?, backend: String) throws -> [MigrationFile] {
        guard let folder else { throw LedgerError(.internal, "The \(backend) migration files are missing from the RunLedger bundle.") }
        return try MigrationFile.folder(folder.path)
    }
}
