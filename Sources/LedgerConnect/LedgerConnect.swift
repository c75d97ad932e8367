public import LedgerCore
import LedgerPostgres
import LedgerRemote
import LedgerSQLite
public import Logging

/// Where a RunLedger database lives, parsed from a `--database` value.
public enum DatabaseLocation: Sendable, Equatable, CustomStringConvertible {
    /// A SQLite file: a plain path, `file:PATH` or `sqlite:PATH` (`sqlite:///abs/path` as in MLflow).
    case sqlite(path: String)
    /// A PostgreSQL database: `postgres://user:password@host:port/database`.
    case postgres(PostgresLocation)
    /// A RunLedger server: `http://host:port` or `https://…`.
    case server(url: String)

    /// Parses a `--database` value.
    /// - Throws: ``LedgerError`` naming the supported forms for a scheme this build cannot open.
    public init(_ text: String) throws(LedgerError) {
        guard !text.isEmpty else {
            throw LedgerError(.invalidParameterValue, "The database location is empty. Pass a SQLite file path or a postgres:// URL.")
        }
        if PostgresLocation.matches(text) {
            self = .postgres(try PostgresLocation(url: text))
            return
        }
        if RemoteStore.matches(text) {
            self = .server(url: text)
            return
        }
        let lower = text.lowercased()
        for prefix in ["sqlite:///", "sqlite://", "sqlite:", "file://", "file:"] where lower.hasPrefix(prefix) {
            let rest = String(text.dropFirst(prefix.count))
            self = .sqlite(path: prefix == "sqlite:///" || prefix == "file://" ? "/" + rest.drop(while: { $0 == "/" }) : rest)
            return
        }
        if let colon = text.firstIndex(of: ":"), text[colon...].hasPrefix("://") {
            throw LedgerError(
                .invalidParameterValue,
                "Unsupported database URL scheme '\(text[..<colon])'. Pass a SQLite file path such as ./runledger.sqlite, "
                    + "postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE, or a RunLedger server's http://HOST:PORT."
            )
        }
        self = .sqlite(path: text)
    }

    public var description: String {
        switch self {
        case .sqlite(let path): path
        case .postgres(let location): location.description
        case .server(let url): url
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
    /// A folder of the user's own numbered SQL files, checked on open (and applied when `migrate` is set).
    public var userMigrations: String?
    /// The bearer token for a RunLedger server started with `--auth-token-file`.
    public var token: String?
    public var logger: Logger

    public init(
        migrate: Bool = true, create: Bool = true, readOnly: Bool = false, userMigrations: String? = nil, token: String? = nil,
        logger: Logger = Logger(label: "runledger")
    ) {
        self.token = token
        self.migrate = migrate
        self.create = create
        self.readOnly = readOnly
        self.userMigrations = userMigrations
        self.logger = logger
    }
}

/// The one place that picks a concrete backend for a location.
public enum LedgerConnect {
    /// Runs `body` with the store at `location`, opened (and migrated or checked) first; the store's background work
    /// (``TrackingStore/run()``) runs beside `body` in a child task, and the store is closed when `body` returns.
    ///
    /// ```swift
    /// let runs = try await LedgerConnect.withStore(try DatabaseLocation("runledger.sqlite")) { store in
    ///     try await store.searchAllRuns(RunQuery(experimentIDs: [.defaultExperiment]))
    /// }
    /// ```
    public static func withStore<T: Sendable>(
        _ location: DatabaseLocation, options: ConnectOptions = ConnectOptions(), _ body: (any TrackingStore) async throws -> T
    ) async throws -> T {
        let store = try await open(location, options: options)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await store.run() }
            do {
                try await prepare(store, location, options: options)
                let result = try await body(store)
                try await store.close()
                return result
            } catch {
                try? await store.close()
                throw error
            }
        }
    }

    /// The store at `location`, before its background work runs: a SQLite file is opened (and migrated); a pool
    /// connects once ``TrackingStore/run()`` runs, and ``prepare(_:_:options:)`` then migrates or checks its schema.
    /// A server's `ServiceGroup` runs the store this way; ``withStore(_:options:_:)`` does it all for a command.
    public static func open(_ location: DatabaseLocation, options: ConnectOptions = ConnectOptions()) async throws -> any TrackingStore {
        switch location {
        case .sqlite(let path):
            let options = SQLiteOptions(migrate: options.migrate, create: options.create, readOnly: options.readOnly, logger: options.logger)
            return try await SQLiteStore.open(path: path, options: options)
        case .postgres(let postgres):
            return try PostgresStore(postgres, options: postgresOptions(migrate: options.migrate, readOnly: options.readOnly, logger: options.logger))
        case .server(let url):
            // The server owns its schema and migrations; a user folder cannot be applied through it.
            if options.userMigrations != nil { throw noMigrationsThrough(url) }
            return try RemoteStore(url: url, options: RemoteOptions(token: options.token, logger: options.logger))
        }
    }

    /// Migrates (or checks) what `store` needs before use, while its ``TrackingStore/run()`` runs: a PostgreSQL
    /// schema, and a user's migration folder.
    public static func prepare(_ store: any TrackingStore, _ location: DatabaseLocation, options: ConnectOptions) async throws {
        if let postgres = store as? PostgresStore { try await postgres.prepare() }
        guard let folder = options.userMigrations else { return }
        let apply = options.migrate && !options.readOnly
        let rows =
            apply
            ? try await migrateUp(location, userFolder: folder, logger: options.logger) : try await validateMigrations(location, userFolder: folder)
        if let pending = rows.first(where: { $0.state == .pending }) {
            throw LedgerError(
                .schemaPending, "Migration \(pending.version) (\(pending.name)) of \(folder) is pending. Run `runledger migrate up --dir \(folder)`.")
        }
    }

    static func postgresOptions(migrate: Bool = true, readOnly: Bool = false, logger: Logger) -> PostgresOptions {
        var options = PostgresOptions()
        options.migrate = migrate
        options.readOnly = readOnly
        options.logger = logger
        return options
    }

    /// The migration status of the database (RunLedger's own, or of a user's folder), without changing it.
    public static func migrationStatus(_ location: DatabaseLocation, userFolder: String? = nil) async throws -> [MigrationStatus] {
        let files = try userFolder.map(MigrationFile.folder)
        switch location {
        case .sqlite(let path):
            if let files { return try await SQLiteStore.userMigrations(path: path, files: files, apply: false, logger: Logger(label: "runledger")) }
            return try SQLiteStore.migrationStatus(path: path)
        case .postgres(let postgres):
            return try await PostgresStore.withMigrations(postgres, files: files, options: postgresOptions(logger: Logger(label: "runledger"))) {
                try await $0.status()
            }
        case .server(let url): throw noMigrationsThrough(url)
        }
    }

    /// Checks the recorded migrations against the files (this binary's, or a user's folder) without applying anything.
    public static func validateMigrations(_ location: DatabaseLocation, userFolder: String? = nil) async throws -> [MigrationStatus] {
        let files = try userFolder.map(MigrationFile.folder)
        switch location {
        case .sqlite(let path):
            if let files { return try await SQLiteStore.userMigrations(path: path, files: files, apply: false, logger: Logger(label: "runledger")) }
            return try SQLiteStore.migrationStatus(path: path, validate: true)
        case .postgres(let postgres):
            return try await PostgresStore.withMigrations(postgres, files: files, options: postgresOptions(logger: Logger(label: "runledger"))) {
                try await $0.validate()
            }
        case .server(let url): throw noMigrationsThrough(url)
        }
    }

    /// Applies pending migrations (RunLedger's own, then a user's folder when given) and returns the status afterwards.
    public static func migrateUp(_ location: DatabaseLocation, userFolder: String? = nil, logger: Logger) async throws -> [MigrationStatus] {
        let files = try userFolder.map(MigrationFile.folder)
        switch location {
        case .sqlite(let path):
            if let files { return try await SQLiteStore.userMigrations(path: path, files: files, apply: true, logger: logger) }
            let store = try await SQLiteStore.open(path: path, options: SQLiteOptions(migrate: true, create: true, logger: logger))
            try await store.close()
            return try SQLiteStore.migrationStatus(path: path)
        case .postgres(let postgres):
            let options = postgresOptions(logger: logger)
            // RunLedger's own schema first: a user's files may refer to its tables.
            let own = try await PostgresStore.withMigrations(postgres, files: nil, options: options) { try await $0.up() }
            guard let files else { return own }
            return try await PostgresStore.withMigrations(postgres, files: files, options: options) { try await $0.up() }
        case .server(let url): throw noMigrationsThrough(url)
        }
    }

    static func noMigrationsThrough(_ url: String) -> LedgerError {
        LedgerError(
            .invalidParameterValue,
            "Migrations cannot run through a server (\(url)): run `runledger migrate` with --database set to the server's database.")
    }
}
