/// One numbered SQL migration file, `NNNN_description.sql`.
public struct MigrationFile: Sendable, Equatable {
    public var version: Int
    /// The description part of the file name (`initial` for `0001_initial.sql`).
    public var name: String
    public var filename: String
    public var sql: String
    /// SHA-256 of the file's bytes, hex.
    public var checksum: String

    /// Parses a file name and its contents.
    /// - Throws: ``LedgerError/Code/migrationConflict`` when the name is not `NNNN_description.sql`.
    public init(filename: String, contents: String) throws(LedgerError) {
        guard filename.hasSuffix(".sql"), let underscore = filename.firstIndex(of: "_"),
            let version = Int(filename[..<underscore]), version > 0
        else {
            throw LedgerError(
                .migrationConflict,
                "Migration file '\(filename)' is not named NNNN_description.sql (a positive version number, an underscore, a description)."
            )
        }
        self.version = version
        self.name = String(filename[filename.index(after: underscore)..<filename.index(filename.endIndex, offsetBy: -4)])
        self.filename = filename
        self.sql = contents
        self.checksum = SHA256.hex(contents.utf8)
    }
}

/// A row of a migration history table.
public struct AppliedMigration: Sendable, Equatable {
    public var version: Int
    public var name: String
    public var checksum: String
    /// Milliseconds since the Unix epoch.
    public var appliedAt: Int64
    public var durationMilliseconds: Int64

    public init(version: Int, name: String, checksum: String, appliedAt: Int64, durationMilliseconds: Int64) {
        self.version = version
        self.name = name
        self.checksum = checksum
        self.appliedAt = appliedAt
        self.durationMilliseconds = durationMilliseconds
    }
}

/// One line of `runledger migrate status`.
public struct MigrationStatus: Sendable, Equatable {
    public enum State: String, Sendable {
        case applied, pending
        /// Applied, but the file changed since.
        case edited
        /// Applied, but this binary has no such file (a newer RunLedger applied it, or the file was deleted).
        case unknown
    }
    public var version: Int
    public var name: String
    public var checksum: String
    public var appliedAt: Int64?
    public var state: State
}

/// What to do with a database's migrations: a pure decision, applied by a backend's driver.
public struct MigrationPlan: Sendable, Equatable {
    /// Files to apply, in version order.
    public var pending: [MigrationFile]

    /// Decides which files to apply, or refuses with the reason and the fix.
    ///
    /// - Throws: ``LedgerError/Code/migrationConflict`` for two files with one version (naming both), an applied file
    ///   that was edited, an applied version without a file, or a new file numbered below an applied one;
    ///   ``LedgerError/Code/schemaTooNew`` when the database was migrated past the newest file this binary has.
    public static func make(available: [MigrationFile], applied: [AppliedMigration], historyTable: String) throws(LedgerError) -> MigrationPlan {
        var byVersion: [Int: MigrationFile] = [:]
        for file in available.sorted(by: { $0.filename < $1.filename }) {
            if let other = byVersion[file.version] {
                throw LedgerError(
                    .migrationConflict,
                    "Two migration files have version \(file.version): \(other.filename) and \(file.filename). Give one of them a new number."
                )
            }
            byVersion[file.version] = file
        }
        let newest = byVersion.keys.max() ?? 0
        for row in applied.sorted(by: { $0.version < $1.version }) {
            guard let file = byVersion[row.version] else {
                if row.version > newest {
                    throw LedgerError(
                        .schemaTooNew,
                        "The database schema is at version \(row.version) (\(row.name)), newer than this RunLedger knows (up to \(newest)). "
                            + "Use a newer runledger with this database."
                    )
                }
                throw LedgerError(
                    .migrationConflict,
                    "Migration \(row.version) (\(row.name)) is recorded in \(historyTable) but there is no file for it. Restore the file."
                )
            }
            guard file.checksum == row.checksum else {
                throw LedgerError(
                    .migrationConflict,
                    "Migration \(file.filename) was edited after it was applied (recorded checksum \(row.checksum.prefix(12))…, "
                        + "file checksum \(file.checksum.prefix(12))…). Put the file back as it was and add a new migration for the change."
                )
            }
        }
        let appliedVersions = Set(applied.map(\.version))
        let highestApplied = appliedVersions.max() ?? 0
        let pending = byVersion.values.filter { !appliedVersions.contains($0.version) }.sorted { $0.version < $1.version }
        if let early = pending.first, early.version < highestApplied {
            throw LedgerError(
                .migrationConflict,
                "Migration \(early.filename) is not applied but version \(highestApplied) already is; a new migration needs a version above "
                    + "\(highestApplied). Renumber it."
            )
        }
        return MigrationPlan(pending: pending)
    }

    /// The status of every known version, without judging it (for `migrate status`).
    public static func status(available: [MigrationFile], applied: [AppliedMigration]) -> [MigrationStatus] {
        var rows: [Int: MigrationStatus] = [:]
        for file in available {
            rows[file.version] = MigrationStatus(version: file.version, name: file.name, checksum: file.checksum, appliedAt: nil, state: .pending)
        }
        for row in applied {
            let state: MigrationStatus.State =
                if let file = rows[row.version] { file.checksum == row.checksum ? .applied : .edited } else { .unknown }
            rows[row.version] = MigrationStatus(version: row.version, name: row.name, checksum: row.checksum, appliedAt: row.appliedAt, state: state)
        }
        return rows.values.sorted { $0.version < $1.version }
    }
}
