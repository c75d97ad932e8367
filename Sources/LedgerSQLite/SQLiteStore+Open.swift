public import Foundation
import GRDB
public import LedgerCore
public import Logging
import Synchronization

/// How to open a SQLite database.
public struct SQLiteOptions: Sendable {
    /// Apply pending migrations when opening (the embedded default needs no setup). When false, a database with
    /// pending migrations is refused with the command that fixes it.
    public var migrate: Bool
    /// Create the file when it does not exist. When false, a missing file is an error.
    public var create: Bool
    /// Open without write access, so that reading can never change the file (writes then fail).
    /// A file with pending migrations is migrated first, as opening always does.
    public var readOnly: Bool
    /// How long a write waits for another process's lock before the store reports itself unavailable.
    public var busyTimeout: TimeInterval
    /// Where warnings (truncated values) and debug details (driver errors) go.
    public var logger: Logger
    /// Milliseconds since the Unix epoch; injected so that tests can control time.
    public var clock: @Sendable () -> Int64

    public init(
        migrate: Bool = true, create: Bool = true, readOnly: Bool = false, busyTimeout: TimeInterval = 1,
        logger: Logger = Logger(label: "runledger.sqlite"),
        clock: @escaping @Sendable () -> Int64 = WallClock.milliseconds
    ) {
        self.migrate = migrate
        self.create = create
        self.readOnly = readOnly
        self.busyTimeout = busyTimeout
        self.logger = logger
        self.clock = clock
    }
}

extension SQLiteStore {
    /// Opens (and by default creates and migrates) the RunLedger database at `path`.
    ///
    /// A file that is not a RunLedger database, or whose schema is newer than this binary, is refused before
    /// anything is written to it.
    ///
    /// ```swift
    /// let store = try await SQLiteStore.open(path: "runledger.sqlite")
    /// ```
    /// - Throws: ``LedgerError`` with `notALedgerDatabase`, `schemaTooNew`, `schemaPending`, `migrationConflict`
    ///   or `resourceDoesNotExist` (a missing file when `create` is false).
    public static func open(path: String, options: SQLiteOptions = SQLiteOptions()) async throws -> SQLiteStore {
        let migrator = try SQLiteMigrator()
        var isDirectory: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
        if exists && isDirectory.boolValue {
            throw LedgerError(
                .invalidParameterValue, "'\(path)' is a folder, not a database file. Pass a file path such as \(path)/runledger.sqlite.")
        }
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
        if !exists && options.create && !FileManager.default.fileExists(atPath: folder) {
            throw LedgerError(.invalidParameterValue, "The folder '\(folder)' does not exist. Create it first, or pass another --database path.")
        }
        if !exists && !options.create {
            throw LedgerError(
                .resourceDoesNotExist,
                "No RunLedger database at '\(path)'. Run `runledger demo` to create one, or pass --database with an existing file."
            )
        }
        var pending = true
        if exists {
            do {
                pending = try inspect(path: path, migrator: migrator, allowPending: options.migrate, busyTimeout: options.busyTimeout)
            } catch {
                throw SQLiteStore.translate(error, logger: options.logger)
            }
        }
        // A read-only store never commits, so it has nothing to checkpoint.
        let checkpointer = options.readOnly ? nil : WALCheckpointer(path: path)
        var configuration = Configuration()
        configuration.busyMode = .timeout(options.busyTimeout)
        configuration.foreignKeysEnabled = true
        configuration.prepareDatabase { db in
            // WAL + NORMAL: a committed transaction survives a process crash; only an OS crash can lose the last commits.
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            // Statement journals (kept by multi-row INSERTs into tables with foreign keys) stay in memory instead of
            // spilling to a temporary file past 64 KiB. Only the writer: a reader's large sort may still spill to disk.
            if !db.configuration.readonly {
                try db.execute(sql: "PRAGMA temp_store = MEMORY")
                checkpointer?.install(on: db)
            }
        }
        var pool: DatabasePool? = nil
        do {
            if options.migrate && pending {
                let writable = try DatabasePool(path: path, configuration: configuration)
                try await writable.writeWithoutTransaction { db in _ = try migrator.migrate(db, clock: options.clock) }
                if options.readOnly { try writable.close() } else { pool = writable }
            }
            if options.readOnly {
                configuration.readonly = true
                pool = try DatabasePool(path: path, configuration: configuration)
            } else if pool == nil {
                pool = try DatabasePool(path: path, configuration: configuration)
            }
        } catch let error as DatabaseError
            where !options.readOnly && !pending && (error.resultCode == .SQLITE_BUSY || error.resultCode == .SQLITE_LOCKED)
        {
            // Another process holds the write lock: the schema is current, so hand out a store that connects on first use.
            options.logger.info("SQLite database locked by another process; connecting on first use", metadata: ["path": "\(path)"])
        } catch {
            throw SQLiteStore.translate(error, logger: options.logger)
        }
        return SQLiteStore(
            connection: SQLiteConnection(path: path, configuration: configuration, pool: pool, checkpointer: checkpointer), migrator: migrator,
            logger: options.logger, clock: options.clock)
    }

    /// Reads a file without changing it: is it ours, and can this binary use its schema? Returns whether migrations are pending.
    @discardableResult
    static func inspect(path: String, migrator: SQLiteMigrator?, allowPending: Bool, busyTimeout: TimeInterval = 5) throws -> Bool {
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(busyTimeout)
        do {
            let queue = try DatabaseQueue(path: path, configuration: configuration)
            defer { try? queue.close() }
            return try queue.read { db in
                let tables = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'") ?? 0
                let isLedger = try db.tableExists(MigrationHistory.Table.ledger.rawValue)
                if tables > 0 && !isLedger {
                    throw LedgerError(
                        .notALedgerDatabase,
                        "'\(path)' is a SQLite database but not a RunLedger one (it has no \(MigrationHistory.Table.ledger.rawValue) table). "
                            + "Pass --database with a RunLedger file or a new path."
                    )
                }
                guard let migrator else { return false }
                let plan = try migrator.plan(db)
                if !allowPending && !plan.pending.isEmpty {
                    throw LedgerError(
                        .schemaPending,
                        "'\(path)' has \(plan.pending.count) pending migration(s). Run `runledger migrate up --database \(path)`."
                    )
                }
                // History written before chunks counts as pending until it is converted.
                let legacy = try migrator.hasLegacyHistory(db)
                if !allowPending && plan.pending.isEmpty && legacy {
                    throw LedgerError(
                        .schemaPending, "'\(path)' holds metric history still to be converted. Run `runledger migrate up --database \(path)`.")
                }
                return !plan.pending.isEmpty || legacy
            }
        } catch let error as LedgerError {
            throw error
        } catch let error as DatabaseError where error.resultCode == .SQLITE_NOTADB || error.resultCode == .SQLITE_CORRUPT {
            throw LedgerError(.notALedgerDatabase, "'\(path)' is not a SQLite database (\(error.resultCode)). Pass --database with a RunLedger file.")
        }
    }

    /// The migration status of the database at `path`, without changing it; with `validate`, refused as opening it
    /// would refuse it (edited file, duplicate version, newer schema).
    public static func migrationStatus(path: String, validate: Bool = false) throws -> [MigrationStatus] {
        let migrator = try SQLiteMigrator()
        guard FileManager.default.fileExists(atPath: path) else { return migrator.history.status(applied: []) }
        try inspect(path: path, migrator: validate ? migrator : nil, allowPending: true)
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(5)
        let queue = try DatabaseQueue(path: path, configuration: configuration)
        defer { try? queue.close() }
        return try queue.read { db in try migrator.status(db) }
    }
}

extension SQLiteStore {
    /// Plans, checks or applies a user's own migration folder on a RunLedger database (`migrate … --dir`).
    ///
    /// The folder's history lives in ``MigrationHistory/Table/user``, apart from RunLedger's own. The whole plan is
    /// checked (duplicate versions, edited files) before anything runs; each file is applied in its own transaction.
    public static func userMigrations(path: String, files: [MigrationFile], apply: Bool, logger: Logger) async throws -> [MigrationStatus] {
        let migrator = try SQLiteMigrator(files: files, table: .user)
        if apply {
            let store = try await open(path: path, options: SQLiteOptions(migrate: true, create: true, logger: logger))
            try await store.close()
        } else {
            guard FileManager.default.fileExists(atPath: path) else { return MigrationPlan.status(available: files, applied: []) }
            try inspect(path: path, migrator: try SQLiteMigrator(), allowPending: false)
        }
        var configuration = Configuration()
        configuration.readonly = !apply
        configuration.busyMode = .timeout(5)
        do {
            let queue = try DatabaseQueue(path: path, configuration: configuration)
            defer { try? queue.close() }
            return try await queue.writeWithoutTransaction { db in
                _ = try migrator.plan(db)
                if apply { try migrator.migrate(db, clock: WallClock.milliseconds) }
                return try migrator.status(db)
            }
        } catch let error as DatabaseError {
            throw LedgerError(
                .migrationConflict, "A migration of the folder failed: \(error.message ?? "\(error.resultCode)"). Nothing of that file was applied.")
        }
    }
}

/// The store's connection pool, opened on first use and again after a failed attempt.
///
/// Opening a writable pool on a file whose WAL is empty writes to it (GRDB makes sure a WAL file exists), which
/// needs the write lock. While another process holds that lock, opening fails; the store must still exist so that
/// its callers see "unavailable" and keep their data (the SDK spools it) rather than failing to start.
final class SQLiteConnection: Sendable {
    let path: String
    private let configuration: Configuration
    private let state = Mutex<(pool: DatabasePool?, closed: Bool)>((nil, false))
    private let checkpointer: WALCheckpointer?
    private let closing = Latch()

    init(path: String, configuration: Configuration, pool: DatabasePool?, checkpointer: WALCheckpointer?) {
        self.path = path
        self.configuration = configuration
        self.checkpointer = checkpointer
        state.withLock { $0.pool = pool }
    }

    func pool() throws -> DatabasePool {
        try state.withLock { state in
            guard !state.closed else { throw LedgerError(.invalidState, "The store was closed.") }
            if let pool = state.pool { return pool }
            let pool = try DatabasePool(path: path, configuration: configuration)
            state.pool = pool
            return pool
        }
    }

    /// Returns once ``close()`` has been called, or when the calling task is cancelled.
    func untilClosed() async { await closing.wait() }

    func close() async throws {
        closing.open()
        let pool = state.withLock { state -> DatabasePool? in
            state.closed = true
            defer { state.pool = nil }
            return state.pool
        }
        // First, so that closing the pool's last connection can checkpoint the whole log and remove it.
        await checkpointer?.stop()
        try pool?.close()
    }
}
