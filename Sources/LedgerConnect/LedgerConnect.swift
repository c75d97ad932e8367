public import LedgerCore
import LedgerSQLite
public import Logging

/// Where a RunLedger database lives, parsed from a `--database` value.
public enum DatabaseLocation: Sendable, Equatable, CustomStringConvertible {
    /// A SQLite file: a plain path, `file:PATH` or `sqlite:PATH` (`sqlite:///abs/path` as in MLflow).
    case sqlite(path: String)

    /// Parses a `--database` value.
    /// - Throws: ``LedgerError`` naming the supported forms for a scheme this build cannot open.
    public init(_ text: String) throws(LedgerError) {
        guard !text.isEmpty else { throw LedgerError(.invalidParameterValue, "The database location is empty. Pass a SQLite file path.") }
        let lower = text.lowercased()
        for prefix in ["sqlite:///", "sqlite://", "sqlite:", "file://", "file:"] where lower.hasPrefix(prefix) {
            let rest = String(text.dropFirst(prefix.count))
            self = .sqlite(path: prefix == "sqlite:///" || prefix == "file://" ? "/" + rest.drop(while: { $0 == "/" }) : rest)
            return
        }
        if let colon = text.firstIndex(of: ":"), text[colon...].hasPrefix("://") {
            throw LedgerError(
                .invalidParameterValue,
                "Unsupported database URL scheme '\(text[..<colon])'. This build opens SQLite files: pass a path such as ./runledger.sqlite."
            )
        }
        self = .sqlite(path: text)
    }

    public var description: String {
        switch self {
        case .sqlite(let path): path
        }
    }
}

/// How to open a store.
public struct ConnectOptions: Sendable {
    /// Apply pending migrations on open.
    public var migrate: Bool
    /// Create a missing database. Read-only commands pass false so that a typo does not leave an empty file behind.
    public var create: Bool
    /// Open for reading only, so that the database cannot change (pending migrations are still applied first).
    public var readOnly: Bool
    public var logger: Logger

    public init(migrate: Bool = true, create: Bool = true, readOnly: Bool = false, logger: Logger = Logger(label: "runledger")) {
        self.migrate = migrate
        self.create = create
        self.readOnly = readOnly
        self.logger = logger
    }
}

/// The one place that picks a concrete backend for a location.
public enum LedgerConnect {
    /// Opens the store at `location`.
    public static func open(_ location: DatabaseLocation, options: ConnectOptions = ConnectOptions()) async throws -> any TrackingStore {
        switch location {
        case .sqlite(let path):
            return try await SQLiteStore.open(path: path, options: SQLiteOptions(migrate: options.migrate, create: options.create, readOnly: options.readOnly, logger: options.logger))
        }
    }

    /// The migration status of the database, without changing it.
    public static func migrationStatus(_ location: DatabaseLocation) async throws -> [MigrationStatus] {
        switch location {
        case .sqlite(let path): try SQLiteStore.migrationStatus(path: path)
        }
    }

    /// Checks the recorded migrations against this binary's files without applying anything.
    public static func validateMigrations(_ location: DatabaseLocation) async throws -> [MigrationStatus] {
        switch location {
        case .sqlite(let path): try SQLiteStore.validateMigrations(path: path)
        }
    }

    /// Applies pending migrations and returns the status afterwards.
    public static func migrateUp(_ location: DatabaseLocation, logger: Logger) async throws -> [MigrationStatus] {
        switch location {
        case .sqlite(let path):
            let store = try await SQLiteStore.open(path: path, options: SQLiteOptions(migrate: true, create: true, logger: logger))
            try store.close()
            return try SQLiteStore.migrationStatus(path: path)
        }
    }
}
